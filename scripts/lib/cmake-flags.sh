# Sourced by scripts/build.sh, build-static.sh and package.sh: one set of
# compiler flags for the three gcc trees (build/, build-static/, build-deb/),
# Debian's hardening flags (dpkg-buildflags, which the package needs), so
# that with ccache the static and package trees reuse build/'s objects
# instead of compiling everything twice more (test.sh: about 4 minutes of
# the suite's 45 on 2 cores). ccache maps paths under the checkout to
# relative ones (CCACHE_BASEDIR) and leaves the build folder out of the
# hash (CCACHE_NOHASHDIR), so build/ and build-static/ compile alike.
# Sets LQ_CMAKE_FLAGS (an array) and LQ_LDFLAGS; call from the checkout's root.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
LQ_CMAKE_FLAGS=(-DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}")
LQ_LDFLAGS=""
if command -v dpkg-buildflags >/dev/null; then
  LQ_CMAKE_FLAGS+=(
    -DCMAKE_C_FLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS)"
    -DCMAKE_CXX_FLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)")
  LQ_LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
fi
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=true
  LQ_CMAKE_FLAGS+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
