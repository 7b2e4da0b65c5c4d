#!/bin/sh
# rc/post-hook.sh of dbus-jkbms's venus-data.tar.gz: Venus OS's /etc/init.d/update-data.sh
# runs it at boot (rc5 S30, before svscan) once the archive is unpacked, with "success" or
# "extraction-failed" (no argument before Venus v3.10). It installs the release that came in
# rc/ with install.sh --boot: the app in /data/apps/available/dbus-jkbms, enabled, and the
# /data/rc.local line that starts it later in the same boot (rc5 S99). Everything it does
# goes to /data/log/dbus-jkbms-install.log.
# JKBMS_ROOT is for tests only: /data under a scratch directory.
here=$(cd "$(dirname "$0")" && pwd)
root=${JKBMS_ROOT:-}
log=$root/data/log/dbus-jkbms-install.log
mkdir -p "$(dirname "$log")"
result=${1:-success}
if [ "$result" != success ]; then
    echo "$(date '+%Y-%m-%d %H:%M:%S') venus-data.tar.gz: update-data.sh reports '$result': dbus-jkbms not installed" >> "$log"
    exit 0
fi
for release in "$here"/dbus-jkbms-*/; do
    [ -f "$release/install.sh" ] && sh "$release/install.sh" --boot
done
exit 0
