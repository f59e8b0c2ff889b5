# Find Kokkos (>= 3.4; 4.x with OpenMP/CUDA accepted) and repair Debian's broken imported target.
#
# Debian's Kokkos 3.4.01 (Trilinos 13.2) declares Kokkos::kokkos with INTERFACE_INCLUDE_DIRECTORIES
# "<prefix>/include", while the headers live in Kokkos_INCLUDE_DIRS (/usr/include/trilinos). For
# Kokkos < 4 we replace the include directory with the real one and keep it a SYSTEM include so
# that Kokkos' own warnings do not drown ours.
find_package(Kokkos 3.4 REQUIRED)

if(Kokkos_VERSION VERSION_LESS 4.0)
  if(NOT Kokkos_INCLUDE_DIRS)
    message(FATAL_ERROR "cleanmix: Kokkos ${Kokkos_VERSION} found but Kokkos_INCLUDE_DIRS is empty")
  endif()
  get_filename_component(_cm_kokkos_inc "${Kokkos_INCLUDE_DIRS}" REALPATH)
  if(NOT EXISTS "${_cm_kokkos_inc}/Kokkos_Core.hpp")
    message(FATAL_ERROR "cleanmix: Kokkos_Core.hpp not found in ${_cm_kokkos_inc}")
  endif()
  set_target_properties(Kokkos::kokkos PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_cm_kokkos_inc}"
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${_cm_kokkos_inc}")
  message(STATUS "cleanmix: repaired Kokkos::kokkos include path -> ${_cm_kokkos_inc}")
endif()

# Which backends this Kokkos enables; tests are compiled once per enabled backend.
set(CLEANMIX_KOKKOS_BACKENDS "")
foreach(_cm_be SERIAL OPENMP CUDA HIP)
  set(_cm_found OFF)
  if(Kokkos_VERSION VERSION_LESS 4.0)
    file(READ "${_cm_kokkos_inc}/KokkosCore_config.h" _cm_cfg)
    if(_cm_cfg MATCHES "#define KOKKOS_ENABLE_${_cm_be}[ \n]")
      set(_cm_found ON)
    endif()
  else()
    kokkos_check(DEVICES ${_cm_be} RESULT_VARIABLE _cm_found)
  endif()
  if(_cm_found)
    list(APPEND CLEANMIX_KOKKOS_BACKENDS ${_cm_be})
  endif()
endforeach()
message(STATUS "cleanmix: Kokkos ${Kokkos_VERSION}, backends: ${CLEANMIX_KOKKOS_BACKENDS}")
