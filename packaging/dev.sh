#!/usr/bin/env bash
# Sets up a Debian 12 machine for dbus-jkbms, builds it, and runs it or its tests.
#
#   packaging/dev.sh run    install the build dependencies, build, run the demo
#   packaging/dev.sh test   install the build dependencies, build, run the whole test suite,
#                           and build and check the Venus OS release (packaging/venus-build.sh)
#
# Apt packages are installed only when missing (root, or sudo when not root). Build trees
# live in build/<preset> and are reused, so a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(g++ cmake ninja-build pkg-config libyaml-cpp-dev libgtest-dev libgmock-dev
          libbenchmark-dev clang libclang-rt-14-dev libboost-dev libspdlog-dev libsystemd-dev
          dbus python3-dbus python3-gi libgpiod-dev)
# `test` only: qmllint (and the QtQml / QtQuick modules it resolves) and rcc for tests/gui/check.py
GUI_PACKAGES=(qt6-declarative-dev-tools qml6-module-qtqml qml6-module-qtqml-models qml6-module-qtqml-workerscript
              qml6-module-qtquick qt6-base-dev-tools)

install_packages() {  # install_packages [PACKAGE...]: default PACKAGES
    local missing=() p
    [ $# -gt 0 ] || set -- "${PACKAGES[@]}"
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    echo "== Installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

build() {  # build PRESET
    [ "$1" = fuzz ] || packaging/build-sdbus.sh   # sdbus-c++ 2.1.0, cached in build/deps
    echo "== Building ($1)"
    cmake --preset "$1" >/dev/null
    cmake --build --preset "$1"
}

passed=0
failed=0
run_ctest() {  # run_ctest PRESET: runs ctest, adds its counts to the totals
    local log
    log=$(mktemp)
    echo "== Testing ($1)"
    local rc=0
    ctest --preset "$1" 2>&1 | tee "$log" || rc=$?
    local line total bad
    line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$log" | tail -1 || true)
    rm -f "$log"
    if [ -z "$line" ]; then
        echo "ctest ($1) printed no summary" >&2
        failed=$((failed + 1))
        return
    fi
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
    bad=$(sed -E 's/.*, ([0-9]+) tests? failed.*/\1/' <<<"$line")
    passed=$((passed + total - bad))
    failed=$((failed + bad))
    [ "$rc" -eq 0 ] || [ "$bad" -gt 0 ] || failed=$((failed + 1))
}

run_counted() {  # run_counted LABEL COMMAND...: a check that ends with "LABEL: N passed, N failed"; adds its counts
    local label=$1 log rc=0 line
    shift
    log=$(mktemp)
    "$@" 2>&1 | tee "$log" || rc=$?
    line=$(grep -E "^$label: [0-9]+ passed, [0-9]+ failed" "$log" | tail -1 || true)
    rm -f "$log"
    if [ -z "$line" ]; then
        echo "$* printed no '$label:' summary" >&2
        failed=$((failed + 1))
        return
    fi
    passed=$((passed + $(sed -E "s/$label: ([0-9]+) passed.*/\1/" <<<"$line")))
    failed=$((failed + $(sed -E 's/.*, ([0-9]+) failed/\1/' <<<"$line")))
    [ "$rc" -eq 0 ] || [ "${line##*, }" != "0 failed" ] || failed=$((failed + 1))
}

# The static Venus release for armhf and arm64, checked under qemu; install scripts.
run_venus() { run_counted venus packaging/venus-build.sh --test; }
# The GUI v2 pages: qmllint, plugin description, app layout.
run_gui() { run_counted gui /usr/bin/python3 tests/gui/check.py; }

demo() {
    # The daemon against its built-in simulator, on a private bus, with live values.
    local dir
    dir=$(mktemp -d)
    dbus-daemon --session --nofork --nopidfile --print-address=3 3>"$dir/address" 2>/dev/null &
    local bus_pid=$!
    local daemon_pid=""
    trap 'kill $daemon_pid $bus_pid 2>/dev/null; rm -rf "$dir"; echo; exit 0' INT TERM
    while [ ! -s "$dir/address" ]; do sleep 0.1; done
    local address
    address=$(head -1 "$dir/address")
    # No localsettings on a private bus: do not wait 10 s for it.
    printf 'dbus:\n  settings_wait: 1s\ncharge:\n  state_dir: %s\n' "$dir/state" >"$dir/demo.yaml"
    cat <<TXT

dbus-jkbms is running against its built-in simulator (a JK BMS on a pseudo-terminal) on a
private D-Bus ($address). Its log goes to $dir/dbus-jkbms.log.
Live values follow, once a second; Ctrl-C stops everything.

TXT
    build/release/dbus-jkbms --simulate --dbus-address "$address" --config "$dir/demo.yaml" \
        >"$dir/dbus-jkbms.log" 2>&1 &
    daemon_pid=$!
    /usr/bin/python3 packaging/demo_view.py "$address"
    kill $daemon_pid $bus_pid 2>/dev/null
    rm -rf "$dir"
}

case "${1:-}" in
    run)
        install_packages
        build release
        demo
        ;;
    test)
        install_packages
        install_packages "${GUI_PACKAGES[@]}"
        build asan        # unit, vector and CLI tests under AddressSanitizer + UBSan
        run_ctest asan
        build release     # optimised build, benchmarks compile; same tests again
        run_ctest release
        build fuzz        # libFuzzer targets (clang), each run for 20 s
        run_ctest fuzz
        run_venus         # static armhf/arm64 release, run under qemu; install scripts
        echo "== GUI v2 pages"
        run_gui           # qmllint on the QML, the plugin JSON, the app layout (seconds)
        echo
        echo "total: ${passed} passed, ${failed} failed"
        [ "$failed" -eq 0 ]
        ;;
    *)
        echo "usage: packaging/dev.sh run|test" >&2
        exit 2
        ;;
esac
