#!/bin/sh
# Installs or upgrades dbus-jkbms on a Venus OS device (a Cerbo GX or any GX, or a Raspberry Pi
# with Venus OS), as root, from the unpacked release:
#
#   ./install.sh            over ssh (see INSTALL)
#   ./install.sh --boot     from venus-data.tar.gz on a USB stick or SD card: its rc/post-hook.sh
#                           runs this while Venus boots (update-data.sh, before the services
#                           start); /data/rc.local runs enable.sh later in the same boot
#
#   /data/apps/available/dbus-jkbms/  the app: bin/ (the static binaries for this device:
#                                     armhf or arm64 by uname -m), service/ (the serial-starter
#                                     template), enable.sh, uninstall.sh, default.yaml, INSTALL,
#                                     VERSION, gui-v2/ when the release has it; state/ is the
#                                     daemon's (charge state without localsettings)
#   /data/apps/enabled/dbus-jkbms     a link to it: the app is enabled
#   /data/rc.local                    one line that runs enable.sh at every boot (added once, after
#                                     the #! line: a script ending in `exit 0` still runs it)
#   /data/log/dbus-jkbms-install.log  what each install, upgrade and uninstall did
#   /data/conf/dbus-jkbms.yaml, /data/conf/dbus-jkbms.d/*.yaml: your configuration, never written
#   /data/conf/dbus-jkbms-log.conf    multilog size and count, written when JKBMS_LOG_SIZE or
#                                     JKBMS_LOG_COUNT is given (e.g. JKBMS_LOG_SIZE=500000 ./install.sh)
#
# Everything is under /data, so it survives firmware updates; enable.sh puts back at boot what
# an update removes (the template, /usr/local/bin/jkbms). Releases before the app layout lived in
# /data/dbus-jkbms: that directory is migrated (its state/ kept, any file of yours moved to
# /data/conf/dbus-jkbms.migrated/) and removed, with its rc.local line.
# Refuses anything but Venus OS v3.00 or later (/opt/victronenergy/version) on armhf or arm64.
# gui-v2/install.sh then writes the GUI v2 plugin's JSON (Venus OS v3.70~45 and later; a failure
# there is logged and the install goes on).
# JKBMS_ROOT and JKBMS_ARCH are for tests: a scratch root and the architecture. The running
# services are touched on the device only (not at boot); JKBMS_TEST_SERVICES=1 touches them under
# JKBMS_ROOT too, with stand-ins for svc and svstat on PATH.
set -eu
ROOT=${JKBMS_ROOT:-}
HERE=$(cd "$(dirname "$0")" && pwd)
APP=$ROOT/data/apps/available/dbus-jkbms
ENABLED=$ROOT/data/apps/enabled/dbus-jkbms
OLD=$ROOT/data/dbus-jkbms
RCLOCAL=$ROOT/data/rc.local
LOG=$ROOT/data/log/dbus-jkbms-install.log
LOGCONF=$ROOT/data/conf/dbus-jkbms-log.conf
LINE="[ ! -x /data/apps/enabled/dbus-jkbms/enable.sh ] || /data/apps/enabled/dbus-jkbms/enable.sh  # dbus-jkbms: at every boot"
boot=0
[ "${1:-}" = "--boot" ] && boot=1
services() { [ "$boot" -eq 0 ] && { [ -z "$ROOT" ] || [ "${JKBMS_TEST_SERVICES:-}" = 1 ]; }; }
SERVICE=$ROOT/service

mkdir -p "$(dirname "$LOG")"
# The log stays small: the last 300 lines once it passes 64 kB.
if [ -f "$LOG" ] && [ "$(wc -c < "$LOG")" -gt 65536 ]; then
    tail -n 300 "$LOG" > "$LOG.new" && mv -f "$LOG.new" "$LOG"
fi
say() { echo "$*"; echo "$(date '+%Y-%m-%d %H:%M:%S') $*" >> "$LOG"; }
fail() { say "install.sh: $*"; say "dbus-jkbms NOT installed"; exit 1; }
# svc -d only asks: the program may take a moment to end (and write its charge state).
wait_down() {  # wait_down SERVICE...: until svstat shows none of them up, at most about 5 s
    wd_end=$(( $(date +%s) + 5 ))
    while :; do
        wd_up=""
        for wd_s in "$@"; do
            case $(svstat "$wd_s" 2>/dev/null) in *": up "*) wd_up="$wd_up ${wd_s##*/}" ;; esac
        done
        [ -z "$wd_up" ] && return 0
        if [ "$(date +%s)" -ge "$wd_end" ]; then say "still running after 5 s:$wd_up; going on"; return 0; fi
        sleep 0.2 2>/dev/null || sleep 1
    done
}

version=$(cat "$HERE/VERSION" 2>/dev/null || echo unknown)
say "== dbus-jkbms $version: install$([ "$boot" -eq 1 ] && echo " at boot (venus-data.tar.gz)") from $HERE"

# Venus OS v3.00 or later.
venus=$(head -n 1 "$ROOT/opt/victronenergy/version" 2>/dev/null || true)
[ -n "$venus" ] || fail "no /opt/victronenergy/version: this is not Venus OS"
major=$(echo "$venus" | sed -n 's/^v\{0,1\}\([0-9]\{1,\}\)\..*/\1/p')
[ -n "$major" ] || fail "cannot read the Venus OS version '$venus'"
[ "$major" -ge 3 ] || fail "Venus OS $venus is too old: dbus-jkbms needs v3.00 or later"

machine=${JKBMS_ARCH:-$(uname -m)}
case $machine in
    armv7*|armhf|arm) arch=armhf ;;
    aarch64|arm64) arch=arm64 ;;
    *) fail "this is a '$machine' machine; dbus-jkbms is built for armhf (armv7l) and arm64 (aarch64) GX devices" ;;
esac
[ -x "$HERE/bin/$arch/dbus-jkbms" ] || fail "$HERE/bin/$arch/dbus-jkbms is missing: unpack the whole release first"
say "Venus OS $venus, $machine: the $arch binaries"

mkdir -p "$APP/bin" "$(dirname "$ENABLED")" "$ROOT/data/conf"
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
cp "$HERE/INSTALL" "$APP/INSTALL"
cp "$HERE/VERSION" "$APP/VERSION"
rm -rf "$APP/gui-v2"
if [ -d "$HERE/gui-v2" ]; then
    cp -r "$HERE/gui-v2" "$APP/gui-v2"
    say "gui-v2 plugin copied to $APP/gui-v2"
fi
say "app in /data/apps/available/dbus-jkbms"

# The older layout: /data/dbus-jkbms (its rc.local line goes below). Its running daemons write
# their charge state there: they are stopped (and waited for) before it is copied and removed,
# and the fixed ones started again below.
restart=""
if [ -d "$OLD" ] && services; then
    stopping=""
    for s in "$SERVICE"/dbus-jkbms-* "$SERVICE"/dbus-jkbms.*; do
        [ -e "$s" ] || continue
        svc -d "$s" 2>/dev/null || continue
        stopping="$stopping $s"
        case $s in "$SERVICE"/dbus-jkbms-*) restart="$restart $s" ;; esac
    done
    # shellcheck disable=SC2086  # our service paths: no spaces
    [ -z "$stopping" ] || wait_down $stopping
fi
if [ -d "$OLD" ]; then
    if [ -d "$OLD/state" ]; then
        mkdir -p "$APP/state"
        cp -pr "$OLD/state/." "$APP/state/"
        say "charge state moved from /data/dbus-jkbms/state"
    fi
    for f in "$OLD"/* "$OLD"/.[!.]*; do
        [ -e "$f" ] || continue
        case ${f##*/} in
            bin|service|state|enable.sh|uninstall.sh|default.yaml|VERSION|INSTALL) ;;
            *) mkdir -p "$ROOT/data/conf/dbus-jkbms.migrated"
               mv -f "$f" "$ROOT/data/conf/dbus-jkbms.migrated/"
               say "your /data/dbus-jkbms/${f##*/} is now /data/conf/dbus-jkbms.migrated/${f##*/}:" \
                   "update any service, rc.local line or configuration of yours that points into /data/dbus-jkbms" ;;
        esac
    done
    rm -rf "$OLD"
    say "the older layout /data/dbus-jkbms removed"
fi

# multilog settings, when given.
if [ -n "${JKBMS_LOG_SIZE:-}" ] || [ -n "${JKBMS_LOG_COUNT:-}" ]; then
    old_size=$(sed -n 's/^size=\([0-9]*\).*/\1/p' "$LOGCONF" 2>/dev/null | tail -1)
    old_count=$(sed -n 's/^count=\([0-9]*\).*/\1/p' "$LOGCONF" 2>/dev/null | tail -1)
    printf '%s\n' "# dbus-jkbms: multilog for each service (bytes per file, files kept); enable.sh reads it." \
        "size=${JKBMS_LOG_SIZE:-${old_size:-200000}}" "count=${JKBMS_LOG_COUNT:-${old_count:-5}}" > "$LOGCONF"
    say "log settings in /data/conf/dbus-jkbms-log.conf: $(grep -v '^#' "$LOGCONF" | tr '\n' ' ')"
fi

# The boot hook: our one line (the older layout's line goes), written by rename.
# It goes right after the #! line (first when there is none): an rc.local that ends in
# `exit 0`, or exits early, would never reach a line at its end.
tmp=$RCLOCAL.jkbms-new
if [ -f "$RCLOCAL" ]; then
    grep -vF -e "/data/dbus-jkbms/enable.sh" -e "/data/apps/enabled/dbus-jkbms/enable.sh" "$RCLOCAL" > "$tmp.body" || true
    first=$(head -n 1 "$tmp.body")
    case $first in
        '#!'*) { printf '%s\n%s\n' "$first" "$LINE"; tail -n +2 "$tmp.body"; } > "$tmp" ;;
        '') [ -s "$tmp.body" ] && { printf '%s\n' "$LINE"; cat "$tmp.body"; } > "$tmp" ||
                printf '#!/bin/sh\n%s\n' "$LINE" > "$tmp" ;;
        *) { printf '%s\n' "$LINE"; cat "$tmp.body"; } > "$tmp" ;;
    esac
    rm -f "$tmp.body"
else
    printf '#!/bin/sh\n%s\n' "$LINE" > "$tmp"
fi
chmod 755 "$tmp"
if cmp -s "$tmp" "$RCLOCAL" && [ -x "$RCLOCAL" ]; then
    rm -f "$tmp"
else
    mv -f "$tmp" "$RCLOCAL"
    say "boot hook in /data/rc.local"
fi

rm -f "$ENABLED"
ln -s /data/apps/available/dbus-jkbms "$ENABLED"

# The GUI v2 plugin's JSON is generated here (it is not in the release, and an upgrade replaced
# gui-v2/ above); on Venus OS before v3.70~45 gui-v2/install.sh only says so. Not fatal.
if [ -f "$APP/gui-v2/install.sh" ]; then
    if gui=$(APPS_DIR=$ROOT/data/apps VENUS_VERSION_FILE=$ROOT/opt/victronenergy/version \
            sh "$APP/gui-v2/install.sh" --version "$version" 2>&1); then
        printf '%s\n' "$gui" | while IFS= read -r l; do say "$l"; done
    else
        printf '%s\n' "$gui" | while IFS= read -r l; do say "$l"; done
        say "gui-v2: the GUI v2 pages could not be installed (the daemon is installed); run $APP/gui-v2/install.sh --version $version to retry"
    fi
fi
if [ "$boot" -eq 1 ]; then
    say "enabled; /data/rc.local starts it later in this boot"
else
    JKBMS_ROOT=$ROOT "$APP/enable.sh" | while IFS= read -r l; do say "$l"; done
fi

if services; then
    # An upgrade: the fixed services restart on the new binary (those stopped for the migration
    # start again); serial-starter's instances are stopped and, once down, removed and their
    # ports unlocked, so it starts them again from the new template.
    for s in $restart; do svc -u "$s" 2>/dev/null || true; done
    for s in "$SERVICE"/dbus-jkbms-*; do
        { [ -e "$s" ] && svc -t "$s" 2>/dev/null && say "restarted ${s#"$SERVICE"/}"; } || true
    done
    stopping=""
    for s in "$SERVICE"/dbus-jkbms.*; do
        [ -e "$s" ] || continue
        svc -dx "$s" "$s/log" 2>/dev/null || true
        stopping="$stopping $s"
    done
    # shellcheck disable=SC2086  # our service paths: no spaces
    [ -z "$stopping" ] || wait_down $stopping
    for s in $stopping; do
        tty=${s#"$SERVICE"/dbus-jkbms.}
        rm -f "$s" "$ROOT/var/lock/serial-starter/$tty"
        rm -rf "$ROOT/var/volatile/services/${s#"$SERVICE"/}"
        # serial-starter forgets a port it gave to a single driver: show it the port again.
        if [ -e "$ROOT/dev/$tty" ] && [ -d "$ROOT/dev/serial-starter" ]; then
            ln -sfn "../$tty" "$ROOT/dev/serial-starter/$tty"
        fi
        say "serial-starter instance ${s#"$SERVICE"/} handed back to serial-starter"
    done
fi

# A release unpacked in /data (the way older INSTALL texts said) is not left there.
case $HERE in
    "$ROOT"/data/dbus-jkbms-[0-9]*)
        rm -rf "$HERE"
        rm -f "$HERE-venus.tar.gz"
        say "removed the unpacked release ${HERE#"$ROOT"} (and its tarball)" ;;
esac

say "dbus-jkbms $version installed for $arch in /data/apps/available/dbus-jkbms."
[ -f "$ROOT/data/conf/dbus-jkbms.yaml" ] && say "Your configuration /data/conf/dbus-jkbms.yaml is kept."
echo "Serial: plug in the JK BMS's adapter; serial-starter tries dbus-jkbms on it."
echo "BLE or a fixed port: a file in /data/conf/dbus-jkbms.d/ (see /data/apps/available/dbus-jkbms/INSTALL),"
echo "  then /data/apps/available/dbus-jkbms/enable.sh"
echo "DVCC: turn it on (Settings > DVCC) for the charge limits to reach the chargers."
echo "Log of this install: /data/log/dbus-jkbms-install.log"
