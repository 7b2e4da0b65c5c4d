#!/bin/sh
# dbus-jkbms on Venus OS: re-creates at every boot what a firmware update (or a reboot) takes
# away. Run from /data/rc.local and by install.sh; running it twice changes nothing.
#
#   1. the serial-starter template /opt/victronenergy/service-templates/dbus-jkbms (the rootfs
#      is replaced by each firmware update)
#   2. /data/conf/serial-starter.d/dbus-jkbms.conf: our service, added to the stock "default"
#      and "rs485" probe lists (serial-starter then tries dbus-jkbms on USB-serial adapters;
#      dbus-jkbms exits within seconds when no JK BMS answers, so the next driver gets its turn)
#   3. one daemontools service per file in /data/conf/dbus-jkbms.d/*.yaml (a BLE battery, or a
#      fixed serial port): /service/dbus-jkbms-<name> (a link to /run/dbus-jkbms/<name>: /service
#      is in RAM), logging to /var/log/dbus-jkbms-<name>. serial-starter's own instances are
#      /service/dbus-jkbms.<tty>; they are left alone.
#
# JKBMS_ROOT (tests only) puts every path under a scratch directory and touches no service.

ROOT=${JKBMS_ROOT:-}
APP=$ROOT/data/dbus-jkbms
TEMPLATE=$ROOT/opt/victronenergy/service-templates/dbus-jkbms
STOCK=$ROOT/etc/venus/serial-starter.conf
DROPIN=$ROOT/data/conf/serial-starter.d/dbus-jkbms.conf
INSTANCES=$ROOT/data/conf/dbus-jkbms.d
RUNDIR=$ROOT/run/dbus-jkbms
SERVICE=$ROOT/service

live() { [ -z "$ROOT" ]; }
say() { echo "dbus-jkbms: $*"; }

# 1. The template, when missing or not ours any more.
if ! diff -r "$APP/service" "$TEMPLATE" >/dev/null 2>&1; then
    if ! mkdir -p "$(dirname "$TEMPLATE")" 2>/dev/null || ! touch "$(dirname "$TEMPLATE")/.jkbms" 2>/dev/null; then
        live && [ -x /opt/victronenergy/swupdate-scripts/remount-rw.sh ] &&
            /opt/victronenergy/swupdate-scripts/remount-rw.sh
    fi
    rm -f "$(dirname "$TEMPLATE")/.jkbms"
    if rm -rf "$TEMPLATE" && cp -r "$APP/service" "$TEMPLATE"; then
        say "serial-starter template installed"
    else
        say "cannot write $TEMPLATE: serial ports will not be probed"
    fi
fi

# 2. The serial-starter drop-in: the stock lists with jkbms appended.
stock_alias() {  # stock_alias NAME: the stock list of an alias (empty when there is none)
    [ -f "$STOCK" ] || return 0
    sed -n "s/^[[:space:]]*alias[[:space:]]\{1,\}$1[[:space:]]\{1,\}\([^[:space:]#]*\).*/\1/p" "$STOCK" | tail -1
}
with_jkbms() {  # with_jkbms LIST: LIST:jkbms, unless jkbms is in it already
    case ":$1:" in
        *:jkbms:*) echo "$1" ;;
        ::) echo jkbms ;;
        *) echo "$1:jkbms" ;;
    esac
}
mkdir -p "$(dirname "$DROPIN")"
new=$(printf '%s\n' \
    "# Written by /data/dbus-jkbms/enable.sh at every boot (the stock lists plus jkbms)." \
    "service jkbms dbus-jkbms" \
    "alias default $(with_jkbms "$(stock_alias default)")" \
    "alias rs485 $(with_jkbms "$(stock_alias rs485)")")
if [ "$(cat "$DROPIN" 2>/dev/null)" != "$new" ]; then
    printf '%s\n' "$new" > "$DROPIN"
    say "serial-starter probes dbus-jkbms ($DROPIN)"
    live && [ -d /service/serial-starter ] && svc -t /service/serial-starter
fi

# 3. Fixed instances (BLE, or a serial port serial-starter must leave alone).
mkdir -p "$RUNDIR"
for config in "$INSTANCES"/*.yaml; do
    [ -f "$config" ] || continue
    name=$(basename "$config" .yaml | tr -c 'A-Za-z0-9_\n-' '_')
    dir=$RUNDIR/$name
    mkdir -p "$dir/log"
    cat > "$dir/run.new" <<RUN
#!/bin/sh
echo "*** starting dbus-jkbms ($name) ***"
exec 2>&1
exec /data/dbus-jkbms/bin/dbus-jkbms --config /data/conf/dbus-jkbms.d/$name.yaml
RUN
    cat > "$dir/log/run.new" <<RUN
#!/bin/sh
exec 2>&1
exec multilog t s25000 n4 /var/log/dbus-jkbms-$name
RUN
    for f in "$dir/run" "$dir/log/run"; do
        chmod 755 "$f.new"
        if cmp -s "$f.new" "$f"; then rm -f "$f.new"; else mv "$f.new" "$f"; fi
    done
    # A fixed serial port: keep serial-starter's probes off it.
    port=$(sed -n 's/^[[:space:]]*port:[[:space:]]*"\{0,1\}\(\/dev\/[^"[:space:]#]*\).*/\1/p' "$config" | head -1)
    if [ -n "$port" ] && live && [ -x /opt/victronenergy/serial-starter/stop-tty.sh ]; then
        /opt/victronenergy/serial-starter/stop-tty.sh "$(basename "$port")" >/dev/null 2>&1 || true
    fi
    if [ ! -L "$SERVICE/dbus-jkbms-$name" ]; then
        mkdir -p "$SERVICE"
        ln -s "/run/dbus-jkbms/$name" "$SERVICE/dbus-jkbms-$name"
        say "service dbus-jkbms-$name for $config"
    fi
done
# Instances whose file is gone (only our links into /run/dbus-jkbms).
for link in "$SERVICE"/dbus-jkbms-*; do
    [ -L "$link" ] || continue
    case $(readlink "$link") in /run/dbus-jkbms/*) ;; *) continue ;; esac
    name=${link##*/dbus-jkbms-}
    [ -f "$INSTANCES/$name.yaml" ] && continue
    live && svc -d "$link" 2>/dev/null
    rm -f "$link"
    rm -rf "${RUNDIR:?}/$name"
    say "service dbus-jkbms-$name removed (no $INSTANCES/$name.yaml)"
done
exit 0
