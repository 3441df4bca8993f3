# The Debian package (scripts/package.sh, README "Install as a Debian
# package"): CPack's DEB generator on the build-deb/ tree, prefix /usr.
#
# What lintian asks of a package that is not in the archive, and where it is:
# - /usr/share/doc/listenq/copyright, machine-readable: contrib/debian/copyright;
# - /usr/share/doc/listenq/changelog.gz (a native version, 0.1.0, has no
#   changelog.Debian.gz): contrib/debian/changelog, whose top entry must be
#   the project version (checked below);
# - man page and changelog gzipped with -9n (no timestamp);
# - a binary built with dpkg-buildflags (scripts/package.sh passes them:
#   fortify, stack protector, relro, bindnow) and stripped as dh_strip does;
# - Depends from dpkg-shlibdeps;
# - the one lintian override, with its reason: contrib/debian/listenq.lintian-overrides.
# No maintainer scripts and no conffiles: the unit is in /usr/lib, nothing is
# in /etc, the service stays disabled until someone enables it, and dpkg -r
# leaves nothing.

# Only the binary in this tree, as in the static one.
set(LISTENQ_TESTS OFF CACHE BOOL "build tests" FORCE)

# dh_strip's way: lintian wants .comment and .note gone too (plain strip,
# CPACK_STRIP_FILES, keeps them). The DWARF stays in build-deb/listenq.debug,
# found through the debuglink.
add_custom_command(TARGET listenq POST_BUILD
  COMMAND ${CMAKE_OBJCOPY} --only-keep-debug listenq listenq.debug
  COMMAND ${CMAKE_STRIP} --remove-section=.comment --remove-section=.note listenq
  COMMAND ${CMAKE_OBJCOPY} --add-gnu-debuglink=listenq.debug listenq
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR} VERBATIM)

set(_deb_dir ${CMAKE_SOURCE_DIR}/contrib/debian)
file(STRINGS ${_deb_dir}/changelog _deb_top LIMIT_COUNT 1)
if(NOT _deb_top MATCHES "^listenq \\(${PROJECT_VERSION}\\) ")
  message(FATAL_ERROR "contrib/debian/changelog starts with '${_deb_top}': "
    "add an entry for the project version, listenq (${PROJECT_VERSION})")
endif()

find_program(GZIP gzip REQUIRED)
set(_deb_gen ${CMAKE_BINARY_DIR}/deb)
foreach(pair "docs/listenq.8:listenq.8.gz" "contrib/debian/changelog:changelog.gz")
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 src)
  list(GET pair 1 gz)
  add_custom_command(OUTPUT ${_deb_gen}/${gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_deb_gen}
    COMMAND ${GZIP} -9nc ${CMAKE_SOURCE_DIR}/${src} > ${_deb_gen}/${gz}
    DEPENDS ${CMAKE_SOURCE_DIR}/${src}
    COMMENT "gzip -9n ${src}")
  list(APPEND _deb_gz ${_deb_gen}/${gz})
endforeach()
add_custom_target(deb_docs ALL DEPENDS ${_deb_gz})
install(FILES ${_deb_gen}/listenq.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${_deb_gen}/changelog.gz ${_deb_dir}/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${_deb_dir}/listenq.lintian-overrides
  DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME listenq)

set(LISTENQ_DEB_MAINTAINER "listenq developers <listenq@example.org>"
  CACHE STRING "the package's Maintainer field")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME listenq)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # listenq_<version>_<arch>.deb
set(CPACK_PACKAGE_CONTACT "${LISTENQ_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "TCP listen queues, backlogs and overflows, read with BPF")
set(CPACK_PACKAGE_DESCRIPTION "\
listenq shows, for every TCP listening socket, what the kernel holds: the
accept queue, the backlog limit after the somaxconn clamp, the SYN queue,
overflows on the SYN and the ACK path, re-listens, and how long connections
wait before accept(). It reads them with a CO-RE BPF program and needs
neither tcp_diag nor /proc/net/tcp, checks what ss and /proc/net/tcp report,
and explains each difference.

listenq export serves Prometheus metrics; the package ships a systemd unit
for it on 127.0.0.1:9464, disabled, and a Grafana dashboard in
/usr/share/doc/listenq/examples.")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
  OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
include(CPack)
