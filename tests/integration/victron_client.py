#!/usr/bin/python3
"""Reads a Victron D-Bus service the way velib_python's dbusmonitor (systemcalc's client) does:
subscribe to ItemsChanged and PropertiesChanged, GetItems on "/", then follow the signals of the
service's name owner. Prints one JSON object per line; exits after --updates ItemsChanged
signals or at --timeout.

--items-only: subscribe to ItemsChanged alone (as veutil and dbus-flashmq can live with) and,
after each one, print the whole model kept from GetItems plus the ItemsChanged so far
({"event": "model", "canon": "path=value|text;..."}, sorted by path) for the test to compare.

Usage: victron_client.py --address ADDR --service NAME [--wait-for-name] [--updates N] [--timeout S]
                         [--items-only]
"""
import argparse
import json
import sys

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

IFACE = "com.victronenergy.BusItem"


def unwrap(v):
    """velib's unwrap_dbus_value: an empty array is 'invalid' (None)."""
    if isinstance(v, dbus.Array):
        return [unwrap(x) for x in v] if len(v) else None
    if isinstance(v, dbus.Dictionary):
        return {str(k): unwrap(x) for k, x in v.items()}
    if isinstance(v, (dbus.Double,)):
        return float(v)
    if isinstance(v, (dbus.Int32, dbus.Int64, dbus.UInt32, dbus.Int16, dbus.UInt16, dbus.Byte)):
        return int(v)
    if isinstance(v, dbus.String):
        return str(v)
    if isinstance(v, dbus.Boolean):
        return bool(v)
    return v


def emit(obj):
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def canon_value(v):
    """A value the way the test writes it: null, an int, a float's shortest form, s:<text>."""
    if v is None:
        return "null"
    if isinstance(v, float):
        r = repr(v)
        return r[:-2] if r.endswith(".0") else r
    if isinstance(v, str):
        return "s:" + v
    return str(v)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--address", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--wait-for-name", action="store_true")
    p.add_argument("--updates", type=int, default=1)
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--items-only", action="store_true")
    a = p.parse_args()

    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(a.address)
    loop = GLib.MainLoop()
    state = {"owner": None, "updates": 0}
    model = {}

    def emit_model():
        canon = ";".join("%s=%s|%s" % (k, canon_value(v), t) for k, (v, t) in sorted(model.items()))
        emit({"event": "model", "n": state["updates"], "canon": canon})

    def scan(owner):
        state["owner"] = owner
        items = bus.call_blocking(a.service, "/", IFACE, "GetItems", "", [])
        for k, v in items.items():
            model[str(k)] = (unwrap(v["Value"]), str(v["Text"]))
        emit({"event": "items", "owner": owner,
              "items": {str(k): unwrap(v["Value"]) for k, v in items.items()},
              "texts": {str(k): str(v["Text"]) for k, v in items.items()}})

    def on_items(changes, sender=None):
        if sender != state["owner"]:
            return
        emit({"event": "ItemsChanged", "sender": sender,
              "changes": {str(k): unwrap(v["Value"]) for k, v in changes.items() if "Value" in v}})
        for k, v in changes.items():
            if "Value" in v:
                model[str(k)] = (unwrap(v["Value"]), str(v.get("Text", "")))
        state["updates"] += 1
        if a.items_only:
            emit_model()
        if state["updates"] >= a.updates:
            loop.quit()

    def on_props(changes, sender=None, path=None):
        if sender != state["owner"] or "Value" not in changes:
            return
        emit({"event": "PropertiesChanged", "sender": sender, "path": str(path),
              "value": unwrap(changes["Value"]), "text": str(changes.get("Text", ""))})

    def on_owner(name, old, new):
        if name == a.service and new and state["owner"] is None:
            scan(str(new))

    bus.add_signal_receiver(on_items, signal_name="ItemsChanged", dbus_interface=IFACE, path="/",
                            sender_keyword="sender")
    if not a.items_only:
        bus.add_signal_receiver(on_props, signal_name="PropertiesChanged", dbus_interface=IFACE,
                                sender_keyword="sender", path_keyword="path")
    if a.wait_for_name:
        bus.add_signal_receiver(on_owner, signal_name="NameOwnerChanged",
                                dbus_interface="org.freedesktop.DBus", arg0=a.service)
        emit({"event": "ready"})
    else:
        scan(str(bus.get_name_owner(a.service)))
        emit({"event": "ready"})

    GLib.timeout_add(int(a.timeout * 1000), loop.quit)
    loop.run()
    emit({"event": "done", "updates": state["updates"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
