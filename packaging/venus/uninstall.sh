#!/bin/sh
# Removes dbus-jkbms from a Venus OS device: its services (the fixed ones and serial-starter's
# instances, whose ports go back to serial-starter), the serial-starter template and drop-in,
# /usr/local/bin/jkbms, the /data/rc.local line (rc.local itself too when nothing else is left
# in it), /data/apps/enabled/dbus-jkbms and /data/apps/available/dbus-jkbms (with its state/),
# and the older layout /data/dbus-jkbms if one is left. What stays in /data: your configuration
# (/data/conf/dbus-jkbms.yaml, dbus-jkbms.d/, dbus-jkbms-log.conf, dbus-jkbms.migrated/) unless
# --purge is given, and the logs in /data/log (the services' and dbus-jkbms-install.log).
#
#   /data/apps/available/dbus-jkbms/uninstall.sh [--purge]
set -eu
ROOT=${JKBMS_ROOT:-}
purge=0
[ "${1:-}" = "--purge" ] && purge=1
live() { [ -z "$ROOT" ]; }
LOG=$ROOT/data/log/dbus-jkbms-install.log
mkdir -p "$(dirname "$LOG")"
say() { echo "$*"; echo "$(date '+%Y-%m-%d %H:%M:%S') $*" >> "$LOG"; }
say "== dbus-jkbms: uninstall$([ "$purge" -eq 1 ] && echo " --purge")"

# Our fixed services (links into /run/dbus-jkbms), stopped first.
for link in "$ROOT"/service/dbus-jkbms-*; do
    [ -L "$link" ] || continue
    case $(readlink "$link") in /run/dbus-jkbms/*) ;; *) continue ;; esac
    if live; then svc -dx "$link" "$link/log" 2>/dev/null || true; fi
    rm -f "$link"
done
rm -rf "$ROOT/run/dbus-jkbms"
# serial-starter: without the drop-in and the template it stops offering dbus-jkbms.
rm -f "$ROOT/data/conf/serial-starter.d/dbus-jkbms.conf"
rmdir "$ROOT/data/conf/serial-starter.d" 2>/dev/null || true
template=$ROOT/opt/victronenergy/service-templates/dbus-jkbms
command=$ROOT/usr/local/bin/jkbms
if [ -d "$template" ] || [ -L "$command" ]; then
    if ! rm -rf "$template" 2>/dev/null || ! rm -f "$command" 2>/dev/null; then
        if live && [ -x /opt/victronenergy/swupdate-scripts/remount-rw.sh ]; then
            /opt/victronenergy/swupdate-scripts/remount-rw.sh && rm -rf "$template" "$command"
        fi
    fi
fi
if live; then
    # serial-starter's instances: stopped, their ports unlocked for the other drivers.
    for s in /service/dbus-jkbms.*; do
        [ -e "$s" ] || continue
        svc -dx "$s" "$s/log" 2>/dev/null || true
        rm -f "$s" /var/lock/serial-starter/"${s#/service/dbus-jkbms.}"
        rm -rf /var/volatile/services/"${s#/service/}"
        tty=${s#/service/dbus-jkbms.}
        # serial-starter forgets a port it gave to a single driver: show it the port again.
        if [ -e "/dev/$tty" ] && [ -d /dev/serial-starter ]; then ln -sfn "../$tty" "/dev/serial-starter/$tty"; fi
    done
    [ -d /service/serial-starter ] && svc -t /service/serial-starter
fi
# The boot hook line (rewritten by rename); rc.local goes when nothing else is in it.
rc=$ROOT/data/rc.local
if [ -f "$rc" ]; then
    grep -vF -e "/data/dbus-jkbms/enable.sh" -e "/data/apps/enabled/dbus-jkbms/enable.sh" "$rc" > "$rc.jkbms-new" || true
    if [ -z "$(grep -v '^#!' "$rc.jkbms-new" | tr -d '[:space:]')" ]; then
        rm -f "$rc" "$rc.jkbms-new"
    elif cmp -s "$rc.jkbms-new" "$rc"; then
        rm -f "$rc.jkbms-new"
    else
        chmod 755 "$rc.jkbms-new"
        mv -f "$rc.jkbms-new" "$rc"
    fi
fi
rm -f "$ROOT/data/apps/enabled/dbus-jkbms"
rm -rf "$ROOT/data/apps/available/dbus-jkbms" "$ROOT/data/dbus-jkbms"
rmdir "$ROOT/data/apps/enabled" "$ROOT/data/apps/available" 2>/dev/null || true
rmdir "$ROOT/data/apps" 2>/dev/null || true
if [ "$purge" -eq 1 ]; then
    rm -rf "$ROOT/data/conf/dbus-jkbms.yaml" "$ROOT/data/conf/dbus-jkbms.d" \
        "$ROOT/data/conf/dbus-jkbms-log.conf" "$ROOT/data/conf/dbus-jkbms.migrated"
    say "dbus-jkbms removed, with its configuration; the logs stay in /data/log."
else
    say "dbus-jkbms removed; its configuration in /data/conf stays (--purge removes it), the logs in /data/log."
fi
