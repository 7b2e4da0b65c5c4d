#!/bin/sh
# Installs (or removes) dbus-jkbms's GUI v2 pages on a GX device. Run from the app's copy of
# this directory: /data/apps/available/dbus-jkbms/gui-v2/install.sh [--version V] | --remove
#
#   - Venus OS older than v3.70~45 (no UI plugins in gui-v2): says so, changes nothing, exit 0.
#   - Otherwise: writes gui-v2/dbus-jkbms.json (make-plugin-json.py, /usr/bin/python3 of the GX)
#     and, only when nothing is there yet, links /data/apps/enabled/<app> to the app directory
#     (the app's install.sh and enable.sh make that link anyway). gui-v2 watches that directory
#     and loads the pages without a restart.
#   --remove: deletes the JSON, nothing else. /data/apps/enabled/<app> is the whole app's enable
#     link (rc.local runs the app's enable.sh through it at every boot): it stays.
# For tests: VENUS_VERSION_FILE (default /opt/victronenergy/version), APPS_DIR (/data/apps).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
app_dir=$(dirname "$here")
app=$(basename "$app_dir")
apps=${APPS_DIR:-/data/apps}
version_file=${VENUS_VERSION_FILE:-/opt/victronenergy/version}
link="$apps/enabled/$app"
json="$here/dbus-jkbms.json"

if [ "${1:-}" = "--remove" ]; then
    rm -f "$json"
    echo "gui-v2: dbus-jkbms's GUI v2 pages removed (the app stays enabled: $link)"
    exit 0
fi

# "v3.70~45" (a beta), "v3.70" (a release): major, minor, beta (none: after every beta).
venus=$(head -n 1 "$version_file" 2>/dev/null || true)
major=$(echo "$venus" | sed -n 's/^v\([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1/p')
minor=$(echo "$venus" | sed -n 's/^v\([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\2/p')
beta=$(echo "$venus" | sed -n 's/^v[0-9][0-9]*\.[0-9][0-9]*~\([0-9][0-9]*\).*/\1/p')
[ -n "$beta" ] || beta=100000
supported=no
if [ -n "$major" ] && [ -n "$minor" ]; then
    if [ "$major" -gt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -gt 70 ]; } ||
       { [ "$major" -eq 3 ] && [ "$minor" -eq 70 ] && [ "$beta" -ge 45 ]; }; then
        supported=yes
    fi
fi
if [ "$supported" != yes ]; then
    echo "gui-v2: Venus OS ${venus:-(unknown version)} has no GUI v2 UI plugins (from v3.70~45 on):" \
         "the dbus-jkbms pages are not installed; the battery still shows in the device list"
    exit 0
fi

python=${PYTHON:-python3}
command -v "$python" >/dev/null 2>&1 || python=/usr/bin/python3
"$python" "$here/make-plugin-json.py" --out "$json" "$@"
mkdir -p "$apps/enabled"
# The app's enable link is the app's (install.sh, enable.sh): made here only when missing.
if [ ! -e "$link" ] && [ ! -L "$link" ]; then
    ln -s "$app_dir" "$link"
    echo "gui-v2: $link -> $app_dir"
fi
echo "gui-v2: dbus-jkbms's GUI v2 pages installed (Settings > Integrations > UI Plugins, and each battery's device page)"
