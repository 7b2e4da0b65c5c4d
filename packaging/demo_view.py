#!/usr/bin/python3
"""Shows a battery service's live values once a second, read over D-Bus the way Venus
clients read them (GetItems). Used by `packaging/dev.sh run`; Ctrl-C to stop.

Usage: demo_view.py BUS_ADDRESS [--once]
"""
import sys
import time

import dbus

IFACE = "com.victronenergy.BusItem"


def battery_service(bus):
    for name in bus.list_names():
        if str(name).startswith("com.victronenergy.battery."):
            return str(name)
    return None


def show(items, name):
    def text(path):
        item = items.get(path)
        return str(item["Text"]) if item is not None else "---"

    cells = sorted((p for p in items if p.startswith("/Voltages/Cell")), key=lambda p: int(p[len("/Voltages/Cell"):]))
    lines = [
        f"{name}   device instance {text('/DeviceInstance')}   connected {text('/Connected')}",
        f"pack {text('/Dc/0/Voltage')}   current {text('/Dc/0/Current')}   power {text('/Dc/0/Power')}"
        f"   SoC {text('/Soc')}   temperature {text('/Dc/0/Temperature')}",
        "cells " + " ".join(text(p) for p in cells),
        f"min {text('/System/MinCellVoltage')} ({text('/System/MinVoltageCellId')})"
        f"   max {text('/System/MaxCellVoltage')} ({text('/System/MaxVoltageCellId')})   diff {text('/Voltages/Diff')}",
        f"limits: CVL {text('/Info/MaxChargeVoltage')}   CCL {text('/Info/MaxChargeCurrent')}"
        f"   DCL {text('/Info/MaxDischargeCurrent')}   ({text('/Info/ChargeMode')}; charge limited by {text('/Info/ChargeLimitation')})",
    ]
    print("\n".join(lines), flush=True)


def main():
    address = sys.argv[1]
    once = "--once" in sys.argv
    bus = dbus.bus.BusConnection(address)
    name = None
    deadline = time.monotonic() + 20
    while name is None:
        name = battery_service(bus)
        if name is None:
            if time.monotonic() > deadline:
                print("no battery service appeared on the bus", file=sys.stderr)
                return 1
            time.sleep(0.2)
    while True:
        items = bus.call_blocking(name, "/", IFACE, "GetItems", "", [])
        show({str(k): v for k, v in items.items()}, name)
        if once:
            return 0
        print()
        time.sleep(1)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
