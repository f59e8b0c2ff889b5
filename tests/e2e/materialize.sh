#!/usr/bin/env bash
# `run --materialize`: the shards re-read match the plan exactly, and the mix stream is the same
# at np 2 and np 3 (shard boundaries differ; their concatenation does not).
set -euo pipefail
source "$(dirname "$0")/common.sh"
for np in 2 3; do
  timeout 600 "$mpiexec" -n "$np" "${flags[@]}" "$bin" run "$repo/configs/sample.toml" \
    --out "$work/np$np.h5" --workdir "$work/np$np.work" --materialize "$work/mix$np" \
    --set materialize.shard_bytes=300000 2> "$work/np$np.log" || { cat "$work/np$np.log"; exit 1; }
  # checksums listed in the manifest
  /usr/bin/python3 -c "
import json, sys
m = json.load(open('$work/mix$np/manifest.json'))
for e in m['mix'] + m['anchor']: print(e['xxh3_64'], e['path'])" > "$work/sums$np"
  (cd "$work/mix$np" && while read -r h p; do
     got=$(xxhsum -H3 "$p" 2>/dev/null | awk '{print $NF}')
     [ "$got" = "$h" ] || { echo "FAIL: checksum of $p: $got != $h"; exit 1; }
   done < "$work/sums$np")
done
/usr/bin/python3 - "$work" <<'PY'
import gzip, json, subprocess, sys
import h5py, numpy as np
work = sys.argv[1]
M = (1 << 64) - 1
def mix64(x):
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9 & M
    x = (x ^ (x >> 27)) * 0x94d049bb133111eb & M
    return x ^ (x >> 31)
def read(p):
    if p.endswith(".gz"): return gzip.open(p).read()
    if p.endswith(".zst"): return subprocess.run(["zstd", "-dc", p], capture_output=True, check=True).stdout
    return open(p, "rb").read()
streams = {}
for np_ in (2, 3):
    d = f"{work}/mix{np_}"
    m = json.load(open(f"{d}/manifest.json"))
    f = h5py.File(f"{work}/np{np_}.h5", "r")
    seed = int(f.attrs["seed"])
    rep = f["docs/repeats"][:]
    shard, line = f["docs/shard"][:], f["docs/line"][:]
    paths = [p.decode() for p in f["shards/path"][:]]
    lines = {i: read(p).split(b"\n") for i, p in enumerate(paths)}
    blob = b"".join(open(f"{d}/{e['path']}", "rb").read() for e in m["mix"])
    streams[np_] = blob
    recs = [json.loads(l) for l in blob.splitlines()]
    keys = [mix64((seed * 0x9E3779B97F4A7C15 & M) ^ mix64(r["doc_id"] * 1024 + r["copy"] + 1)) for r in recs]
    assert all(a < b for a, b in zip(keys, keys[1:])), "mix is not in training-key order"
    got = np.bincount([r["doc_id"] for r in recs], minlength=len(rep))
    assert np.array_equal(got, rep), "copies per document differ from /docs/repeats"
    for r in recs[:: max(1, len(recs) // 200)] + recs[-3:]:  # texts equal the input (a sample)
        i = r["doc_id"]
        src = json.loads(lines[int(shard[i])][int(line[i]) - 1])
        assert src["text"] == r["text"], f"text of doc {i} differs"
    tokens = sum(r["n_tokens"] for r in recs)
    assert tokens == f["plan/summary"].attrs["realised_tokens"] == m["mix_tokens"]
    assert sum(e["tokens"] for e in m["mix"]) == tokens
    anchors = [json.loads(l) for e in m["anchor"] for l in open(f"{d}/{e['path']}", "rb").read().splitlines()]
    roles = f["sources/role"][:][f["docs/source"][:]]
    want = np.nonzero(roles == 0)[0]
    assert [a["doc_id"] for a in sorted(anchors, key=lambda a: a["doc_id"])] == list(want), "anchor split"
    print(f"np {np_}: {len(m['mix'])} mix shards, {len(recs)} copies of {int((rep > 0).sum())} "
          f"documents, {tokens} tokens; {len(anchors)} anchor documents")
assert streams[2] == streams[3], "the mix stream depends on the rank count"
print("the concatenated mix is byte-identical at np 2 and np 3")
PY
