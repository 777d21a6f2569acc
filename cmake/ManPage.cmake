# cmake -DSYNFIN=binary -DOUTPUT=synfin.1 -P ManPage.cmake
# The man page from the binary itself: `synfin --help` as the description and every
# subcommand's --help as a COMMANDS section, verbatim, so the page says exactly what --help says
# and cannot drift from it. (help2man would reflow CLI11's multi-line subcommand listing into a
# broken option list, hence this small generator.) The date honours SOURCE_DATE_EPOCH.
function(run_synfin out)
  execute_process(COMMAND ${SYNFIN} ${ARGN} OUTPUT_VARIABLE text RESULT_VARIABLE failed)
  if(failed)
    message(FATAL_ERROR "`${SYNFIN} ${ARGN}` failed")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# Text shown as is (.nf): backslashes escaped, non-ASCII dashes named, and a line starting with
# a control character ('.' or ') kept from being read as a request.
function(roff_verbatim text out)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REPLACE "—" "\\(em" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

run_synfin(version --version)
string(STRIP "${version}" version)
run_synfin(help --help)
string(REGEX MATCH "\nSubcommands:\n.*" listing "${help}")
string(REGEX MATCHALL "\n  [a-z]+ " names "${listing}")
if(NOT names)
  message(FATAL_ERROR "no subcommands in `${SYNFIN} --help`")
endif()
string(TIMESTAMP date "%Y-%m-%d" UTC)

roff_verbatim("${help}" help)
set(page ".\\\" Generated from `synfin --help` by cmake/ManPage.cmake: do not edit.
.TH SYNFIN 1 \"${date}\" \"${version}\" \"User Commands\"
.SH NAME
synfin \\- TCP connection tracer
.SH SYNOPSIS
.B synfin
\\fICOMMAND\\fR [\\fIOPTIONS\\fR]
.br
.B synfin \\-\\-version
.SH DESCRIPTION
.nf
${help}.fi
.SH COMMANDS
")
foreach(name ${names})
  string(STRIP "${name}" name)
  run_synfin(command_help ${name} --help)
  roff_verbatim("${command_help}" command_help)
  string(APPEND page ".SS \"synfin ${name}\"\n.nf\n${command_help}.fi\n")
endforeach()
string(APPEND page [=[
.SH EXIT STATUS
0 on success. 1 when synfin cannot do what was asked, with one line on standard error saying
why. A command line it cannot parse exits non-zero (CLI11's codes, above 100) after saying what
is wrong.
.SH FILES
.TP
.I synfin.service
The systemd unit running \fBsynfin daemon\fR on 127.0.0.1:9847 with only the capabilities it
needs (in /lib/systemd/system from the Debian package). Not enabled on install:
\fBsystemctl enable \-\-now synfin\fR.
.TP
.I share/synfin/prometheus/synfin\-rules.yml
Prometheus alert rules; \fIprometheus.yml\fR beside it is a scrape configuration
(/usr/share/synfin from the Debian package).
.TP
.I share/synfin/grafana/synfin\-dashboard.json
A Grafana dashboard over a Prometheus data source.
.SH SEE ALSO
.BR ss (8),
.BR bpftool (8),
.BR prometheus (1),
.BR systemctl (1)
]=])
file(CONFIGURE OUTPUT ${OUTPUT} CONTENT "${page}" @ONLY)
