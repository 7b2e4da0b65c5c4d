#!/usr/bin/env python3
"""Writes dbus-jkbms's GUI v2 plugin description: dbus-jkbms.json, the file gui-v2 (Venus OS
v3.70~45 and later) reads from /data/apps/enabled/<app>/gui-v2/*.json.

Python 3 standard library only, so it runs on every GX at install time (install.sh) and in CI
(tests/gui/check.sh). It does what victronenergy/gui-v2's tools/gui-v2-plugin-compiler.py does,
without the Qt tools that script needs (lupdate, lrelease, rcc - only on the Large image):
it packs the QML files into a Qt binary resource (the .rcc format QResource reads, written
here directly) and writes the JSON around it. README.md explains the format and the choice.

    make-plugin-json.py [--qml-dir DIR] [--out FILE] [--version V] [--rcc-out FILE]
"""

import argparse
import base64
import json
import os
import re
import struct
import sys
import zlib

NAME = "dbus-jkbms"
# gui-v2's version (not Venus OS's) from which the plugin loader and every QML type our pages
# use exist: v1.2.14 added GuiPluginLoader and DeviceListPluginPage.
MIN_GUI_VERSION = "v1.2.14"
MAX_GUI_VERSION = ""
# Our battery services' /ProductId (include/jkbms/dbus/battery_paths.hpp kProductId), as gui-v2
# formats it for the match: "0x" + upper-case hex without leading zeros (Utils.toHexFormat).
PRODUCT_ID = "0xBA77"
SETTINGS_PAGE = "JkSettings.qml"
DEVICE_PAGES = [  # (page, title shown on the battery's device page)
    ("JkBattery.qml", "JK BMS details"),
]

# --- Qt binary resource (.rcc), format version 3 ------------------------------------------
# Layout (all numbers big-endian): "qres", version, tree offset, data offset, names offset,
# overall flags; then the data blobs, the names and the tree. A tree node is 22 bytes: name
# offset (4), flags (2), then for a directory child count (4) and first child index (4), for
# a file territory (2), language (2) and data offset (4); then the last-modified time in ms (8).
# A directory's children are consecutive nodes sorted by the hash of their names (QResource
# looks them up by binary search).
FLAG_COMPRESSED = 1
FLAG_DIRECTORY = 2
LANGUAGE_C = 1
TERRITORY_ANY = 0


def qt_hash(name):
    h = 0
    unit = name.encode("utf-16-be")
    for i in range(0, len(unit), 2):
        h = ((h << 4) + ((unit[i] << 8) | unit[i + 1])) & 0xFFFFFFFF
        h ^= (h & 0xF0000000) >> 23
        h &= 0x0FFFFFFF
    return h


def make_rcc(prefix, files):
    """files: [(name, bytes, mtime_ms)] under the directory `prefix` (one level, like rcc with
    <qresource prefix="/prefix">). Returns the resource's bytes."""
    data = bytearray()
    data_offsets = {}
    flags = {}
    overall = 0
    for name, content, _ in files:
        packed = zlib.compress(content, 9)
        if len(packed) + 4 < len(content):
            blob = struct.pack(">I", len(content)) + packed  # qUncompress's layout
            flags[name] = FLAG_COMPRESSED
            overall |= FLAG_COMPRESSED
        else:
            blob = content
            flags[name] = 0
        data_offsets[name] = len(data)
        data += struct.pack(">I", len(blob)) + blob

    names = bytearray()
    name_offsets = {}
    for name in [prefix] + [f[0] for f in files]:
        if name in name_offsets:
            continue
        name_offsets[name] = len(names)
        utf16 = name.encode("utf-16-be")
        names += struct.pack(">HI", len(utf16) // 2, qt_hash(name)) + utf16

    children = sorted(files, key=lambda f: qt_hash(f[0]))
    tree = bytearray()
    tree += struct.pack(">IHIIQ", 0, FLAG_DIRECTORY, 1, 1, 0)  # root: one child, node 1
    tree += struct.pack(">IHIIQ", name_offsets[prefix], FLAG_DIRECTORY, len(children), 2, 0)
    for name, _, mtime in children:
        tree += struct.pack(">IHHHIQ", name_offsets[name], flags[name], TERRITORY_ANY, LANGUAGE_C,
                            data_offsets[name], mtime)

    header_size = 24
    data_offset = header_size
    names_offset = data_offset + len(data)
    tree_offset = names_offset + len(names)
    header = b"qres" + struct.pack(">IIIII", 3, tree_offset, data_offset, names_offset, overall)
    return bytes(header + data + names + tree)


def read_rcc(blob):
    """The files in a .rcc as {"/dir/name": bytes}, checking what QResource relies on
    (magic, version, children sorted by hash, hashes matching names). For the CI check."""
    if blob[:4] != b"qres":
        raise ValueError("not a Qt resource (no 'qres')")
    version, tree_off, data_off, names_off = struct.unpack(">IIII", blob[4:20])
    if version not in (1, 2, 3):
        raise ValueError("resource format version %d" % version)
    node_size = 14 if version == 1 else 22

    def name_at(offset):
        length, h = struct.unpack(">HI", blob[names_off + offset:names_off + offset + 6])
        raw = blob[names_off + offset + 6:names_off + offset + 6 + 2 * length]
        name = raw.decode("utf-16-be")
        if qt_hash(name) != h:
            raise ValueError("hash of %r is wrong" % name)
        return name, h

    out = {}

    def walk(index, path):
        base = tree_off + index * node_size
        name_off, flags = struct.unpack(">IH", blob[base:base + 6])
        name = name_at(name_off)[0] if index else ""
        full = path + "/" + name if index else ""
        if flags & FLAG_DIRECTORY:
            count, first = struct.unpack(">II", blob[base + 6:base + 14])
            hashes = [name_at(struct.unpack(">I", blob[tree_off + (first + i) * node_size:
                                                         tree_off + (first + i) * node_size + 4])[0])[1]
                      for i in range(count)]
            if hashes != sorted(hashes):
                raise ValueError("children of %r are not sorted by hash" % (full or "/"))
            for i in range(count):
                walk(first + i, full)
        else:
            offset = struct.unpack(">I", blob[base + 10:base + 14])[0]
            start = data_off + offset
            size = struct.unpack(">I", blob[start:start + 4])[0]
            content = blob[start + 4:start + 4 + size]
            if flags & FLAG_COMPRESSED:
                expected = struct.unpack(">I", content[:4])[0]
                content = zlib.decompress(content[4:])
                if len(content) != expected:
                    raise ValueError("%r: size %d, header says %d" % (full, len(content), expected))
            elif flags & ~FLAG_COMPRESSED:
                raise ValueError("%r: unsupported flags %#x" % (full, flags))
            out[full] = content

    walk(0, "")
    return out


def project_version():
    cmake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "CMakeLists.txt")
    try:
        with open(cmake, encoding="utf-8") as f:
            m = re.search(r"project\(\s*dbus-jkbms\s+VERSION\s+([0-9.]+)", f.read())
            if m:
                return m.group(1)
    except OSError:
        pass
    return ""


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--qml-dir", default=os.path.join(here, "qml"))
    ap.add_argument("--out", default=os.path.join(here, NAME + ".json"))
    ap.add_argument("--version", default="", help="the plugin's version (default: dbus-jkbms's)")
    ap.add_argument("--rcc-out", default="", help="also write the resource itself (for checks)")
    args = ap.parse_args()

    version = args.version or project_version()
    if not version:  # gui-v2 ignores a plugin without a version
        version = "0.0.0"
        print("make-plugin-json: no --version and no CMakeLists.txt: version %s" % version, file=sys.stderr)
    pages = [SETTINGS_PAGE] + [p for p, _ in DEVICE_PAGES]
    qml = sorted(f for f in os.listdir(args.qml_dir) if f.endswith(".qml"))
    for page in pages:
        if page not in qml:
            sys.exit("make-plugin-json: %s is not in %s" % (page, args.qml_dir))
    files = []
    for name in qml:
        path = os.path.join(args.qml_dir, name)
        with open(path, "rb") as f:
            files.append((name, f.read(), int(os.stat(path).st_mtime * 1000)))
    rcc = make_rcc(NAME, files)
    if args.rcc_out:
        with open(args.rcc_out, "wb") as f:
            f.write(rcc)

    integrations = [{"type": 1, "url": "qrc:/%s/%s" % (NAME, SETTINGS_PAGE)}]
    for page, title in DEVICE_PAGES:
        integrations.append({"type": 2, "productId": PRODUCT_ID,
                             "url": "qrc:/%s/%s" % (NAME, page), "title": title})
    plugin = {
        "name": NAME,
        "version": version,
        "minRequiredVersion": MIN_GUI_VERSION,
        "maxRequiredVersion": MAX_GUI_VERSION,
        "translations": [],
        "integrations": integrations,
        "resource": base64.b64encode(rcc).decode("ascii"),
    }
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(plugin, f, indent=4)
        f.write("\n")
    os.replace(tmp, args.out)  # gui-v2 watches the directory: never a half-written file
    print("make-plugin-json: %s (%d QML files, %d bytes of resource)" % (args.out, len(files), len(rcc)))


if __name__ == "__main__":
    main()
