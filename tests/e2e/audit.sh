#!/usr/bin/env bash
# The batch entropy audit: the clean sample holds <= 5% of its batches, and a planted degenerate
# (looping, low-entropy) document in the mix produces held batches.
set -euo pipefail
source "$(dirname "$0")/common.sh"
rm -rf "$work"; mkdir -p "$work/loop"
/usr/bin/python3 - "$work/loop/loop.jsonl" <<'PY'
import json, sys
loop = " ".join(["the cat sat on the mat and the dog sat on the log ."] * 460)  # ~6000 tokens
open(sys.argv[1], "w").write(json.dumps({"id": "loop-1", "text": loop}) + "\n")
PY
# The sample config plus one source holding the looping document, with the gates relaxed so it
# is eligible (the gates alone would reject it: that is their job).
sed "s|\.\./data/|$repo/data/|g; s|\.\./out/|$work/|g" "$repo/configs/sample.toml" > "$work/clean.toml"
cp "$work/clean.toml" "$work/loop.toml"
cat >> "$work/loop.toml" <<EOF2

[[sources]]
name       = "loop"
paths      = ["$work/loop/loop.jsonl"]
provenance = "human_unverified"
role       = "pool"
EOF2
relax=(--set plan.max_dup5gram_frac=1.0 --set plan.max_top2gram_frac=1.0
       --set plan.max_dup_line_frac=1.0 --set plan.max_tokens=1000000
       --set classifier.enabled=false)  # the audit, not the classifier, is under test
for name in clean loop; do
  timeout 600 "$mpiexec" -n 2 "${flags[@]}" "$bin" run "$work/$name.toml" --out "$work/$name.h5" \
    "${relax[@]}" 2> "$work/$name.log" || { cat "$work/$name.log"; exit 1; }
done
# The token buckets exchanged in many rounds of the key space (spilled to the work directory),
# at another rank count: the output must not change, and no spill file may be left behind.
timeout 600 "$mpiexec" -n 3 "${flags[@]}" "$bin" run "$work/clean.toml" --out "$work/rounds.h5" \
  "${relax[@]}" --set materialize.round_bytes=4096 --workdir "$work/rounds.work" \
  2> "$work/rounds.log" || { cat "$work/rounds.log"; exit 1; }
grep -q "token buckets exchanged in [0-9]* rounds" "$work/rounds.log" || {
  cat "$work/rounds.log"; echo "FAIL: the audit did not run in rounds" >&2; exit 1; }
[ "$("$bin" inspect "$work/rounds.h5" --digest)" = "$("$bin" inspect "$work/clean.h5" --digest)" ] || {
  echo "FAIL: the audit in rounds at np 3 differs from one round at np 2" >&2; exit 1; }
! find "$work/rounds.work" -name 'mixtokens-*' 2> /dev/null | grep -q . || {
  echo "FAIL: spill files left in $work/rounds.work" >&2; exit 1; }
echo "rounds: $(grep -o 'exchanged in [0-9]* rounds' "$work/rounds.log"), output identical at np 3"
/usr/bin/python3 - "$work/clean.h5" "$work/loop.h5" <<'PY'
import sys, h5py, numpy as np
clean, loop = (h5py.File(p, "r") for p in sys.argv[1:3])
def summary(f):
    b = f["audit/batches"]
    return b["entropy_bits"][:], b["hold"][:], f["audit"].attrs["floor_bits"]
e, h, floor = summary(clean)
print(f"clean: {h.sum()} of {len(h)} batches held (floor {floor:.3f} bits, min entropy {e.min():.3f})")
assert h.sum() <= 0.05 * len(h), "more than 5% of clean batches held"
e2, h2, floor2 = summary(loop)
rep = loop["docs/repeats"][:]
src = loop["docs/source"][:]
names = [n.decode() for n in loop["sources/name"][:]]
copies = int(rep[src == names.index("loop")].sum())
print(f"planted: the looping document has {copies} copies; {h2.sum()} of {len(h2)} batches held, "
      f"min entropy {e2.min():.3f} bits")
assert copies >= 1, "the looping document is not in the mix"
assert h2.sum() >= copies, "the degenerate batches were not all held"
assert e2[h2 == 1].min() < floor2 - 1.0
PY
