#!/usr/bin/env bash
# Instructions (callgrind's Ir, user space) per steady-state NW poll cycle: BM_NwPollCycle/0 of
# bench/dbus_bench, i.e. one NW reply's bytes through framer, decoder, snapshot mapping,
# batteryPaths and BusItemService::update to one ItemsChanged flushed to a private dbus-daemon.
# Unlike the benchmark's times this does not move with the machine's load.
#
#   cmake --preset release && cmake --build --preset release --target dbus_bench
#   bench/cycle_instructions.sh [path/to/dbus_bench]
#
# Each benchmark run starts with a new service whose first cycle publishes every path, so the
# cost of a run is set-up + 64 warm-up cycles + its iterations. Two callgrind runs - one of a
# single iteration, one of many - give the steady cycle as (B - k*A) / (cycles_B - k*cycles_A),
# k being the number of runs in B. Needs valgrind (Debian: valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
bench=${1:-build/release/bench/dbus_bench}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run() {  # run OUT MIN_TIME
    valgrind --tool=callgrind --callgrind-out-file="$1" "$bench" --benchmark_filter='NwPollCycle/0$' \
        --benchmark_min_time="$2" >/dev/null 2>&1
}
run "$dir/a.out" 0
run "$dir/b.out" 0.5
/usr/bin/python3 - "$dir/a.out" "$dir/b.out" <<'EOF'
import re, sys

def load(path):
    """Inclusive Ir and call count of every called function, from callgrind's call lines."""
    names, incl, calls = {}, {}, {}
    cfn, pending = None, None
    for line in open(path):
        if line.startswith(("fn=", "cfn=")):
            key, _, rest = line.rstrip("\n").partition("=")
            m = re.match(r"\((\d+)\)(?: (.*))?", rest)
            name = rest
            if m:
                if m.group(2):
                    names[m.group(1)] = m.group(2)
                name = names.get(m.group(1), rest)
            if key == "cfn":
                cfn = name
            continue
        if line.startswith("calls="):
            pending = int(line[6:].split()[0])
            continue
        if pending is not None and (line[:1].isdigit() or line[:1] in "+-*"):
            cost = int(line.split()[1])
            incl[cfn] = incl.get(cfn, 0) + cost
            calls[cfn] = calls.get(cfn, 0) + pending
            pending = None
    return incl, calls

(ia, ca), (ib, cb) = load(sys.argv[1]), load(sys.argv[2])
cycle = next(n for n in cb if "BM_NwPollCycle" in n and "lambda()#1" in n and "operator()" in n)
runfn = next(n for n in cb if n.endswith("BM_NwPollCycle(benchmark::State&)"))
k = cb[runfn] // ca[runfn]
steady_cycles = cb[cycle] - k * ca[cycle]
steady = (ib[cycle] - k * ia[cycle]) / steady_cycles
print(f"BM_NwPollCycle/0: {steady / 1000:.1f}K instructions per steady-state cycle "
      f"({steady_cycles} cycles over {k} runs; each run's set-up and first cycle left out)")
for label, pat in [("BusItemService::update", "BusItemService::update("), ("  announce (the ItemsChanged)", "BusItemService::announce("),
                   ("batteryPaths", "dbus::batteryPaths("), ("decodeReadAll", "nw::decodeReadAll("), ("fromNw", "domain::fromNw(")]:
    n = next((x for x in cb if pat in x), None)
    if n is None or n not in ca:
        continue
    print(f"  {label:30s} {(ib[n] - k * ia[n]) / steady_cycles / 1000:6.1f}K")
EOF
