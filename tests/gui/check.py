#!/usr/bin/python3
"""Checks dbus-jkbms's GUI v2 plugin (packaging/venus/gui-v2): qmllint on every QML file,
the generated plugin description, the Qt resource inside it, the D-Bus and setting paths the
pages bind to, and install.sh's app layout. Prints one line per check and, last,
"gui: N passed, N failed" (packaging/dev.sh test adds these to its totals); exit 1 on a failure.

qmllint is Debian 12's Qt 6.4 (qt6-declarative-dev-tools). gui-v2's own QML module
(Victron.VenusOS) is not available off a GX, so tests/gui/stubs/ declares the gui-v2 types and
members our pages use; qmllint then resolves every import and checks properties, ids, signal
handlers and JavaScript against them (README.md, "Lint"). The one warning ignored: Debian's
qmllint misses jsroot.qmltypes (in qt6-declarative-dev) and uses its built-in copy instead.
"""

import base64
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GUI = os.path.join(ROOT, "packaging", "venus", "gui-v2")
QML_DIR = os.path.join(GUI, "qml")
STUBS = os.path.join(ROOT, "tests", "gui", "stubs")
STUB_MODULE = os.path.join(STUBS, "Victron", "VenusOS")
QMLLINT = os.environ.get("QMLLINT", "/usr/lib/qt6/bin/qmllint")
RCC = os.environ.get("RCC", "/usr/lib/qt6/libexec/rcc")

results = []


def check(name):
    def wrap(fn):
        try:
            problem = fn()
        except Exception as e:  # a check that crashes has failed
            problem = "%s: %s" % (type(e).__name__, e)
        results.append((name, problem))
        print(("ok   %s" if not problem else "FAIL %s: %s") % ((name,) if not problem else (name, problem)))
        return fn
    return wrap


def load_generator():
    spec = importlib.util.spec_from_file_location("make_plugin_json", os.path.join(GUI, "make-plugin-json.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def qmllint(files):
    """The warnings qmllint reports for `files`, but the missing jsroot.qmltypes."""
    if not os.access(QMLLINT, os.X_OK):
        return ["no qmllint at %s (qt6-declarative-dev-tools)" % QMLLINT]
    run = subprocess.run([QMLLINT, "--json", "-", "-I", STUBS] + files, capture_output=True, text=True)
    try:
        report = json.loads(run.stdout)
    except ValueError:
        return ["qmllint wrote no JSON (exit %d): %s" % (run.returncode, run.stderr.strip()[:300])]
    problems = []
    for f in report.get("files", []):
        for w in f.get("warnings", []):
            msg = w.get("message", "")
            if w.get("type") == "info":
                continue
            if "jsroot.qmltypes" in msg or msg.startswith("Warnings occurred while importing base modules"):
                continue
            problems.append("%s:%s:%s: %s" % (os.path.relpath(f["filename"], ROOT), w.get("line", "?"),
                                              w.get("column", "?"), msg))
        if not f.get("success", False) and not problems and not f.get("warnings"):
            problems.append("%s: qmllint failed" % f["filename"])
    return problems


qml_files = sorted(os.path.join(QML_DIR, f) for f in os.listdir(QML_DIR) if f.endswith(".qml"))

for path in qml_files:
    rel = os.path.relpath(path, ROOT)

    @check("qmllint %s" % rel)
    def _(path=path):
        problems = qmllint([path])
        return "; ".join(problems)


@check("qmllint tests/gui/stubs (the stubs are valid QML too)")
def _():
    stubs = sorted(os.path.join(STUB_MODULE, f) for f in os.listdir(STUB_MODULE) if f.endswith(".qml"))
    return "; ".join(qmllint(stubs))


@check("stub qmldir lists every stub file, and only those")
def _():
    listed = set()
    with open(os.path.join(STUB_MODULE, "qmldir")) as f:
        for line in f:
            words = line.split()
            if words and words[-1].endswith(".qml"):
                listed.add(words[-1])
    present = {f for f in os.listdir(STUB_MODULE) if f.endswith(".qml")}
    if listed != present:
        return "qmldir only: %s; files only: %s" % (sorted(listed - present), sorted(present - listed))
    return ""


gen = load_generator()
tmp = tempfile.mkdtemp(prefix="gui-check.")
json_path = os.path.join(tmp, "dbus-jkbms.json")
rcc_path = os.path.join(tmp, "ours.rcc")
plugin = {}


@check("make-plugin-json.py writes the plugin description")
def _():
    run = subprocess.run([sys.executable, os.path.join(GUI, "make-plugin-json.py"), "--out", json_path,
                          "--rcc-out", rcc_path], capture_output=True, text=True)
    if run.returncode != 0:
        return "exit %d: %s" % (run.returncode, run.stderr.strip())
    return ""


@check("plugin JSON: well-formed, gui-v2's keys, name and versions")
def _():
    with open(json_path, encoding="utf-8") as f:
        plugin.update(json.load(f))
    keys = {"name", "version", "minRequiredVersion", "maxRequiredVersion", "translations", "integrations",
            "resource"}
    if set(plugin) != keys:
        return "keys %s, expected %s" % (sorted(plugin), sorted(keys))
    if plugin["name"] != "dbus-jkbms":
        return "name %r" % plugin["name"]
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        ours = re.search(r"project\(\s*dbus-jkbms\s+VERSION\s+([0-9.]+)", f.read()).group(1)
    if plugin["version"] != ours:
        return "version %r, dbus-jkbms is %s" % (plugin["version"], ours)
    if not re.fullmatch(r"v?\d+\.\d+\.\d+", plugin["minRequiredVersion"]):
        return "minRequiredVersion %r is not a version gui-v2 can compare" % plugin["minRequiredVersion"]
    if plugin["maxRequiredVersion"] and not re.fullmatch(r"v?\d+\.\d+\.\d+", plugin["maxRequiredVersion"]):
        return "maxRequiredVersion %r" % plugin["maxRequiredVersion"]
    if plugin["translations"] != []:
        return "translations listed, none shipped"
    return ""


resource_files = {}


@check("plugin resource: a Qt resource (.rcc v3) holding exactly the QML files")
def _():
    blob = base64.b64decode(plugin["resource"], validate=True)
    resource_files.update(gen.read_rcc(blob))
    expected = {}
    for path in qml_files:
        with open(path, "rb") as f:
            expected["/dbus-jkbms/" + os.path.basename(path)] = f.read()
    if resource_files != expected:
        return "resource holds %s, qml/ has %s" % (sorted(resource_files), sorted(expected))
    return ""


@check("plugin integrations: a settings page and the device page for our product id, each in the resource")
def _():
    with open(os.path.join(ROOT, "include", "jkbms", "dbus", "battery_paths.hpp")) as f:
        product = int(re.search(r"kProductId\s*=\s*(0x[0-9A-Fa-f]+)", f.read()).group(1), 16)
    want_id = "0x%X" % product  # gui-v2: "0x" + toString(16).toUpperCase()
    types = [i.get("type") for i in plugin["integrations"]]
    if types.count(1) != 1 or types.count(2) < 1 or set(types) - {1, 2}:
        return "integration types %s (want one 1 and at least one 2)" % types
    for i in plugin["integrations"]:
        url = i.get("url", "")
        if not url.startswith("qrc:/dbus-jkbms/") or url[len("qrc:"):] not in resource_files:
            return "url %r is not a file in the resource" % url
        if i["type"] == 2:
            if i.get("productId") != want_id:
                return "productId %r, our services publish %s" % (i.get("productId"), want_id)
            if not i.get("title"):
                return "device-list integration without a title"
    return ""


@check("the resource matches Qt's own rcc (same tree, same files)")
def _():
    if not os.access(RCC, os.X_OK):
        return "no rcc at %s (qt6-base-dev-tools)" % RCC
    work = os.path.join(tmp, "rcc")
    os.mkdir(work)
    for path in qml_files:
        shutil.copy2(path, work)
    with open(os.path.join(work, "p.qrc"), "w") as f:
        f.write('<RCC><qresource prefix="/dbus-jkbms">%s</qresource></RCC>\n'
                % "".join("<file>%s</file>" % os.path.basename(p) for p in qml_files))
    run = subprocess.run([RCC, "-binary", "-compress-algo", "zlib", "-o", "qt.rcc", "p.qrc"], cwd=work,
                         capture_output=True, text=True)
    if run.returncode != 0:
        return "rcc: %s" % run.stderr.strip()
    with open(os.path.join(work, "qt.rcc"), "rb") as f:
        qt = f.read()
    with open(rcc_path, "rb") as f:
        ours = f.read()
    if gen.read_rcc(qt) != gen.read_rcc(ours):
        return "rcc's resource holds different files"
    if qt[:8] != ours[:8]:
        return "header %s, rcc writes %s" % (ours[:8].hex(), qt[:8].hex())

    # The trees node by node, but for data offsets and times (compression levels differ).
    def nodes(blob):
        tree = int.from_bytes(blob[8:12], "big")
        return [blob[tree + i:tree + i + 10] for i in range(0, len(blob) - tree, 22)]
    if nodes(qt) != nodes(ours):
        return "tree nodes differ from rcc's"
    return ""


def string_literals(path):
    with open(path, encoding="utf-8") as f:
        return re.findall(r'"((?:[^"\\]|\\.)*)"', f.read())


@check("every battery path the pages bind to is one dbus-jkbms publishes")
def _():
    published = set()
    for src in ("src/dbus/battery_paths.cpp", "include/jkbms/dbus/battery_paths.hpp"):
        published |= {s for s in string_literals(os.path.join(ROOT, src)) if re.fullmatch(r"/[A-Z][\w/]*", s)}
    # Paths of Victron's own services the pages read (victron-dbus.md 6.5: systemcalc's DVCC state).
    published |= {"/Control/Dvcc"}
    missing = []
    for page in ("JkBattery.qml", "JkCells.qml"):
        for s in string_literals(os.path.join(QML_DIR, page)):
            if re.fullmatch(r"/[A-Z][\w/]*", s) and s not in published:
                missing.append("%s %s" % (page, s))
    return "not published: " + ", ".join(missing) if missing else ""


def settings_section():
    """README.md's "## Settings" section: its table lists the settings below a battery's
    settings path (/Mgmt/SettingsPath, e.g. /Settings/Devices/<uid>/JkBms)."""
    with open(os.path.join(GUI, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("\n## Settings\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


@check("every setting the settings page binds to is defined in README.md, and every one defined is used")
def _():
    used = {s for s in string_literals(os.path.join(QML_DIR, "JkSettings.qml")) if re.fullmatch(r"/[A-Z][\w/]*", s)}
    defined = set(re.findall(r"^\| `(/[A-Z][\w/]*)` \|", settings_section(), re.M))
    if not defined:
        return "README.md's Settings section defines no settings"
    if used != defined:
        return "used only: %s; defined only: %s" % (sorted(used - defined), sorted(defined - used))
    return ""


@check("the settings page finds the settings where the battery service says they are (/Mgmt/SettingsPath)")
def _():
    with open(os.path.join(QML_DIR, "JkBattery.qml"), encoding="utf-8") as f:
        battery = f.read()
    daemon = ""
    for src in ("src/app/gx_settings.cpp", "include/jkbms/app/bank_daemon.hpp"):
        with open(os.path.join(ROOT, src), encoding="utf-8") as f:
            daemon += f.read()
    problems = []
    if '"/Mgmt/SettingsPath"' not in battery or "settingsPath:" not in battery:
        problems.append("JkBattery.qml does not push JkSettings.qml with /Mgmt/SettingsPath")
    # The daemon's names below the group are the README's.
    names = {"/" + n for n in re.findall(r'= "([A-Z]\w*/\w+)";', daemon)}
    defined = set(re.findall(r"^\| `(/[A-Z][\w/]*)` \|", settings_section(), re.M))
    if names != defined:
        problems.append("daemon only: %s; README only: %s" % (sorted(names - defined), sorted(defined - names)))
    return "; ".join(problems)


@check("the settings page's ranges are the ones README.md defines")
def _():
    table = {}
    for row in re.findall(r"^\| `(/[A-Z][\w/]*)` \|(.*)$", settings_section(), re.M):
        cells = [c.strip() for c in row[1].split("|")]
        table[row[0]] = (cells[2], cells[3])  # type, unit, min, max, ...
    with open(os.path.join(QML_DIR, "JkSettings.qml"), encoding="utf-8") as f:
        qml = f.read()
    wrong = []
    # Each ListSpinBox block: its setting and its from / to.
    blocks = re.findall(r"ListSpinBox \{(.*?)\n            \}", qml, re.S)
    if len(blocks) != qml.count("ListSpinBox {") or not blocks:
        return "found %d of %d ListSpinBox blocks" % (len(blocks), qml.count("ListSpinBox {"))
    for block in blocks:
        path = re.search(r'root\.prefix \+ "([\w/]+)"', block).group(1)
        lo = re.search(r"\bfrom: (-?[\d.]+)", block)
        hi = re.search(r"\bto: (-?[\d.]+)", block)
        want = table.get(path)
        if not want or not lo or not hi or float(lo.group(1)) != float(want[0]) or float(hi.group(1)) != float(want[1]):
            wrong.append("%s %s..%s (README %s)" % (path, lo and lo.group(1), hi and hi.group(1), want))
    return "; ".join(wrong)


def fake_gx(venus_version):
    base = tempfile.mkdtemp(dir=tmp)
    app = os.path.join(base, "apps", "available", "dbus-jkbms")
    shutil.copytree(GUI, os.path.join(app, "gui-v2"), ignore=shutil.ignore_patterns("*.json", "__pycache__"))
    with open(os.path.join(base, "version"), "w") as f:
        f.write(venus_version + "\n20260101000000\n")
    env = dict(os.environ, APPS_DIR=os.path.join(base, "apps"), VENUS_VERSION_FILE=os.path.join(base, "version"))
    return base, app, env


def install(app, env, *args):
    return subprocess.run(["sh", os.path.join(app, "gui-v2", "install.sh")] + list(args), env=env,
                          capture_output=True, text=True)


@check("install.sh on Venus v3.70~45: the JSON in the app's gui-v2/ and the link in enabled/")
def _():
    base, app, env = fake_gx("v3.70~45")
    run = install(app, env, "--version", "9.9.9")
    if run.returncode != 0:
        return "exit %d: %s" % (run.returncode, run.stderr.strip())
    link = os.path.join(base, "apps", "enabled", "dbus-jkbms")
    if not os.path.islink(link) or os.path.realpath(link) != os.path.realpath(app):
        return "no link %s -> %s" % (link, app)
    jsons = [f for f in os.listdir(os.path.join(link, "gui-v2")) if f.endswith(".json")]
    if jsons != ["dbus-jkbms.json"]:
        return "gui-v2/ holds %s (gui-v2 reads every *.json there)" % jsons
    with open(os.path.join(link, "gui-v2", "dbus-jkbms.json")) as f:
        if json.load(f)["version"] != "9.9.9":
            return "--version not used"
    # --remove takes the plugin's JSON only: the link is the whole app's enable link (rc.local
    # runs enable.sh through it), so removing the pages must not turn the daemon off.
    removed = install(app, env, "--remove")
    if removed.returncode != 0 or os.path.exists(os.path.join(app, "gui-v2", "dbus-jkbms.json")):
        return "--remove failed or left the JSON"
    if not os.path.islink(link) or os.path.realpath(link) != os.path.realpath(app):
        return "--remove took away the app's enable link %s" % link
    return ""


@check("install.sh on older Venus (v3.60, v3.70~44, no version file): skips and says so")
def _():
    for version in ("v3.60", "v3.70~44", ""):
        base, app, env = fake_gx(version)
        if not version:
            os.remove(env["VENUS_VERSION_FILE"])
        run = install(app, env)
        if run.returncode != 0:
            return "%r: exit %d" % (version, run.returncode)
        if "not installed" not in run.stdout:
            return "%r: says %r" % (version, run.stdout.strip())
        if os.path.lexists(os.path.join(base, "apps", "enabled", "dbus-jkbms")) or \
                os.path.exists(os.path.join(app, "gui-v2", "dbus-jkbms.json")):
            return "%r: installed anyway" % version
    return ""


@check("app layout: the files install.sh needs, no other *.json in gui-v2/ (gui-v2 would load it)")
def _():
    for need in ("README.md", "install.sh", "make-plugin-json.py", "qml"):
        if not os.path.exists(os.path.join(GUI, need)):
            return "missing packaging/venus/gui-v2/%s" % need
    if not os.access(os.path.join(GUI, "install.sh"), os.X_OK):
        return "install.sh is not executable"
    # dbus-jkbms.json (a local run of the generator; ignored by git) is rewritten by install.sh.
    stray = [f for f in os.listdir(GUI) if f.endswith(".json") and f != "dbus-jkbms.json"]
    return "gui-v2 would load %s as plugins" % stray if stray else ""


shutil.rmtree(tmp, ignore_errors=True)
failed = sum(1 for _, p in results if p)
print("gui: %d passed, %d failed" % (len(results) - failed, failed))
sys.exit(1 if failed else 0)
