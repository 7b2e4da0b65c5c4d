#!/usr/bin/env bash
# The Venus OS release: fully static dbus-jkbms, jkbms and jkbms-sim for armhf (every GX device
# so far) and arm64 (Raspberry Pi 5 image, AM62x Cerbo GX), stripped, in one tarball with the
# service templates, the default configuration and the install scripts.
#
#   packaging/venus-build.sh [--test]
#
# Installs what it needs with apt (Debian's cross compilers, qemu-user, meson...), builds the
# static dependency trees once per machine (cached in $JKBMS_CACHE, default ~/.cache/dbus-jkbms,
# keyed by the scripts' checksums), builds both architectures in build/venus-<arch>, and writes
# out/dbus-jkbms-<version>-venus.tar.gz and out/venus-data.tar.gz (the same release, installed at
# boot from a USB stick or SD card). --test then runs packaging/venus-test.sh on it: the
# binaries under qemu (Cortex-A8, Cortex-A7, AArch64) against a private dbus-daemon, and the
# install scripts against a scratch root.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${JKBMS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dbus-jkbms}
ARCHS=(armhf arm64)

sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)

setup() {
    local added=0 a
    for a in "${ARCHS[@]}"; do
        if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
            "${sudo[@]}" dpkg --add-architecture "$a"   # for `apt-get download <pkg>:<arch>` only
            added=1
        fi
    done
    local packages=(crossbuild-essential-armhf crossbuild-essential-arm64 qemu-user-static meson
                    ninja-build gperf python3-jinja2 pkg-config cmake dbus file binutils-arm-linux-gnueabihf)
    local missing=() p
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "$added" -eq 1 ] || [ ${#missing[@]} -gt 0 ]; then
        # A foreign architecture's security index may fail on some mirrors: not needed here.
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        echo "== Installing ${missing[*]}"
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
}

triple() { [ "$1" = arm64 ] && echo aarch64-linux-gnu || echo arm-linux-gnueabihf; }

setup
mkdir -p "$CACHE/venus"
for a in "${ARCHS[@]}"; do
    packaging/build-venus-deps.sh "$a" "$CACHE/venus"
    echo "== Building (venus-$a)"
    export VENUS_DEPS_SYSROOT=$CACHE/venus/deps-$a
    cmake --preset "venus-$a" >/dev/null
    cmake --build --preset "venus-$a" --target dbus-jkbms jkbms jkbms-sim
done

version=$(cat build/venus-armhf/VERSION)
name=dbus-jkbms-$version
stage=out/venus/$name
rm -rf out/venus
mkdir -p "$stage/config"
for a in "${ARCHS[@]}"; do
    mkdir -p "$stage/bin/$a"
    for b in dbus-jkbms jkbms jkbms-sim; do
        "$(triple "$a")-strip" -o "$stage/bin/$a/$b" "build/venus-$a/$b"
    done
done
cp -r service "$stage/service"
cp config/default.yaml "$stage/config/default.yaml"
cp packaging/venus/install.sh packaging/venus/uninstall.sh packaging/venus/enable.sh packaging/venus/INSTALL "$stage/"
# The GUI-v2 plugin, when the tree has one.
if [ -d packaging/venus/gui-v2 ]; then
    cp -r packaging/venus/gui-v2 "$stage/gui-v2"
    # install.sh generates the JSON on the GX: a local run's copy (gitignored) is not shipped.
    rm -rf "$stage/gui-v2/dbus-jkbms.json" "$stage/gui-v2/__pycache__"
fi
echo "$version" > "$stage/VERSION"
chmod +x "$stage"/*.sh "$stage"/service/run "$stage"/service/log/run
tar -C out/venus -czf "out/$name-venus.tar.gz" "$name"
# venus-data.tar.gz for a USB stick or SD card: Venus unpacks its rc/ at boot and runs
# rc/pre-hook.sh and rc/post-hook.sh, which install the release in rc/ (INSTALL).
mkdir -p out/venus/venus-data/rc
cp -r "$stage" out/venus/venus-data/rc/
cp packaging/venus/venus-data/pre-hook.sh packaging/venus/venus-data/post-hook.sh out/venus/venus-data/rc/
chmod +x out/venus/venus-data/rc/*.sh
tar -C out/venus/venus-data -czf out/venus-data.tar.gz rc

echo "== out/$name-venus.tar.gz"
for a in "${ARCHS[@]}"; do
    for b in dbus-jkbms jkbms jkbms-sim; do
        printf '   %-6s %-11s %9d bytes  %s\n' "$a" "$b" "$(stat -c %s "$stage/bin/$a/$b")" \
            "$(file -b "$stage/bin/$a/$b" | cut -d, -f1-2,4)"
    done
done
printf '   tarball            %9d bytes\n' "$(stat -c %s "out/$name-venus.tar.gz")"
printf '   venus-data.tar.gz  %9d bytes  (out/venus-data.tar.gz: USB stick / SD card install)\n' "$(stat -c %s out/venus-data.tar.gz)"

if [ "${1:-}" = "--test" ]; then
    packaging/venus-test.sh "$ROOT/$stage" "$ROOT/out/venus-data.tar.gz"
fi
