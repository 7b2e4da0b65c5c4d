#!/usr/bin/env bash
# The static dependency tree for the Venus OS cross build of one architecture (see
# ../shared/spec/cross-build.md, sections 2 and 4):
#   - Debian 12's target packages (headers, static archives, CMake and pkg-config files),
#     fetched with `apt-get download <pkg>:<arch>` and unpacked with dpkg-deb -x: the host
#     system is never touched;
#   - a static libsystemd (sd-bus and sd-event only) from Debian's systemd 252 source;
#   - a static sdbus-c++ 2.1.0 from Debian's trixie source.
#
#   packaging/build-venus-deps.sh armhf|arm64 DIR
#
# DIR/deps-<arch> is the tree (VENUS_DEPS_SYSROOT). Cached: a tree built by this very script
# (its checksum is stamped in) is reused at no cost; about 45 s per architecture otherwise.
# Needs crossbuild-essential-<arch>, meson, ninja-build, gperf, python3-jinja2, pkg-config,
# cmake, and the foreign architecture added to dpkg (packaging/venus-build.sh sees to it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ARCH=${1:?usage: build-venus-deps.sh armhf|arm64 DIR}
W=$(realpath -m "${2:?usage: build-venus-deps.sh armhf|arm64 DIR}")
case $ARCH in
    armhf) TRIPLE=arm-linux-gnueabihf; CPU_FAMILY=arm; CPU=armv7
           ARCHFLAGS="'-march=armv7-a', '-mfpu=vfpv3-d16', '-mfloat-abi=hard', " ;;
    arm64) TRIPLE=aarch64-linux-gnu; CPU_FAMILY=aarch64; CPU=armv8-a; ARCHFLAGS="" ;;
    *) echo "build-venus-deps: the architecture is armhf or arm64, not '$ARCH'" >&2; exit 2 ;;
esac

SYSTEMD=252.39
SYSTEMD_SHA256=08a54a6c4d4cf969fc025eaa8922a55d6bc458100c242510b56c96e7d72af1c5
SDBUS=2.1.0
SDBUS_SHA256=6025e5dc6cddd532ff960d14e68ced5f42a1916b23a73fea6bcb437f06992eaf

SR=$W/deps-$ARCH
STAMP="$(sha256sum "$0" packaging/venus-cross.cmake | sha256sum | cut -c1-16) $ARCH"
if [ -f "$SR/.complete" ] && [ "$(cat "$SR/.complete")" = "$STAMP" ]; then
    exit 0
fi

# shellcheck source=packaging/deb-src.sh
. packaging/deb-src.sh
SRC=$W/src
jkbms_fetch_source "systemd=$SYSTEMD-1~deb12u2" "systemd_$SYSTEMD.orig.tar.gz" "$SYSTEMD_SHA256" "$SRC"
jkbms_fetch_source "sdbus-cpp=$SDBUS-1" "sdbus-cpp_$SDBUS.orig.tar.gz" "$SDBUS_SHA256" "$SRC"

echo "== Venus dependency tree for $ARCH in $SR"
rm -rf "$SR" "$W/buildsysroot-$ARCH" "$W/debs-$ARCH"
DEBS=$W/debs-$ARCH
BSR=$W/buildsysroot-$ARCH  # only for configuring systemd
mkdir -p "$DEBS" "$SR" "$BSR"
LOG=$W/build-$ARCH.log
: > "$LOG"

# 1. Target packages. The runtime packages come along because Debian's fmt/spdlog CMake
#    files check that their .so exist (we use both header-only).
PKGS="libboost1.74-dev libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 libgpiod-dev libgpiod2
      libyaml-cpp-dev libyaml-cpp0.7 libcap-dev libcap2"
BUILDONLY="libmount-dev libmount1 libblkid-dev libblkid1 libcrypt-dev libcrypt1 libselinux1-dev
           libpcre2-dev libsepol-dev"
# shellcheck disable=SC2046,SC2086
(cd "$DEBS" && apt-get download -qq $(for p in $PKGS $BUILDONLY; do echo "$p:$ARCH"; done)) >>"$LOG" 2>&1 || {
    echo "build-venus-deps: apt-get download failed (see $LOG)" >&2; exit 1; }
for p in $PKGS; do dpkg-deb -x "$DEBS/${p}"_*_"$ARCH".deb "$SR"; done
for p in $PKGS $BUILDONLY; do dpkg-deb -x "$DEBS/${p}"_*_"$ARCH".deb "$BSR"; done

# 2. Static libsystemd (sd-bus, sd-event) from Debian's systemd source.
rm -rf "$W/systemd-stable-$SYSTEMD"
tar -C "$W" -xzf "$SRC/systemd_$SYSTEMD.orig.tar.gz"
cat > "$W/meson-$ARCH.ini" <<INI
[binaries]
c = '$TRIPLE-gcc'
cpp = '$TRIPLE-g++'
ar = '$TRIPLE-ar'
strip = '$TRIPLE-strip'
pkgconfig = 'pkg-config'
[built-in options]
c_args = [$ARCHFLAGS'-ffunction-sections', '-fdata-sections', '-I$BSR/usr/include']
c_link_args = ['-L$BSR/usr/lib/$TRIPLE']
[host_machine]
system = 'linux'
cpu_family = '$CPU_FAMILY'
cpu = '$CPU'
endian = 'little'
INI
OFF=""
for o in lz4 xz zstd gcrypt selinux apparmor seccomp acl pam libcryptsetup libcurl libidn libidn2 \
    libiptc qrencode gnutls openssl p11kit libfido2 tpm2 elfutils zlib bzip2 blkid kmod polkit microhttpd \
    pwquality audit xkbcommon pcre2 glib dbus tests man html bpf-framework fdisk utmp nss-myhostname \
    nss-mymachines nss-resolve nss-systemd install-tests kernel-install; do
    OFF="$OFF -D$o=false"
done
rm -rf "$W/build-systemd-$ARCH"
# shellcheck disable=SC2086
PKG_CONFIG_SYSROOT_DIR=$BSR PKG_CONFIG_LIBDIR=$BSR/usr/lib/$TRIPLE/pkgconfig \
    meson setup "$W/build-systemd-$ARCH" "$W/systemd-stable-$SYSTEMD" --cross-file "$W/meson-$ARCH.ini" \
    --buildtype=release -Dstatic-libsystemd=pic $OFF >>"$LOG" 2>&1 || {
    echo "build-venus-deps: configuring systemd failed (see $LOG)" >&2; exit 1; }
# version.h first: build.c needs it.
ninja -C "$W/build-systemd-$ARCH" version.h libsystemd.a >>"$LOG" 2>&1 || {
    echo "build-venus-deps: building libsystemd.a failed (see $LOG)" >&2; exit 1; }
P=$SR/usr/local
mkdir -p "$P/include/systemd" "$P/lib/pkgconfig"
cp "$W/systemd-stable-$SYSTEMD"/src/systemd/sd-*.h "$W/systemd-stable-$SYSTEMD"/src/systemd/_sd-common.h \
    "$P/include/systemd/"
cp "$W/build-systemd-$ARCH/libsystemd.a" "$P/lib/"
# prefix=/usr/local, not a host path: PKG_CONFIG_SYSROOT_DIR is put in front of it. The
# extra libraries go in Libs: pkg_check_modules(IMPORTED_TARGET) ignores Libs.private.
cat > "$P/lib/pkgconfig/libsystemd.pc" <<PC
prefix=/usr/local
libdir=\${prefix}/lib
includedir=\${prefix}/include
Name: systemd
Description: libsystemd, static sd-bus/sd-event only (systemd $SYSTEMD source)
Version: 252
Libs: -L\${libdir} -lsystemd -lcap -lrt -pthread
Cflags: -I\${includedir}
PC

# 3. Static sdbus-c++ into the same tree.
rm -rf "$W/sdbus-cpp-$SDBUS" "$W/build-sdbus-$ARCH"
tar -C "$W" -xzf "$SRC/sdbus-cpp_$SDBUS.orig.tar.gz"
VENUS_ARCH=$ARCH VENUS_DEPS_SYSROOT=$SR cmake -S "$W/sdbus-cpp-$SDBUS" -B "$W/build-sdbus-$ARCH" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$ROOT/packaging/venus-cross.cmake" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DSDBUSCPP_BUILD_DOCS=OFF -DSDBUSCPP_SDBUS_LIB=systemd \
    -DCMAKE_INSTALL_PREFIX=/usr/local >>"$LOG" 2>&1 &&
    cmake --build "$W/build-sdbus-$ARCH" >>"$LOG" 2>&1 &&
    DESTDIR=$SR cmake --install "$W/build-sdbus-$ARCH" >>"$LOG" 2>&1 || {
    echo "build-venus-deps: building sdbus-c++ failed (see $LOG)" >&2; exit 1; }

# Only the tree is kept.
rm -rf "$W/systemd-stable-$SYSTEMD" "$W/build-systemd-$ARCH" "$W/sdbus-cpp-$SDBUS" "$W/build-sdbus-$ARCH" "$BSR"
echo "$STAMP" > "$SR/.complete"
