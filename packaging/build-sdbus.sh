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

# shellcheck source=packaging/deb-src.sh
. packaging/deb-src.sh
jkbms_fetch_source "sdbus-cpp=$VERSION-1" "sdbus-cpp_$VERSION.orig.tar.gz" "$SHA256" "$WORK"

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
