#!/usr/bin/python3
"""Self-test of tests/e2e/check_megatron.py's reader and checks, on files written here byte by
byte from the published Megatron-Core layout (docs/megatron-format-notes.md), independently of
cleanmix and of the reader under test.

1. .idx/.bin pairs (uint16 and int32) parse back to what was written; malformed ones are refused.
2. The blend parser follows Megatron's get_blend_from_list; mix64 matches splitmix64's reference.
3. A complete synthetic materialisation (manifest, shards, sidecars, weights, run file) passes
   check_megatron.main(); planted faults (order, copies, EOD, weights, anchor split, checksum,
   sidecar provenance, stream) each make it fail.

Run: /usr/bin/python3 tests/e2e/megatron_selftest.py   (exit 0 = all passed)
"""
import contextlib
import io
import json
import os
import struct
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_megatron as cm  # noqa: E402

M = (1 << 64) - 1
CODE = {"uint16": 8, "int32": 4}  # Megatron DType codes, written literally
FMT = {"uint16": "H", "int32": "i"}
failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)
        print("SELFTEST FAIL:", what)


# --------------------------------------------------------------------------- hand-made writer

def write_dataset(prefix, seqs, dtype, *, magic=b"MMIDIDX\x00\x00", version=1, code=None,
                  doc_count=None, bad_pointer=False, extra_bin=b"", extra_idx=b""):
    """Write PREFIX.bin/.idx for `seqs` (lists of ints, one sequence = one document) with struct,
    following the layout field by field."""
    fmt = FMT[dtype]
    size = struct.calcsize("<" + fmt)
    with open(prefix + ".bin", "wb") as b:
        for s in seqs:
            b.write(struct.pack(f"<{len(s)}{fmt}", *s))
        b.write(extra_bin)
    lengths = [len(s) for s in seqs]
    pointers, p = [], 0
    for n in lengths:
        pointers.append(p)
        p += n * size
    if bad_pointer and len(pointers) > 1:
        pointers[1] += size
    doc_idx = list(range(len(seqs) + 1))
    with open(prefix + ".idx", "wb") as f:
        f.write(magic)
        f.write(struct.pack("<Q", version))
        f.write(struct.pack("<B", CODE[dtype] if code is None else code))
        f.write(struct.pack("<Q", len(seqs)))
        f.write(struct.pack("<Q", len(doc_idx) if doc_count is None else doc_count))
        f.write(struct.pack(f"<{len(lengths)}i", *lengths))
        f.write(struct.pack(f"<{len(pointers)}q", *pointers))
        f.write(struct.pack(f"<{len(doc_idx)}q", *doc_idx))
        f.write(extra_idx)


def xxh3(path):
    out = subprocess.run(["xxhsum", "-H3", path], capture_output=True, text=True, check=True).stdout
    return out.split()[-1]  # "XXH3 (path) = hex"


# --------------------------------------------------------------------------- 1. the reader

def test_reader(tmp):
    seqs = [[5, 6, 7, 999], [8, 999], [65535, 0, 1, 2, 999]]
    p = os.path.join(tmp, "u16")
    write_dataset(p, seqs, "uint16")
    idx = cm.read_idx(p + ".idx")
    expect(idx["version"] == 1 and idx["code"] == 8 and idx["dtype"] == "uint16", "uint16 header")
    expect(idx["sequence_count"] == 3 and idx["document_count"] == 4, "uint16 counts (M = docs + 1)")
    expect(idx["lengths"].tolist() == [4, 2, 5], "uint16 lengths")
    expect(idx["pointers"].tolist() == [0, 8, 12], "uint16 pointers are byte offsets")
    expect(idx["document_indices"].tolist() == [0, 1, 2, 3], "uint16 document_indices")
    expect(os.path.getsize(p + ".idx") == 34 + 3 * 4 + 3 * 8 + 4 * 8, "idx size = 34 + 4N + 8N + 8M")
    toks = cm.read_bin(p + ".bin", idx["dtype"])
    got = [toks[a // 2:a // 2 + n].tolist() for a, n in zip(idx["pointers"], idx["lengths"])]
    expect(got == seqs, "uint16 tokens read back")
    expect(cm.check_index(idx, os.path.getsize(p + ".bin")) == [], "uint16 index consistent")

    seqs32 = [[100257, 70000, 100257], [1, 100276]]
    p = os.path.join(tmp, "i32")
    write_dataset(p, seqs32, "int32")
    idx = cm.read_idx(p + ".idx")
    toks = cm.read_bin(p + ".bin", idx["dtype"])
    expect(idx["code"] == 4 and idx["dtype"] == "int32" and idx["itemsize"] == 4, "int32 header")
    expect(idx["pointers"].tolist() == [0, 12], "int32 pointers")
    expect(toks.tolist() == [100257, 70000, 100257, 1, 100276], "int32 tokens")
    expect(cm.check_index(idx, os.path.getsize(p + ".bin")) == [], "int32 index consistent")

    def refused(kw, what, index_fault=False):
        q = os.path.join(tmp, "bad")
        write_dataset(q, seqs, "uint16", **kw)
        try:
            ix = cm.read_idx(q + ".idx")
        except cm.FormatError:
            expect(not index_fault, f"{what}: refused by the parser")
            return
        probs = cm.check_index(ix, os.path.getsize(q + ".bin"))
        expect(index_fault and probs, f"{what}: reported ({probs})")

    refused({"magic": b"MMIDIDX\x00\x01"}, "bad magic")
    refused({"version": 2}, "version 2")
    refused({"code": 9}, "unknown dtype code")
    refused({"doc_count": 99}, "document_count past the end of the file")
    refused({"doc_count": 3}, "document_count = documents (not + 1)", index_fault=True)
    refused({"bad_pointer": True}, "a wrong sequence pointer", index_fault=True)
    refused({"extra_bin": b"\x00\x00"}, ".bin longer than the lengths say", index_fault=True)
    refused({"extra_idx": b"\x00" * 3}, "trailing bytes in the .idx", index_fault=True)
    q = os.path.join(tmp, "trunc")
    write_dataset(q, seqs, "uint16")
    with open(q + ".idx", "r+b") as f:
        f.truncate(40)
    try:
        cm.read_idx(q + ".idx")
        expect(False, "a truncated .idx is refused")
    except cm.FormatError:
        pass


def test_helpers():
    # Megatron's get_blend_from_list: pairs when even and every even item is a float
    expect(cm.parse_blend("0.3 a/b 0.7 c/d\n") == (["a/b", "c/d"], [0.3, 0.7]), "blend pairs")
    expect(cm.parse_blend("a b") == (["a", "b"], None), "blend of prefixes only")
    expect(cm.parse_blend("p") == (["p"], None), "single prefix")
    expect(cm.optimal_dtype(65499) == "uint16" and cm.optimal_dtype(65500) == "int32" and
           cm.optimal_dtype(None) == "int32", "optimal_dtype threshold 65500")
    # splitmix64 reference: state 0, first output
    expect(cm.mix64(0x9E3779B97F4A7C15) == 0xE220A8397B1DCDAF, "mix64 = splitmix64 finaliser")
    xs = [0, 1, 12345, M, 0x9E3779B97F4A7C15]
    expect(cm.mix64(np.array(xs, np.uint64)).tolist() == [cm.mix64(x) for x in xs], "mix64 vectorised")


# --------------------------------------------------------------------------- 3. a full fixture

def mix64_ref(x):  # the formula of tests/e2e/materialize.sh, kept separate from the reader's
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9 & M
    x = (x ^ (x >> 27)) * 0x94d049bb133111eb & M
    return x ^ (x >> 31)


def key_ref(seed, doc, copy):
    return mix64_ref((seed * 0x9E3779B97F4A7C15 & M) ^ mix64_ref(doc * 1024 + copy + 1))


PROV = ["human_verified", "human_unverified", "synthetic_known", "synthetic_suspected", "unknown"]


def build(root, *, vocab=1000, eod=999, seed=42, shard_seqs=3, fault=None, weights_abs=False):
    """A synthetic run file + MATDIR. `fault` plants one defect. Returns (matdir, h5path,
    mix id lists without EOD)."""
    dtype = "uint16" if vocab < 65500 else "int32"
    rng = np.random.default_rng(7)
    ndocs = 12
    source = np.array([0, 0, 0] + [1] * 6 + [2] * 3, np.uint16)  # anchor, web, synthetic
    role = np.array([0, 1, 1], np.uint8)
    prov = np.array([0, 0, 0, 1, 1, 4, 1, 1, 4, 2, 2, 2], np.uint8)
    inferred = prov.copy()
    inferred[5] = 3
    repeats = np.array([0, 0, 0, 1, 2, 0, 3, 1, 2, 1, 0, 2], np.uint32)
    body = [rng.integers(0, eod, size=int(rng.integers(1, 6))).tolist() for _ in range(ndocs)]
    body[4][0] = eod - 1  # an id near the top
    shard = np.array([0, 0, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4], np.uint32)
    line = np.array([1, 2, 1, 1, 2, 3, 1, 2, 5, 1, 2, 3], np.uint64)
    shard_paths = ["data/anchor/a0.jsonl", "data/anchor/a1.jsonl", "data/web/w0.jsonl",
                   "data/web/w1.jsonl.gz", "data/synth/s0.jsonl"]
    src_names = ["anchor", "web", "synthetic"]
    seq_of = {d: body[d] + [eod] for d in range(ndocs)}
    ntok = np.array([len(seq_of[d]) for d in range(ndocs)], np.uint64)
    realised = int((repeats.astype(np.int64) * ntok.astype(np.int64)).sum())

    h5path = os.path.join(root, "run.h5")
    with h5py.File(h5path, "w") as f:
        f.attrs["seed"] = np.uint64(seed)
        d = f.create_group("docs")
        d["doc_id"] = np.arange(ndocs, dtype=np.uint64)
        d["repeats"] = repeats
        d["n_tokens"] = ntok
        d["source"] = source
        for k, v in (("provenance", prov), ("inferred", inferred)):
            d[k] = v
            d[k].attrs["labels"] = np.array([x.encode() for x in PROV], dtype="S20")
        d["line"] = line
        d["shard"] = shard
        s = f.create_group("sources")
        s["name"] = np.array([x.encode() for x in src_names], dtype="S10")
        s["role"] = role
        f.create_group("shards")["path"] = np.array([x.encode() for x in shard_paths], dtype="S32")
        f.create_group("plan").create_group("summary").attrs["realised_tokens"] = np.uint64(realised)

    pairs = sorted(((d, c) for d in range(ndocs) for c in range(int(repeats[d]))),
                   key=lambda dc: key_ref(seed, *dc))
    if fault == "order":
        pairs[0], pairs[1] = pairs[1], pairs[0]
    if fault == "copies":
        pairs = pairs[:-1]
    anchors = [(d, 0) for d in range(ndocs) if role[source[d]] == 0]
    if fault == "anchor":
        anchors = anchors[:-1]

    matdir = os.path.join(root, "mat")
    os.makedirs(os.path.join(matdir, "megatron"))
    manifest = {"format": "selftest", "seed": seed, "mix_tokens": realised,
                "megatron": {"mix": [], "anchor": []},
                "tokenizer": {"kind": "tiktoken", "name": "selftest", "model": "", "model_xxh3_64": "",
                              "vocab_size": vocab, "eod": eod, "append_eod": True}}
    # declared-provenance table in a different order than the run file's, to test name mapping
    sc_prov = PROV[::-1]
    for kind, items in (("mix", pairs), ("anchor", anchors)):
        chunks = [items[i:i + shard_seqs] for i in range(0, len(items), shard_seqs)]
        for k, chunk in enumerate(chunks):
            rank = k % 2 if kind == "mix" else 0
            prefix = f"megatron/{kind}-r{rank:05d}-{k:05d}"
            seqs = [list(seq_of[d]) for d, _ in chunk]
            if fault == "eod" and kind == "mix" and k == 0:
                seqs[0][-1] = 0
            write_dataset(os.path.join(matdir, prefix), seqs, dtype)
            lens = [len(x) for x in seqs]
            offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.uint64)
            sc_path = prefix + ".sidecar.h5"
            with h5py.File(os.path.join(matdir, sc_path), "w") as s:
                s.attrs["kind"], s.attrs["prefix"] = kind, prefix
                docs = np.array([d for d, _ in chunk], np.uint64)
                s["doc_id"] = docs
                s["copy"] = np.array([c for _, c in chunk], np.uint32)
                s["source"] = source[docs.astype(int)].astype(np.uint16)
                decl = np.array([sc_prov.index(PROV[prov[d]]) for d in docs.astype(int)], np.uint8)
                if fault == "provenance" and kind == "mix" and k == 0:
                    decl[0] = (decl[0] + 1) % len(PROV)
                s["declared"] = decl
                s["inferred"] = np.array([sc_prov.index(PROV[inferred[d]]) for d in docs.astype(int)], np.uint8)
                s["line"] = line[docs.astype(int)]
                s["input_shard"] = shard[docs.astype(int)]
                s["tokens"] = np.array(lens, np.uint32)
                s["token_offset"] = offs
                s.create_dataset("source_names", data=src_names, dtype=h5py.string_dtype())
                s.create_dataset("provenance_names", data=sc_prov, dtype=h5py.string_dtype())
                s.create_dataset("input_shard_names", data=shard_paths, dtype=h5py.string_dtype())
            e = {"prefix": prefix, "sequences": len(seqs), "documents": len(seqs),
                 "tokens": sum(lens), "dtype": dtype,
                 "bin_xxh3_64": xxh3(os.path.join(matdir, prefix + ".bin")),
                 "idx_xxh3_64": xxh3(os.path.join(matdir, prefix + ".idx")), "sidecar": sc_path}
            if fault == "checksum" and kind == "anchor":
                e["bin_xxh3_64"] = "0" * 16
            manifest["megatron"][kind].append(e)
        ents = manifest["megatron"][kind]
        total = sum(e["tokens"] for e in ents)
        ws = [e["tokens"] / total for e in ents]
        if fault == "weights" and kind == "mix":
            ws[0] += 1e-6
        with open(os.path.join(matdir, "megatron", f"{kind}.weights"), "w") as w:
            w.write(" ".join(f"{x!r} {os.path.join(matdir, e['prefix']) if weights_abs else e['prefix']}"
                             for x, e in zip(ws, ents)) + "\n")
    json.dump(manifest, open(os.path.join(matdir, "manifest.json"), "w"), indent=1)
    return matdir, h5path, [body[d] for d, _ in pairs]


def run_main(args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = cm.main(args)
    return rc, out.getvalue()


def test_fixture(tmp):
    for vocab, eod in ((1000, 999), (100277, 100257)):
        root = tempfile.mkdtemp(dir=tmp)
        matdir, h5, ids = build(root, vocab=vocab, eod=eod)
        rc, out = run_main([matdir, h5])
        expect(rc == 0, f"clean fixture (vocab {vocab}) passes: {out.strip()}")
        print(f"  fixture vocab {vocab}: {out.strip().splitlines()[-1]}")
        # the same stream cut into other shards, absolute weight prefixes
        root2 = tempfile.mkdtemp(dir=tmp)
        other, _, _ = build(root2, vocab=vocab, eod=eod, shard_seqs=5, weights_abs=True)
        idsf = os.path.join(root, "ids.jsonl")
        with open(idsf, "w") as f:
            for x in ids:
                f.write(json.dumps(x) + "\n")
        rc, out = run_main([matdir, h5, "--compare-stream", other, "--jsonl-ids", idsf])
        expect(rc == 0 and "byte-identical" in out and "re-tokenised" in out,
               f"--compare-stream / --jsonl-ids on equal streams pass: {out.strip()}")
        with open(idsf, "w") as f:
            for k, x in enumerate(ids):
                f.write(json.dumps(x if k != 2 else x + [1]) + "\n")
        rc, out = run_main([matdir, h5, "--jsonl-ids", idsf])
        expect(rc != 0 and "--jsonl-ids" in out, "--jsonl-ids catches a differing sequence")
    for fault, needle in (("order", "training order"), ("copies", "repeats"), ("eod", "EOD"),
                          ("weights", "weight"), ("anchor", "anchor split"), ("checksum", "xxh3"),
                          ("provenance", "provenance")):
        root = tempfile.mkdtemp(dir=tmp)
        matdir, h5, _ = build(root, fault=fault)
        rc, out = run_main([matdir, h5])
        expect(rc != 0 and needle in out, f"fault '{fault}' detected: {out.strip()}")
    # a different stream
    root = tempfile.mkdtemp(dir=tmp)
    a, h5, _ = build(root)
    root2 = tempfile.mkdtemp(dir=tmp)
    b, _, _ = build(root2, seed=43)
    rc, out = run_main([a, h5, "--compare-stream", b])
    expect(rc != 0 and "compare-stream" in out, "--compare-stream catches a different stream")


def main():
    with tempfile.TemporaryDirectory(prefix="megatron_selftest_") as tmp:
        test_reader(tmp)
        test_helpers()
        test_fixture(tmp)
    if failures:
        print(f"megatron selftest: {len(failures)} FAILED")
        return 1
    print("megatron selftest passed: reader (uint16, int32; 9 malformed files refused), helpers, "
          "2 clean fixtures (+ --compare-stream, --jsonl-ids), 9 planted faults detected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
