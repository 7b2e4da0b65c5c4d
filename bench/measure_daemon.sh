#!/usr/bin/env bash
# Resident memory and CPU time of dbus-jkbms polling a simulated NW BMS at 1 Hz on a private
# bus, over DURATION seconds (default 600). Uses the release build:
#   cmake --preset release && cmake --build --preset release && bench/measure_daemon.sh [DURATION]
# PACKS=N: N JK-PB packs on one simulated RS485 bus instead (addresses 1..N, a bank when N > 1),
# polled at 1 s intervals as fast as the bus allows; CPU is also given per answered poll.
# OVP=N with PACKS > 1: also the time from one pack's over-voltage to the bank's CCL 0 (below).
# Goals (issue 4): RSS < 5 MB, CPU < 0.05 %.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-600}
build=build/release
dir=$(mktemp -d)
cleanup() {
    kill "${daemon_pid:-}" "${sim_pid:-}" "${bus_pid:-}" 2>/dev/null || true
    wait 2>/dev/null || true  # the daemon may still write its state while stopping
    rm -rf "$dir"
}
trap cleanup EXIT

dbus-daemon --session --nofork --nopidfile --print-address=3 3>"$dir/address" 2>/dev/null &
bus_pid=$!
while [ ! -s "$dir/address" ]; do sleep 0.1; done
address=$(head -1 "$dir/address")

# The simulator in its own process, so its CPU is not counted; stdin kept open.
mkfifo "$dir/sim-in"
packs=${PACKS:-0}
sim_args=(--link "$dir/tty")
daemon_args=()
if [ "$packs" -gt 0 ]; then
    sim_args+=(--protocol pb --packs "$(seq -s, 1 "$packs")")
    daemon_args=(--protocol pb)
fi
"$build/jkbms-sim" "${sim_args[@]}" <"$dir/sim-in" >"$dir/sim.log" &
sim_pid=$!
exec 7>"$dir/sim-in"
while [ ! -e "$dir/tty" ]; do sleep 0.1; done

printf 'dbus:\n  settings_wait: 1s\ncharge:\n  state_dir: %s\n' "$dir/state" >"$dir/config.yaml"
if [ "$packs" -gt 0 ]; then
    # The shortest pacing the configuration allows (README "JK-PB"): with many packs a round
    # takes longer than 1 s, so the figures are per answered poll, counted by the simulator.
    printf 'serial:\n  addresses: [%s]\npoll:\n  pacing: 100ms\n' "$(seq -s, 1 "$packs")" >>"$dir/config.yaml"
fi
# The simulator's count of answered requests ("status" on its standard input).
answers() {
    local before
    before=$(grep -c 'answers ' "$dir/sim.log" || true)
    echo status >&7
    for _ in $(seq 50); do
        [ "$(grep -c 'answers ' "$dir/sim.log" || true)" -gt "$before" ] && break
        sleep 0.1
    done
    grep -o 'answers [0-9]*' "$dir/sim.log" | tail -1 | awk '{print $2}'
}
"$build/dbus-jkbms" --config "$dir/config.yaml" --dbus-address "$address" "${daemon_args[@]}" "$dir/tty" >"$dir/daemon.log" 2>&1 &
daemon_pid=$!
sleep 5  # start-up: first reading, registration

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$daemon_pid/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$daemon_pid/status"; }
answers0=$(answers)
cpu0=$(cpu)
t0=$(date +%s.%N)
sleep "$duration"
cpu1=$(cpu)
t1=$(date +%s.%N)
answers1=$(answers)
rss_kb=$(rss)
hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$daemon_pid/status")
polls=$(grep -c . "$dir/daemon.log" || true)
kill -0 "$daemon_pid"  # still running

awk -v c0="$cpu0" -v c1="$cpu1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" -v rss="$rss_kb" -v hwm="$hwm_kb" -v packs="$packs" \
    -v polls="$((answers1 - answers0))" 'BEGIN {
    wall = t1 - t0; cpu = (c1 - c0) / hz
    printf "dbus-jkbms over %.0f s at 1 Hz: CPU %.3f s = %.4f %%, RSS %.2f MB (peak %.2f MB)\n",
           wall, cpu, 100 * cpu / wall, rss / 1024, hwm / 1024
    printf "%d answers from the simulator (%.2f per second): %.3f ms CPU per answered poll\n",
           polls, polls / wall, (polls > 0 ? 1000 * cpu / polls : 0)
    if (packs > 0)
        printf "JK-PB, %d pack(s): each polled every %.2f s, %.2f MB RSS per pack\n",
               packs, (polls > 0 ? wall * packs / polls : 0), rss / 1024 / packs
}'
# OVP=N (JK-PB bank): N times, one pack's cell 1 goes to 3.62 V (over the bulk target, a cell
# the pack's engine stops charging for) and the time until the bank's /Info/MaxChargeCurrent
# reads 0 is measured over D-Bus, asked every 20 ms; then the cell goes back and the bank's
# CCL is waited back up. The pack is the last one, so a trial waits for its turn in the round.
if [ "${OVP:-0}" -gt 0 ] && [ "$packs" -gt 1 ]; then
    bank=$(dbus-send --bus="$address" --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ListNames |
        grep -o 'com.victronenergy.battery.[^"]*_bank' | head -1)
    ccl() {
        dbus-send --bus="$address" --print-reply --dest="$bank" /Info/MaxChargeCurrent com.victronenergy.BusItem.GetValue 2>/dev/null |
            awk '/double|int32/ {print $NF; exit}'
    }
    times=()
    for trial in $(seq "$OVP"); do
        printf 'pack %d\ncell 1 3.62\n' "$packs" >&7
        start=$(date +%s.%N)
        for _ in $(seq 1000); do
            [ "$(ccl)" = "0" ] && break
            sleep 0.02
        done
        times+=("$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.2f", e - s}')")
        printf 'pack %d\ncell 1 3.30\n' "$packs" >&7
        for _ in $(seq 1000); do
            c=$(ccl); [ -n "$c" ] && [ "$c" != "0" ] && break
            sleep 0.05
        done
        sleep 0.$((RANDOM % 10))  # the next trial at another point of the round
    done
    printf '%s\n' "${times[@]}" | sort -n | awk -v n="$packs" -v bank="$bank" '{t[NR] = $1; sum += $1}
        END {printf "over-voltage in pack %s to %s CCL 0, %d trials: min %.2f s, median %.2f s, max %.2f s, mean %.2f s\n",
             n, bank, NR, t[1], t[int((NR + 1) / 2)], t[NR], sum / NR}'
fi
echo "daemon log:"
sed 's/^/  /' "$dir/daemon.log"
