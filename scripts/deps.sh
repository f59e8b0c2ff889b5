#!/usr/bin/env bash
# Install the Debian packages cleanmix needs, only those missing (apt-get update runs only when
# something is missing). Needs root (or sudo) when something is missing.
#   bash scripts/deps.sh            build + runtime: build the default tree (library, cleanmix,
#                                   tests and perf programs) and run `cleanmix run|inspect|report`
#   bash scripts/deps.sh test       build + runtime + what the test suite alone uses (tests/run.sh)
#   bash scripts/deps.sh perf       build + runtime + what perf/*.sh and the micro-benchmarks use
#   bash scripts/deps.sh all        all of the above
#   bash scripts/deps.sh --list [GROUP...]   print the packages of those groups, install nothing
# Sourced by jobs/local.sh (cleanmix_install_deps), tests/run.sh (cleanmix_install_deps test),
# tests/sanitize.sh and perf/common.sh.

# Building and running: compilers, CMake, MPI, parallel HDF5, Kokkos and the libraries
# CMakeLists.txt finds REQUIRED; gtest because the tests are built by default
# (CLEANMIX_BUILD_TESTS=ON); hdf5-tools for h5dump; python3 + h5py/numpy/matplotlib for
# `cleanmix report` (scripts/report.py).
cleanmix_build_packages=(
  build-essential cmake make pkg-config ccache
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools libtrilinos-kokkos-dev
  libboost-serialization-dev libsimdjson-dev libzstd-dev zlib1g-dev libxxhash-dev
  libutf8proc-dev libpcre2-dev libsentencepiece-dev libcli11-dev libtomlplusplus-dev libfmt-dev libgtest-dev
  python3 python3-h5py python3-numpy python3-matplotlib
)
# Only the tests use these: clang + compiler-rt (tests/fuzz, libFuzzer + ASan/UBSan), Slurm +
# munge (e2e.slurm, e2e.cluster), iproute2 and util-linux (ip netns, nsenter, unshare: the
# namespaced nodes of e2e.cluster), chromium (e2e.report screenshot), clang-format (style.clang_format),
# clang-tidy + clang's own omp.h (check_tidy.sh: the sources and Kokkos' OpenMP backend include
# <omp.h>, which clang does not take from GCC), the zstd, gzip and xxhsum CLIs (e2e failures/sample/
# materialize), git (check_format.sh lists the tree with git ls-files), gmock (no test uses it
# yet), benchmark (compiles perf/bench_stages.cpp, which CMake skips without it), sentencepiece
# (spm_train/spm_encode: the reference for kind = "sentencepiece") and nodejs (runs the npm
# reference tokenizers tests/tokenizers/fetch.sh installs into a cache; it needs npm too, which
# Debian packages separately and NodeSource's nodejs bundles: fetch.sh installs it when missing).
cleanmix_test_packages=(
  clang-14 libclang-rt-14-dev slurm-wlm munge iproute2 util-linux chromium clang-format
  clang-tidy libomp-14-dev zstd gzip xxhash git libgmock-dev libbenchmark-dev sentencepiece nodejs
)
# perf/*.sh do their arithmetic with bc; cleanmix_bench_stages needs Google Benchmark.
cleanmix_perf_packages=(bc libbenchmark-dev sentencepiece nodejs)

# cleanmix_dep_packages [build|test|perf|all]...: the packages of those groups (build is always
# included), one per line, without duplicates.
cleanmix_dep_packages() {
  local groups=(build) g p
  for g in "$@"; do
    case "$g" in
      build) ;;
      test | perf) groups+=("$g") ;;
      all) groups+=(test perf) ;;
      *) echo "[deps] unknown package group '$g' (build, test, perf, all)" >&2; return 2 ;;
    esac
  done
  local -A seen=()
  local list=()
  for g in "${groups[@]}"; do
    case "$g" in
      build) list=("${cleanmix_build_packages[@]}") ;;
      test) list=("${cleanmix_test_packages[@]}") ;;
      perf) list=("${cleanmix_perf_packages[@]}") ;;
    esac
    for p in "${list[@]}"; do
      [ -n "${seen[$p]:-}" ] && continue
      seen[$p]=1
      echo "$p"
    done
  done
}

# cleanmix_install_deps [build|test|perf|all]...: install the missing packages of those groups.
# No argument: build + runtime only.
cleanmix_install_deps() {
  local pkgs want=() missing=() p
  pkgs="$(cleanmix_dep_packages "$@")" || return 2
  mapfile -t want <<< "$pkgs"
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "[deps] all ${#want[@]} packages present (${*:-build})"
    return 0
  fi
  echo "[deps] installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# mpirun flags for this machine: root needs --allow-run-as-root; more ranks than cores need
# --oversubscribe (harmless otherwise).
cleanmix_mpi_flags() {
  local f="--oversubscribe"
  [ "$(id -u)" -eq 0 ] && f="--allow-run-as-root $f"
  echo "$f"
}

# Configure and build into $1 (default: <repo>/build).
cleanmix_build() {
  local repo build
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  build="${1:-$repo/build}"
  local pre kroot kargs=()
  pre="$(cleanmix_mpi_flags | tr ' ' ';')"
  # Kokkos: Serial + OpenMP from Debian's trilinos source (scripts/kokkos.sh, built once into a
  # cache), unless CLEANMIX_KOKKOS says otherwise. If that build cannot be made (no network to
  # the archive the first time), fall back to Debian's Serial-only binary package, loudly.
  source "$repo/scripts/kokkos.sh"
  if kroot="$(cleanmix_kokkos_root)"; then
    [ -n "$kroot" ] && kargs=("-DKokkos_ROOT=$kroot")
  elif [ "${CLEANMIX_KOKKOS:-source}" = source ]; then
    echo "[deps] WARNING: the Serial+OpenMP Kokkos could not be built; using Debian's Serial-only" \
         "libtrilinos-kokkos-dev (no threaded kernels; tests for OpenMP are not built)" >&2
  else
    return 1
  fi
  # Kokkos_DIR is cached: drop it (in the same configure) when the Kokkos asked for changed.
  local unset=() stamp="$build/.cleanmix-kokkos-root"
  if [ -f "$build/CMakeCache.txt" ] && [ "$(cat "$stamp" 2>/dev/null)" != "${kroot:-debian}" ]; then
    unset=(-U Kokkos_DIR -U 'Kokkos*_DIR')
  fi
  cmake "${unset[@]}" -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DMPIEXEC_PREFLAGS=$pre" "${kargs[@]}" >/dev/null
  echo "${kroot:-debian}" > "$stamp"
  cmake --build "$build" -j "$(nproc)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  if [ "${1:-}" = --list ]; then
    shift
    cleanmix_dep_packages "$@"
  else
    cleanmix_install_deps "$@"
  fi
fi
