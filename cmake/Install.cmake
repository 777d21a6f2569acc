# Where `cmake --install` puts synfin (GNU layout under CMAKE_INSTALL_PREFIX, /usr/local by
# default), and the Debian package `cpack -G DEB` builds from the same rules (prefix /usr):
#   bin/synfin                                    the binary (BPF programs embedded)
#   lib/systemd/system/synfin.service             /lib/systemd/system for prefix /usr (Debian 12)
#   share/man/man1/synfin.1.gz                    from --help of every subcommand
#   share/bash-completion/completions/synfin
#   share/synfin/prometheus/, share/synfin/grafana/   alert rules, scrape config, dashboard
#   share/doc/synfin/                             README, docs/ and copyright (DEP-5)
include(GNUInstallDirs)

install(TARGETS synfin RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The unit's ExecStart must name the installed binary, and the prefix is only known when the
# install runs (`cmake --install build --prefix DIR`, cpack's /usr): cmake/InstallSystemdUnit.cmake
# rewrites and places it then. -DSYNFIN_SYSTEMD_UNIT_DIR=DIR overrides where it goes.
set(SYNFIN_SYSTEMD_UNIT_DIR "" CACHE PATH
    "Where the systemd unit goes (empty: /lib/systemd/system for prefix /usr, else PREFIX/lib/systemd/system)")
install(CODE "
  set(SYNFIN_UNIT_SOURCE \"${CMAKE_SOURCE_DIR}/deploy/systemd/synfin.service\")
  set(SYNFIN_UNIT_STAGING \"${CMAKE_BINARY_DIR}/install-staging\")
  set(SYNFIN_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(SYNFIN_SYSTEMD_UNIT_DIR \"${SYNFIN_SYSTEMD_UNIT_DIR}\")")
install(SCRIPT ${CMAKE_SOURCE_DIR}/cmake/InstallSystemdUnit.cmake)

install(FILES ${CMAKE_SOURCE_DIR}/deploy/prometheus/synfin-rules.yml
              ${CMAKE_SOURCE_DIR}/deploy/prometheus/prometheus.yml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/synfin/prometheus)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/grafana/synfin-dashboard.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/synfin/grafana)
install(FILES ${CMAKE_SOURCE_DIR}/contrib/bash-completion/synfin
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
# Debian's machine-readable copyright file (DEP-5): share/doc/synfin/copyright.
install(FILES ${CMAKE_SOURCE_DIR}/deploy/debian/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)

# The man page, generated from the built binary's --help (every subcommand's included), so it
# cannot say anything --help does not. Compressed as Debian's policy wants (gzip -9n).
find_program(GZIP gzip REQUIRED)
set(MAN_PAGE ${CMAKE_BINARY_DIR}/man/synfin.1)
add_custom_command(
  OUTPUT ${MAN_PAGE}.gz
  COMMAND ${CMAKE_COMMAND} -DSYNFIN=$<TARGET_FILE:synfin> -DOUTPUT=${MAN_PAGE}
          -P ${CMAKE_SOURCE_DIR}/cmake/ManPage.cmake
  COMMAND ${GZIP} -9nkf ${MAN_PAGE}
  DEPENDS synfin ${CMAKE_SOURCE_DIR}/cmake/ManPage.cmake
  COMMENT "Generating the man page synfin.1 from --help"
  VERBATIM)
add_custom_target(synfin_man ALL DEPENDS ${MAN_PAGE}.gz)
install(FILES ${MAN_PAGE}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# The Debian package. Dependencies are what the binary links, found by dpkg-shlibdeps (libbpf1,
# libxdp1, libfmt9, libcpp-httplib0.11, zlib1g, ...; libelf1 comes through libbpf1). The
# maintainer scripts start and enable nothing: `systemctl enable --now synfin` is the user's call.
set(SYNFIN_PACKAGE_MAINTAINER "synfin maintainers <maintainers@users.noreply.h-seed-62aedf79.example>"
    CACHE STRING "The Debian package's Maintainer field")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME synfin)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${SYNFIN_PACKAGE_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "TCP connection tracer: state machine checks, stuck sockets, TIME_WAIT, Prometheus")
set(CPACK_PACKAGE_DESCRIPTION "\
synfin watches every TCP connection through the kernel's TCP tracepoints (eBPF),
rebuilds each connection's state sequence, checks it against the TCP state machine,
finds sockets stuck in CLOSE_WAIT and the process that owns them, tracks TIME_WAIT
towards port exhaustion and exports it all to Prometheus. `synfin trace` streams JSON
lines. `synfin daemon` (synfin.service, not enabled on install) serves /metrics, an
HTTP API and a web page. Needs a kernel with BTF.")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE https://github.com/synfin/synfin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_SOURCE_DIR}/deploy/debian/postinst
    ${CMAKE_SOURCE_DIR}/deploy/debian/prerm ${CMAKE_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_STRIP_FILES TRUE)
# Files go under /usr, the unit under /lib/systemd/system: absolute destinations need DESTDIR
# staging, which also makes the install-time prefix /usr (not a staging path) for the unit.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON)
include(CPack)
