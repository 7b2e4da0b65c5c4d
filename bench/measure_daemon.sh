#!/usr/bin/env bash
# Resident memory and CPU time of dbus-jkbms polling a simulated NW BMS at 1 Hz on a private
# bus, over DURATION seconds (default 600). Uses the release build:
#   cmake --preset release && cmake --build --preset release && bench/measure_daemon.sh [DURATION]
# Goals (issue 4): RSS < 5 MB, CPU < 0.05 %.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-600}
build=build/release
dir=$(mktemp -d)
cleanup() { kill "${daemon_pid:-}" "${sim_pid:-}" "${bus_pid:-}" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

dbus-daemon --session --nofork --nopidfile --print-address=3 3>"$dir/address" 2>/dev/null &
bus_pid=$!
while [ ! -s "$dir/address" ]; do sleep 0.1; done
address=$(head -1 "$dir/address")

# The simulator in its own process, so its CPU is not counted; stdin kept open.
mkfifo "$dir/sim-in"
"$build/jkbms-sim" --link "$dir/tty" <"$dir/sim-in" >"$dir/sim.log" &
sim_pid=$!
exec 7>"$dir/sim-in"
while [ ! -e "$dir/tty" ]; do sleep 0.1; done

printf 'dbus:\n  settings_wait: 1s\ncharge:\n  state_dir: %s\n' "$dir/state" >"$dir/config.yaml"
"$build/dbus-jkbms" --config "$dir/config.yaml" --dbus-address "$address" "$dir/tty" >"$dir/daemon.log" 2>&1 &
daemon_pid=$!
sleep 5  # start-up: first reading, registration

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$daemon_pid/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$daemon_pid/status"; }
cpu0=$(cpu)
t0=$(date +%s.%N)
sleep "$duration"
cpu1=$(cpu)
t1=$(date +%s.%N)
rss_kb=$(rss)
hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$daemon_pid/status")
polls=$(grep -c . "$dir/daemon.log" || true)
kill -0 "$daemon_pid"  # still running

awk -v c0="$cpu0" -v c1="$cpu1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" -v rss="$rss_kb" -v hwm="$hwm_kb" 'BEGIN {
    wall = t1 - t0; cpu = (c1 - c0) / hz
    printf "dbus-jkbms over %.0f s at 1 Hz: CPU %.3f s = %.4f %%, RSS %.2f MB (peak %.2f MB)\n",
           wall, cpu, 100 * cpu / wall, rss / 1024, hwm / 1024
}'
echo "daemon log:"
sed 's/^/  /' "$dir/daemon.log"
