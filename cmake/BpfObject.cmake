# bpf_object(NAME SOURCE HEADERS...) compiles SOURCE with clang for the bpf target (CO-RE),
# generates a libbpf skeleton with bpftool, and defines an INTERFACE target NAME_skel whose
# include path holds NAME.skel.h. Every header the BPF object includes is a dependency, so a
# header change rebuilds the object and the skeleton.
# Any clang from 11 on compiles CO-RE BPF with BTF; the newest one installed is preferred.
set(_bpf_clang_names clang)
foreach(version RANGE 20 11 -1)
  list(APPEND _bpf_clang_names clang-${version})
endforeach()
find_program(BPF_CLANG NAMES ${_bpf_clang_names} REQUIRED)
execute_process(COMMAND ${BPF_CLANG} --version OUTPUT_VARIABLE _bpf_clang_version_text)
string(REGEX MATCH "version ([0-9]+)" _ "${_bpf_clang_version_text}")
if(CMAKE_MATCH_1 AND CMAKE_MATCH_1 LESS 11)
  message(FATAL_ERROR "${BPF_CLANG} is clang ${CMAKE_MATCH_1}; BPF CO-RE needs clang 11 or newer")
endif()
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

set(SYNFIN_VMLINUX_H "" CACHE FILEPATH
    "Use this vmlinux.h instead of generating one from /sys/kernel/btf/vmlinux")
set(BPF_GENERATED_DIR ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${BPF_GENERATED_DIR})

if(SYNFIN_VMLINUX_H)
  configure_file(${SYNFIN_VMLINUX_H} ${BPF_GENERATED_DIR}/vmlinux.h COPYONLY)
else()
  if(NOT EXISTS /sys/kernel/btf/vmlinux)
    message(FATAL_ERROR "/sys/kernel/btf/vmlinux is missing: this kernel has no BTF. "
                        "Build on a kernel with CONFIG_DEBUG_INFO_BTF=y or pass -DSYNFIN_VMLINUX_H=path")
  endif()
  # Written aside and renamed: a compile never reads a half-written header.
  add_custom_command(
    OUTPUT ${BPF_GENERATED_DIR}/vmlinux.h
    COMMAND ${BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c > ${BPF_GENERATED_DIR}/vmlinux.h.part
    COMMAND ${CMAKE_COMMAND} -E rename ${BPF_GENERATED_DIR}/vmlinux.h.part ${BPF_GENERATED_DIR}/vmlinux.h
    COMMENT "Generating vmlinux.h from the running kernel's BTF"
    VERBATIM)
endif()
# One target makes the header before any BPF object is compiled. Without it, every object's
# target carried its own copy of the rule, and two of them building at once (-j2) rewrote the
# header while the other's clang parsed it (seen: clang crashing in vmlinux.h).
add_custom_target(synfin_vmlinux_h DEPENDS ${BPF_GENERATED_DIR}/vmlinux.h)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(BPF_TARGET_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(BPF_TARGET_ARCH arm64)
else()
  set(BPF_TARGET_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

function(bpf_object name source)
  set(headers ${ARGN})
  set(object ${BPF_GENERATED_DIR}/${name}.bpf.o)
  set(skeleton ${BPF_GENERATED_DIR}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${object}
    COMMAND ${BPF_CLANG} -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_${BPF_TARGET_ARCH}
            -I${BPF_GENERATED_DIR} -I${CMAKE_SOURCE_DIR}/include -I${CMAKE_SOURCE_DIR}/bpf
            -c ${source} -o ${object}
    DEPENDS ${source} ${headers} ${BPF_GENERATED_DIR}/vmlinux.h
    COMMENT "Compiling BPF object ${name}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skeleton}
    COMMAND ${BPFTOOL} gen skeleton ${object} name ${name} > ${skeleton}
    DEPENDS ${object}
    COMMENT "Generating BPF skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skeleton})
  add_dependencies(${name}_skel_gen synfin_vmlinux_h)
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${BPF_GENERATED_DIR})
endfunction()
