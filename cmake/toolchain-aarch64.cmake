# Cross build for arm64 (scripts/build-static.sh --arch arm64): Debian's
# aarch64-linux-gnu gcc, glibc and libstdc++ (gcc-aarch64-linux-gnu,
# g++-aarch64-linux-gnu), and a sysroot of Debian's arm64 libbpf-dev,
# libelf-dev and zlib1g-dev, with the header-only CLI11 and nlohmann-json,
# unpacked by that script (LISTENQ_SYSROOT). Nothing from the host's
# /usr/include or /usr/lib is searched: the host's headers are x86_64's.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
if(NOT LISTENQ_SYSROOT)
  set(LISTENQ_SYSROOT "$ENV{LISTENQ_SYSROOT}")
endif()
if(NOT IS_DIRECTORY "${LISTENQ_SYSROOT}")
  message(FATAL_ERROR "listenq: the arm64 sysroot '${LISTENQ_SYSROOT}' is not a directory (scripts/build-static.sh --arch arm64 makes it)")
endif()
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES LISTENQ_SYSROOT)
set(CMAKE_FIND_ROOT_PATH "${LISTENQ_SYSROOT}" /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # clang, bpftool: the host's
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(ENV{PKG_CONFIG_LIBDIR} "${LISTENQ_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${LISTENQ_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${LISTENQ_SYSROOT}")
set(ENV{PKG_CONFIG_PATH} "")
