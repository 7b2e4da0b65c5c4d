#!/bin/sh
# dbus-jkbms on Venus OS: re-creates at every boot what a firmware update (or a reboot) takes
# away. Run from /data/rc.local (through the link /data/apps/enabled/dbus-jkbms) and by
# install.sh; running it twice changes nothing.
#
#   0. /data/apps/enabled/dbus-jkbms, the link that enables the app (made when missing)
#   1. the serial-starter template /opt/victronenergy/service-templates/dbus-jkbms, with the
#      log size of /data/conf/dbus-jkbms-log.conf, and /usr/local/bin/jkbms (a link to the
#      command): the rootfs is replaced by each firmware update
#   2. /data/conf/serial-starter.d/dbus-jkbms.conf: our service, added to the stock "default"
#      and "rs485" probe lists (serial-starter then tries dbus-jkbms on USB-serial adapters;
#      dbus-jkbms exits within seconds when no JK BMS answers, so the next driver gets its turn)
#   3. one daemontools service per file in /data/conf/dbus-jkbms.d/*.yaml (a BLE battery, or a
#      fixed serial port): /service/dbus-jkbms-<name> (a link to /run/dbus-jkbms/<name>: /service
#      is in RAM), logging to /var/log/dbus-jkbms-<name>. <name> is the file's name without .yaml,
#      each character but letters, digits, _ and - made _ ("van.ble.yaml": dbus-jkbms-van_ble);
#      the service runs with the real file, --publish-config-errors and the file's port or MAC
#      (a refused file still runs: README "Configuration mistakes on the GX"). A name with
#      " $ ` \ or a newline, or one whose <name> another file has already, is refused (said in
#      the output) and gets no service.
#      serial-starter's own instances are /service/dbus-jkbms.<tty>; they are left alone.
#
# /data/conf/dbus-jkbms-log.conf (optional; install.sh writes it from JKBMS_LOG_SIZE and
# JKBMS_LOG_COUNT):   size=200000   bytes per multilog file (4096 to 16777215)
#                     count=5       files kept per service (2 to 1000)
# JKBMS_ROOT (tests only) puts every path under a scratch directory and touches no service.

ROOT=${JKBMS_ROOT:-}
APP=$ROOT/data/apps/available/dbus-jkbms
ENABLED=$ROOT/data/apps/enabled/dbus-jkbms
TEMPLATE=$ROOT/opt/victronenergy/service-templates/dbus-jkbms
COMMAND=$ROOT/usr/local/bin/jkbms
STOCK=$ROOT/etc/venus/serial-starter.conf
DROPIN=$ROOT/data/conf/serial-starter.d/dbus-jkbms.conf
INSTANCES=$ROOT/data/conf/dbus-jkbms.d
LOGCONF=$ROOT/data/conf/dbus-jkbms-log.conf
RUNDIR=$ROOT/run/dbus-jkbms
SERVICE=$ROOT/service

live() { [ -z "$ROOT" ]; }
say() { echo "dbus-jkbms: $*"; }

# 0. Enabled.
if [ "$(readlink "$ENABLED" 2>/dev/null)" != /data/apps/available/dbus-jkbms ]; then
    mkdir -p "$(dirname "$ENABLED")"
    rm -f "$ENABLED"
    ln -s /data/apps/available/dbus-jkbms "$ENABLED"
    say "enabled ($ENABLED)"
fi

# The multilog settings: the file's, when they are numbers in range.
log_size=200000
log_count=5
conf_value() {  # conf_value KEY: the last "KEY=<digits>" of the log configuration
    sed 's/#.*//' "$LOGCONF" | sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\([0-9]\{1,8\}\)[[:space:]]*$/\1/p" | tail -1
}
if [ -f "$LOGCONF" ]; then
    v=$(conf_value size)
    if [ -n "$v" ] && [ "$v" -ge 4096 ] && [ "$v" -le 16777215 ]; then log_size=$v
    else say "$LOGCONF: no size between 4096 and 16777215; $log_size used"; fi
    v=$(conf_value count)
    if [ -n "$v" ] && [ "$v" -ge 2 ] && [ "$v" -le 1000 ]; then log_count=$v
    else say "$LOGCONF: no count between 2 and 1000; $log_count used"; fi
fi
multilog_args="t s$log_size n$log_count"

# 1. The template and the command link, when missing or not ours any more.
want=$(mktemp -d)
cp -r "$APP/service" "$want/dbus-jkbms"
sed -i "s/multilog t s[0-9]* n[0-9]*/multilog $multilog_args/" "$want/dbus-jkbms/log/run"
if ! diff -r "$want/dbus-jkbms" "$TEMPLATE" >/dev/null 2>&1 ||
    [ "$(readlink "$COMMAND" 2>/dev/null)" != /data/apps/available/dbus-jkbms/bin/jkbms ]; then
    # The rootfs is read-only on a GX: remount-rw.sh makes it writable until the next boot.
    if ! mkdir -p "$(dirname "$TEMPLATE")" 2>/dev/null || ! touch "$(dirname "$TEMPLATE")/.jkbms" 2>/dev/null; then
        live && [ -x /opt/victronenergy/swupdate-scripts/remount-rw.sh ] &&
            /opt/victronenergy/swupdate-scripts/remount-rw.sh
    fi
    rm -f "$(dirname "$TEMPLATE")/.jkbms"
    if ! diff -r "$want/dbus-jkbms" "$TEMPLATE" >/dev/null 2>&1; then
        if rm -rf "$TEMPLATE" && cp -r "$want/dbus-jkbms" "$TEMPLATE"; then
            say "serial-starter template installed (multilog $multilog_args)"
        else
            say "cannot write $TEMPLATE: serial ports will not be probed"
        fi
    fi
    if mkdir -p "$(dirname "$COMMAND")" 2>/dev/null && ln -sfn /data/apps/available/dbus-jkbms/bin/jkbms "$COMMAND"; then
        say "jkbms on PATH ($COMMAND)"
    else
        say "cannot write $COMMAND: run /data/apps/available/dbus-jkbms/bin/jkbms"
    fi
fi
rm -rf "$want"

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
    "# Written by /data/apps/available/dbus-jkbms/enable.sh at every boot (the stock lists plus jkbms)." \
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
kept=" "   # the instance names set up below: any other service of ours goes
for config in "$INSTANCES"/*.yaml; do
    [ -f "$config" ] || continue
    file=${config##*/}
    # shellcheck disable=SC1003  # '\' is a backslash
    case $file in
        *'"'*|*'$'*|*'`'*|*'\'*|*'
'*) say "$config: refused (a name with \" \$ \` \\ or a newline); rename it"; continue ;;
    esac
    name=$(printf '%s' "${file%.yaml}" | tr -c 'A-Za-z0-9_-' '_')
    [ -n "$name" ] || { say "$config: refused (no name); rename it"; continue; }
    case $kept in
        *" $name "*) say "$config: refused (its service name dbus-jkbms-$name is another file's); rename it"; continue ;;
    esac
    kept="$kept$name "
    dir=$RUNDIR/$name
    mkdir -p "$dir/log"
    # The file's serial port (a /dev path) or BLE MAC, also on the command line: a file the
    # daemon refuses then still says what to run on (--publish-config-errors: the defaults,
    # the battery shown with error #119 "Settings invalid"; README "Configuration mistakes").
    port=$(sed -n 's/^[[:space:]]*port:[[:space:]]*"\{0,1\}\(\/dev\/[^"[:space:]#]*\).*/\1/p' "$config" | head -1)
    mac=$(sed -n 's/^[[:space:]]*mac:[[:space:]]*"\{0,1\}\([0-9A-Fa-f]\{2\}\(:[0-9A-Fa-f]\{2\}\)\{5\}\)"\{0,1\}[[:space:]]*\(#.*\)\{0,1\}$/\1/p' "$config" | head -1)
    where=""
    case $port in
        "" | *[!A-Za-z0-9_./-]*) ;;  # none, or not safe to write into the script unquoted
        *) where=" --serial $port" ;;
    esac
    [ -z "$where" ] && [ -n "$mac" ] && where=" --ble $mac"
    cat > "$dir/run.new" <<RUN
#!/bin/sh
echo "*** starting dbus-jkbms ($name) ***"
exec 2>&1
exec /data/apps/available/dbus-jkbms/bin/dbus-jkbms --config "/data/conf/dbus-jkbms.d/$file" --publish-config-errors /var/log/dbus-jkbms-$name/current$where
RUN
    cat > "$dir/log/run.new" <<RUN
#!/bin/sh
exec 2>&1
exec multilog $multilog_args /var/log/dbus-jkbms-$name
RUN
    for f in "$dir/run" "$dir/log/run"; do
        chmod 755 "$f.new"
        if cmp -s "$f.new" "$f"; then rm -f "$f.new"; else mv "$f.new" "$f"; fi
    done
    # A fixed serial port: keep serial-starter's probes off it.
    if [ -n "$port" ] && live && [ -x /opt/victronenergy/serial-starter/stop-tty.sh ]; then
        /opt/victronenergy/serial-starter/stop-tty.sh "$(basename "$port")" >/dev/null 2>&1 || true
    fi
    if [ ! -L "$SERVICE/dbus-jkbms-$name" ]; then
        mkdir -p "$SERVICE"
        ln -s "/run/dbus-jkbms/$name" "$SERVICE/dbus-jkbms-$name"
        say "service dbus-jkbms-$name for $config"
    fi
done
# Instances whose file is gone or refused (only our links into /run/dbus-jkbms).
for link in "$SERVICE"/dbus-jkbms-*; do
    [ -L "$link" ] || continue
    case $(readlink "$link") in /run/dbus-jkbms/*) ;; *) continue ;; esac
    name=${link##*/dbus-jkbms-}
    case $kept in *" $name "*) continue ;; esac
    live && svc -d "$link" 2>/dev/null
    rm -f "$link"
    rm -rf "${RUNDIR:?}/$name"
    say "service dbus-jkbms-$name removed (no file in $INSTANCES for it)"
done
exit 0
