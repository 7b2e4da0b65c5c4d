#!/usr/bin/env bash
# Checks a staged Venus release (packaging/venus-build.sh --test runs it):
#   - each binary is static (no dynamic section) and stripped;
#   - under qemu-user - armhf on a Cortex-A8 (the oldest GX CPUs) and a Cortex-A7, arm64 on
#     a Cortex-A53 - dbus-jkbms --simulate publishes on a private dbus-daemon, busctl reads the
#     values back, `jkbms watch --dbus` reads them, `jkbms power off` switches the simulated
#     BMS through the daemon, and
#     SIGTERM ends it with exit code 0;
#   - install.sh and uninstall.sh against a scratch root: the files, the rc.local line once
#     after two installs, the serial-starter drop-in, a BLE instance service, a kept
#     configuration, and a clean tree after uninstall.
# Prints "ok - ..." / "not ok - ..." per check and "venus: N passed, N failed" last.
#
#   packaging/venus-test.sh STAGE_DIR
set -uo pipefail
STAGE=$(realpath "${1:?usage: venus-test.sh STAGE_DIR}")
WORK=$(mktemp -d)
passed=0
failed=0
trap 'rm -rf "$WORK"' EXIT

check() {  # check NAME COMMAND...: one check, its output kept for a failure
    local name=$1
    shift
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

install_tests() {
    local root=$WORK/root
    mkdir -p "$root/etc/venus" "$root/opt/victronenergy/service-templates" "$root/service" "$root/data/conf" "$root/run"
    # The stock serial-starter configuration (the aliases we extend).
    printf '%s\n' "service gps gps-dbus" "alias default gps:vedirect" "alias rs485 cgwacs:fzsonick:imt:modbus" \
        "include /data/conf/serial-starter.d" > "$root/etc/venus/serial-starter.conf"
    printf 'log:\n  level: debug\n' > "$root/data/conf/dbus-jkbms.yaml"
    printf '#!/bin/sh\n/data/other-app/start.sh\n' > "$root/data/rc.local"
    mkdir -p "$root/data/conf/dbus-jkbms.d"
    printf 'ble:\n  mac: C8:47:8C:00:00:01\n' > "$root/data/conf/dbus-jkbms.d/garage.yaml"
    local env=(env JKBMS_ROOT="$root" JKBMS_ARCH=armv7l)
    "${env[@]}" "$STAGE/install.sh" >/dev/null || return 1
    "${env[@]}" JKBMS_ARCH=armv7l "$STAGE/install.sh" >/dev/null || return 1   # twice: nothing doubles
    local app=$root/data/dbus-jkbms
    for f in bin/dbus-jkbms bin/jkbms bin/jkbms-sim service/run service/log/run enable.sh uninstall.sh default.yaml VERSION; do
        [ -e "$app/$f" ] || { echo "missing $app/$f"; return 1; }
    done
    cmp -s "$app/bin/dbus-jkbms" "$STAGE/bin/armhf/dbus-jkbms" || { echo "not the armhf binary"; return 1; }
    [ "$(grep -c "/data/dbus-jkbms/enable.sh" "$root/data/rc.local")" -eq 1 ] || { cat "$root/data/rc.local"; return 1; }
    grep -q "^/data/other-app/start.sh" "$root/data/rc.local" || return 1
    [ -x "$root/data/rc.local" ] || return 1
    [ "$(cat "$root/data/conf/dbus-jkbms.yaml")" = "$(printf 'log:\n  level: debug')" ] || { echo "config changed"; return 1; }
    grep -q "/dev/TTY" "$root/opt/victronenergy/service-templates/dbus-jkbms/run" || return 1
    local dropin=$root/data/conf/serial-starter.d/dbus-jkbms.conf
    grep -qx "service jkbms dbus-jkbms" "$dropin" && grep -qx "alias default gps:vedirect:jkbms" "$dropin" &&
        grep -qx "alias rs485 cgwacs:fzsonick:imt:modbus:jkbms" "$dropin" || { cat "$dropin"; return 1; }
    [ "$(readlink "$root/service/dbus-jkbms-garage")" = "/run/dbus-jkbms/garage" ] || return 1
    grep -q -- "--config /data/conf/dbus-jkbms.d/garage.yaml" "$root/run/dbus-jkbms/garage/run" || return 1
    grep -q "multilog t s25000 n4 /var/log/dbus-jkbms-garage" "$root/run/dbus-jkbms/garage/log/run" || return 1
    # A firmware update: the rootfs template and /service are gone; enable.sh brings them back.
    rm -rf "$root/opt/victronenergy/service-templates/dbus-jkbms" "$root/service/dbus-jkbms-garage" "$root/run/dbus-jkbms"
    JKBMS_ROOT=$root "$app/enable.sh" >/dev/null || return 1
    [ -f "$root/opt/victronenergy/service-templates/dbus-jkbms/run" ] && [ -L "$root/service/dbus-jkbms-garage" ] || return 1
    # An instance file removed: its service goes; serial-starter's own ones stay.
    ln -s /var/volatile/services/dbus-jkbms.ttyUSB0 "$root/service/dbus-jkbms.ttyUSB0"
    rm "$root/data/conf/dbus-jkbms.d/garage.yaml"
    JKBMS_ROOT=$root "$app/enable.sh" >/dev/null || return 1
    [ ! -e "$root/service/dbus-jkbms-garage" ] && [ -L "$root/service/dbus-jkbms.ttyUSB0" ] || return 1
    rm "$root/service/dbus-jkbms.ttyUSB0"
    # Uninstall: everything it added is gone; the configuration and the other rc.local line stay.
    JKBMS_ROOT=$root "$app/uninstall.sh" >/dev/null || return 1
    [ ! -e "$app" ] && [ ! -e "$dropin" ] && [ ! -e "$root/opt/victronenergy/service-templates/dbus-jkbms" ] || return 1
    ! grep -q "dbus-jkbms" "$root/data/rc.local" && grep -q "^/data/other-app/start.sh" "$root/data/rc.local" || return 1
    [ -f "$root/data/conf/dbus-jkbms.yaml" ] || return 1
    local left
    left=$(cd "$root" && find . -mindepth 1 | sort | tr '\n' ' ')
    [ "$left" = "./data ./data/conf ./data/conf/dbus-jkbms.d ./data/conf/dbus-jkbms.yaml ./data/rc.local ./etc ./etc/venus ./etc/venus/serial-starter.conf ./opt ./opt/victronenergy ./opt/victronenergy/service-templates ./run ./service " ] ||
        { echo "left behind: $left"; return 1; }
    JKBMS_ROOT=$root "$STAGE/install.sh" >/dev/null 2>&1 && return 1   # no JKBMS_ARCH: an x86 machine is refused
    JKBMS_ROOT=$root JKBMS_ARCH=aarch64 "$STAGE/install.sh" >/dev/null || return 1
    cmp -s "$root/data/dbus-jkbms/bin/dbus-jkbms" "$STAGE/bin/arm64/dbus-jkbms" || { echo "not the arm64 binary"; return 1; }
    JKBMS_ROOT=$root "$root/data/dbus-jkbms/uninstall.sh" --purge >/dev/null || return 1
    [ ! -e "$root/data/conf/dbus-jkbms.yaml" ] && [ ! -e "$root/data/conf/dbus-jkbms.d" ] || return 1
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
check "install.sh twice, enable.sh after an update, uninstall.sh, in a scratch root" install_tests

echo "venus: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
