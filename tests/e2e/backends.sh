#!/usr/bin/env bash
# The sample corpus on every enabled host backend, thread count and several rank counts:
# score.backend serial and openmp, OMP_NUM_THREADS 1 and 2, np 1 and 2. Every output must be
# identical (every dataset but /timing), and the log must name the backend and thread count. Skips (exit
# 0 with a message) when this build has no OpenMP backend.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cfg="$repo/configs/sample.toml"
if ! "$bin" --version | grep -q "OPENMP"; then
  echo "SKIP: this build's Kokkos has no OpenMP backend ($("$bin" --version)); scripts/kokkos.sh builds one"
  exit 0
fi
run() {  # run NAME NP THREADS BACKEND
  local name="$1" np="$2" th="$3" be="$4"
  OMP_NUM_THREADS="$th" OMP_PROC_BIND=false timeout 600 "$mpiexec" -n "$np" "${flags[@]}" \
    --bind-to none -x OMP_NUM_THREADS -x OMP_PROC_BIND "$bin" run "$cfg" --out "$work/$name.h5" \
    --workdir "$work/$name.work" --set "score.backend=\"$be\"" 2> "$work/$name.log" ||
    { cat "$work/$name.log"; exit 1; }
  local conc=1
  [ "$be" = openmp ] && conc="$th"
  grep -q "kernels on Kokkos $5 (concurrency $conc)" "$work/$name.log" ||
    { echo "FAIL: $name did not run on Kokkos $5 with $conc threads"; grep "kernels on" "$work/$name.log"; exit 1; }
  "$bin" inspect --digest "$work/$name.h5" > "$work/$name.digest"
}
run serial-np1-t1 1 1 serial Serial
run openmp-np1-t1 1 1 openmp OpenMP
run openmp-np1-t2 1 2 openmp OpenMP
run openmp-np2-t2 2 2 openmp OpenMP
run serial-np2-t1 2 1 serial Serial
for name in openmp-np1-t1 openmp-np1-t2 openmp-np2-t2 serial-np2-t1; do
  diff -u "$work/serial-np1-t1.digest" "$work/$name.digest" > /dev/null ||
    { diff -u "$work/serial-np1-t1.digest" "$work/$name.digest" | head -20; echo "FAIL: $name differs from serial-np1-t1"; exit 1; }
done
echo "identical datasets on serial and openmp, 1 and 2 threads, np 1 and 2 ($(wc -l < "$work/serial-np1-t1.digest") datasets)"
