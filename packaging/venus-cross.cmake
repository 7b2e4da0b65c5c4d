# CMake toolchain file: a fully static dbus-jkbms for Venus OS (Victron GX devices), built on
# Debian 12 with Debian's cross compilers (crossbuild-essential-armhf / -arm64).
# packaging/venus-build.sh sets everything up; the venus-armhf / venus-arm64 presets use it.
#
#   VENUS_ARCH          armhf: 32-bit ARMv7 hard-float, every GX device so far. Debian's
#                       baseline flags (-march=armv7-a -mfpu=vfpv3-d16): Cortex-A7 tuning
#                       (sdiv/udiv, VFPv4) raises SIGILL on the Cortex-A8/A9 GX devices.
#                       arm64: the Raspberry Pi 5 image and the AM62x Cerbo GX.
#   VENUS_DEPS_SYSROOT  the target .debs of the dependencies unpacked with dpkg-deb -x, with
#                       our static libsystemd and sdbus-c++ in its usr/local
#                       (packaging/build-venus-deps.sh). libc and libstdc++ come from the
#                       cross toolchain. Both may also come from the environment.

foreach(_v VENUS_ARCH VENUS_DEPS_SYSROOT)
  if(NOT DEFINED ${_v} AND DEFINED ENV{${_v}})
    set(${_v} "$ENV{${_v}}")
  endif()
endforeach()
# try_compile() projects read this file again: hand the variables on.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES VENUS_ARCH VENUS_DEPS_SYSROOT)
if(NOT VENUS_ARCH)
  set(VENUS_ARCH armhf)
endif()
if(NOT VENUS_DEPS_SYSROOT)
  message(FATAL_ERROR "Set VENUS_DEPS_SYSROOT to the ${VENUS_ARCH} dependency tree (packaging/build-venus-deps.sh)")
endif()

set(CMAKE_SYSTEM_NAME Linux)
if(VENUS_ARCH STREQUAL "arm64")
  set(CMAKE_SYSTEM_PROCESSOR aarch64)
  set(VENUS_TRIPLE aarch64-linux-gnu)
  set(_arch "")
  set(_qemu qemu-aarch64-static qemu-aarch64)
elseif(VENUS_ARCH STREQUAL "armhf")
  set(CMAKE_SYSTEM_PROCESSOR arm)
  set(VENUS_TRIPLE arm-linux-gnueabihf)
  set(_arch "-march=armv7-a -mfpu=vfpv3-d16 -mfloat-abi=hard")
  set(_qemu qemu-arm-static qemu-arm)
else()
  message(FATAL_ERROR "VENUS_ARCH must be armhf or arm64, not '${VENUS_ARCH}'")
endif()
set(CMAKE_LIBRARY_ARCHITECTURE ${VENUS_TRIPLE})
set(CMAKE_C_COMPILER ${VENUS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${VENUS_TRIPLE}-g++)
set(CMAKE_C_FLAGS_INIT "${_arch}")
set(CMAKE_CXX_FLAGS_INIT "${_arch} -ffunction-sections -fdata-sections")
# Everything linked in: no PT_INTERP, no NEEDED, so any Venus release's glibc will do.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -Wl,--gc-sections")

# Target files only from the deps tree and the cross toolchain; programs from the build host.
set(CMAKE_FIND_ROOT_PATH ${VENUS_DEPS_SYSROOT} /usr/${VENUS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config: only the target's .pc files (prefix=/usr or /usr/local, mapped into the tree);
# usr/local first, so our static libsystemd wins.
set(_lib ${VENUS_DEPS_SYSROOT}/usr/lib/${VENUS_TRIPLE})
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${VENUS_DEPS_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR}
    "${VENUS_DEPS_SYSROOT}/usr/local/lib/pkgconfig:${_lib}/pkgconfig:${VENUS_DEPS_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Cross-built programs (try_run, tests) run through qemu-user.
find_program(VENUS_QEMU NAMES ${_qemu})
if(VENUS_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${VENUS_QEMU} -L /usr/${VENUS_TRIPLE})
endif()
set(JKBMS_VENUS ON)
