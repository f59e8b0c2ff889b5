# The libraries cleanmix links (Debian packages only), found the same way by the build
# (CMakeLists.txt) and by a downstream find_package(cleanmix) (cleanmixConfig.cmake): the module
# libraries are static, so their private dependencies are link dependencies of every consumer.
include(CleanmixKokkos)
find_package(MPI REQUIRED COMPONENTS C CXX)
set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "cleanmix needs a parallel (MPI-IO) HDF5; found a serial one at "
                      "${HDF5_INCLUDE_DIRS}. On Debian: apt-get install libhdf5-openmpi-dev")
endif()
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Boost 1.74 REQUIRED COMPONENTS serialization)
find_package(simdjson REQUIRED)
find_package(ZLIB REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(fmt REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
# The model tokenizers: PCRE2 (split patterns, with its JIT) and SentencePiece.
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
find_package(zstd QUIET CONFIG)
if(NOT TARGET zstd::libzstd_shared)
  pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
  add_library(zstd::libzstd_shared INTERFACE IMPORTED)
  target_link_libraries(zstd::libzstd_shared INTERFACE PkgConfig::ZSTD)
endif()
