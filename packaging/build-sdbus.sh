#!/usr/bin/env bash
# Builds sdbus-c++ 2.1.0 (static, PIC) from Debian's source package into a prefix inside the
# build tree, linked against Debian's libsystemd. Cached: a finished prefix is reused at no
# cost. Debian 12 ships only sdbus-c++ 1.2.0, whose API is not the 2.x one we use.
#
#   packaging/build-sdbus.sh [PREFIX]     (default: build/deps/sdbus-c++-2.1.0)
#
# The source comes from Debian's trixie source index (deb-src entry derived from this
# machine's own apt sources); its checksum is the one in Debian's Sources index.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=2.1.0
SHA256=6025e5dc6cddd532ff960d14e68ced5f42a1916b23a73fea6bcb437f06992eaf
PREFIX=$(realpath -m "${1:-build/deps/sdbus-c++-$VERSION}")
WORK=$(realpath -m build/deps/src)
TARBALL=$WORK/sdbus-cpp_$VERSION.orig.tar.gz

if [ -f "$PREFIX/.complete" ]; then
    exit 0
fi

sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)

add_deb_src() {
    local list=/etc/apt/sources.list.d/jkbms-deb-src.sources uri=""
    [ -f "$list" ] && return 0
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1=="deb" && $0 ~ /bookworm/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
    fi
    if [ -z "$uri" ]; then
        echo "build-sdbus: cannot find this machine's Debian mirror in its apt sources" >&2
        exit 1
    fi
    echo "== Adding a deb-src entry for trixie (sdbus-cpp $VERSION source) from this machine's mirror"
    printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uri" | "${sudo[@]}" tee "$list" >/dev/null
    "${sudo[@]}" apt-get update -qq
}

mkdir -p "$WORK"
if ! echo "$SHA256  $TARBALL" | sha256sum -c --status 2>/dev/null; then
    add_deb_src
    echo "== Fetching the sdbus-cpp $VERSION source"
    # Only the .orig.tar.gz is needed; some mirrors lack the .dsc / .debian.tar.xz, so a
    # failure of the rest is tolerated and the tarball's checksum decides.
    (cd "$WORK" && apt-get source --download-only -qq "sdbus-cpp=$VERSION-1" >/dev/null 2>&1 || true)
    if ! echo "$SHA256  $TARBALL" | sha256sum -c --status; then
        echo "build-sdbus: sdbus-cpp_$VERSION.orig.tar.gz missing or with a wrong checksum" >&2
        exit 1
    fi
fi

echo "== Building sdbus-c++ $VERSION into $PREFIX"
rm -rf "$WORK/sdbus-cpp-$VERSION" "$WORK/build-sdbus"
tar -C "$WORK" -xzf "$TARBALL"
cmake -S "$WORK/sdbus-cpp-$VERSION" -B "$WORK/build-sdbus" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DSDBUSCPP_BUILD_DOCS=OFF \
    -DSDBUSCPP_SDBUS_LIB=systemd -DCMAKE_INSTALL_PREFIX="$PREFIX" >/dev/null
cmake --build "$WORK/build-sdbus" >/dev/null
cmake --install "$WORK/build-sdbus" >/dev/null
rm -rf "$WORK/sdbus-cpp-$VERSION" "$WORK/build-sdbus"
touch "$PREFIX/.complete"
