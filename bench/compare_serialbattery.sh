#!/usr/bin/env bash
# dbus-jkbms next to dbus-serialbattery (the Python driver most Venus OS users run today), in one
# run on one machine: each driver reads its own simulated JK BMS (jkbms-sim, NW protocol, 16
# cells, same settings, each simulator its own process so its CPU is not counted), both publish
# on the same private dbus-daemon, at a 1 s poll interval, for SECONDS (default 120).
#
#   cmake --preset release && cmake --build --preset release --target dbus-jkbms jkbms-sim
#   SERIALBATTERY=/path/to/venus-os_dbus-serialbattery bench/compare_serialbattery.sh [SECONDS]
#   MOVING=1 SERIALBATTERY=... bench/compare_serialbattery.sh 300   # current and cells move every second
#
# SERIALBATTERY (required) is a checkout of github.com/mr-manuel/venus-os_dbus-serialbattery
# (or of Louisvdw/dbus-serialbattery): the directory holding dbus-serialbattery/ (or that
# directory itself). Nothing of it is kept in this repository. Its driver directory is copied to
# a temporary directory, where its config.ini is written (BMS_TYPE Jkbms, POLL_INTERVAL 1,
# TELEMETRY False, LOGGING INFO) and where it keeps its detection cache; the checkout itself is
# not changed. It runs under the system Python (PYTHON, default /usr/bin/python3; needs the
# Debian packages python3-dbus python3-gi python3-serial python3-requests) through a few lines
# that only answer its three questions about the Venus OS image (version, image type, device
# model: files that exist only on a GX) before they start its dbus-serialbattery.py unchanged.
# It wants com.victronenergy.settings: a minimal stand-in for localsettings (below, Python with
# python3-dbus) serves both drivers on the private bus. It writes /var/tmp/dbus-serialbattery_N.pid
# (a lock per device instance); the script removes the ones it created.
#
# Figures per driver, over the same window: polls (requests the simulator answered; NW: one
# read-all = one full reading of the battery, for both drivers) and publish cycles (bursts of
# BusItem signals from the driver, more than 0.3 s apart); CPU (utime+stime from /proc/PID/stat,
# time on CPU and times scheduled from /proc/PID/task/*/schedstat); memory (RSS; private =
# Private_Clean + Private_Dirty of the process's own smaps_rollup; Private_Dirty alone, as the
# clean private pages depend on which other processes map the same files); the D-Bus messages it
# sends (dbus-monitor --pcap of everything on the private bus, told apart by the sender's unique name,
# which the bus maps to the driver's PID): BusItem signals, and every message it sends (signals,
# method calls such as its settings writes, replies); start-up (process start to its
# com.victronenergy.battery.* service answering GetValue on /Soc with a valid value). "Per poll"
# divides by the polls (requests answered). Ratios are theirs / ours.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-120}
build=${BUILD:-build/release}
daemon_bin=${DAEMON:-$build/dbus-jkbms}
sim_bin=${SIM:-$build/jkbms-sim}
python=${PYTHON:-/usr/bin/python3}
if [ -z "${SERIALBATTERY:-}" ]; then
    echo "SERIALBATTERY is not set: point it at a checkout of" >&2
    echo "  https://github.com/mr-manuel/venus-os_dbus-serialbattery, e.g." >&2
    echo "  SERIALBATTERY=/work/serialbattery $0 ${duration}" >&2
    exit 2
fi
sb_src=$SERIALBATTERY
[ -f "$sb_src/dbus-serialbattery/dbus-serialbattery.py" ] && sb_src=$sb_src/dbus-serialbattery
if [ ! -f "$sb_src/dbus-serialbattery.py" ] || [ ! -f "$sb_src/config.default.ini" ]; then
    echo "SERIALBATTERY=$SERIALBATTERY: no dbus-serialbattery.py and config.default.ini there" \
        "(nor in its dbus-serialbattery/)" >&2
    exit 2
fi
for bin in "$daemon_bin" "$sim_bin"; do
    [ -x "$bin" ] || { echo "$bin not built (cmake --build --preset release --target dbus-jkbms jkbms-sim)" >&2; exit 2; }
done
"$python" -c 'import dbus, gi, serial, requests' 2>/dev/null || {
    echo "$python lacks dbus, gi, serial or requests (apt-get install python3-dbus python3-gi python3-serial python3-requests)" >&2
    exit 2
}
# Their commit: from the checkout's git, else SERIALBATTERY_COMMIT (an extracted archive).
sb_commit=${SERIALBATTERY_COMMIT:-$(git -C "$SERIALBATTERY" rev-parse HEAD 2>/dev/null || echo unknown)}
our_commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

dir=$(mktemp -d)
pidfiles_before=$(ls /var/tmp/dbus-serialbattery_*.pid 2>/dev/null || true)
cleanup() {
    for pid in ${mover_pid:-} ${monitor_pid:-} ${ours_pid:-} ${theirs_pid:-} ${settings_pid:-} ${sim_ours_pid:-} \
        ${sim_theirs_pid:-} ${relay_ours_pid:-} ${relay_theirs_pid:-} ${bus_pid:-}; do
        kill "$pid" 2>/dev/null || true
    done
    for f in /var/tmp/dbus-serialbattery_*.pid; do
        [ -e "$f" ] || continue
        grep -qxF "$f" <<<"$pidfiles_before" || rm -f "$f"
    done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT

# Waits (up to 20 s, or $2 tenths of a second) until the command succeeds.
wait_for() {
    local tries=200
    if [ "$1" = --tries ]; then tries=$2; shift 2; fi
    for _ in $(seq "$tries"); do
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

# A stand-in for Venus OS localsettings (com.victronenergy.settings): AddSettings on /, and on
# every setting GetValue, GetText, SetValue (with its PropertiesChanged), RemoveSettings, and an
# Introspect that lists the settings below a path (dbus-serialbattery walks /Settings/Devices).
cat >"$dir/settings.py" <<'EOF'
import sys
import dbus, dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
BUSITEM, SETTINGS = "com.victronenergy.BusItem", "com.victronenergy.Settings"
values = {}  # path -> dbus value


def plain(v):
    if isinstance(v, (dbus.String, str)): return str(v)
    if isinstance(v, (dbus.Double, float)): return float(v)
    return int(v)


def typed(v):
    if isinstance(v, str): return dbus.String(v, variant_level=1)
    if isinstance(v, float): return dbus.Double(v, variant_level=1)
    return dbus.Int32(v, variant_level=1)


def free_instance(path, value):
    # class:N, N not yet taken by another device of that class (localsettings does the same)
    if not isinstance(value, str) or ":" not in value: return value
    cls, n = value.split(":", 1)
    taken = {values[p] for p in values if p.endswith("/ClassAndVrmInstance") and p != path}
    n = int(n) if n.isdigit() else 1
    while f"{cls}:{n}" in taken: n += 1
    return f"{cls}:{n}"


class Settings(dbus.service.FallbackObject):
    @dbus.service.method(SETTINGS, in_signature="aa{sv}", out_signature="aa{sv}")
    def AddSettings(self, defs):
        out = []
        for d in defs:
            path = str(d["path"])
            if path not in values:
                values[path] = plain(d["default"])
                if path.endswith("/ClassAndVrmInstance"):
                    values[path] = free_instance(path, values[path])
            out.append({"path": path, "error": dbus.Int32(0), "value": typed(values[path])})
        return out

    @dbus.service.method(SETTINGS, in_signature="as", out_signature="ai", path_keyword="path")
    def RemoveSettings(self, names, path):
        for n in names: values.pop(f"{path}/{n}", None)
        return [0] * len(names)

    @dbus.service.method(BUSITEM, in_signature="", out_signature="v", path_keyword="path")
    def GetValue(self, path):
        if path in values: return typed(values[path])
        below = {p[len(path) + 1:]: typed(v) for p, v in values.items() if p.startswith(path + "/")}
        return dbus.Dictionary(below, signature="sv", variant_level=1)

    @dbus.service.method(BUSITEM, in_signature="", out_signature="v", path_keyword="path")
    def GetText(self, path):
        return dbus.String(str(values.get(path, "")), variant_level=1)

    @dbus.service.method(BUSITEM, in_signature="v", out_signature="i", path_keyword="path")
    def SetValue(self, value, path):
        if path not in values: return -1
        new = plain(value)
        if new != values[path]:
            values[path] = new
            msg = dbus.lowlevel.SignalMessage(path, BUSITEM, "PropertiesChanged")
            msg.append({"Value": typed(new), "Text": dbus.String(str(new), variant_level=1)}, signature="a{sv}")
            bus.send_message(msg)
        return 0

    @dbus.service.method(dbus.INTROSPECTABLE_IFACE, in_signature="", out_signature="s", path_keyword="path")
    def Introspect(self, path):
        base = "" if path == "/" else path
        children = sorted({p[len(base) + 1:].split("/")[0] for p in values if p.startswith(base + "/")})
        xml = ['<node>', f'<interface name="{dbus.INTROSPECTABLE_IFACE}"/>']
        if path in values: xml.append(f'<interface name="{SETTINGS}"/><interface name="{BUSITEM}"/>')
        xml += [f'<node name="{c}"/>' for c in children] + ['</node>']
        return "".join(xml)


Settings(bus, "/")
name = dbus.service.BusName("com.victronenergy.settings", bus)
GLib.MainLoop().run()
EOF
"$python" "$dir/settings.py" "$address" >"$dir/settings.log" 2>&1 &
settings_pid=$!
has_settings() { busctl --address "$address" status com.victronenergy.settings; }
wait_for has_settings

# jkbms-sim's read-all answer carries the registers dbus-jkbms reads, not all of them, while
# dbus-serialbattery finds each register at a fixed offset from the cells, as a real BMS sends
# them: all of them, in ascending order. So each driver reads its simulator through this relay,
# its own process (not counted either): requests pass unchanged, a read-all answer is re-encoded
# with every register of the JK RS485 protocol (those the simulator left out get fixed, plausible
# values), the length and checksum fixed. Both drivers get the same full frames.
cat >"$dir/relay.py" <<'EOF'
import os, select, sys, tty
link, sim = sys.argv[1], sys.argv[2]
# Value lengths of the data ids after the cells (0x79), in the order a JK BMS sends them.
LENGTHS = {0x80: 2, 0x81: 2, 0x82: 2, 0x83: 2, 0x84: 2, 0x85: 1, 0x86: 1, 0x87: 2, 0x89: 4, 0x8A: 2,
           0x8B: 2, 0x8C: 2, **{i: 2 for i in range(0x8E, 0x9D)}, 0x9D: 1, **{i: 2 for i in range(0x9E, 0xA9)},
           0xA9: 1, 0xAA: 4, 0xAB: 1, 0xAC: 1, 0xAD: 2, 0xAE: 1, 0xAF: 1, 0xB0: 2, 0xB1: 1, 0xB2: 10,
           0xB3: 1, 0xB4: 8, 0xB5: 4, 0xB6: 4, 0xB7: 15, 0xB8: 1, 0xB9: 4, 0xBA: 24, 0xBB: 1, 0xBC: 1,
           0xBE: 2, 0xBF: 2, 0xC0: 1}
FILL = {0x8E: 5840, 0x8F: 4480, 0x92: 5, 0x95: 5, 0x96: 300, 0x98: 30, 0x9A: 30, 0x9E: 100, 0x9F: 80,
        0xA0: 100, 0xA1: 80, 0xA2: 20, 0xA3: 70, 0xA4: 70, 0xA6: 5, 0xA7: 0xFFEC, 0xA8: 0xFFF6,
        0xAD: 1000, 0xAF: 1, 0xB0: 10, 0xB1: 20, 0xB2: b"1234567890", 0xB5: b"2401", 0xB6: 2592000,
        0xB9: 100}


def full(frame):
    payload, regs, i = frame[11:-9], {}, 0
    while i < len(payload):
        rid = payload[i]
        n = payload[i + 1] + 1 if rid == 0x79 else LENGTHS.get(rid)
        if n is None: return frame  # not understood: passed on unchanged
        regs[rid] = payload[i + 1:i + 1 + n]
        i += 1 + n
    if 0x79 not in regs: return frame
    out = bytearray([0x79]) + regs[0x79]
    for rid, n in LENGTHS.items():
        v = regs.get(rid, FILL.get(rid, 0))
        if rid == 0xB9 and rid not in regs and 0xAA in regs: v = regs[0xAA]
        v = v.ljust(n, b"\0") if isinstance(v, bytes) else v.to_bytes(n, "big")
        out += bytes([rid]) + v
    body = frame[4:11] + out + frame[-9:-4]
    f = bytearray(b"NW") + (len(body) + 6).to_bytes(2, "big") + body
    return bytes(f + sum(f).to_bytes(4, "big"))


master, slave = os.openpty()
tty.setraw(slave)  # kept open: the driver may close the port between polls
sim_fd = os.open(sim, os.O_RDWR | os.O_NOCTTY)
tty.setraw(sim_fd)
os.symlink(os.ttyname(slave), link + ".tmp")
os.rename(link + ".tmp", link)
pending = b""
while True:
    ready, _, _ = select.select([master, sim_fd], [], [])
    if master in ready: os.write(sim_fd, os.read(master, 4096))
    if sim_fd in ready:
        pending += os.read(sim_fd, 4096)
        while pending:
            start = pending.find(b"NW")
            if start != 0:  # bytes before a frame: passed on
                keep = start if start > 0 else len(pending) - (pending[-1:] == b"N")
                os.write(master, pending[:keep]); pending = pending[keep:]
                if start < 0: break
                continue
            if len(pending) < 4: break
            total = int.from_bytes(pending[2:4], "big") + 2
            if len(pending) < total: break
            frame, pending = pending[:total], pending[total:]
            os.write(master, full(frame) if len(frame) > 20 and frame[8] == 0x06 else frame)
EOF

# Two simulators, the same settings (16 cells, NW, values drifting), commands on FIFOs.
start_sim() {  # NAME FD
    mkfifo "$dir/sim-$1-in"
    "$sim_bin" --link "$dir/sim$1" --cells 16 <"$dir/sim-$1-in" >"$dir/sim-$1.log" 2>&1 &
}
start_sim JK
sim_ours_pid=$!
exec 7>"$dir/sim-JK-in"
start_sim SB
sim_theirs_pid=$!
exec 8>"$dir/sim-SB-in"
wait_for test -e "$dir/simJK"
wait_for test -e "$dir/simSB"
python3 "$dir/relay.py" "$dir/ttyJK" "$dir/simJK" 2>"$dir/relay-JK.log" &
relay_ours_pid=$!
python3 "$dir/relay.py" "$dir/ttySB" "$dir/simSB" 2>"$dir/relay-SB.log" &
relay_theirs_pid=$!
wait_for test -e "$dir/ttyJK"
wait_for test -e "$dir/ttySB"
status_lines() { grep -c 'requests' "$dir/sim-$1.log" || true; }
more_status() { [ "$(status_lines "$1")" -gt "$2" ]; }  # NAME LINES_BEFORE
sim_requests() {  # NAME FD: the simulator's count of requests it answered
    local before
    before=$(status_lines "$1")
    echo status >&"$2"
    wait_for more_status "$1" "$before"
    grep 'requests' "$dir/sim-$1.log" | tail -1 | sed 's/.*requests \([0-9]*\).*/\1/'
}

# Their driver from a copy of its directory, with a config.ini of its own.
cp -r "$sb_src" "$dir/serialbattery"
rm -f "$dir/serialbattery/config.ini" "$dir/serialbattery/bms_detection_cache.json"
printf '[DEFAULT]\nLOGGING = INFO\nBMS_TYPE = Jkbms\nPOLL_INTERVAL = 1\nTELEMETRY = False\n' \
    >"$dir/serialbattery/config.ini"
cat >"$dir/run_serialbattery.py" <<'EOF'
import runpy, sys
driver, port = sys.argv[1], sys.argv[2]
sys.path.insert(0, driver)
import utils  # noqa: E402  the Venus OS image's identity, read from files only a GX has
utils.get_venus_os_version = lambda: "(not Venus OS)"
utils.get_venus_os_image_type = lambda: "bench"
utils.get_venus_os_device_type = lambda: "compare_serialbattery.sh"
sys.argv = [driver + "/dbus-serialbattery.py", port]
runpy.run_path(sys.argv[0], run_name="__main__")
EOF

# Ours: the configuration of measure_bus.sh (settings_wait 1s, state in the temporary
# directory), NW, 1 s polls.
printf 'serial:\n  protocol: nw\npoll:\n  interval: 1s\ndbus:\n  settings_wait: 1s\ncharge:\n  state_dir: %s\n' \
    "$dir/state" >"$dir/config.yaml"

# Start-up: from the launch to the service answering /Soc with a number.
soc_valid() {  # NAME
    busctl --address "$address" call "$1" /Soc com.victronenergy.BusItem GetValue 2>/dev/null |
        grep -Eq '^v [dinqutxy] '
}
watch_start() {  # NAME T0 OUTFILE
    while ! soc_valid "$1"; do sleep 0.02; done
    echo "$(date +%s.%N) $2" | awk '{printf "%.3f\n", $1 - $2}' >"$3"
}
t_theirs=$(date +%s.%N)
(
    cd "$dir/serialbattery"
    exec env -u DBUS_SESSION_BUS_ADDRESS DBUS_SYSTEM_BUS_ADDRESS="$address" \
        "$python" "$dir/run_serialbattery.py" "$dir/serialbattery" "$dir/ttySB"
) >"$dir/theirs.log" 2>&1 &
theirs_pid=$!
t_ours=$(date +%s.%N)
"$daemon_bin" --config "$dir/config.yaml" --dbus-address "$address" "$dir/ttyJK" >"$dir/ours.log" 2>&1 &
ours_pid=$!
watch_start com.victronenergy.battery.ttyJK "$t_ours" "$dir/start-ours" &
watch_ours=$!
watch_start com.victronenergy.battery.ttySB "$t_theirs" "$dir/start-theirs" &
watch_theirs=$!
for _ in $(seq 1200); do  # their driver waits 16 s before it opens the port: allow 120 s
    [ -s "$dir/start-ours" ] && [ -s "$dir/start-theirs" ] && break
    if ! kill -0 "$theirs_pid" 2>/dev/null || ! kill -0 "$ours_pid" 2>/dev/null; then break; fi
    sleep 0.1
done
kill "$watch_ours" "$watch_theirs" 2>/dev/null || true
for who in ours theirs; do
    if [ ! -s "$dir/start-$who" ]; then
        echo "the $who driver did not publish a valid /Soc; its log ($dir/$who.log):" >&2
        tail -30 "$dir/$who.log" >&2
        KEEP=1
        exit 1
    fi
done
sleep 3  # discovery over, the first readings published

# MOVING=1: both simulators get the same new current and 16 cell voltages every second (a
# busy pack: cells move by a few mV, the current by amps), instead of their slow drift, which
# moves only the current, a few cells and now and then the SoC or a total.
if [ "${MOVING:-0}" = 1 ]; then
    (
        while sleep 1; do
            cmds="current $((RANDOM % 4000 - 2000))e-2"$'\n'
            for cell in $(seq 16); do cmds+="cell $cell 3.$((300 + RANDOM % 8))"$'\n'; done
            printf '%s' "$cmds" >&7
            printf '%s' "$cmds" >&8
        done
    ) &
    mover_pid=$!
fi

# Every connection a driver opened (dbus-serialbattery: one per service, one for settings).
unique_names() {  # PID
    busctl --address "$address" list --no-legend --unique 2>/dev/null | awk -v pid="$1" '$2 == pid {print $1}' | paste -sd,
}

dbus-monitor --address "$address" --pcap >"$dir/bus.pcap" 2>/dev/null &
monitor_pid=$!
sleep 0.5

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sched() { cat /proc/"$1"/task/*/schedstat | awk '{r += $1; s += $3} END {print r, s}'; }
rq_ours0=$(sim_requests JK 7)
rq_theirs0=$(sim_requests SB 8)
cpu_ours0=$(cpu "$ours_pid")
cpu_theirs0=$(cpu "$theirs_pid")
read -r run_ours0 sl_ours0 < <(sched "$ours_pid")
read -r run_theirs0 sl_theirs0 < <(sched "$theirs_pid")
t0=$(date +%s.%N)
sleep "$duration"
cpu_ours1=$(cpu "$ours_pid")
cpu_theirs1=$(cpu "$theirs_pid")
read -r run_ours1 sl_ours1 < <(sched "$ours_pid")
read -r run_theirs1 sl_theirs1 < <(sched "$theirs_pid")
t1=$(date +%s.%N)
rq_ours1=$(sim_requests JK 7)
rq_theirs1=$(sim_requests SB 8)
mem() {  # PID: RSS, peak RSS, private, private dirty (kB)
    echo "$(awk '/^VmRSS/ {print $2}' "/proc/$1/status") $(awk '/^VmHWM/ {print $2}' "/proc/$1/status")" \
        "$(awk '/^Private_(Clean|Dirty)/ {s += $2} END {print s}' "/proc/$1/smaps_rollup")" \
        "$(awk '/^Private_Dirty/ {print $2}' "/proc/$1/smaps_rollup")"
}
mem_ours=$(mem "$ours_pid")
mem_theirs=$(mem "$theirs_pid")
names_ours=$(unique_names "$ours_pid")
names_theirs=$(unique_names "$theirs_pid")
kill -0 "$ours_pid"  # both still running
kill -0 "$theirs_pid"
sleep 0.3
kill -TERM "$monitor_pid" 2>/dev/null || true
wait "$monitor_pid" 2>/dev/null || true
monitor_pid=
errors_theirs=$(grep -cE 'ERROR|Traceback' "$dir/theirs.log" || true)
errors_ours=$(grep -ciE '\berror\b' "$dir/ours.log" || true)

echo "dbus-jkbms $our_commit vs dbus-serialbattery ${sb_commit:0:12} (its driver version" \
    "$(grep -o 'DRIVER_VERSION: str = "[^"]*"' "$sb_src/utils.py" | sed 's/.*"\(.*\)"/\1/'))," \
    "one JK NW BMS each (16 cells$([ "${MOVING:-0}" = 1 ] && echo ', moving every second')), 1 s polls, one private bus"
python3 - "$dir/bus.pcap" "$duration" "$ticks" "$t0" "$t1" \
    "ours" "$names_ours" "$((rq_ours1 - rq_ours0))" "$cpu_ours0" "$cpu_ours1" "$run_ours0" "$run_ours1" \
    "$sl_ours0" "$sl_ours1" "$mem_ours" "$(cat "$dir/start-ours")" "$errors_ours" \
    "theirs" "$names_theirs" "$((rq_theirs1 - rq_theirs0))" "$cpu_theirs0" "$cpu_theirs1" "$run_theirs0" \
    "$run_theirs1" "$sl_theirs0" "$sl_theirs1" "$mem_theirs" "$(cat "$dir/start-theirs")" "$errors_theirs" <<'EOF'
import struct, sys
pcap, duration, ticks, t0, t1 = sys.argv[1:6]
wall = float(t1) - float(t0)
drivers = []
args = sys.argv[6:]
while args:
    (who, names, polls, c0, c1, r0, r1, s0, s1, memory, start, errors), args = args[:12], args[12:]
    rss, hwm, private, dirty = (int(x) for x in memory.split())
    drivers.append(dict(who=who, names=set(filter(None, names.split(","))), polls=int(polls),
                        cpu=(float(c1) - float(c0)) / float(ticks), run_ms=(int(r1) - int(r0)) / 1e6,
                        slices=int(s1) - int(s0), rss=rss, hwm=hwm, private=private, dirty=dirty, start=float(start),
                        errors=int(errors), signals=0, items=0, props=0, sig_bytes=0, all=0, all_bytes=0,
                        times=[]))
by_name = {n: d for d in drivers for n in d["names"]}


def align(n, a): return (n + a - 1) // a * a


def sender_of(msg):
    # D-Bus wire format: endianness, type, flags, version, body length, serial, then the header
    # fields (array of (byte code, variant)); code 7 is the sender, 2 the interface, 3 the member.
    end = "<" if msg[0:1] == b"l" else ">"
    mtype = msg[1]
    (flen,) = struct.unpack_from(end + "I", msg, 12)
    off, stop, fields = 16, 16 + flen, {}
    while off < stop:
        off = align(off, 8)
        code, sig_len = msg[off], msg[off + 1]
        sig = msg[off + 2: off + 2 + sig_len].decode()
        off += 3 + sig_len
        if sig in ("s", "o"):
            off = align(off, 4)
            (n,) = struct.unpack_from(end + "I", msg, off)
            fields[code] = msg[off + 4: off + 4 + n].decode()
            off += 5 + n
        elif sig == "g":
            n = msg[off]
            fields[code] = msg[off + 1: off + 1 + n].decode()
            off += 2 + n
        elif sig == "u":
            off = align(off, 4) + 4
        else:
            break
    return mtype, fields.get(7), fields.get(2), fields.get(3)


data = open(pcap, "rb").read()
off = 24  # pcap global header
while off + 16 <= len(data):
    sec, usec, incl, _ = struct.unpack_from("<IIII", data, off)
    msg = data[off + 16: off + 16 + incl]
    off += 16 + incl
    if not float(t0) <= sec + usec / 1e6 <= float(t1): continue  # the window the CPU figures cover
    mtype, sender, iface, member = sender_of(msg)
    d = by_name.get(sender)
    if d is None: continue
    d["all"] += 1
    d["all_bytes"] += incl
    if mtype == 4 and iface == "com.victronenergy.BusItem" and member in ("ItemsChanged", "PropertiesChanged"):
        d["signals"] += 1
        d["items" if member == "ItemsChanged" else "props"] += 1
        d["sig_bytes"] += incl
        d["times"].append(sec + usec / 1e6)
for d in drivers:
    t = d["times"]
    d["cycles"] = (1 if t else 0) + sum(1 for a, b in zip(t, t[1:]) if b - a > 0.3)

label = {"ours": "dbus-jkbms (ours)", "theirs": "dbus-serialbattery (theirs)"}
for d in drivers:
    p = d["polls"]
    per = lambda x: x / p if p else float("nan")
    d["per"] = per
    print(f"{label[d['who']]}: {wall:.0f} s, {p} polls ({p / wall:.2f}/s), {d['cycles']} publish cycles"
          f" ({d['cycles'] / wall:.2f}/s); connections {','.join(sorted(d['names']))}")
    print(f"  CPU    utime+stime {d['cpu']:.2f} s = {100 * d['cpu'] / wall:.3f} % of a core; schedstat "
          f"{d['run_ms']:.1f} ms on CPU = {per(d['run_ms']):.3f} ms per poll, {d['slices']} times scheduled "
          f"= {per(d['slices']):.2f} per poll")
    print(f"  memory RSS {d['rss'] / 1024:.2f} MB (peak {d['hwm'] / 1024:.2f} MB), private {d['private'] / 1024:.2f} MB "
          f"(of which dirty {d['dirty'] / 1024:.2f} MB)")
    print(f"  D-Bus  {d['signals']} signals ({d['items']} ItemsChanged, {d['props']} PropertiesChanged), "
          f"{d['sig_bytes']} bytes: {per(d['signals']):.2f} messages and {per(d['sig_bytes']):.0f} bytes per poll; "
          f"all it sent: {d['all']} messages, {d['all_bytes']} bytes = {per(d['all']):.2f} and "
          f"{per(d['all_bytes']):.0f} per poll")
    print(f"  start  {d['start']:.2f} s to a valid /Soc; {d['errors']} error lines in its log")
ours, theirs = drivers
ratio = lambda a, b: f"{a / b:.1f}x" if b else "n/a"
po, pt = ours["polls"], theirs["polls"]
print("theirs / ours, per poll (a poll: one read-all request answered = one full reading of the battery):")
print(f"  CPU (schedstat) {ratio(theirs['run_ms'] / pt, ours['run_ms'] / po)}, "
      f"CPU (utime+stime) {ratio(theirs['cpu'] / pt, ours['cpu'] / po)}, "
      f"wake-ups {ratio(theirs['slices'] / pt, ours['slices'] / po)}")
print(f"  D-Bus signals {ratio(theirs['signals'] / pt, ours['signals'] / po)}, "
      f"signal bytes {ratio(theirs['sig_bytes'] / pt, ours['sig_bytes'] / po)}, "
      f"all messages {ratio(theirs['all'] / pt, ours['all'] / po)}, "
      f"all bytes {ratio(theirs['all_bytes'] / pt, ours['all_bytes'] / po)}")
print(f"  memory: RSS {ratio(theirs['rss'], ours['rss'])}, private {ratio(theirs['private'], ours['private'])}, "
      f"private dirty {ratio(theirs['dirty'], ours['dirty'])}; "
      f"start-up {ratio(theirs['start'], ours['start'])}")
EOF
