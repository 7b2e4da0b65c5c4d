#!/usr/bin/env bash
# Sets up a Debian 12 machine for dbus-jkbms, builds it, and runs it or its tests.
#
#   packaging/dev.sh run    install the build dependencies, build, run the demo
#   packaging/dev.sh test   install the build dependencies, build, run the whole test suite
#
# Apt packages are installed only when missing (root, or sudo when not root). Build trees
# live in build/<preset> and are reused, so a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(g++ cmake ninja-build pkg-config libyaml-cpp-dev libgtest-dev libgmock-dev
          libbenchmark-dev clang libclang-rt-14-dev libboost-dev libspdlog-dev libsystemd-dev
          dbus python3-dbus python3-gi)

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
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

demo() {
    local jkbms=build/release/jkbms
    cat <<'TXT'

dbus-jkbms: the daemon (serial, BLE, D-Bus publishing) is not built yet. What runs today is
the protocol layer every part of it stands on, through `jkbms decode`. Here it decodes two
bundled frames: an NW read-all reply from the BMS's UART port and a BLE JK02_32S cell-info
frame (both built by this project, tests/samples/).
TXT
    local f
    for f in tests/samples/*.hex; do
        echo
        echo "== jkbms decode < $f"
        "$jkbms" decode < "$f"
    done
    echo
    echo "== A frame with one byte changed is refused with a clear error (exit code 2):"
    echo "   jkbms decode 4e5700130000000006030000000000006800000128"
    "$jkbms" decode 4e5700130000000006030000000000006800000128 || echo "   (exit code $?)"
}

case "${1:-}" in
    run)
        install_packages
        build release
        demo
        ;;
    test)
        install_packages
        build asan        # unit, vector and CLI tests under AddressSanitizer + UBSan
        run_ctest asan
        build release     # optimised build, benchmarks compile; same tests again
        run_ctest release
        build fuzz        # libFuzzer targets (clang), each run for 20 s
        run_ctest fuzz
        echo
        echo "total: ${passed} passed, ${failed} failed"
        [ "$failed" -eq 0 ]
        ;;
    *)
        echo "usage: packaging/dev.sh run|test" >&2
        exit 2
        ;;
esac
