#!/usr/bin/env bash
# Checks a staged Venus release (packaging/venus-build.sh --test runs it):
#   - each binary is static (no dynamic section) and stripped;
#   - under qemu-user - armhf on a Cortex-A8 (the oldest GX CPUs) and a Cortex-A7, arm64 on
#     a Cortex-A53 - dbus-jkbms --simulate publishes on a private dbus-daemon, busctl reads the
#     values back, `jkbms watch --dbus` reads them, `jkbms power off` switches the simulated
#     BMS through the daemon, and
#     SIGTERM ends it with exit code 0;
#   - install.sh, enable.sh and uninstall.sh against scratch roots: the app under
#     /data/apps/available, enabled, the rc.local line once after two installs, the
#     serial-starter template and drop-in, jkbms on PATH, a BLE instance service, a kept
#     configuration, the install log, refusals (x86, Venus before v3.00, no Venus), the older
#     /data/dbus-jkbms layout migrated, the one-command install, venus-data.tar.gz installed at
#     boot through a rewrite of Venus's update-data.sh and rc.local (and only once), gui-v2
#     (copied; its JSON written on v3.70~45 and later, again after an upgrade), an rc.local
#     ending in `exit 0`, the multilog settings, and what uninstall leaves in /data (the
#     configuration and logs); with stand-ins for svc and svstat: an upgrade and a migration
#     wait for the services to be down before unlocking ports or moving their state, and so
#     does uninstall, which logs a failing step and goes on;
#   - the serial-starter template under a stand-in for serial-starter's run-service.sh, the
#     binary under qemu: exit 1 and the tty lock released when nothing answers on a pty,
#     running with the lock held while jkbms-sim answers, and with a refused configuration
#     the battery published with error #119 and CCL 0 (exit 2 when run by hand).
# Prints "ok - ..." / "not ok - ..." per check and "venus: N passed, N failed" last.
#
#   packaging/venus-test.sh STAGE_DIR [VENUS_DATA_TAR_GZ]
#   (default: out/venus-data.tar.gz beside the stage's out/venus/)
set -uo pipefail
STAGE=$(realpath "${1:?usage: venus-test.sh STAGE_DIR [VENUS_DATA_TAR_GZ]}")
VENUS_DATA=$(realpath -m "${2:-$STAGE/../../venus-data.tar.gz}")
WORK=$(mktemp -d)
passed=0
failed=0
trap 'rm -rf "$WORK"' EXIT

check() {  # check NAME COMMAND...: one check, its output kept for a failure
    local name=$1
    shift
    [[ $name =~ ${VENUS_TEST_ONLY:-} ]] || return 0   # VENUS_TEST_ONLY=REGEX: only the checks it matches
    if out=$("$@" 2>&1); then
        echo "ok - $name"
        passed=$((passed + 1))
    else
        echo "not ok - $name"
        printf '%s\n' "$out" | sed 's/^/    /' | tail -20
        failed=$((failed + 1))
    fi
}

# Polls COMMAND every 0.2 s until it succeeds or SECONDS pass.
until_ok() {
    local seconds=$1
    shift
    local end=$((SECONDS + seconds))
    while [ "$SECONDS" -lt "$end" ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    "$@"
}

static_and_stripped() {  # FILE
    local info
    info=$(file -b "$1")
    grep -q "statically linked" <<<"$info" && grep -q "stripped" <<<"$info" && ! grep -q "not stripped" <<<"$info" &&
        ! readelf -d "$1" 2>/dev/null | grep -q "Dynamic section" || { echo "$1: $info"; return 1; }
}

# Runs in check's subshell: whatever it started is ended when it returns, failed or not.
simulate_under_qemu() {  # QEMU CPU ARCH
    sim_bus=""
    sim_daemon=""
    local rc=0
    simulate_body "$@" || rc=$?
    # shellcheck disable=SC2086
    kill $sim_daemon $sim_bus 2>/dev/null
    return "$rc"
}

simulate_body() {
    local qemu=$1 cpu=$2 arch=$3
    local bin=$STAGE/bin/$arch dir=$WORK/$arch-$cpu
    mkdir -p "$dir"
    dbus-daemon --session --nofork --nopidfile --address="unix:path=$dir/bus" 2>/dev/null &
    sim_bus=$!
    local address=unix:path=$dir/bus
    until_ok 5 test -S "$dir/bus" || return 1
    printf 'dbus:\n  settings_wait: 0\ncharge:\n  state_dir: ""\n' > "$dir/config.yaml"
    "$qemu" -cpu "$cpu" "$bin/dbus-jkbms" --simulate --config "$dir/config.yaml" --dbus-address "$address" \
        > "$dir/daemon.log" 2>&1 &
    local daemon=$!
    sim_daemon=$daemon
    # The service is named after the simulator's pty (sim_<n>), whichever is free.
    local name=""
    find_name() {
        name=$(busctl --address="$address" list --no-legend 2>/dev/null | awk '$1 ~ /^com\.victronenergy\.battery\.sim_/ {print $1; exit}')
        [ -n "$name" ]
    }
    get() { busctl --address="$address" call "$name" "$1" com.victronenergy.BusItem GetValue; }
    if ! until_ok 60 find_name || ! until_ok 60 get /Soc; then cat "$dir/daemon.log"; return 1; fi
    local voltage soc
    voltage=$(get /Dc/0/Voltage)
    soc=$(get /Soc)
    echo "$arch/$cpu: /Dc/0/Voltage $voltage, /Soc $soc"
    [[ $voltage =~ ^v\ d\ 5[0-9]\. ]] || { echo "unexpected voltage: $voltage"; return 1; }
    [[ $soc =~ ^v\ d\ [0-9] ]] || { echo "unexpected SoC: $soc"; return 1; }
    # jkbms watch --dbus (the device-command layer) reads the service back.
    "$qemu" -cpu "$cpu" "$bin/jkbms" watch --dbus --dbus-address "$address" --count 1 | grep -q " SoC " ||
        { echo "jkbms watch --dbus printed no reading"; return 1; }
    "$qemu" -cpu "$cpu" "$bin/jkbms" power off --dbus-address "$address" || return 1
    [ "$(busctl --address="$address" call "$name" /Bms/Power com.victronenergy.BusItem GetText)" = 's "switching off"' ] ||
        return 1
    kill -TERM "$daemon"
    local rc=0
    wait "$daemon" || rc=$?
    sim_daemon=""
    [ "$rc" -eq 0 ] || { echo "exit code $rc"; cat "$dir/daemon.log"; return 1; }
    grep -q "stopping (SIGTERM)" "$dir/daemon.log" || { cat "$dir/daemon.log"; return 1; }
}

decode_under_qemu() {  # QEMU CPU ARCH
    "$1" -cpu "$2" "$STAGE/bin/$3/jkbms" decode --compact 4e5700130000000006030000000000006800000129 |
        grep -q '"checksum_ok":true'
}

version_matches() {  # QEMU ARCH
    [ "$("$1" "$STAGE/bin/$2/dbus-jkbms" --version)" = "dbus-jkbms $(cat "$STAGE/VERSION")" ]
}

# A scratch Venus root: the stock serial-starter configuration (the aliases we extend), the
# version file, and the directories a GX has.
make_root() {  # make_root DIR [VENUS_VERSION]
    local root=$1
    mkdir -p "$root/etc/venus" "$root/opt/victronenergy/service-templates" "$root/service" "$root/data/conf" \
        "$root/data/log" "$root/run"
    printf '%s\n' "service gps gps-dbus" "alias default gps:vedirect" "alias rs485 cgwacs:fzsonick:imt:modbus" \
        "include /data/conf/serial-starter.d" > "$root/etc/venus/serial-starter.conf"
    printf '%s\n%s\n' "${2:-v3.70}" "20260801120000" > "$root/opt/victronenergy/version"
}

left_in_data() {  # left_in_data ROOT: what /data holds, one line
    (cd "$1/data" && find . -mindepth 1 | sort | tr '\n' ' ')
}

APP_DIR=data/apps/available/dbus-jkbms
BOOT_LINE="[ ! -x /data/apps/enabled/dbus-jkbms/enable.sh ] || /data/apps/enabled/dbus-jkbms/enable.sh  # dbus-jkbms: at every boot"

# What an install leaves: the app, enabled, the boot line once, the template, the drop-in, the
# command on PATH, the log.
installed_and_enabled() {  # installed_and_enabled ROOT ARCH
    local root=$1 arch=$2 app=$1/$APP_DIR f
    for f in bin/dbus-jkbms bin/jkbms bin/jkbms-sim service/run service/down service/log/run enable.sh uninstall.sh \
        default.yaml INSTALL VERSION; do
        [ -e "$app/$f" ] || { echo "missing $app/$f"; return 1; }
    done
    cmp -s "$app/bin/dbus-jkbms" "$STAGE/bin/$arch/dbus-jkbms" || { echo "not the $arch binary"; return 1; }
    [ "$(readlink "$root/data/apps/enabled/dbus-jkbms")" = /data/apps/available/dbus-jkbms ] || { echo "not enabled"; return 1; }
    [ "$(grep -cxF "$BOOT_LINE" "$root/data/rc.local")" -eq 1 ] && [ -x "$root/data/rc.local" ] &&
        head -n 1 "$root/data/rc.local" | grep -qx '#!/bin/sh' || { echo "rc.local:"; cat "$root/data/rc.local"; return 1; }
    grep -qx "jk_port=TTY" "$root/opt/victronenergy/service-templates/dbus-jkbms/run" &&
        [ -f "$root/opt/victronenergy/service-templates/dbus-jkbms/down" ] || { echo "no template"; return 1; }
    [ "$(readlink "$root/usr/local/bin/jkbms")" = /data/apps/available/dbus-jkbms/bin/jkbms ] || { echo "jkbms not on PATH"; return 1; }
    local dropin=$root/data/conf/serial-starter.d/dbus-jkbms.conf
    grep -qx "service jkbms dbus-jkbms" "$dropin" && grep -qx "alias default gps:vedirect:jkbms" "$dropin" &&
        grep -qx "alias rs485 cgwacs:fzsonick:imt:modbus:jkbms" "$dropin" || { cat "$dropin"; return 1; }
    grep -q "dbus-jkbms $(cat "$STAGE/VERSION") installed for $arch" "$root/data/log/dbus-jkbms-install.log" ||
        { echo "install log:"; cat "$root/data/log/dbus-jkbms-install.log"; return 1; }
    # Every /data path install.sh tells the user about exists (no dangling reference).
    local p
    for p in $(sed -n 's/.*\(\/data\/apps\/available\/dbus-jkbms\/[A-Za-z.]*\).*/\1/p' "$STAGE/install.sh" | sort -u); do
        [ -e "$root$p" ] || { echo "install.sh names $p, which is not installed"; return 1; }
    done
}

install_tests() {
    local root=$WORK/root
    make_root "$root"
    printf 'log:\n  level: debug\n' > "$root/data/conf/dbus-jkbms.yaml"
    printf '#!/bin/sh\n/data/other-app/start.sh\n' > "$root/data/rc.local"
    mkdir -p "$root/data/conf/dbus-jkbms.d"
    printf 'ble:\n  mac: C8:47:8C:00:00:01\n' > "$root/data/conf/dbus-jkbms.d/garage.yaml"
    local env=(env JKBMS_ROOT="$root" JKBMS_ARCH=armv7l)
    "${env[@]}" "$STAGE/install.sh" >/dev/null || return 1
    "${env[@]}" "$STAGE/install.sh" >/dev/null || return 1   # twice: nothing doubles
    installed_and_enabled "$root" armhf || return 1
    local app=$root/$APP_DIR
    grep -q "^/data/other-app/start.sh" "$root/data/rc.local" || return 1
    [ "$(cat "$root/data/conf/dbus-jkbms.yaml")" = "$(printf 'log:\n  level: debug')" ] || { echo "config changed"; return 1; }
    [ "$(readlink "$root/service/dbus-jkbms-garage")" = "/run/dbus-jkbms/garage" ] || return 1
    # The MAC on the command line too, so that a refused file still runs (README "Configuration
    # mistakes on the GX").
    grep -qxF -- 'exec /data/apps/available/dbus-jkbms/bin/dbus-jkbms --config "/data/conf/dbus-jkbms.d/garage.yaml" --publish-config-errors /var/log/dbus-jkbms-garage/current --ble C8:47:8C:00:00:01' \
        "$root/run/dbus-jkbms/garage/run" || { cat "$root/run/dbus-jkbms/garage/run"; return 1; }
    grep -q "multilog t s200000 n5 /var/log/dbus-jkbms-garage" "$root/run/dbus-jkbms/garage/log/run" || return 1
    # A firmware update: the rootfs template, the command link and /service are gone; enable.sh
    # (from rc.local) brings them back.
    rm -rf "$root/opt/victronenergy/service-templates/dbus-jkbms" "$root/usr/local/bin/jkbms" \
        "$root/service/dbus-jkbms-garage" "$root/run/dbus-jkbms"
    JKBMS_ROOT=$root "$app/enable.sh" >/dev/null || return 1
    [ -f "$root/opt/victronenergy/service-templates/dbus-jkbms/run" ] && [ -L "$root/service/dbus-jkbms-garage" ] &&
        [ -L "$root/usr/local/bin/jkbms" ] || return 1
    # An instance file removed: its service goes; serial-starter's own ones stay.
    ln -s /var/volatile/services/dbus-jkbms.ttyUSB0 "$root/service/dbus-jkbms.ttyUSB0"
    rm "$root/data/conf/dbus-jkbms.d/garage.yaml"
    JKBMS_ROOT=$root "$app/enable.sh" >/dev/null || return 1
    [ ! -e "$root/service/dbus-jkbms-garage" ] && [ -L "$root/service/dbus-jkbms.ttyUSB0" ] || return 1
    rm "$root/service/dbus-jkbms.ttyUSB0"
    # Uninstall: everything it added is gone; the configuration, the log and the other rc.local
    # line stay.
    JKBMS_ROOT=$root "$app/uninstall.sh" >/dev/null || return 1
    [ ! -e "$root/opt/victronenergy/service-templates/dbus-jkbms" ] && [ ! -e "$root/usr/local/bin/jkbms" ] || return 1
    ! grep -q "dbus-jkbms" "$root/data/rc.local" && grep -q "^/data/other-app/start.sh" "$root/data/rc.local" || return 1
    local left
    left=$(left_in_data "$root")
    [ "$left" = "./conf ./conf/dbus-jkbms.d ./conf/dbus-jkbms.yaml ./log ./log/dbus-jkbms-install.log ./rc.local " ] ||
        { echo "left in /data: $left"; return 1; }
    # Refused: an x86 machine, Venus OS before v3.00, no Venus at all.
    JKBMS_ROOT=$root JKBMS_ARCH=x86_64 "$STAGE/install.sh" >/dev/null 2>&1 && { echo "x86 accepted"; return 1; }
    grep -q "this is a 'x86_64' machine" "$root/data/log/dbus-jkbms-install.log" || { echo "x86 not the reason"; return 1; }
    printf 'v2.92\n' > "$root/opt/victronenergy/version"
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null 2>&1 && { echo "v2.92 accepted"; return 1; }
    grep -q "Venus OS v2.92 is too old" "$root/data/log/dbus-jkbms-install.log" || return 1
    rm "$root/opt/victronenergy/version"
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null 2>&1 && { echo "no Venus accepted"; return 1; }
    [ ! -e "$app" ] || return 1
    printf 'v3.80~40\n' > "$root/opt/victronenergy/version"
    JKBMS_ROOT=$root JKBMS_ARCH=aarch64 "$STAGE/install.sh" >/dev/null || return 1
    installed_and_enabled "$root" arm64 || return 1
    JKBMS_ROOT=$root "$app/uninstall.sh" --purge >/dev/null || return 1
    left=$(left_in_data "$root")
    [ "$left" = "./conf ./log ./log/dbus-jkbms-install.log ./rc.local " ] || { echo "left in /data after --purge: $left"; return 1; }
}

# The one-command install over ssh: the release unpacked in /data, the way older INSTALL texts
# said, is removed with its tarball once installed; from /tmp it is left to the reboot.
one_command_install() {
    local root=$WORK/one
    make_root "$root"
    local name
    name=$(basename "$STAGE")
    cp -r "$STAGE" "$root/data/$name"
    tar -C "$root/data" -czf "$root/data/$name-venus.tar.gz" "$name"
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$root/data/$name/install.sh" >/dev/null || return 1
    installed_and_enabled "$root" armhf || return 1
    [ ! -e "$root/data/$name" ] && [ ! -e "$root/data/$name-venus.tar.gz" ] || { echo "the release is left in /data"; return 1; }
    [ ! -e "$root/data/rc.local.jkbms-new" ] || return 1
    JKBMS_ROOT=$root "$root/$APP_DIR/uninstall.sh" >/dev/null || return 1
    local left
    left=$(left_in_data "$root")
    [ "$left" = "./conf ./log ./log/dbus-jkbms-install.log " ] || { echo "left in /data: $left"; return 1; }
}

# The older layout (/data/dbus-jkbms, its rc.local line, its state, a file of the user's) is
# migrated by an install and gone.
older_layout_migrated() {
    local root=$WORK/old
    make_root "$root"
    mkdir -p "$root/data/dbus-jkbms/bin" "$root/data/dbus-jkbms/state" "$root/data/dbus-jkbms/service"
    echo old > "$root/data/dbus-jkbms/bin/dbus-jkbms"
    echo "soc 55" > "$root/data/dbus-jkbms/state/ABC123.state"
    printf 'bank:\n  name: house\n' > "$root/data/dbus-jkbms/bank.yaml"
    printf '#!/bin/sh\n/data/dbus-jkbms/enable.sh  # dbus-jkbms: re-created at every boot\n/data/other.sh\n' > "$root/data/rc.local"
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null || return 1
    installed_and_enabled "$root" armhf || return 1
    [ ! -e "$root/data/dbus-jkbms" ] || { echo "/data/dbus-jkbms is left"; return 1; }
    ! grep -q "/data/dbus-jkbms/enable.sh" "$root/data/rc.local" && grep -qx "/data/other.sh" "$root/data/rc.local" ||
        { cat "$root/data/rc.local"; return 1; }
    [ "$(cat "$root/$APP_DIR/state/ABC123.state")" = "soc 55" ] || { echo "state lost"; return 1; }
    [ "$(cat "$root/data/conf/dbus-jkbms.migrated/bank.yaml")" = "$(printf 'bank:\n  name: house')" ] ||
        { echo "bank.yaml lost"; return 1; }
    # The user is told where it went, and to update anything of theirs pointing at the old place.
    grep -q "your /data/dbus-jkbms/bank.yaml is now /data/conf/dbus-jkbms.migrated/bank.yaml" \
        "$root/data/log/dbus-jkbms-install.log" &&
        grep -q "rc.local line .* points into /data/dbus-jkbms" "$root/data/log/dbus-jkbms-install.log" ||
        { echo "the move is not explained in the log"; return 1; }
}

# Venus OS's /etc/init.d/update-data.sh, as meta-victronenergy has it (meta-venus/recipes-core/
# initscripts/files/update-data.sh), for one archive: rc/ into a temporary directory,
# rc/pre-hook.sh (a failure: nothing more), the rest into /data without rc/, then
# rc/post-hook.sh with the result; the temporary directory goes.
update_data() {  # update_data ROOT ARCHIVE
    local root=$1 archive=$2 tmp arg
    tmp=$(mktemp -d)
    tar xzf "$archive" -C "$tmp" rc
    if [ -f "$tmp/rc/pre-hook.sh" ] && ! JKBMS_ROOT=$root JKBMS_ARCH=armv7l sh "$tmp/rc/pre-hook.sh"; then
        rm -rf "$tmp"
        return 0
    fi
    if tar xzf "$archive" -C "$root/data" --exclude rc; then arg=success; else arg=extraction-failed; fi
    [ -f "$tmp/rc/post-hook.sh" ] && JKBMS_ROOT=$root JKBMS_ARCH=armv7l sh "$tmp/rc/post-hook.sh" "$arg"
    rm -rf "$tmp"
}

# The boot: update-data.sh (rc5 S30), then /data/rc.local (rc5 S99), which runs enable.sh.
boot() {  # boot ROOT ARCHIVE
    update_data "$1" "$2" >/dev/null || return 1
    rm -rf "$1/service" "$1/run" "$1/opt/victronenergy/service-templates/dbus-jkbms" "$1/usr/local/bin/jkbms"
    mkdir -p "$1/service" "$1/run"
    if [ -x "$1/data/rc.local" ]; then
        # rc.local's paths are the device's: under the scratch root here (the enabled link is
        # absolute, so it is followed by hand).
        local target
        target=$(readlink "$1/data/apps/enabled/dbus-jkbms" || echo /nowhere)
        sed "s|/data/apps/enabled/dbus-jkbms/|$1$target/|g" "$1/data/rc.local" > "$WORK/rc.local.test"
        JKBMS_ROOT=$1 sh "$WORK/rc.local.test" >/dev/null || return 1
    fi
}

usb_install_at_boot() {
    [ -f "$VENUS_DATA" ] || { echo "no venus-data.tar.gz ($VENUS_DATA)"; return 1; }
    # Only rc/ in the archive: nothing of it is unpacked into /data by itself. (The listing is
    # read whole: grep -q on a pipe would end tar early, and pipefail fail the check.)
    local listing
    listing=$(tar tzf "$VENUS_DATA") || return 1
    [ -z "$(grep -v '^rc/' <<<"$listing")" ] || { echo "venus-data.tar.gz has more than rc/"; return 1; }
    grep -qx "rc/$(basename "$STAGE")/bin/armhf/dbus-jkbms" <<<"$listing" || { echo "no armhf binary in it"; return 1; }
    local root=$WORK/usb
    make_root "$root"
    printf 'log:\n  level: debug\n' > "$root/data/conf/dbus-jkbms.yaml"
    boot "$root" "$VENUS_DATA" || return 1
    installed_and_enabled "$root" armhf || return 1
    grep -q "install at boot (venus-data.tar.gz)" "$root/data/log/dbus-jkbms-install.log" || return 1
    grep -q "serial-starter template installed" "$root/data/log/dbus-jkbms-install.log" &&
        { echo "enable.sh ran at S30 (update-data), not from rc.local"; return 1; }
    [ -f "$root/opt/victronenergy/service-templates/dbus-jkbms/run" ] || { echo "rc.local did not enable it"; return 1; }
    local left
    left=$(left_in_data "$root")
    case $left in
        *dbus-jkbms-[0-9]*|*pre-hook*|*post-hook*|*./rc\ *|*jkbms-new*) echo "left in /data: $left"; return 1 ;;
    esac
    # The stick stays in: the next boots install nothing again (one-shot), and say so in the log.
    local before
    before=$(stat -c %Y "$root/$APP_DIR/bin/dbus-jkbms")
    sleep 1
    boot "$root" "$VENUS_DATA" || return 1
    [ "$(stat -c %Y "$root/$APP_DIR/bin/dbus-jkbms")" = "$before" ] || { echo "installed again"; return 1; }
    grep -q "is installed already, nothing done" "$root/data/log/dbus-jkbms-install.log" || return 1
    [ "$(grep -c "install at boot" "$root/data/log/dbus-jkbms-install.log")" -eq 1 ] || return 1
    installed_and_enabled "$root" armhf || return 1
    # Uninstall leaves the configuration and the logs.
    JKBMS_ROOT=$root "$root/$APP_DIR/uninstall.sh" >/dev/null || return 1
    left=$(left_in_data "$root")
    [ "$left" = "./conf ./conf/dbus-jkbms.yaml ./log ./log/dbus-jkbms-install.log " ] || { echo "left in /data: $left"; return 1; }
    # An extraction failure reported by update-data.sh installs nothing.
    local tmp
    tmp=$(mktemp -d)
    tar xzf "$VENUS_DATA" -C "$tmp" rc
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l sh "$tmp/rc/post-hook.sh" extraction-failed >/dev/null
    rm -rf "$tmp"
    [ ! -e "$root/$APP_DIR" ] && grep -q "reports 'extraction-failed'" "$root/data/log/dbus-jkbms-install.log" || return 1
}

# gui-v2/ goes into the app when the release has one, and nowhere when it has none.
gui_v2_copied() {
    local stage=$WORK/stage-gui root=$WORK/gui
    rm -rf "$stage"
    cp -r "$STAGE" "$stage"
    rm -rf "$stage/gui-v2"
    make_root "$root"
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$stage/install.sh" >/dev/null || return 1
    [ ! -e "$root/$APP_DIR/gui-v2" ] || return 1
    mkdir -p "$stage/gui-v2"
    echo "// test" > "$stage/gui-v2/Test.qml"
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$stage/install.sh" >/dev/null || return 1
    [ "$(cat "$root/$APP_DIR/gui-v2/Test.qml")" = "// test" ] || return 1
    if [ -d "$STAGE/gui-v2" ]; then   # this release's own plugin
        diff -r "$STAGE/gui-v2" "$root/$APP_DIR/gui-v2" >/dev/null 2>&1 && return 1
        JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null &&
            diff -r -x dbus-jkbms.json "$STAGE/gui-v2" "$root/$APP_DIR/gui-v2" || return 1
    fi
}

# The GUI v2 plugin's JSON (generated at install, not in the release) is written by install.sh
# through gui-v2/install.sh on Venus OS v3.70~45 and later, again after an upgrade (which
# replaces gui-v2/), and not on older Venus; a failing plugin step does not fail the install.
gui_v2_plugin_installed() {
    [ -f "$STAGE/gui-v2/install.sh" ] || { echo "the release has no gui-v2/install.sh"; return 1; }
    local root=$WORK/guijson json
    json=$root/$APP_DIR/gui-v2/dbus-jkbms.json
    make_root "$root" v3.70~45
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null || return 1
    [ -f "$json" ] || { echo "no $json after an install on v3.70~45"; tail -5 "$root/data/log/dbus-jkbms-install.log"; return 1; }
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(d["version"] != sys.argv[2])' \
        "$json" "$(cat "$STAGE/VERSION")" || { echo "the JSON's version is not the release's"; return 1; }
    installed_and_enabled "$root" armhf || return 1
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null || return 1   # an upgrade
    [ -f "$json" ] || { echo "no JSON after an upgrade"; return 1; }
    installed_and_enabled "$root" armhf || return 1
    JKBMS_ROOT=$root "$root/$APP_DIR/uninstall.sh" >/dev/null || return 1
    # Older Venus: installed, no JSON, said so.
    root=$WORK/guijson-old
    json=$root/$APP_DIR/gui-v2/dbus-jkbms.json
    make_root "$root" v3.60
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null || return 1
    installed_and_enabled "$root" armhf || return 1
    [ ! -e "$json" ] || { echo "a JSON on v3.60"; return 1; }
    grep -q "gui-v2: Venus OS v3.60 has no GUI v2 UI plugins" "$root/data/log/dbus-jkbms-install.log" || return 1
    # The plugin step fails: logged, the install goes on.
    local stage=$WORK/stage-guifail
    rm -rf "$stage"
    cp -r "$STAGE" "$stage"
    printf '#!/bin/sh\necho "broken plugin" >&2\nexit 3\n' > "$stage/gui-v2/install.sh"
    root=$WORK/guijson-fail
    make_root "$root" v3.70~45
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$stage/install.sh" >/dev/null || { echo "a failing plugin step failed the install"; return 1; }
    installed_and_enabled "$root" armhf || return 1
    grep -q "broken plugin" "$root/data/log/dbus-jkbms-install.log" &&
        grep -q "GUI v2 pages could not be installed" "$root/data/log/dbus-jkbms-install.log" || return 1
}

# rc.local ending in `exit 0` (or exiting early): our line comes right after the #! line, so it
# runs; the rest of the file is kept in order, and an upgrade does not move or double it.
rclocal_exit_0() {
    local root=$WORK/rcexit
    make_root "$root"
    printf '#!/bin/sh\n/data/other.sh\nexit 0\n' > "$root/data/rc.local"
    chmod 755 "$root/data/rc.local"
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null || return 1
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null || return 1
    installed_and_enabled "$root" armhf || return 1
    [ "$(cat "$root/data/rc.local")" = "$(printf '#!/bin/sh\n%s\n/data/other.sh\nexit 0' "$BOOT_LINE")" ] ||
        { echo "rc.local:"; cat "$root/data/rc.local"; return 1; }
    # It runs: a boot reaches enable.sh.
    rm -rf "$root/opt/victronenergy/service-templates/dbus-jkbms"
    sed "s|/data/apps/enabled/dbus-jkbms/|$root/$APP_DIR/|g" "$root/data/rc.local" > "$WORK/rc.local.exit0"
    JKBMS_ROOT=$root sh "$WORK/rc.local.exit0" >/dev/null 2>&1
    [ -f "$root/opt/victronenergy/service-templates/dbus-jkbms/run" ] || { echo "rc.local did not reach enable.sh"; return 1; }
    # An empty rc.local: a #! line and ours.
    : > "$root/data/rc.local"
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null || return 1
    [ "$(cat "$root/data/rc.local")" = "$(printf '#!/bin/sh\n%s' "$BOOT_LINE")" ] || { cat "$root/data/rc.local"; return 1; }
    # No #! line: ours goes first; uninstall takes only ours.
    printf '/data/other.sh\nexit 0\n' > "$root/data/rc.local"
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null || return 1
    [ "$(head -n 1 "$root/data/rc.local")" = "$BOOT_LINE" ] || { cat "$root/data/rc.local"; return 1; }
    JKBMS_ROOT=$root "$root/$APP_DIR/uninstall.sh" >/dev/null || return 1
    [ "$(cat "$root/data/rc.local")" = "$(printf '/data/other.sh\nexit 0')" ] || { cat "$root/data/rc.local"; return 1; }
}

# Stand-ins for daemontools' svc and svstat (JKBMS_TEST_SERVICES=1 lets install.sh and
# uninstall.sh touch the services under JKBMS_ROOT): a service told to go down (-d) stays "up,
# want down" for three svstat calls, as a daemon writing its charge state on SIGTERM would;
# each svstat call notes whether the tty lock, the service link and the app's state/ are still
# there. STUB_SVC_FAIL=REGEX: svc fails on the paths it matches.
write_svc_stubs() {  # write_svc_stubs DIR
    mkdir -p "$1/bin" "$1/state"
    cat > "$1/bin/svc" <<'STUB'
#!/bin/sh
echo "svc $*" >> "$STUB_DIR/calls"
opts=$1; shift
for s in "$@"; do
    if [ -n "${STUB_SVC_FAIL:-}" ] && echo "$s" | grep -Eq "$STUB_SVC_FAIL"; then echo "svc: $s: failed" >&2; exit 111; fi
    case $opts in *d*) echo 3 > "$STUB_DIR/state/$(basename "$s")" ;; *u*) rm -f "$STUB_DIR/state/$(basename "$s")" ;; esac
done
STUB
    cat > "$1/bin/svstat" <<'STUB'
#!/bin/sh
n=$(cat "$STUB_DIR/state/$(basename "$1")" 2>/dev/null || echo 0)
if [ "$n" -gt 0 ]; then
    echo $((n - 1)) > "$STUB_DIR/state/$(basename "$1")"
    tty=${1##*/dbus-jkbms.}
    lock=none; [ "$tty" = "$1" ] || { [ -L "$JKBMS_ROOT/var/lock/serial-starter/$tty" ] && lock=held || lock=gone; }
    link=gone; [ -L "$1" ] && link=there
    state=gone; [ -d "$JKBMS_ROOT/data/apps/available/dbus-jkbms/state" ] && state=there
    old=gone; [ -d "$JKBMS_ROOT/data/dbus-jkbms/state" ] && old=there
    echo "svstat $(basename "$1") up lock=$lock link=$link state=$state old=$old" >> "$STUB_DIR/calls"
    echo "$1: up (pid 99) 4 seconds, want down"
else
    echo "$1: down 1 seconds, normally up"
fi
STUB
    chmod 755 "$1/bin/svc" "$1/bin/svstat"
}

# An upgrade on a running GX: serial-starter's instance is stopped and its tty lock released
# only once svstat shows it down (svc -dx does not wait).
upgrade_waits_for_down() {
    local root=$WORK/svcwait stub=$WORK/svcwait-stub
    make_root "$root"
    write_svc_stubs "$stub"
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null || return 1
    mkdir -p "$root/var/lock/serial-starter" "$root/var/volatile/services/dbus-jkbms.ttyUSB0"
    ln -s "$root/var/volatile/services/dbus-jkbms.ttyUSB0" "$root/service/dbus-jkbms.ttyUSB0"
    ln -s 1234 "$root/var/lock/serial-starter/ttyUSB0"
    local env=(env PATH="$stub/bin:$PATH" STUB_DIR="$stub" JKBMS_TEST_SERVICES=1 JKBMS_ROOT="$root" JKBMS_ARCH=armv7l)
    "${env[@]}" "$STAGE/install.sh" >/dev/null || return 1
    grep -q "^svc -dx .*dbus-jkbms.ttyUSB0" "$stub/calls" || { echo "not stopped:"; cat "$stub/calls"; return 1; }
    grep -q "^svstat dbus-jkbms.ttyUSB0 up lock=held" "$stub/calls" || { echo "svstat not polled while it stopped:"; cat "$stub/calls"; return 1; }
    grep -q "^svstat dbus-jkbms.ttyUSB0 up lock=gone" "$stub/calls" && { echo "tty unlocked while still up:"; cat "$stub/calls"; return 1; }
    [ ! -e "$root/var/lock/serial-starter/ttyUSB0" ] && [ ! -L "$root/service/dbus-jkbms.ttyUSB0" ] || { echo "not handed back"; return 1; }
    # The older layout's running daemon (its charge state in /data/dbus-jkbms/state) is down
    # before that directory is copied and removed, and started again afterwards.
    root=$WORK/svcwait-old
    rm -rf "$stub"
    write_svc_stubs "$stub"
    make_root "$root"
    mkdir -p "$root/data/dbus-jkbms/state" "$root/run/dbus-jkbms/garage" "$root/data/conf/dbus-jkbms.d"
    echo "soc 55" > "$root/data/dbus-jkbms/state/ABC123.state"
    printf 'ble:\n  mac: C8:47:8C:00:00:01\n' > "$root/data/conf/dbus-jkbms.d/garage.yaml"
    ln -s "$root/run/dbus-jkbms/garage" "$root/service/dbus-jkbms-garage"
    "${env[@]/#JKBMS_ROOT=*/JKBMS_ROOT=$root}" "$STAGE/install.sh" >/dev/null || return 1
    grep -q "^svstat dbus-jkbms-garage up .*old=there" "$stub/calls" || { echo "not waited for before the migration:"; cat "$stub/calls"; return 1; }
    grep -q "^svstat dbus-jkbms-garage up .*old=gone" "$stub/calls" && { echo "/data/dbus-jkbms removed while it ran:"; cat "$stub/calls"; return 1; }
    grep -q "^svc -u .*dbus-jkbms-garage" "$stub/calls" || { echo "not started again:"; cat "$stub/calls"; return 1; }
    [ "$(cat "$root/$APP_DIR/state/ABC123.state")" = "soc 55" ] && [ ! -e "$root/data/dbus-jkbms" ] || return 1
}

# Instance files whose names the service name cannot keep ("van.ble.yaml", "my van.yaml"): the
# service (dbus-jkbms-van_ble, dbus-jkbms-my_van) runs with the real file and stays at the next
# run; a name unsafe in the run script, or one whose service name is taken, is refused and said.
enable_odd_names() {
    local root=$WORK/names d
    make_root "$root"
    d=$root/data/conf/dbus-jkbms.d
    mkdir -p "$d"
    printf 'ble:\n  mac: C8:47:8C:00:00:01\n' > "$d/van.ble.yaml"
    printf 'ble:\n  mac: C8:47:8C:00:00:02\n' > "$d/my van.yaml"
    printf 'ble:\n  mac: C8:47:8C:00:00:03\n' > "$d/van_ble.yaml"
    printf 'ble:\n  mac: C8:47:8C:00:00:04\n' > "$d/bad\$(reboot).yaml"
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null || return 1
    local said
    said=$(JKBMS_ROOT=$root "$root/$APP_DIR/enable.sh") || return 1
    local n
    for n in van_ble my_van; do
        [ "$(readlink "$root/service/dbus-jkbms-$n")" = "/run/dbus-jkbms/$n" ] ||
            { echo "no service dbus-jkbms-$n after a second run: $said"; ls "$root/service"; return 1; }
    done
    grep -qxF 'exec /data/apps/available/dbus-jkbms/bin/dbus-jkbms --config "/data/conf/dbus-jkbms.d/van.ble.yaml" --publish-config-errors /var/log/dbus-jkbms-van_ble/current --ble C8:47:8C:00:00:01' \
        "$root/run/dbus-jkbms/van_ble/run" || { cat "$root/run/dbus-jkbms/van_ble/run"; return 1; }
    grep -qxF 'exec /data/apps/available/dbus-jkbms/bin/dbus-jkbms --config "/data/conf/dbus-jkbms.d/my van.yaml" --publish-config-errors /var/log/dbus-jkbms-my_van/current --ble C8:47:8C:00:00:02' \
        "$root/run/dbus-jkbms/my_van/run" || { cat "$root/run/dbus-jkbms/my_van/run"; return 1; }
    grep -q "removed" <<<"$said" && { echo "a service removed: $said"; return 1; }
    grep -q "van_ble.yaml: refused (its service name dbus-jkbms-van_ble is another file's)" <<<"$said" &&
        grep -q 'bad\$(reboot).yaml: refused' <<<"$said" || { echo "refusals not said: $said"; return 1; }
    [ "$(ls "$root/service" | tr '\n' ' ')" = "dbus-jkbms-my_van dbus-jkbms-van_ble " ] || { ls "$root/service"; return 1; }
    # The file removed: its service goes.
    rm "$d/my van.yaml"
    said=$(JKBMS_ROOT=$root "$root/$APP_DIR/enable.sh") || return 1
    [ ! -e "$root/service/dbus-jkbms-my_van" ] && [ -L "$root/service/dbus-jkbms-van_ble" ] || { echo "$said"; return 1; }
}

# A fixed instance's run script names the file's serial port or MAC on the command line too,
# so a file the daemon refuses still runs (with --publish-config-errors); a port that is not
# safe to write unquoted into the script is left to the file.
enable_fixed_instance_args() {
    local root=$WORK/fixed d
    make_root "$root"
    d=$root/data/conf/dbus-jkbms.d
    mkdir -p "$d"
    printf 'serial:\n  port: /dev/ttyUSB1  # the shed\n  baud: fast\n' > "$d/shed.yaml"
    # shellcheck disable=SC2016  # a literal $(reboot)
    printf 'serial:\n  port: /dev/tty$(reboot)\n' > "$d/odd.yaml"
    printf 'ble:\n  mac: "C8:47:8C:00:00:0x"\n' > "$d/typo.yaml"
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null || return 1
    local exe='exec /data/apps/available/dbus-jkbms/bin/dbus-jkbms --config "/data/conf/dbus-jkbms.d/'
    grep -qxF "${exe}shed.yaml\" --publish-config-errors /var/log/dbus-jkbms-shed/current --serial /dev/ttyUSB1" \
        "$root/run/dbus-jkbms/shed/run" || { cat "$root/run/dbus-jkbms/shed/run"; return 1; }
    grep -qxF "${exe}odd.yaml\" --publish-config-errors /var/log/dbus-jkbms-odd/current" \
        "$root/run/dbus-jkbms/odd/run" || { cat "$root/run/dbus-jkbms/odd/run"; return 1; }
    grep -qxF "${exe}typo.yaml\" --publish-config-errors /var/log/dbus-jkbms-typo/current" \
        "$root/run/dbus-jkbms/typo/run" || { cat "$root/run/dbus-jkbms/typo/run"; return 1; }
}

# Uninstall on a running GX: the services are stopped and the app's state/ removed only once
# svstat shows them down; a failing `svc -t /service/serial-starter` is logged and the uninstall
# goes on to the end.
uninstall_waits_and_goes_on() {
    local root=$WORK/unsvc stub=$WORK/unsvc-stub
    make_root "$root"
    write_svc_stubs "$stub"
    mkdir -p "$root/data/conf/dbus-jkbms.d"
    printf 'ble:\n  mac: C8:47:8C:00:00:01\n' > "$root/data/conf/dbus-jkbms.d/garage.yaml"
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null || return 1
    mkdir -p "$root/$APP_DIR/state" "$root/service/serial-starter" "$root/var/lock/serial-starter" \
        "$root/var/volatile/services/dbus-jkbms.ttyUSB0"
    ln -s "$root/var/volatile/services/dbus-jkbms.ttyUSB0" "$root/service/dbus-jkbms.ttyUSB0"
    ln -s 1234 "$root/var/lock/serial-starter/ttyUSB0"
    local rc=0
    env PATH="$stub/bin:$PATH" STUB_DIR="$stub" STUB_SVC_FAIL=serial-starter JKBMS_TEST_SERVICES=1 JKBMS_ROOT="$root" \
        "$root/$APP_DIR/uninstall.sh" >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || { echo "exit $rc"; tail -3 "$root/data/log/dbus-jkbms-install.log"; return 1; }
    grep -q "^svc -t .*/service/serial-starter" "$stub/calls" || { echo "serial-starter not restarted:"; cat "$stub/calls"; return 1; }
    grep -q "uninstall.sh: 'svc -t .*serial-starter' failed" "$root/data/log/dbus-jkbms-install.log" &&
        grep -q "dbus-jkbms removed" "$root/data/log/dbus-jkbms-install.log" ||
        { echo "install log:"; tail -5 "$root/data/log/dbus-jkbms-install.log"; return 1; }
    local n
    for n in dbus-jkbms-garage dbus-jkbms.ttyUSB0; do
        grep -q "^svstat $n up .*state=there" "$stub/calls" || { echo "$n not waited for:"; cat "$stub/calls"; return 1; }
    done
    grep -q "^svstat .* up .*state=gone" "$stub/calls" && { echo "state/ removed while a service ran:"; cat "$stub/calls"; return 1; }
    grep -q "^svstat dbus-jkbms.ttyUSB0 up lock=gone" "$stub/calls" && { echo "tty unlocked while up"; return 1; }
    [ ! -e "$root/$APP_DIR" ] && [ ! -e "$root/var/lock/serial-starter/ttyUSB0" ] && [ ! -L "$root/service/dbus-jkbms-garage" ] &&
        [ ! -L "$root/service/dbus-jkbms.ttyUSB0" ] || { echo "left behind"; return 1; }
}

# multilog: 200000 x 5 by default; JKBMS_LOG_SIZE / JKBMS_LOG_COUNT at install are kept in
# /data/conf/dbus-jkbms-log.conf and used for the template and the fixed services; nonsense in
# that file falls back to the defaults.
log_settings() {
    local root=$WORK/logs
    make_root "$root"
    mkdir -p "$root/data/conf/dbus-jkbms.d"
    printf 'ble:\n  mac: C8:47:8C:00:00:01\n' > "$root/data/conf/dbus-jkbms.d/van.yaml"
    local template=$root/opt/victronenergy/service-templates/dbus-jkbms/log/run
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null || return 1
    grep -qx "exec multilog t s200000 n5 /var/log/dbus-jkbms.TTY" "$template" || { cat "$template"; return 1; }
    [ ! -e "$root/data/conf/dbus-jkbms-log.conf" ] || return 1
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l JKBMS_LOG_SIZE=500000 JKBMS_LOG_COUNT=12 "$STAGE/install.sh" >/dev/null || return 1
    grep -qx "exec multilog t s500000 n12 /var/log/dbus-jkbms.TTY" "$template" || { cat "$template"; return 1; }
    grep -qx "exec multilog t s500000 n12 /var/log/dbus-jkbms-van" "$root/run/dbus-jkbms/van/log/run" || return 1
    # At the next boot (enable.sh) the file still rules; an upgrade without the variables keeps it.
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l JKBMS_LOG_COUNT=20 "$STAGE/install.sh" >/dev/null || return 1
    grep -qx "exec multilog t s500000 n20 /var/log/dbus-jkbms.TTY" "$template" || { cat "$template"; return 1; }
    printf 'size=12\ncount=lots\n' > "$root/data/conf/dbus-jkbms-log.conf"
    local said
    said=$(JKBMS_ROOT=$root "$root/$APP_DIR/enable.sh")
    grep -q "no size between" <<<"$said" && grep -q "no count between" <<<"$said" || { echo "$said"; return 1; }
    grep -qx "exec multilog t s200000 n5 /var/log/dbus-jkbms.TTY" "$template" || { cat "$template"; return 1; }
}

# serial-starter's hand-off, with the release's own template under a stand-in for
# /opt/victronenergy/serial-starter/run-service.sh. The stand-in is ours, written from what
# public material shows run-service.sh does (victronenergy/serial-starter serial-starter.sh:
# the loop takes the lock /var/lock/serial-starter/<tty> with `lock_tty` before it starts a
# driver and does not release it itself; Victron's start scripts in meta-victronenergy
# (dbus-modbus-client/start-serial.sh, dbus-imt-si-rs485tc/start.sh) are run as `start.sh TTY`,
# source run-service.sh, set app= and call `start <arguments>`; the driver side removes the lock
# when the program ends, so serial-starter starts the next driver on the port). How the real
# one passes SIGTERM on is not known: this one forwards it to the program.
write_run_service() {  # write_run_service ROOT
    mkdir -p "$1/opt/victronenergy/serial-starter"
    cat > "$1/opt/victronenergy/serial-starter/run-service.sh" <<'STANDIN'
# Test stand-in for serial-starter's run-service.sh (see venus-test.sh).
tty=${1##*/}
start() {
    trap 'rm -f "$JKBMS_ROOT/var/lock/serial-starter/$tty"' EXIT
    trap 'kill -TERM "$pid" 2>/dev/null' TERM
    $app "$@" &
    pid=$!
    wait "$pid"
    status=$?
    while kill -0 "$pid" 2>/dev/null; do wait "$pid"; status=$?; done
    exit "$status"
}
STANDIN
}

# serial-starter's part: the template copied to /var/volatile/services/dbus-jkbms.<tty> with TTY
# replaced (its sed: the first TTY of each line), the port locked by serial-starter's pid.
serial_instance() {  # serial_instance ROOT TTY: prints the service directory
    local root=$1 tty=$2 dir=$1/var/volatile/services/dbus-jkbms.$2
    rm -rf "$dir"
    mkdir -p "$root/var/volatile/services" "$root/var/lock/serial-starter"
    cp -a "$root/opt/victronenergy/service-templates/dbus-jkbms" "$dir"
    sed -i "s:TTY:$tty:" "$dir/run" "$dir/log/run"
    ln -sfn "$$" "$root/var/lock/serial-starter/$tty"
    echo "$dir"
}

handoff_setup() {  # handoff_setup ROOT: installed, the binary run under qemu, a private bus
    local root=$1
    make_root "$root"
    JKBMS_ROOT=$root JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null || return 1
    printf '#!/bin/sh\nexec qemu-arm-static -cpu cortex-a7 %s "$@"\n' "$STAGE/bin/armhf/dbus-jkbms" > "$root/$APP_DIR/bin/dbus-jkbms"
    printf 'dbus:\n  settings_wait: 0\ncharge:\n  state_dir: ""\n' > "$root/data/conf/dbus-jkbms.yaml"
    write_run_service "$root"
    mkdir -p "$root/dev"
    dbus-daemon --session --nofork --nopidfile --address="unix:path=$root/bus" >/dev/null 2>&1 &
    ho_bus=$!
    until_ok 5 test -S "$root/bus" || return 1
}

# Nothing answers on the port: the run script exits 1 within seconds and the lock is gone.
handoff_nothing_answers() {
    ho_bus=""
    ho_pty=""
    local rc=0
    handoff_nothing_body || rc=$?
    # shellcheck disable=SC2086
    kill $ho_pty $ho_bus 2>/dev/null
    return "$rc"
}
handoff_nothing_body() {
    local root=$WORK/handoff1 dir
    handoff_setup "$root" || return 1
    python3 -c 'import os, pty, time
m, s = pty.openpty()
print(os.ttyname(s), flush=True)
time.sleep(120)' > "$root/pty" 2>/dev/null &
    ho_pty=$!
    until_ok 5 test -s "$root/pty" || return 1
    ln -sfn "$(head -n 1 "$root/pty")" "$root/dev/ttyUSB0"
    dir=$(serial_instance "$root" ttyUSB0)
    [ -L "$root/var/lock/serial-starter/ttyUSB0" ] || return 1
    local rc=0 start=$SECONDS
    (cd "$dir" && DBUS_SESSION_BUS_ADDRESS="unix:path=$root/bus" JKBMS_ROOT=$root timeout 60 ./run > "$root/run.log" 2>&1) || rc=$?
    echo "run exited $rc after $((SECONDS - start)) s"
    [ "$rc" -eq 1 ] || { cat "$root/run.log"; return 1; }
    grep -q "^\*\*\* starting dbus-jkbms on ttyUSB0 \*\*\*" "$root/run.log" || { cat "$root/run.log"; return 1; }
    [ ! -L "$root/var/lock/serial-starter/ttyUSB0" ] || { echo "the tty lock is still there"; return 1; }
}

# The simulated BMS answers: it keeps running with the lock held and publishes the battery;
# SIGTERM (svc -d) stops it with exit 0 and the lock goes.
handoff_answers() {
    ho_bus=""
    ho_sim=""
    ho_feed=""
    ho_run=""
    local rc=0
    handoff_answers_body || rc=$?
    # shellcheck disable=SC2086
    kill $ho_run $ho_sim $ho_feed $ho_bus 2>/dev/null
    return "$rc"
}
handoff_answers_body() {
    local root=$WORK/handoff2 dir
    handoff_setup "$root" || return 1
    # jkbms-sim reads commands on stdin: a fifo held open by a sleep of our own (a pipe from
    # it would keep check's output open after the test).
    mkfifo "$root/sim.in"
    sleep 600 > "$root/sim.in" 2>/dev/null &
    ho_feed=$!
    qemu-arm-static -cpu cortex-a7 "$STAGE/bin/armhf/jkbms-sim" --link "$root/dev/ttyUSB1" < "$root/sim.in" > "$root/sim.log" 2>&1 &
    ho_sim=$!
    until_ok 20 test -e "$root/dev/ttyUSB1" || { cat "$root/sim.log"; return 1; }
    dir=$(serial_instance "$root" ttyUSB1)
    (cd "$dir" && DBUS_SESSION_BUS_ADDRESS="unix:path=$root/bus" JKBMS_ROOT=$root exec ./run > "$root/run.log" 2>&1) &
    ho_run=$!
    published() {
        local names
        names=$(busctl --address="unix:path=$root/bus" list --no-legend 2>/dev/null)
        grep -q "^com.victronenergy.battery.ttyUSB1 " <<<"$names"
    }
    until_ok 60 published || { cat "$root/run.log"; return 1; }
    sleep 8   # longer than a failed probe takes
    kill -0 "$ho_run" 2>/dev/null || { echo "run exited"; cat "$root/run.log"; return 1; }
    [ -L "$root/var/lock/serial-starter/ttyUSB1" ] || { echo "the tty lock is gone while it runs"; return 1; }
    kill -TERM "$ho_run"
    local rc=0
    wait "$ho_run" || rc=$?
    ho_run=""
    [ "$rc" -eq 0 ] || { echo "exit code $rc after SIGTERM"; cat "$root/run.log"; return 1; }
    [ ! -L "$root/var/lock/serial-starter/ttyUSB1" ] || { echo "the tty lock is still there"; return 1; }
}
# A configuration file dbus-jkbms refuses: by hand it is exit code 2; through the run script
# (--publish-config-errors) the simulator's battery is published anyway, with error #119
# "Settings invalid" pointing at the service's log and no charging (CCL 0, AllowToCharge 0).
handoff_refused_config() {
    ho_bus=""
    ho_sim=""
    ho_feed=""
    ho_run=""
    local rc=0
    handoff_refused_body || rc=$?
    # shellcheck disable=SC2086
    kill $ho_run $ho_sim $ho_feed $ho_bus 2>/dev/null
    return "$rc"
}
handoff_refused_body() {
    local root=$WORK/handoff3 dir
    handoff_setup "$root" || return 1
    printf 'poll:\n  interval: soon\ncharge:\n  chemistry: lfp\n  bulk_cell_voltage: 9\n' > "$root/data/conf/dbus-jkbms.yaml"
    local rc=0
    "$root/$APP_DIR/bin/dbus-jkbms" --config "$root/data/conf/dbus-jkbms.yaml" /dev/null > "$root/hand.log" 2>&1 || rc=$?
    [ "$rc" -eq 2 ] && grep -q "dbus-jkbms.yaml:2: " "$root/hand.log" || { echo "by hand: exit $rc"; cat "$root/hand.log"; return 1; }
    mkfifo "$root/sim.in"
    sleep 600 > "$root/sim.in" 2>/dev/null &
    ho_feed=$!
    qemu-arm-static -cpu cortex-a7 "$STAGE/bin/armhf/jkbms-sim" --link "$root/dev/ttyUSB2" < "$root/sim.in" > "$root/sim.log" 2>&1 &
    ho_sim=$!
    until_ok 20 test -e "$root/dev/ttyUSB2" || { cat "$root/sim.log"; return 1; }
    dir=$(serial_instance "$root" ttyUSB2)
    (cd "$dir" && DBUS_SESSION_BUS_ADDRESS="unix:path=$root/bus" JKBMS_ROOT=$root exec ./run > "$root/run.log" 2>&1) &
    ho_run=$!
    get() { busctl --address="unix:path=$root/bus" call com.victronenergy.battery.ttyUSB2 "$1" com.victronenergy.BusItem "${2:-GetValue}"; }
    # The defaults wait 10 s for localsettings, which this bus has not.
    until_ok 60 get /Info/MaxChargeVoltage || { cat "$root/run.log"; return 1; }
    [ "$(get /ErrorCode)" = "v i 119" ] && [ "$(get /ErrorCode GetText)" = 's "Settings invalid: see /var/log/dbus-jkbms.ttyUSB2/current"' ] &&
        [ "$(get /Info/MaxChargeCurrent)" = "v d 0" ] && [ "$(get /Io/AllowToCharge)" = "v i 0" ] ||
        { get /ErrorCode; get /ErrorCode GetText; get /Info/MaxChargeCurrent; get /Io/AllowToCharge; cat "$root/run.log"; return 1; }
    grep -q "dbus-jkbms.yaml:2: " "$root/run.log" && grep -q "running on the defaults" "$root/run.log" || { cat "$root/run.log"; return 1; }
    kill -TERM "$ho_run"
    rc=0
    wait "$ho_run" || rc=$?
    ho_run=""
    [ "$rc" -eq 0 ] || { echo "exit code $rc after SIGTERM"; cat "$root/run.log"; return 1; }
}
for arch in armhf arm64; do
    for b in dbus-jkbms jkbms jkbms-sim; do
        check "$arch $b is static and stripped ($(stat -c %s "$STAGE/bin/$arch/$b") bytes)" \
            static_and_stripped "$STAGE/bin/$arch/$b"
    done
done
check "armhf dbus-jkbms --version is the release's" version_matches qemu-arm-static armhf
check "arm64 dbus-jkbms --version is the release's" version_matches qemu-aarch64-static arm64
check "armhf on a Cortex-A8: --simulate publishes, jkbms watch --dbus and power, SIGTERM" simulate_under_qemu qemu-arm-static cortex-a8 armhf
check "armhf on a Cortex-A7: --simulate publishes, jkbms watch --dbus and power, SIGTERM" simulate_under_qemu qemu-arm-static cortex-a7 armhf
check "arm64 on a Cortex-A53: --simulate publishes, jkbms watch --dbus and power, SIGTERM" simulate_under_qemu qemu-aarch64-static cortex-a53 arm64
check "armhf jkbms decode on a Cortex-A8" decode_under_qemu qemu-arm-static cortex-a8 armhf
check "install.sh twice, enable.sh after an update, uninstall.sh, refusals, in a scratch root" install_tests
check "one-command install: the release unpacked in /data is not left there" one_command_install
check "the older /data/dbus-jkbms layout is migrated (state, rc.local line, a user's file)" older_layout_migrated
check "venus-data.tar.gz: installed and enabled at boot, once, logged; uninstall leaves config and logs" usb_install_at_boot
check "gui-v2/ copied into the app when the release has one, none otherwise" gui_v2_copied
check "gui-v2 plugin JSON written by install.sh on v3.70~45 and after an upgrade, not on v3.60; a failure is logged" gui_v2_plugin_installed
check "rc.local ending in exit 0: the boot line goes after #!, runs, and uninstall keeps the rest" rclocal_exit_0
check "upgrade: serial-starter's instance unlocked, the older layout migrated, only once svstat shows them down" upgrade_waits_for_down
check "enable.sh: instance files named van.ble.yaml, my van.yaml keep their service; unsafe names refused" enable_odd_names
check "enable.sh: a fixed instance's port or MAC also on its command line (a refused file still runs); unsafe ports not" enable_fixed_instance_args
check "uninstall: services down before state/ goes; a failing svc -t serial-starter logged, not fatal" uninstall_waits_and_goes_on
check "multilog size and count: defaults, JKBMS_LOG_SIZE/COUNT at install, bad values" log_settings
check "run-service.sh hand-off: nothing answers on the port -> exit 1, the tty lock released" handoff_nothing_answers
check "run-service.sh hand-off: the simulator answers -> runs, keeps the lock; SIGTERM -> 0, lock released" handoff_answers
check "run-service.sh hand-off: a refused configuration -> published with error #119 and CCL 0; by hand exit 2" handoff_refused_config

echo "venus: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
