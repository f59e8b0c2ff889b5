#!/usr/bin/env bash
# `cleanmix simulate` from the command line: the same /simulate rows at np 1 and 3 (uneven
# document blocks), the CSV agrees with the HDF5 file, the report draws it, and bad [simulate]
# keys are config errors (exit 2) naming the key.
set -euo pipefail
source "$(dirname "$0")/common.sh"
small=(--set simulate.vocab=3000 --set simulate.tokens_per_generation=30000
       --set simulate.doc_tokens=1000 --set simulate.seeds=2
       --set 'simulate.arms=["replace","accumulate","accumulate_sample","anchor"]')
for np in 1 3; do
  timeout 600 "$mpiexec" -n $np "${flags[@]}" "$bin" simulate "$repo/configs/sample.toml" \
    --generations 8 --out "$work/np$np" "${small[@]}" > "$work/np$np.txt" 2> "$work/np$np.log" \
    || { cat "$work/np$np.log"; exit 1; }
done
cat "$work/np3.txt"
/usr/bin/python3 - "$work" <<'PY'
import csv, sys
import h5py, numpy as np
w = sys.argv[1]
a, b = h5py.File(f"{w}/np1/simulate.h5", "r"), h5py.File(f"{w}/np3/simulate.h5", "r")
ga, gb = a["simulate"], b["simulate"]
assert sorted(ga.keys()) == sorted(gb.keys()), (list(ga), list(gb))
for k in ga:
    x, y = ga[k][:], gb[k][:]
    assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), k
n = ga["generation"].shape[0]
assert n == 4 * 2 * 9, n  # arms x seeds x (generations + 1)
assert int(ga.attrs["generations"]) == 8 and int(ga.attrs["vocab"]) == 3000
names = [x.decode() for x in ga["arm"].attrs["labels"]]
rows = list(csv.DictReader(open(f"{w}/np1/simulate.csv")))
assert len(rows) == n
for i, r in enumerate(rows):
    assert r["arm"] == names[ga["arm"][i]] and int(r["generation"]) == ga["generation"][i]
    for k in ("types_kept", "heldout_ppl", "tail_mass", "kl_to_gen0"):
        assert float(r[k]) == ga[k][i], (i, k, r[k], ga[k][i])  # 17 digits round-trip
gen0 = ga["generation"][:] == 0
# generation 0 against itself: all kept, KL only from the add-k smoothing
assert np.all(ga["types_kept"][:][gen0] == 1.0) and np.all(ga["kl_to_gen0"][:][gen0] < 1e-3)
acc = ga["arm"][:] == names.index("accumulate")
assert np.all(ga["types_kept"][:][acc] == 1.0)
rep = (ga["arm"][:] == names.index("replace")) & (ga["generation"][:] == 8)
assert ga["types_kept"][:][rep].max() < 0.8, ga["types_kept"][:][rep]
print(f"simulate: {n} rows identical at np 1 and 3; CSV agrees")
PY
"$bin" report "$work/np1/simulate.h5" --out "$work/report" > /dev/null
grep -q "Collapse simulation" "$work/report/index.html" && [ -s "$work/report/simulate.png" ] \
  || { echo "FAIL: the report has no simulate plot"; exit 1; }
# The trigram model on the sample's human text, with the cleanmix arm (the real pipeline each
# generation): the same rows at np 1 and 2, and the pipeline's runs are where the arm says.
tri=(--set simulate.model=trigram --set simulate.seeds=1
     --set 'simulate.arms=["replace","anchor","cleanmix"]')
for np in 1 2; do
  keep=$([ $np = 1 ] && echo true || echo false)  # keep_runs changes files, never rows
  timeout 600 "$mpiexec" -n $np "${flags[@]}" "$bin" simulate "$repo/configs/sample.toml" \
    --generations 2 --out "$work/tri$np" "${tri[@]}" --set simulate.keep_runs=$keep \
    > "$work/tri$np.txt" 2> "$work/tri$np.log" || { tail -30 "$work/tri$np.log"; exit 1; }
done
cat "$work/tri2.txt"
/usr/bin/python3 - "$work" <<'PY'
import os, sys
import h5py, numpy as np
w = sys.argv[1]
a, b = h5py.File(f"{w}/tri1/simulate.h5", "r")["simulate"], h5py.File(f"{w}/tri2/simulate.h5", "r")["simulate"]
for k in a:
    assert a[k][:].tobytes() == b[k][:].tobytes(), k
assert a.attrs["model"] in (b"trigram", "trigram")
names = [x.decode() for x in a["arm"].attrs["labels"]]
arm, gen = a["arm"][:], a["generation"][:]
cm = arm == names.index("cleanmix")
assert cm.sum() == 3 and np.all(a["synthetic_share"][:][cm & (gen == 0)] == 0)
rep = (arm == names.index("replace")) & (gen == 2)
assert a["synthetic_share"][:][rep] == 1.0 and a["types_kept"][:][rep] < 1.0
for g in range(3):
    assert os.path.exists(f"{w}/tri1/cleanmix-arm/seed-0/runs/gen-{g:03d}.h5"), g
    assert os.path.exists(f"{w}/tri1/cleanmix-arm/seed-0/mix/gen-{g:03d}/manifest.json"), g
    kept = os.path.exists(f"{w}/tri2/cleanmix-arm/seed-0/runs/gen-{g:03d}.h5")
    assert kept == (g == 2), (g, kept)  # without keep_runs only the last generation stays
print(f"simulate trigram: {a['generation'].shape[0]} rows identical at np 1 and 2; "
      f"vocab {a.attrs['vocab_used']}, generation 0 {a.attrs['generation0_tokens']} tokens")
PY
expect_config_error() {  # args: message-fragment, then the --set values
  local want="$1"; shift
  local rc=0
  "$bin" simulate "$repo/configs/sample.toml" --out "$work/bad" "$@" > /dev/null 2> "$work/bad.log" || rc=$?
  [ "$rc" = 2 ] && grep -q "$want" "$work/bad.log" \
    || { echo "FAIL: expected exit 2 with '$want', got $rc:"; cat "$work/bad.log"; exit 1; }
}
expect_config_error "unknown arm 'sideways'" --set 'simulate.arms=["sideways"]'
expect_config_error "use unigram or trigram" --set simulate.model=bigram
expect_config_error "needs simulate.model" --set 'simulate.arms=["cleanmix"]'
expect_config_error "must be a multiple of" --set simulate.doc_tokens=999
expect_config_error "anchor_share" --set simulate.anchor_share=1.5
expect_config_error "no source named 'nope'" --set simulate.model=trigram \
  --set 'simulate.real_sources=["nope"]'
expect_config_error "needs simulate.model" --set 'simulate.arms=["cleanmix"]' --set simulate.model=unigram
echo "simulate: OK"
