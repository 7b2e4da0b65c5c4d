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
#
# A step that fails is logged and the next one runs. JKBMS_ROOT (tests only) puts every path
# under a scratch directory and touches no service, unless JKBMS_TEST_SERVICES=1 (with stand-ins
# for svc and svstat on PATH).
set -u
ROOT=${JKBMS_ROOT:-}
purge=0
[ "${1:-}" = "--purge" ] && purge=1
live() { [ -z "$ROOT" ]; }
services() { [ -z "$ROOT" ] || [ "${JKBMS_TEST_SERVICES:-}" = 1 ]; }
SERVICE=$ROOT/service
LOG=$ROOT/data/log/dbus-jkbms-install.log
mkdir -p "$(dirname "$LOG")"
say() { echo "$*"; echo "$(date '+%Y-%m-%d %H:%M:%S') $*" >> "$LOG"; }
step() {  # step COMMAND...: runs it; a failure is logged, and the uninstall goes on
    "$@" && return 0
    st_rc=$?
    say "uninstall.sh: '$*' failed (exit $st_rc); going on"
    return 0
}
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
say "== dbus-jkbms: uninstall$([ "$purge" -eq 1 ] && echo " --purge")"

# Our services stopped first, and waited for: our fixed ones (links into /run/dbus-jkbms) and
# serial-starter's instances. A stopping daemon writes its charge state into the app's state/.
fixed=""
instances=""
for link in "$SERVICE"/dbus-jkbms-*; do
    [ -L "$link" ] || continue
    case $(readlink "$link") in /run/dbus-jkbms/*) ;; *) continue ;; esac
    fixed="$fixed $link"
done
for s in "$SERVICE"/dbus-jkbms.*; do
    [ -e "$s" ] && instances="$instances $s"
done
if services; then
    for s in $fixed $instances; do step svc -dx "$s" "$s/log"; done
    # shellcheck disable=SC2086  # our service paths: no spaces
    [ -z "$fixed$instances" ] || wait_down $fixed $instances
fi
for link in $fixed; do step rm -f "$link"; done
step rm -rf "$ROOT/run/dbus-jkbms"
if services; then
    # serial-starter's instances gone, their ports unlocked for the other drivers.
    for s in $instances; do
        tty=${s#"$SERVICE"/dbus-jkbms.}
        step rm -f "$s" "$ROOT/var/lock/serial-starter/$tty"
        step rm -rf "$ROOT/var/volatile/services/${s#"$SERVICE"/}"
        # serial-starter forgets a port it gave to a single driver: show it the port again.
        if [ -e "$ROOT/dev/$tty" ] && [ -d "$ROOT/dev/serial-starter" ]; then step ln -sfn "../$tty" "$ROOT/dev/serial-starter/$tty"; fi
    done
fi
# serial-starter: without the drop-in and the template it stops offering dbus-jkbms.
step rm -f "$ROOT/data/conf/serial-starter.d/dbus-jkbms.conf"
rmdir "$ROOT/data/conf/serial-starter.d" 2>/dev/null || true
template=$ROOT/opt/victronenergy/service-templates/dbus-jkbms
command=$ROOT/usr/local/bin/jkbms
if [ -d "$template" ] || [ -L "$command" ]; then
    if ! rm -rf "$template" 2>/dev/null || ! rm -f "$command" 2>/dev/null; then
        if live && [ -x /opt/victronenergy/swupdate-scripts/remount-rw.sh ]; then
            step /opt/victronenergy/swupdate-scripts/remount-rw.sh
            step rm -rf "$template" "$command"
        fi
    fi
    if [ -e "$template" ] || [ -L "$command" ]; then say "uninstall.sh: could not remove $template or $command"; fi
fi
if services && [ -d "$SERVICE/serial-starter" ]; then step svc -t "$SERVICE/serial-starter"; fi
# The boot hook line (rewritten by rename); rc.local goes when nothing else is in it.
rc=$ROOT/data/rc.local
rewrite_rclocal() {
    grep -vF -e "/data/dbus-jkbms/enable.sh" -e "/data/apps/enabled/dbus-jkbms/enable.sh" "$rc" > "$rc.jkbms-new"
    [ $? -le 1 ] || return 1   # 1: no line left, not an error
    if [ -z "$(grep -v '^#!' "$rc.jkbms-new" | tr -d '[:space:]')" ]; then
        rm -f "$rc" "$rc.jkbms-new"
    elif cmp -s "$rc.jkbms-new" "$rc"; then
        rm -f "$rc.jkbms-new"
    else
        chmod 755 "$rc.jkbms-new" && mv -f "$rc.jkbms-new" "$rc"
    fi
}
if [ -f "$rc" ]; then step rewrite_rclocal; fi
step rm -f "$ROOT/data/apps/enabled/dbus-jkbms"
step rm -rf "$ROOT/data/apps/available/dbus-jkbms" "$ROOT/data/dbus-jkbms"
rmdir "$ROOT/data/apps/enabled" "$ROOT/data/apps/available" 2>/dev/null || true
rmdir "$ROOT/data/apps" 2>/dev/null || true
if [ "$purge" -eq 1 ]; then
    step rm -rf "$ROOT/data/conf/dbus-jkbms.yaml" "$ROOT/data/conf/dbus-jkbms.d" \
        "$ROOT/data/conf/dbus-jkbms-log.conf" "$ROOT/data/conf/dbus-jkbms.migrated"
    say "dbus-jkbms removed, with its configuration; the logs stay in /data/log."
else
    say "dbus-jkbms removed; its configuration in /data/conf stays (--purge removes it), the logs in /data/log."
fi
