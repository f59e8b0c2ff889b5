#!/usr/bin/env bash
# End to end on the bundled sample corpus with the real binary: np 1, 2, 4 and a run that splits
# every plain shard into 4 KiB pieces must give identical datasets (all but /timing), and the
# output must reconcile with an independent count of the input (check_output.py).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cfg="$repo/configs/sample.toml"

run() {  # run NP NAME [extra args]
  local np="$1" name="$2"; shift 2
  timeout 600 "$mpiexec" -n "$np" "${flags[@]}" "$bin" run "$cfg" --out "$work/$name.h5" \
    --workdir "$work/$name.work" "$@" 2> "$work/$name.log" || { cat "$work/$name.log"; exit 1; }
  "$bin" inspect --digest "$work/$name.h5" > "$work/$name.digest"
}
run 1 np1
run 2 np2
run 4 np4
run 3 split --set ingest.split_bytes=4096

for name in np2 np4 split; do
  if ! diff -u "$work/np1.digest" "$work/$name.digest"; then
    echo "FAIL: $name differs from np1"; exit 1
  fi
done
echo "identical datasets at np 1, 2, 4 and with 4 KiB pieces ($(wc -l < "$work/np1.digest") datasets)"
grep -q "pieces over 3 ranks" "$work/split.log"
# calibrate writes a model that run can load
timeout 600 "$mpiexec" -n 2 "${flags[@]}" "$bin" calibrate "$cfg" --out "$work/sample.model" \
  > "$work/calibrate.out" 2> "$work/calibrate.log" || { cat "$work/calibrate.log"; exit 1; }
cat "$work/calibrate.out"
grep -qE "^linear +[0-9.]+ +[0-9.]+" "$work/calibrate.out"
run 2 withmodel --set "classifier.model=$work/sample.model"
grep -q "classifier ($work/sample.model)" "$work/withmodel.log"
/usr/bin/python3 "$repo/tests/e2e/check_output.py" "$work/np2.h5" --manifest "$repo/data/sample/MANIFEST.tsv" \
  --planted "$repo/data/sample/PLANTED.tsv"
