#!/bin/sh
# Installs dbus-jkbms on a Venus OS device (a Cerbo GX or any GX, or a Raspberry Pi with
# Venus OS), as root, from the unpacked release:   ./install.sh
#
#   /data/dbus-jkbms/         the static binaries for this device (armhf or arm64, by uname -m),
#                             the serial-starter template, enable.sh, uninstall.sh, default.yaml
#   /data/rc.local            one line that runs enable.sh at every boot (added once)
#   /data/conf/dbus-jkbms.yaml        your configuration, if you make one: kept as it is
#   /data/conf/dbus-jkbms.d/*.yaml    one file per BLE battery or fixed serial port
#
# Everything is under /data, so it survives firmware updates; enable.sh puts back what an
# update removes. Running install.sh again upgrades in place (running services restart).
# JKBMS_ROOT and JKBMS_ARCH are for tests: a scratch root and the architecture.
set -eu
ROOT=${JKBMS_ROOT:-}
HERE=$(cd "$(dirname "$0")" && pwd)
APP=$ROOT/data/dbus-jkbms
RCLOCAL=$ROOT/data/rc.local
LINE="/data/dbus-jkbms/enable.sh  # dbus-jkbms: re-created at every boot"

machine=${JKBMS_ARCH:-$(uname -m)}
case $machine in
    armv7*|armhf|arm) arch=armhf ;;
    aarch64|arm64) arch=arm64 ;;
    *) echo "install.sh: this is a '$machine' machine; dbus-jkbms is built for armhf and arm64 GX devices" >&2
       exit 1 ;;
esac
if [ ! -x "$HERE/bin/$arch/dbus-jkbms" ]; then
    echo "install.sh: $HERE/bin/$arch/dbus-jkbms is missing: unpack the whole release first" >&2
    exit 1
fi

mkdir -p "$APP/bin" "$ROOT/data/conf/dbus-jkbms.d"
# Replaced by rename, so a running binary is never written over.
for b in dbus-jkbms jkbms jkbms-sim; do
    cp "$HERE/bin/$arch/$b" "$APP/bin/.$b.new"
    chmod 755 "$APP/bin/.$b.new"
    mv -f "$APP/bin/.$b.new" "$APP/bin/$b"
done
rm -rf "$APP/service"
cp -r "$HERE/service" "$APP/service"
for f in enable.sh uninstall.sh; do
    cp "$HERE/$f" "$APP/.$f.new" && chmod 755 "$APP/.$f.new" && mv -f "$APP/.$f.new" "$APP/$f"
done
cp "$HERE/config/default.yaml" "$APP/default.yaml"
cp "$HERE/VERSION" "$APP/VERSION"

# The boot hook: one line, added once.
if [ ! -f "$RCLOCAL" ]; then
    printf '#!/bin/sh\n' > "$RCLOCAL"
fi
chmod 755 "$RCLOCAL"
grep -qF "/data/dbus-jkbms/enable.sh" "$RCLOCAL" || printf '%s\n' "$LINE" >> "$RCLOCAL"

JKBMS_ROOT=$ROOT "$APP/enable.sh"

# An upgrade: restart what runs the old binary.
if [ -z "$ROOT" ]; then
    for s in /service/dbus-jkbms.* /service/dbus-jkbms-*; do
        [ -e "$s" ] && svc -t "$s" 2>/dev/null || true
    done
fi

echo "dbus-jkbms $(cat "$APP/VERSION") installed for $arch in /data/dbus-jkbms."
[ -f "$ROOT/data/conf/dbus-jkbms.yaml" ] && echo "Your configuration /data/conf/dbus-jkbms.yaml is kept."
echo "Serial: plug in the JK BMS's adapter; serial-starter tries dbus-jkbms on it."
echo "BLE or a fixed port: a file in /data/conf/dbus-jkbms.d/ (see /data/dbus-jkbms/INSTALL), then"
echo "  /data/dbus-jkbms/enable.sh"
