#!/usr/bin/env bash
# Install the Debian packages cleanmix needs, only those missing. Sourced by jobs/local.sh and
# tests/run.sh; also runnable on its own. Needs root (or sudo) when something is missing.
cleanmix_packages=(
  build-essential cmake make pkg-config git ccache
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools libtrilinos-kokkos-dev
  libboost-serialization-dev libgtest-dev libgmock-dev libbenchmark-dev libsimdjson-dev
  libzstd-dev zlib1g-dev libxxhash-dev libutf8proc-dev libcli11-dev libtomlplusplus-dev
  libspdlog-dev libfmt-dev
  clang-14 libclang-rt-14-dev slurm-wlm munge
  zstd gzip xxhash python3 python3-h5py python3-numpy python3-matplotlib clang-format chromium
)

cleanmix_install_deps() {
  local missing=()
  for p in "${cleanmix_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "[deps] all ${#cleanmix_packages[@]} packages present"
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
  local pre
  pre="$(cleanmix_mpi_flags | tr ' ' ';')"
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DMPIEXEC_PREFLAGS=$pre" >/dev/null
  cmake --build "$build" -j "$(nproc)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cleanmix_install_deps
fi
