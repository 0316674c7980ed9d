# libopenvswitch 3.1.0 from Debian's openvswitch-source, built once per build
# tree, plus the OVN NB and SB IDLs generated with that tree's ovsdb-idlc.
#
# Debian ships no -dev package for libopenvswitch, and lib/*.h is internal
# API with no stability promise, so we pin the version we build against.

include(ExternalProject)

set(OVS_TARBALL "/usr/src/openvswitch/openvswitch.tar.gz" CACHE FILEPATH
    "openvswitch-source tarball")
set(OVN_SCHEMA_DIR "/usr/share/ovn" CACHE PATH "OVN schema directory")
if(NOT EXISTS "${OVS_TARBALL}")
  message(FATAL_ERROR "${OVS_TARBALL} not found: apt-get install "
                      "openvswitch-source (scripts/install-deps.sh does)")
endif()
find_program(PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)

set(OVS_SRC "${CMAKE_BINARY_DIR}/openvswitch-src")
set(OVS_BUILD "${CMAKE_BINARY_DIR}/openvswitch-build")
set(OVS_LIB "${OVS_BUILD}/lib/.libs/libopenvswitch.a")

include(ProcessorCount)
ProcessorCount(NCPU)
if(NCPU EQUAL 0)
  set(NCPU 2)
endif()

# The archive's timestamps must survive extraction, or make decides the
# autotools outputs are stale and tries to rerun aclocal.
ExternalProject_Add(openvswitch
  URL "${OVS_TARBALL}"
  DOWNLOAD_EXTRACT_TIMESTAMP TRUE
  SOURCE_DIR "${OVS_SRC}"
  BINARY_DIR "${OVS_BUILD}"
  CONFIGURE_COMMAND "${OVS_SRC}/configure" PYTHON3=${PYTHON3}
                    --disable-afxdp --enable-ndebug --disable-libcapng
                    --enable-silent-rules --without-dpdk
                    "CFLAGS=-O2 -g -fPIC"
  BUILD_COMMAND make -j${NCPU} include/odp-netlink.h
                     include/odp-netlink-macros.h lib/ovsdb-server-idl.c
                     lib/ovsdb-server-idl.h lib/vswitch-idl.c
                     lib/vswitch-idl.h
        COMMAND make -j${NCPU} lib/libopenvswitch.la
  INSTALL_COMMAND ""
  BUILD_BYPRODUCTS "${OVS_LIB}"
  LOG_CONFIGURE TRUE
  LOG_BUILD TRUE
  LOG_OUTPUT_ON_FAILURE TRUE)

# OVN's IDLs: annotate the schema, then emit a header and a source with
# the same Python and the same ovsdb-idlc.
set(OVN_IDL_DIR "${CMAKE_BINARY_DIR}/ovn-idl")
file(MAKE_DIRECTORY "${OVN_IDL_DIR}/lib")
set(OVSDB_IDLC ${CMAKE_COMMAND} -E env PYTHONPATH=${OVS_SRC}/python
               ${PYTHON3} ${OVS_SRC}/ovsdb/ovsdb-idlc.in)

function(ovn_lm_idl name prefix schema)
  set(ann "${OVN_IDL_DIR}/${name}.ann")
  file(WRITE "${ann}.tmp"
       "s[\"idlPrefix\"] = \"${prefix}\"\n"
       "s[\"idlHeader\"] = \"\\\"lib/${name}.h\\\"\"\n")
  file(COPY_FILE "${ann}.tmp" "${ann}" ONLY_IF_DIFFERENT)
  set(out "${OVN_IDL_DIR}/lib/${name}")
  add_custom_command(
    OUTPUT "${out}.h" "${out}.c"
    COMMAND ${OVSDB_IDLC} annotate "${schema}" "${ann}" > "${out}.ovsidl"
    COMMAND ${OVSDB_IDLC} c-idl-header "${out}.ovsidl" > "${out}.h.tmp"
    COMMAND ${OVSDB_IDLC} c-idl-source "${out}.ovsidl" > "${out}.c.tmp"
    COMMAND ${CMAKE_COMMAND} -E rename "${out}.h.tmp" "${out}.h"
    COMMAND ${CMAKE_COMMAND} -E rename "${out}.c.tmp" "${out}.c"
    DEPENDS "${schema}" "${ann}" openvswitch
    COMMENT "Generating ${name} from ${schema}"
    VERBATIM)
  set(${name}_SOURCES "${out}.c" PARENT_SCOPE)
endfunction()

ovn_lm_idl(ovn-nb-idl nbrec_ "${OVN_SCHEMA_DIR}/ovn-nb.ovsschema")
ovn_lm_idl(ovn-sb-idl sbrec_ "${OVN_SCHEMA_DIR}/ovn-sb.ovsschema")

# One static library with the generated IDLs; consumers link ovs::ovn-idl
# and get libopenvswitch, its include paths (config.h first) and its
# system dependencies.
add_library(ovs_openvswitch STATIC IMPORTED GLOBAL)
set_target_properties(ovs_openvswitch PROPERTIES IMPORTED_LOCATION "${OVS_LIB}")
add_dependencies(ovs_openvswitch openvswitch)

add_library(ovn_lm_ovs INTERFACE)
target_include_directories(ovn_lm_ovs SYSTEM INTERFACE
  "${OVS_BUILD}" "${OVS_SRC}/include" "${OVS_BUILD}/include"
  "${OVS_SRC}/lib" "${OVN_IDL_DIR}" "${OVN_IDL_DIR}/lib")
target_compile_options(ovn_lm_ovs INTERFACE
  -include "${OVS_BUILD}/config.h")
target_link_libraries(ovn_lm_ovs INTERFACE ovs_openvswitch atomic m ssl crypto
                      pthread)

add_library(ovn_lm_idl STATIC ${ovn-nb-idl_SOURCES} ${ovn-sb-idl_SOURCES})
target_link_libraries(ovn_lm_idl PUBLIC ovn_lm_ovs)
# Generated code: not ours to keep warning-free.
target_compile_options(ovn_lm_idl PRIVATE -w)
add_library(ovs::ovn-idl ALIAS ovn_lm_idl)
