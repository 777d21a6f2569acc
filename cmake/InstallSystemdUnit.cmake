# Runs at install time (cmake --install, cpack): installs deploy/systemd/synfin.service with
# its ExecStart naming the binary where this install puts it. Debian 12 keeps packaged units in
# /lib/systemd/system; under any other prefix PREFIX/lib/systemd/system, which systemd also
# searches for /usr/local.
if(IS_ABSOLUTE "${SYNFIN_BINDIR}")
  set(binary "${SYNFIN_BINDIR}/synfin")
else()
  set(binary "${CMAKE_INSTALL_PREFIX}/${SYNFIN_BINDIR}/synfin")
endif()
if(SYNFIN_SYSTEMD_UNIT_DIR)
  set(unit_dir "${SYNFIN_SYSTEMD_UNIT_DIR}")
elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(unit_dir /lib/systemd/system)
else()
  set(unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()

file(READ "${SYNFIN_UNIT_SOURCE}" unit)
set(exec_start "\nExecStart=[^ \n]*/synfin ")
if(NOT unit MATCHES "${exec_start}")
  message(FATAL_ERROR "${SYNFIN_UNIT_SOURCE}: no `ExecStart=/path/to/synfin ...` line to point at ${binary}")
endif()
string(REGEX REPLACE "${exec_start}" "\nExecStart=${binary} " unit "${unit}")
file(WRITE "${SYNFIN_UNIT_STAGING}/synfin.service" "${unit}")
file(INSTALL DESTINATION "${unit_dir}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${SYNFIN_UNIT_STAGING}/synfin.service")
