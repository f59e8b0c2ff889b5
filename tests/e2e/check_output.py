#!/usr/bin/python3
"""Independent checks of a cleanmix output file against its input shards.

Counts the input lines itself (plain, gzip, zstd via the zstd CLI) and checks that
rows in /docs + rows in /errors = input lines, per shard and in total; that every required
/docs column exists with one row per document and values in range; and that the vocabulary
histograms agree with the per-document token counts.
"""
import argparse
import gzip
import subprocess
import sys

import h5py
import numpy as np

# The /docs columns come from the file: the writer lists its column registry
# (include/cleanmix/core/columns.hpp) in the `columns` attribute. These must be among them.
CORE = ["doc_id", "source", "shard", "line", "provenance", "n_tokens", "verdict", "inferred"]


def read_bytes(path):
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            return f.read()
    if path.endswith(".zst") or path.endswith(".zstd"):
        return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    with open(path, "rb") as f:
        return f.read()


def count_lines(data):
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def check_plan(f):
    """The mixing plan's contracts, checked from /docs and /plan."""
    fails = []
    d = f["docs"]
    rep, src, ntok = d["repeats"][:], d["source"][:], d["n_tokens"][:].astype(np.int64)
    verdict, tail, inferred = d["verdict"][:], d["tail_score"][:], d["inferred"][:]
    labels = [x.decode() for x in d["verdict"].attrs["labels"]]
    role = f["sources/role"][:]
    roles = [x.decode() for x in f["sources/role"].attrs["labels"]]
    s = f["plan/summary"].attrs
    excluded = np.isin(verdict, [labels.index(v) for v in
                                 ("anchor", "benchmark", "duplicate", "contaminated", "low_quality")])
    if np.any(rep[excluded] > 0):
        fails.append("an anchor, benchmark, duplicate, contaminated or low-quality doc is in the mix")
    if np.any(role[src][rep > 0] != roles.index("pool")):
        fails.append("a non-pool document is in the mix")
    if rep.max() > s["max_repeats"]:
        fails.append(f"repeats {rep.max()} > max_repeats {s['max_repeats']}")
    synth = np.isin(inferred, [2, 3])
    real = int((rep * ntok).sum())
    real_syn = int((rep * ntok)[synth].sum())
    if real != s["realised_tokens"] or real_syn != s["realised_synthetic_tokens"]:
        fails.append("/plan/summary realised tokens do not match /docs repeats")
    share = real_syn / real if real else 0
    if share > s["synthetic_cap"] + 1e-12:
        fails.append(f"synthetic share {share:.4f} exceeds the cap {s['synthetic_cap']}")
    ps = f["plan/sources"]
    for k in range(len(role)):
        elig = (src == k) & ~synth & (verdict == labels.index("keep"))
        if not elig.any():
            continue
        got = int((rep * ntok)[(src == k) & ~synth].sum())
        if abs(got - ps["planned_human"][k]) > ntok[elig].max():
            fails.append(f"source {k}: realised human {got} vs planned {ps['planned_human'][k]:.0f} "
                         f"differs by more than one document")
    # Cover first: where a source's planned human tokens cover its eligible human tokens, every
    # eligible human document is in the mix at least once.
    cover = int(s["cover_first"]) if "cover_first" in s else 0
    for k in range(len(role)):
        elig = (src == k) & ~synth & (verdict == labels.index("keep")) & (role[src] == roles.index("pool"))
        if cover and elig.any() and ps["planned_human"][k] >= ps["eligible_human"][k] * (1 - 1e-12):
            missing = int((rep[elig] == 0).sum())
            if missing:
                fails.append(f"source {k}: cover_first, but {missing} eligible human documents "
                             f"have no copy")
    # Rare-but-good documents are oversampled: eligible human pool docs in the top tail quartile
    # get more repeats per token than the bottom quartile.
    el = (verdict == labels.index("keep")) & ~synth & (role[src] == roles.index("pool"))
    if el.sum() >= 8:
        q1, q3 = np.quantile(tail[el], [0.25, 0.75])
        lo, hi = rep[el & (tail <= q1)].mean(), rep[el & (tail >= q3)].mean()
        if not hi > lo:
            fails.append(f"top-tail docs are not oversampled: mean repeats {hi:.2f} vs {lo:.2f}")
        print(f"plan: realised {real} of budget {s['budget_tokens']:.0f}, synthetic share "
              f"{share:.4f} (cap {s['synthetic_cap']}), mean repeats top-tail {hi:.2f} vs "
              f"bottom-tail {lo:.2f}")
    return fails


def check_groups(f, paths):
    """/docs/group against the input's own metadata, and the leave-one-group-out tables of
    /classifier recomputed from /classifier/out_of_group."""
    import json
    import tomllib
    fails = []
    d = f["docs"]
    cfg = tomllib.loads(f.attrs["config"].decode() if isinstance(f.attrs["config"], bytes)
                        else f.attrs["config"])
    names = [x.decode() for x in d["group"].attrs["labels"]]
    if names != sorted(names) or len(set(names)) != len(names):
        fails.append("/docs/group labels are not sorted and distinct")
    src_names = [x.decode() for x in f["sources/name"][:]]
    keys = {s["name"]: s.get("group_key", "") for s in cfg["sources"]}
    text_keys = {s["name"]: s.get("text_key", "text") for s in cfg["sources"]}
    group, shard, line, source = d["group"][:], d["shard"][:], d["line"][:], d["source"][:]
    lines_of = {}
    wrong = 0
    for i in range(len(group)):
        sh = int(shard[i])
        if sh not in lines_of:
            lines_of[sh] = read_bytes(paths[sh]).split(b"\n")
        name = src_names[source[i]]
        key = keys[name]
        if not key:
            want = name
        else:
            rec = json.loads(lines_of[sh][int(line[i]) - 1])
            v = rec.get(key)
            want = v if isinstance(v, str) else "(missing)"
        if names[group[i]] != want:
            wrong += 1
    if wrong:
        fails.append(f"/docs/group disagrees with the input's group_key in {wrong} documents")
    c = f["classifier"]
    if c.attrs["enabled"]:
        role = f["sources/role"][:]
        bench = [x.decode() for x in f["sources/role"].attrs["labels"]].index("benchmark")
        out = int(((d["judged"][:] == 0) & (role[source] != bench)).sum())
        if out != c.attrs["not_judged"]:
            fails.append(f"/classifier not_judged {c.attrs['not_judged']}, /docs/judged says {out}")
    if not c.attrs["enabled"] or "groups" not in c:
        return fails
    g = c["groups"]
    rows = [x.decode() for x in g["group"][:]]
    judged = sum(int(h) + int(s) for h, s in zip(g["human"][:], g["synthetic"][:]))
    if judged != c.attrs["train_docs"]:
        fails.append(f"/classifier/groups hold {judged} documents, train_docs is {c.attrs['train_docs']}")
    # cv_lm = folds: every group carries its LM fold (0/1), and with both classes of labelled
    # documents the contrast LM exists and its columns are finite wherever ref_ppl is
    cv_lm = c.attrs["cv_lm"].decode() if isinstance(c.attrs["cv_lm"], bytes) else c.attrs["cv_lm"]
    folds = g["lm_fold"][:]
    if cv_lm == "folds" and not set(folds.tolist()) <= {0, 1}:
        fails.append(f"cv_lm = folds but /classifier/groups/lm_fold holds {sorted(set(folds.tolist()))}")
    if cv_lm == "shared" and (folds != 255).any():
        fails.append("cv_lm = shared but some group has an LM fold")
    if f["lm"].attrs["contrast_docs"] > 0:
        finite_ref = ~np.isnan(d["ref_ppl"][:])
        for col in ("contrast_bits", "contrast_sd"):
            bad = int((np.isnan(d[col][:]) & finite_ref).sum())
            if bad:
                fails.append(f"/docs/{col} is NaN in {bad} documents with a finite ref_ppl")
    if not c.attrs["cv_ran"]:
        return fails
    o = c["out_of_group"]
    p, y, og = o["p_synthetic"][:], o["label"][:], o["group"][:]
    trained = g["trained"][:] == 1
    if len(p) != sum(int(h) + int(s) for h, s, t in zip(g["human"][:], g["synthetic"][:], trained) if t):
        fails.append("/classifier/out_of_group rows != documents of the judged groups")
    pos, neg = p[y == 1], p[y == 0]
    auc = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
    if abs(auc - g.attrs["auroc"]) > 1e-9:
        fails.append(f"pooled out-of-group AUROC {g.attrs['auroc']} but recomputed {auc}")
    for k, row in enumerate(rows):
        if not trained[k]:
            continue
        gi = names.index(row)
        sel = og == gi
        fp = int(((p >= g["threshold"][k]) & (y == 0) & sel).sum())
        tp = int(((p >= g["threshold"][k]) & (y == 1) & sel).sum())
        if fp != g["false_positives"][k] or tp != g["true_positives"][k]:
            fails.append(f"group {row}: FP/TP {g['false_positives'][k]}/{g['true_positives'][k]} "
                         f"but recomputed {fp}/{tp}")
    if c.attrs["threshold_from"] in (b"out-of-group", "out-of-group") and \
            c.attrs["linear_threshold"] != g.attrs["threshold"]:
        fails.append("threshold_from is out-of-group but linear_threshold is not the groups' one")
    return fails


def check_planted(f, planted_path, paths):
    """Every planted duplicate points at its original's cluster and every planted benchmark leak
    is flagged; no other document is contaminated or a duplicate."""
    import csv
    import json
    import os
    fails = []
    docs = f["docs"]
    shard, line = docs["shard"][:], docs["line"][:]
    row_of = {(int(s), int(l)): i for i, (s, l) in enumerate(zip(shard, line))}
    by_id = {}  # JSON id -> row, read from the shards themselves
    for si, p in enumerate(paths):
        for li, raw in enumerate(read_bytes(p).split(b"\n"), start=1):
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if isinstance(obj, dict) and "id" in obj and (si, li) in row_of:
                by_id[obj["id"]] = row_of[(si, li)]
    base = os.path.dirname(os.path.abspath(planted_path))
    dup_of, contam = docs["dup_of"][:], docs["contaminated"][:]
    want_dup, want_contam = set(), set()
    for rec in csv.DictReader(open(planted_path), delimiter="\t"):
        if rec["kind"] == "bad_line":
            continue
        loc_path, loc_line = rec["location"].rsplit(":", 1)
        full = os.path.normpath(os.path.join(base, loc_path))
        si = [os.path.normpath(p) for p in paths].index(full)
        row = row_of[(si, int(loc_line))]
        if rec["kind"].startswith("contains_bench"):
            want_contam.add(row)
            if contam[row] == 0:
                fails.append(f"planted leak {rec['doc']} not flagged")
        else:
            orig = by_id[rec["of"]]
            want_dup.update({row, orig})
            rep = dup_of[row] if dup_of[row] >= 0 else row
            rep_o = dup_of[orig] if dup_of[orig] >= 0 else orig
            if rep != rep_o or (dup_of[row] < 0 and dup_of[orig] < 0):
                fails.append(f"planted {rec['kind']} {rec['doc']} (row {row}) not clustered with "
                             f"{rec['of']} (row {orig}): dup_of {dup_of[row]} / {dup_of[orig]}")
    extra_c = set(np.nonzero(contam)[0]) - want_contam
    extra_d = {int(i) for i in np.nonzero(dup_of >= 0)[0]} - want_dup
    if extra_c:
        fails.append(f"unplanted contaminated rows: {sorted(extra_c)[:10]}")
    if extra_d:
        fails.append(f"unplanted duplicate rows: {sorted(extra_d)[:10]}")
    print(f"planted: {len(want_contam)} leaks flagged, {len(want_dup)} documents in planted "
          f"clusters; {len(extra_c)} other contaminated, {len(extra_d)} other duplicates")
    return fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("h5")
    ap.add_argument("--manifest", help="data/sample/MANIFEST.tsv: expected bad lines per shard")
    ap.add_argument("--planted", help="data/sample/PLANTED.tsv: planted duplicates and leaks")
    a = ap.parse_args()
    fails = []
    with h5py.File(a.h5, "r") as f:
        docs = f["docs"]
        n = docs["doc_id"].shape[0]
        listed = [c.decode() if isinstance(c, bytes) else c for c in docs.attrs["columns"]]
        for c in CORE:
            if c not in listed:
                fails.append(f"/docs/{c} is not in the columns attribute")
        for c in listed:
            if c not in docs:
                fails.append(f"missing /docs/{c}")
            elif docs[c].shape != (n,):
                fails.append(f"/docs/{c} has shape {docs[c].shape}, want ({n},)")
            elif c != "doc_id" and "meaning" not in docs[c].attrs:
                fails.append(f"/docs/{c} has no meaning attribute")
        if set(docs) != set(listed):
            fails.append(f"/docs datasets {sorted(set(docs) ^ set(listed))} not in the columns attribute")
        paths = [p.decode() for p in f["shards/path"][:]]
        n_lines = f["shards/n_lines"][:]
        doc_shard = docs["shard"][:]
        err_shard = f["errors/shard"][:]
        total_in = 0
        for i, p in enumerate(paths):
            lines = count_lines(read_bytes(p))
            total_in += lines
            nd = int((doc_shard == i).sum())
            ne = int((err_shard == i).sum())
            if lines != n_lines[i]:
                fails.append(f"{p}: /shards/n_lines {n_lines[i]} but the file has {lines} lines")
            if nd + ne != lines:
                fails.append(f"{p}: {nd} docs + {ne} errors != {lines} lines")
        n_err = f["errors/shard"].shape[0]
        if n + n_err != total_in:
            fails.append(f"total: {n} docs + {n_err} errors != {total_in} input lines")
        if not np.array_equal(docs["doc_id"][:], np.arange(n)):
            fails.append("doc_id is not 0..n-1")
        # global order: (source, shard, line) strictly increasing
        key = np.stack([docs["source"][:], doc_shard, docs["line"][:]]).T
        if n > 1 and not all(tuple(key[i]) < tuple(key[i + 1]) for i in range(n - 1)):
            fails.append("documents are not in (source, shard, line) order")
        ntok = docs["n_tokens"][:]
        for c, lo, hi in [("ttr", 0, 1), ("mattr", 0, 1), ("dup_line_frac", 0, 1),
                          ("top2gram_frac", 0, 1), ("dup5gram_frac", 0, 1), ("entropy_bits", 0, 64),
                          ("burstiness", 0, 1e6), ("tail_score", 0, 64)]:
            v = docs[c][:]
            if not np.all(np.isfinite(v)) or v.min() < lo or v.max() > hi:
                fails.append(f"/docs/{c} outside [{lo}, {hi}]: min {v.min()} max {v.max()}")
        # inferred never overwrites a declared class other than HU/unknown -> SS
        prov_d, inf = docs["provenance"][:], docs["inferred"][:]
        changed = prov_d != inf
        if np.any(changed & ~np.isin(prov_d, [1, 4])) or np.any(inf[changed] != 3):
            fails.append("inferred overwrote a declared provenance")
        # a document the classifier did not judge keeps its declared provenance
        judged = docs["judged"][:]
        if np.any(changed & (judged == 0)):
            fails.append("a document that was not judged has an inferred provenance of its own")
        nj = f["sources/n_not_judged"][:]
        for s_ in range(len(nj)):
            if nj[s_] != int(((docs["source"][:] == s_) & (judged == 0)).sum()):
                fails.append(f"/sources/n_not_judged[{s_}] does not match /docs/judged")
        ps = docs["p_synthetic"][:]
        if np.any((ps < 0) | (ps > 1)):
            fails.append("p_synthetic outside [0, 1]")
        if np.any(docs["n_types"][:] > ntok):
            fails.append("n_types > n_tokens somewhere")
        ent = docs["entropy_bits"][:]
        bound = np.log2(np.maximum(docs["n_types"][:], 1)) + 1e-9
        if np.any(ent > bound):
            fails.append("entropy_bits > log2(n_types) somewhere")
        # vocabulary: per-class histogram totals = token counts of that class's anchor+pool docs
        role = f["sources/role"][:]
        roles = [r.decode() if isinstance(r, bytes) else r for r in f["sources/role"].attrs["labels"]]
        bench = roles.index("benchmark")
        counted = role[docs["source"][:]] != bench
        prov = docs["provenance"][:]
        counts = f["vocab/counts"]
        stats_tokens = f["vocab/stats/tokens"][:]
        for c in range(counts.shape[0] - 1):
            want = int(ntok[counted & (prov == c)].sum())
            got = int(counts[c, :].sum())
            if got != want or stats_tokens[c] != want:
                fails.append(f"vocab class {c}: histogram {got}, stats {stats_tokens[c]}, docs {want}")
        src_tok = f["sources/n_tokens"][:]
        for s in range(len(src_tok)):
            if src_tok[s] != ntok[docs["source"][:] == s].sum():
                fails.append(f"/sources/n_tokens[{s}] does not match /docs")
        if a.manifest:
            bad = 0
            with open(a.manifest) as m:
                header = m.readline().rstrip("\n").split("\t")
                col = header.index("n_bad_lines")
                for line in m:
                    bad += int(line.rstrip("\n").split("\t")[col])
            if bad != n_err:
                fails.append(f"manifest lists {bad} bad lines, /errors has {n_err}")
        if "plan" in f:
            fails += check_plan(f)
        fails += check_groups(f, paths)
        if a.planted:
            fails += check_planted(f, a.planted, paths)
        print(f"checked {a.h5}: {n} docs + {n_err} quarantined = {total_in} input lines in "
              f"{len(paths)} shards")
    for x in fails:
        print("FAIL:", x)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
