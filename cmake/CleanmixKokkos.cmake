# Find Kokkos (>= 3.4): the Serial+OpenMP build scripts/kokkos.sh makes from Debian's trilinos
# source package (cleanmix_build passes its prefix as Kokkos_ROOT), a site's Kokkos 4.x with
# OpenMP/CUDA/HIP through Kokkos_ROOT, or Debian's binary libtrilinos-kokkos-dev (Serial only).
#
# Debian's binary package declares Kokkos::kokkos with INTERFACE_INCLUDE_DIRECTORIES
# "<prefix>/include" while the headers live in Kokkos_INCLUDE_DIRS (/usr/include/trilinos). When the
# target's include directory lacks Kokkos_Core.hpp we point it at the real one, as a SYSTEM
# include so that Kokkos' own warnings do not drown ours. A standalone build needs no repair.
find_package(Kokkos 3.4 REQUIRED)

get_target_property(_cm_kokkos_iface Kokkos::kokkos INTERFACE_INCLUDE_DIRECTORIES)
set(_cm_kokkos_inc "")
foreach(_cm_dir ${_cm_kokkos_iface} ${Kokkos_INCLUDE_DIRS})
  if(NOT _cm_kokkos_inc AND NOT _cm_dir MATCHES "\\$<" AND EXISTS "${_cm_dir}/Kokkos_Core.hpp")
    get_filename_component(_cm_kokkos_inc "${_cm_dir}" REALPATH)
  endif()
endforeach()
if(NOT _cm_kokkos_inc)
  message(FATAL_ERROR "cleanmix: Kokkos ${Kokkos_VERSION} found (${Kokkos_DIR}) but no include "
                      "directory of Kokkos::kokkos or Kokkos_INCLUDE_DIRS holds Kokkos_Core.hpp")
endif()
set(_cm_repair ON)
foreach(_cm_dir ${_cm_kokkos_iface})
  if(NOT _cm_dir MATCHES "\\$<" AND EXISTS "${_cm_dir}/Kokkos_Core.hpp")
    set(_cm_repair OFF)
  endif()
endforeach()
if(_cm_repair)
  set_target_properties(Kokkos::kokkos PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_cm_kokkos_inc}"
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${_cm_kokkos_inc}")
  message(STATUS "cleanmix: repaired Kokkos::kokkos include path -> ${_cm_kokkos_inc}")
endif()

# Which backends this Kokkos enables (every KokkosConfig.cmake, 3.x and 4.x, sets
# Kokkos_DEVICES); tests are compiled once per enabled backend.
set(CLEANMIX_KOKKOS_BACKENDS "")
foreach(_cm_be SERIAL OPENMP CUDA HIP)
  if(_cm_be IN_LIST Kokkos_DEVICES)
    list(APPEND CLEANMIX_KOKKOS_BACKENDS ${_cm_be})
  endif()
endforeach()
if(NOT CLEANMIX_KOKKOS_BACKENDS)
  message(FATAL_ERROR "cleanmix: Kokkos at ${Kokkos_DIR} enables none of SERIAL OPENMP CUDA HIP "
                      "(Kokkos_DEVICES: ${Kokkos_DEVICES})")
endif()
message(STATUS "cleanmix: Kokkos ${Kokkos_VERSION} (${Kokkos_DIR}), backends: ${CLEANMIX_KOKKOS_BACKENDS}")
