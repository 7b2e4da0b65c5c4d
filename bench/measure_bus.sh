#!/usr/bin/env bash
# What dbus-jkbms costs per poll, against the built-in simulator on a private dbus-daemon:
# CPU (utime+stime from /proc/PID/stat, and /proc/PID/schedstat: time on CPU and the number of
# times it was scheduled, i.e. wake-ups), memory (RSS, private), the D-Bus messages and bytes
# it sends (dbus-monitor --pcap on the private bus: every com.victronenergy.BusItem signal) and,
# with STRACE=1, its system calls (strace -c; strace slows the process, so the CPU figures of
# that run are not the ones to quote).
#
#   cmake --preset release && cmake --build --preset release
#   bench/measure_bus.sh [SECONDS]                       # NW, one BMS, 1 Hz, 60 s
#   PROTOCOL=pb PACKS=15 bench/measure_bus.sh 120         # a JK-PB bus with 15 packs
#   STRACE=1 bench/measure_bus.sh 30                      # + system calls per poll
#   USB=1 STRACE=1 bench/measure_bus.sh 30                # answers in a USB adapter's pieces
#   PROPERTIES_CHANGED=true bench/measure_bus.sh          # + one PropertiesChanged per path
#   DAEMON=/path/to/old/dbus-jkbms bench/measure_bus.sh   # another build of the daemon
#
# A poll is one request the simulator answered (NW: a read-all; PB: a trigger to one pack).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-60}
protocol=${PROTOCOL:-nw}
packs=${PACKS:-1}
build=${BUILD:-build/release}
daemon_bin=${DAEMON:-$build/dbus-jkbms}
sim_bin=${SIM:-$build/jkbms-sim}
props=${PROPERTIES_CHANGED:-false}
dir=$(mktemp -d)
cleanup() {
    for pid in ${monitor_pid:-} ${strace_pid:-} ${daemon_pid:-} ${sim_pid:-} ${bus_pid:-}; do
        kill "$pid" 2>/dev/null || true
    done
    # The daemon saves its state as it stops: let it finish before the directory goes.
    for pid in ${daemon_pid:-} ${sim_pid:-} ${bus_pid:-}; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$dir"
}
trap cleanup EXIT

# Waits (up to 20 s) until the command succeeds.
wait_for() {
    for _ in $(seq 200); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "timed out waiting for: $*" >&2
    exit 1
}

dbus-daemon --session --nofork --nopidfile --print-address=3 3>"$dir/address" 2>/dev/null &
bus_pid=$!
wait_for test -s "$dir/address"
address=$(head -1 "$dir/address")

# The simulator in its own process (its CPU is not counted), commands on a FIFO.
mkfifo "$dir/sim-in"
sim_args=(--link "$dir/tty")
if [ "$protocol" = pb ]; then
    sim_args+=(--protocol pb --packs "$(seq -s, 1 "$packs")")
fi
"$sim_bin" "${sim_args[@]}" <"$dir/sim-in" >"$dir/sim.log" 2>&1 &
sim_pid=$!
exec 7>"$dir/sim-in"
wait_for test -e "$dir/tty"
# USB=1: the simulator hands answers over in 62-byte pieces at the line's pace, as an FTDI
# adapter does (reads per poll in the STRACE figures).
[ "${USB:-0}" = 1 ] && echo "usb on" >&7
status_lines() { grep -c 'requests' "$dir/sim.log" || true; }
sim_requests() {  # the simulator's count of requests it answered
    local before
    before=$(status_lines)
    echo status >&7
    more_status() { [ "$(status_lines)" -gt "$before" ]; }
    wait_for more_status
    grep 'requests' "$dir/sim.log" | tail -1 | sed 's/.*requests \([0-9]*\).*/\1/'
}

printf 'dbus:\n  settings_wait: 1s\n  properties_changed: %s\ncharge:\n  state_dir: %s\n' \
    "$props" "$dir/state" >"$dir/config.yaml"
daemon_args=(--config "$dir/config.yaml" --dbus-address "$address")
[ "$protocol" = pb ] && daemon_args+=(--protocol pb)
"$daemon_bin" "${daemon_args[@]}" "$dir/tty" >"$dir/daemon.log" 2>&1 &
daemon_pid=$!
registered() { [ "$(busctl --address "$address" list --no-legend 2>/dev/null | grep -c 'com.victronenergy.battery')" -ge "$packs" ]; }
wait_for registered
sleep 3  # discovery over, the first readings published

dbus-monitor --address "$address" --pcap "type='signal',interface='com.victronenergy.BusItem'" >"$dir/bus.pcap" 2>/dev/null &
monitor_pid=$!
sleep 0.5
if [ "${STRACE:-0}" = 1 ]; then
    strace -c -f -p "$daemon_pid" -o "$dir/strace.txt" 2>/dev/null &
    strace_pid=$!
    sleep 0.5
fi

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$daemon_pid/stat"; }
sched() { cat "/proc/$daemon_pid/schedstat"; }
requests0=$(sim_requests)
cpu0=$(cpu)
read -r run0 _ slices0 < <(sched)
t0=$(date +%s.%N)
sleep "$duration"
cpu1=$(cpu)
read -r run1 _ slices1 < <(sched)
t1=$(date +%s.%N)
requests1=$(sim_requests)
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$daemon_pid/status")
hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$daemon_pid/status")
private_kb=$(awk '/^Private_(Clean|Dirty)/ {s += $2} END {print s}' "/proc/$daemon_pid/smaps_rollup")
kill -0 "$daemon_pid"  # still running
if [ -n "${strace_pid:-}" ]; then
    kill -TERM "$strace_pid"
    wait "$strace_pid" 2>/dev/null || true
    strace_pid=
fi
sleep 0.3
kill -TERM "$monitor_pid" 2>/dev/null || true
wait "$monitor_pid" 2>/dev/null || true
monitor_pid=

polls=$((requests1 - requests0))
python3 - "$dir/bus.pcap" "$polls" "$duration" "$cpu0" "$cpu1" "$ticks" "$run0" "$run1" "$slices0" "$slices1" \
    "$rss_kb" "$hwm_kb" "$private_kb" "$protocol" "$packs" "$props" "$t0" "$t1" <<'EOF'
import struct, sys
(pcap, polls, duration, cpu0, cpu1, ticks, run0, run1, sl0, sl1, rss, hwm, private, protocol, packs, props,
 t0, t1) = sys.argv[1:]
polls = int(polls); packs = int(packs); wall = float(t1) - float(t0)
data = open(pcap, "rb").read()
messages = items = props_n = other = size = 0
off = 24  # pcap global header
while off + 16 <= len(data):
    _, _, incl, _ = struct.unpack_from("<IIII", data, off)
    body = data[off + 16: off + 16 + incl]
    off += 16 + incl
    if b"ItemsChanged" in body: items += 1
    elif b"PropertiesChanged" in body: props_n += 1
    else:
        other += 1  # e.g. the monitor's own NameAcquired/NameLost
        continue
    messages += 1
    size += incl
cpu_s = (float(cpu1) - float(cpu0)) / float(ticks)
run_ms = (int(run1) - int(run0)) / 1e6
slices = int(sl1) - int(sl0)
per = lambda x: x / polls if polls else float("nan")
print(f"dbus-jkbms, {protocol}, {packs} pack(s), properties_changed {props}: {wall:.0f} s, {polls} polls "
      f"({polls / wall:.2f}/s, {polls / wall / packs:.2f}/s per pack)")
print(f"  CPU    utime+stime {cpu_s:.2f} s = {100 * cpu_s / wall:.3f} % of a core; schedstat {run_ms:.1f} ms on CPU "
      f"= {per(run_ms):.3f} ms per poll, {slices} times scheduled = {per(slices):.2f} per poll")
print(f"  memory RSS {int(rss) / 1024:.2f} MB (peak {int(hwm) / 1024:.2f} MB), private {int(private) / 1024:.2f} MB "
      f"= {int(private) / 1024 / packs:.3f} MB per pack")
print(f"  D-Bus  {items + props_n} signals ({items} ItemsChanged, {props_n} PropertiesChanged), {size} bytes: "
      f"{per(items + props_n):.2f} messages and {per(size):.0f} bytes per poll"
      + (f" ({other} other messages in the capture, not counted)" if other else ""))
EOF
if [ -s "$dir/strace.txt" ]; then
    echo "  system calls per poll (strace -c -f over the same window):"
    awk -v polls="$polls" '$1 ~ /^[0-9.]+$/ && NF >= 5 {
        name = $NF; calls = $4
        if (name == "total") printf "    %-16s %8d  %.2f per poll\n", "total", calls, calls / polls
        else printf "    %-16s %8d  %.2f per poll\n", name, calls, calls / polls
    }' "$dir/strace.txt"
fi
