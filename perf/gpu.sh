#!/usr/bin/env bash
# The one script to run cleanmix on an NVIDIA GPU: build against a CUDA Kokkos, run the kernel
# tests on every backend, benchmark the score kernel on CUDA against OpenMP on all host cores,
# run the whole pipeline on CUDA and on OpenMP, and print the figures as a Markdown table
# (also written to perf/results/gpu.md).
#
#   bash perf/gpu.sh [--kokkos PREFIX] [--arch AMPERE80] [--mb 64] [--teams 32,64,128]
#
# Kokkos: --kokkos PREFIX (or $Kokkos_ROOT) is a site's CUDA-enabled Kokkos install (4.x is
# accepted; it must provide bin/nvcc_wrapper or be used with clang). Without it, the script
# builds Kokkos 3.4 from Debian's trilinos source (scripts/kokkos.sh) with Serial, OpenMP and
# CUDA for --arch (default: from nvidia-smi's compute capability; Kokkos 3.4 knows VOLTA70,
# TURING75, AMPERE80 and AMPERE86; newer GPUs need a site Kokkos 4.x).
#
# What it checks and reports:
#   - the kernel tests on serial, openmp and cuda (Backends.* compares every backend's output
#     with Serial's; on a GPU the comparison is within 1e-12 relative, not bitwise: device
#     log2/exp2 and FMA contraction round differently; the maximum difference is printed);
#   - BM_SignalKernel (signals, + reference LM, + MinHash) in MB/s: CUDA at each team size
#     in --teams, OpenMP at all host cores, Serial;
#   - cleanmix run on a generated corpus of --mb MB with score.backend = "cuda" and "openmp":
#     wall time, the score phase from /timing, and whether the two outputs' digests agree.
#
# This script has not been run on a GPU by the authors (the development machine has none); the
# CUDA path is kept compiling in principle (no host calls, virtual calls or host arrays inside
# kernels). Report what it prints, failures included.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
kokkos="${Kokkos_ROOT:-}"
arch=""
mb=64
teams="32,64,128"
while [ $# -gt 0 ]; do
  case "$1" in
    --kokkos) kokkos="$2"; shift 2 ;;
    --arch) arch="$2"; shift 2 ;;
    --mb) mb="$2"; shift 2 ;;
    --teams) teams="$2"; shift 2 ;;
    -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "gpu.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

command -v nvidia-smi > /dev/null || { echo "gpu.sh: nvidia-smi not found: this machine has no NVIDIA driver" >&2; exit 2; }
gpu="$(nvidia-smi --query-gpu=name,compute_cap,memory.total --format=csv,noheader | head -1)"
echo "[gpu] $gpu"
source "$repo/scripts/deps.sh"
cleanmix_install_deps perf > /dev/null

if [ -z "$kokkos" ]; then
  command -v nvcc > /dev/null || { echo "gpu.sh: nvcc not found (install the CUDA toolkit, or pass --kokkos PREFIX)" >&2; exit 2; }
  if [ -z "$arch" ]; then
    cap="$(echo "$gpu" | awk -F', ' '{print $2}')"
    case "$cap" in
      7.0) arch=VOLTA70 ;; 7.2) arch=VOLTA72 ;; 7.5) arch=TURING75 ;;
      8.0) arch=AMPERE80 ;; 8.6 | 8.7 | 8.9) arch=AMPERE86 ;;
      *) echo "gpu.sh: compute capability $cap is not known to Kokkos 3.4; pass --kokkos with a Kokkos 4.x built for this GPU" >&2; exit 2 ;;
    esac
  fi
  source "$repo/scripts/kokkos.sh"
  kokkos="$(CLEANMIX_KOKKOS_CUDA_ARCH="$arch" cleanmix_kokkos_build_source)"
fi
[ -f "$kokkos/bin/nvcc_wrapper" ] || { echo "gpu.sh: $kokkos/bin/nvcc_wrapper missing (is this a CUDA Kokkos?)" >&2; exit 2; }
echo "[gpu] Kokkos: $kokkos"

build="$repo/build-cuda"
pre="$(cleanmix_mpi_flags | tr ' ' ';')"
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKokkos_ROOT="$kokkos" \
  -DCMAKE_CXX_COMPILER="$kokkos/bin/nvcc_wrapper" "-DMPIEXEC_PREFLAGS=$pre" > "$build.configure.log" 2>&1 ||
  { tail -30 "$build.configure.log"; echo "gpu.sh: configure failed ($build.configure.log)" >&2; exit 1; }
grep -q "backends:.*CUDA" "$build.configure.log" || { grep "backends" "$build.configure.log"; echo "gpu.sh: that Kokkos has no CUDA backend" >&2; exit 1; }
cmake --build "$build" -j "$(nproc --all)" > "$build.build.log" 2>&1 ||
  { grep -m20 -B2 -A6 "error" "$build.build.log"; echo "gpu.sh: build failed ($build.build.log)" >&2; exit 1; }

out="$repo/perf/results"
mkdir -p "$out"
report="$out/gpu.md"
{
  echo "# cleanmix on $gpu ($(date -u +%F))"
  echo
  echo "Kokkos: $kokkos; host: $(nproc --all) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
  echo
} > "$report"

echo "[gpu] kernel tests (serial, openmp, cuda)"
tests_ok=yes
(cd "$build" && ctest -L kernel --output-on-failure > "$out/gpu-kernel-tests.log" 2>&1) || tests_ok=no
{
  echo "## Kernel tests: $tests_ok ($(grep -c ' Passed ' "$out/gpu-kernel-tests.log" || true) passed)"
  grep -h "max relative difference" "$out/gpu-kernel-tests.log" | sort -u | sed 's/^/    /' || true
  echo
} >> "$report"

gen="$build/perf/cleanmix_gen_corpus"
data="$repo/perf/data/${mb}MB"
[ -f "$data/corpus.toml" ] || "$gen" "$data" "$mb" 64 1 >&2
pool="$(ls "$data"/pool-*.jsonl | head -1)"

bench() {  # backend team-size threads -> three MB/s figures (signals, +LM, +LM+MinHash)
  CLEANMIX_BENCH_BACKEND="$1" CLEANMIX_TEAM_SIZE="$2" OMP_NUM_THREADS="$3" OMP_PROC_BIND=false \
    "$build/perf/cleanmix_bench_stages" --benchmark_filter='SignalKernel' --benchmark_min_time=2 \
    --benchmark_repetitions=3 --benchmark_report_aggregates_only=true "$pool" 64 2> /dev/null |
    awk '/_median/ { for (i = 1; i <= NF; i++) if ($i ~ /^bytes_per_second=/) { v = $i; sub(/bytes_per_second=/, "", v); printf "%s ", v } }'
}
{
  echo "## Score kernel (BM_SignalKernel, first 64 MB of $(basename "$pool"), median of 3)"
  echo
  echo "| backend | team size | threads | signals | + reference LM | + MinHash |"
  echo "|---|---|---|---|---|---|"
  read -r a b c <<< "$(bench serial 0 1)"
  echo "| serial | 1 | 1 | $a | $b | $c |"
  read -r a b c <<< "$(bench openmp 0 "$(nproc --all)")"
  echo "| openmp | 1 | $(nproc --all) | $a | $b | $c |"
  for t in ${teams//,/ }; do
    read -r a b c <<< "$(bench cuda "$t" 1)"
    echo "| cuda | $t | – | $a | $b | $c |"
  done
  echo
} >> "$report"

echo "[gpu] whole pipeline, score.backend cuda and openmp"
run_one() {  # backend -> wall seconds; output in $out/gpu-$1.h5
  local t0 t1
  t0="$(date +%s.%N)"
  OMP_NUM_THREADS="$(nproc --all)" OMP_PROC_BIND=false "$build/cleanmix" run "$data/corpus.toml" \
    --set "score.backend=\"$1\"" --set run.checkpoint=false --out "$out/gpu-$1.h5" > "$out/gpu-$1.log" 2>&1
  t1="$(date +%s.%N)"
  echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}'
}
wc_cuda="$(run_one cuda)"
wc_omp="$(run_one openmp)"
d_cuda="$("$build/cleanmix" inspect "$out/gpu-cuda.h5" --digest | md5sum | cut -c1-32)"
d_omp="$("$build/cleanmix" inspect "$out/gpu-openmp.h5" --digest | md5sum | cut -c1-32)"
{
  echo "## Whole pipeline, 1 rank, $mb MB generated corpus"
  echo
  echo "| score.backend | wall s | digest |"
  echo "|---|---|---|"
  echo "| cuda | $wc_cuda | $d_cuda |"
  echo "| openmp ($(nproc --all) threads) | $wc_omp | $d_omp |"
  echo
  if [ "$d_cuda" = "$d_omp" ]; then
    echo "The two outputs are identical (every dataset but /timing)."
  else
    echo "The digests differ: compare the columns with"
    echo "\`/usr/bin/python3 -c \"import h5py,numpy as n; a,b=h5py.File('$out/gpu-cuda.h5'),h5py.File('$out/gpu-openmp.h5'); [print(k, n.nanmax(abs(a['docs'][k][:]-b['docs'][k][:]))) for k in a['docs'] if a['docs'][k].dtype.kind=='f']\"\`"
  fi
  echo "Per-phase times: \`$build/cleanmix inspect $out/gpu-cuda.h5\`."
} >> "$report"
cat "$report"
echo "[gpu] report: $report"
