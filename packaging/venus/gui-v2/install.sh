#!/bin/sh
# Installs (or removes) dbus-jkbms's GUI v2 pages on a GX device. Run from the app's copy of
# this directory: /data/apps/available/dbus-jkbms/gui-v2/install.sh [--version V] | --remove
#
#   - Venus OS older than v3.70~45 (no UI plugins in gui-v2): says so, changes nothing, exit 0.
#   - Otherwise: writes gui-v2/dbus-jkbms.json (make-plugin-json.py, python3 of the GX) and
#     links /data/apps/enabled/<app> to the app directory. gui-v2 watches that directory and
#     loads the pages without a restart.
#   --remove: deletes the JSON and the link (if it is ours).
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
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$app_dir" ]; then rm -f "$link"; fi
    echo "gui-v2: dbus-jkbms's GUI v2 pages removed"
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

python3 "$here/make-plugin-json.py" --out "$json" "$@"
mkdir -p "$apps/enabled"
if [ -L "$link" ] || [ ! -e "$link" ]; then
    ln -sfn "$app_dir" "$link"
    echo "gui-v2: $link -> $app_dir"
else
    echo "gui-v2: $link exists and is not a link; left alone" >&2
fi
echo "gui-v2: dbus-jkbms's GUI v2 pages installed (Settings > Integrations > UI Plugins, and each battery's device page)"
