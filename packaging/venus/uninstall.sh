#!/bin/sh
# Removes dbus-jkbms from a Venus OS device: the services, the serial-starter template and
# drop-in, the /data/rc.local line and /data/dbus-jkbms. The configuration
# (/data/conf/dbus-jkbms.yaml, /data/conf/dbus-jkbms.d/) stays unless --purge is given.
#
#   /data/dbus-jkbms/uninstall.sh [--purge]
set -eu
ROOT=${JKBMS_ROOT:-}
purge=0
[ "${1:-}" = "--purge" ] && purge=1
live() { [ -z "$ROOT" ]; }

# Our fixed services (links into /run/dbus-jkbms), stopped first.
for link in "$ROOT"/service/dbus-jkbms-*; do
    [ -L "$link" ] || continue
    case $(readlink "$link") in /run/dbus-jkbms/*) ;; *) continue ;; esac
    live && svc -d "$link" 2>/dev/null || true
    rm -f "$link"
done
rm -rf "$ROOT/run/dbus-jkbms"
# serial-starter: without the drop-in and the template it stops offering dbus-jkbms.
rm -f "$ROOT/data/conf/serial-starter.d/dbus-jkbms.conf"
rmdir "$ROOT/data/conf/serial-starter.d" 2>/dev/null || true
template=$ROOT/opt/victronenergy/service-templates/dbus-jkbms
if [ -d "$template" ]; then
    if ! rm -rf "$template" 2>/dev/null; then
        live && [ -x /opt/victronenergy/swupdate-scripts/remount-rw.sh ] &&
            /opt/victronenergy/swupdate-scripts/remount-rw.sh && rm -rf "$template"
    fi
fi
if live; then
    for s in /service/dbus-jkbms.*; do
        [ -e "$s" ] && svc -d "$s" 2>/dev/null || true
    done
    [ -d /service/serial-starter ] && svc -t /service/serial-starter
fi
# The boot hook line; rc.local itself stays (other software may use it).
if [ -f "$ROOT/data/rc.local" ]; then
    grep -vF "/data/dbus-jkbms/enable.sh" "$ROOT/data/rc.local" > "$ROOT/data/rc.local.jkbms" || true
    cat "$ROOT/data/rc.local.jkbms" > "$ROOT/data/rc.local"
    rm -f "$ROOT/data/rc.local.jkbms"
fi
rm -rf "$ROOT/data/dbus-jkbms"
if [ "$purge" -eq 1 ]; then
    rm -rf "$ROOT/data/conf/dbus-jkbms.yaml" "$ROOT/data/conf/dbus-jkbms.d"
    echo "dbus-jkbms removed, with its configuration."
else
    echo "dbus-jkbms removed; its configuration in /data/conf stays (--purge removes it)."
fi
