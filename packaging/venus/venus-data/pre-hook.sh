#!/bin/sh
# rc/pre-hook.sh of dbus-jkbms's venus-data.tar.gz (a USB stick or SD card). At boot Venus OS's
# /etc/init.d/update-data.sh unpacks the archive's rc/ into a temporary directory, runs this,
# and only when it succeeds unpacks the rest into /data and runs rc/post-hook.sh. Our archive
# has nothing but rc/ (the release is rc/dbus-jkbms-<version>/), so nothing of it lands in /data
# and the hooks are gone after this boot. This one stops a stick left in the GX from
# installing the same release again at every boot.
# JKBMS_ROOT is for tests only: /data under a scratch directory.
here=$(cd "$(dirname "$0")" && pwd)
root=${JKBMS_ROOT:-}
log=$root/data/log/dbus-jkbms-install.log
new=$(cat "$here"/dbus-jkbms-*/VERSION 2>/dev/null | head -n 1)
installed=$(cat "$root/data/apps/available/dbus-jkbms/VERSION" 2>/dev/null)
if [ -n "$new" ] && [ "$new" = "$installed" ] && [ -L "$root/data/apps/enabled/dbus-jkbms" ]; then
    mkdir -p "$(dirname "$log")"
    echo "$(date '+%Y-%m-%d %H:%M:%S') venus-data.tar.gz: dbus-jkbms $new is installed already, nothing done (the stick can go)" >> "$log"
    exit 1
fi
exit 0
