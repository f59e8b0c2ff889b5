#!/usr/bin/python3
"""Independent checks of cleanmix's Megatron-Core materialisation (`[materialize] format =
"megatron"` or "both") against the run file.

The reader here is written from the published format only (docs/megatron-format-notes.md:
Megatron-LM megatron/core/datasets/indexed_dataset.py), not from cleanmix's writer:

  .idx  b"MMIDIDX\\x00\\x00"  (9 bytes)
        <Q version = 1
        <B dtype code   (1 uint8, 2 int8, 3 int16, 4 int32, 5 int64, 6 float64, 7 float32, 8 uint16)
        <Q sequence_count  N
        <Q document_count  M = len(document_indices) = documents + 1
        int32[N]  sequence_lengths (tokens)
        int64[N]  sequence_pointers (byte offsets into .bin)
        int64[M]  document_indices (sequence index at each document boundary, starts at 0)
  .bin  the tokens, dtype by the code, sequences back to back

Usage: check_megatron.py MATDIR H5FILE [--compare-stream OTHER_MATDIR] [--jsonl-ids IDS.jsonl]
Exit status 0 when every check passes; 1 with a FAIL line per problem otherwise.
"""
import argparse
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np

INDEX_HEADER = b"MMIDIDX\x00\x00"
INDEX_VERSION = 1
HEADER_BYTES = 9 + 8 + 1 + 8 + 8  # = 34, the offset of sequence_lengths
# Megatron's DType enum (the code byte of the .idx)
DTYPE_CODES = {1: "uint8", 2: "int8", 3: "int16", 4: "int32", 5: "int64", 6: "float64",
               7: "float32", 8: "uint16"}
CODE_OF = {v: k for k, v in DTYPE_CODES.items()}
M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


class FormatError(Exception):
    """A file that does not follow the indexed-dataset format."""


# ---------------------------------------------------------------------------------------------
# the reader (format only)

def le_dtype(name):
    """The little-endian numpy dtype of a DType name (the format is little-endian)."""
    return np.dtype(name).newbyteorder("<")


def read_idx(path):
    """Parse a .idx file. Returns a dict: version, code, dtype (name), itemsize, sequence_count,
    document_count, lengths (int32), pointers (int64), document_indices (int64), trailing (bytes
    after document_indices). Raises FormatError on a bad header, version, code or size."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < HEADER_BYTES:
        raise FormatError(f"{path}: {len(data)} bytes, shorter than the {HEADER_BYTES}-byte header")
    if data[:9] != INDEX_HEADER:
        raise FormatError(f"{path}: bad magic {data[:9]!r}, want {INDEX_HEADER!r}")
    (version,) = struct.unpack_from("<Q", data, 9)
    if version != INDEX_VERSION:
        raise FormatError(f"{path}: version {version}, want {INDEX_VERSION}")
    (code,) = struct.unpack_from("<B", data, 17)
    if code not in DTYPE_CODES:
        raise FormatError(f"{path}: unknown dtype code {code}")
    n, m = struct.unpack_from("<QQ", data, 18)
    need = HEADER_BYTES + 4 * n + 8 * n + 8 * m
    if len(data) < need:
        raise FormatError(f"{path}: {len(data)} bytes, but {n} sequences and {m} document "
                          f"indices need {need}")
    off = HEADER_BYTES
    lengths = np.frombuffer(data, dtype="<i4", count=n, offset=off)
    off += 4 * n
    pointers = np.frombuffer(data, dtype="<i8", count=n, offset=off)
    off += 8 * n
    doc_idx = np.frombuffer(data, dtype="<i8", count=m, offset=off)
    off += 8 * m
    name = DTYPE_CODES[code]
    return {"version": version, "code": code, "dtype": name, "itemsize": np.dtype(name).itemsize,
            "sequence_count": n, "document_count": m, "lengths": lengths, "pointers": pointers,
            "document_indices": doc_idx, "trailing": data[off:]}


def read_bin(path, dtype):
    """The tokens of a .bin file (memory-mapped; an empty file gives an empty array)."""
    dt = le_dtype(dtype)
    size = os.path.getsize(path)
    if size % dt.itemsize:
        raise FormatError(f"{path}: {size} bytes is not a multiple of {dtype}'s {dt.itemsize}")
    if size == 0:
        return np.empty(0, dtype=dt)
    return np.memmap(path, dtype=dt, mode="r")


def check_index(idx, bin_nbytes, one_sequence_per_document=True):
    """The .idx's internal consistency and its agreement with the .bin's size. Returns a list of
    problems (empty = fine)."""
    fails = []
    n, lengths, pointers, di = idx["sequence_count"], idx["lengths"], idx["pointers"], idx["document_indices"]
    item = idx["itemsize"]
    if idx["trailing"]:
        fails.append(f"{len(idx['trailing'])} bytes after document_indices (no sequence modes expected)")
    if n and lengths.min() < 0:
        fails.append("a negative sequence length")
    if n and (lengths == 0).any():
        fails.append(f"{int((lengths == 0).sum())} empty sequences (preprocess_data never writes one)")
    want_ptr = np.zeros(n, dtype=np.int64)
    if n > 1:
        want_ptr[1:] = np.cumsum(lengths[:-1].astype(np.int64)) * item
    if not np.array_equal(pointers, want_ptr):
        k = int(np.argmax(pointers != want_ptr))
        fails.append(f"sequence_pointers[{k}] = {pointers[k]}, want {want_ptr[k]} "
                     f"(byte offset = sum of earlier lengths x {item})")
    total = int(lengths.astype(np.int64).sum())
    if bin_nbytes != total * item:
        fails.append(f".bin has {bin_nbytes} bytes, sum(lengths) x itemsize = {total * item}")
    if idx["document_count"] < 1 or di[0] != 0:
        fails.append("document_indices does not start with 0")
    elif di[-1] != n:
        fails.append(f"document_indices ends at {di[-1]}, want sequence_count {n} "
                     f"(Megatron asserts sequence_lengths.shape[0] == document_indices[-1])")
    elif np.any(np.diff(di) < 0):
        fails.append("document_indices decreases")
    if one_sequence_per_document and not np.array_equal(di, np.arange(n + 1)):
        fails.append(f"document_indices is not 0..{n} (one sequence per document)")
    return fails


def optimal_dtype(vocab_size):
    """Megatron's DType.optimal_dtype: uint16 below a cardinality of 65500, else int32."""
    return "uint16" if vocab_size is not None and vocab_size < 65500 else "int32"


def parse_blend(text):
    """A --data-path / --data-args-path blend as Megatron's get_blend_from_list reads it:
    whitespace-separated, "w1 p1 w2 p2 ..." (or prefixes only). Returns (prefixes, weights or
    None)."""
    items = text.split()
    if len(items) % 2 == 1:
        return [p.strip() for p in items], None
    weights = []
    for w in items[0::2]:
        try:
            weights.append(float(w))
        except ValueError:
            return [p.strip() for p in items], None
    return [p.strip() for p in items[1::2]], weights


def mix64(x):
    """splitmix64's finaliser on a numpy uint64 array (or a Python int)."""
    if isinstance(x, int):
        x &= M64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
        return x ^ (x >> 31)
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def train_keys(seed, doc_id, copy):
    """The training-order key of each (doc_id, copy): mix64(seed*golden ^ mix64(doc*1024+copy+1))."""
    s = np.uint64((int(seed) * GOLDEN) & M64)
    with np.errstate(over="ignore"):
        inner = np.asarray(doc_id, np.uint64) * np.uint64(1024) + np.asarray(copy, np.uint64) + np.uint64(1)
    return mix64(s ^ mix64(inner))


def xxh3_file(path):
    """XXH3-64 of a file as 16 hex digits: python xxhash, else the xxhsum CLI, else None."""
    try:
        import xxhash  # noqa: PLC0415
        h = xxhash.xxh3_64()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
        return h.hexdigest()
    except ImportError:
        pass
    if shutil.which("xxhsum") is None:
        return None
    out = subprocess.run(["xxhsum", "-H3", path], check=True, capture_output=True, text=True).stdout
    # "XXH3 (path) = hex" (BSD style, newer xxhsum) or "XXH3_hex  path" / "hex  path"
    tok = out.strip().split()
    if "=" in tok:
        return tok[-1].lower()
    h = tok[0]
    return h.split("_", 1)[1].lower() if "_" in h else h.lower()


def text(x):
    return x.decode() if isinstance(x, (bytes, np.bytes_)) else str(x)


def names(group, key):
    """A string table stored as a dataset (fixed or variable length) or an attribute."""
    v = group[key][()] if key in group else group.attrs[key]
    return [text(s) for s in np.atleast_1d(v)]


def read_jsonl(path):
    if path.endswith(".gz"):
        data = gzip.open(path).read()
    elif path.endswith(".zst"):
        data = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    else:
        data = open(path, "rb").read()
    return [json.loads(line) for line in data.splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------
# the checks

SIDECAR = {"doc_id": "uint64", "copy": "uint32", "source": "uint16", "declared": "uint8",
           "inferred": "uint8", "line": "uint64", "input_shard": "uint32", "tokens": "uint32",
           "token_offset": "uint64"}


class Checker:
    def __init__(self):
        self.fails = []
        self.notes = []
        self.extra = []
        self.hashes = 0
        self.hash_skipped = False

    def fail(self, msg):
        self.fails.append(msg)

    def resolve(self, matdir, p):
        return p if os.path.isabs(p) else os.path.join(matdir, p)

    def shard(self, matdir, kind, e, tok):
        """One manifest entry: its .idx/.bin/sidecar. Returns (idx, tokens, sidecar dict) or
        None when it cannot be read."""
        import h5py  # noqa: PLC0415
        where = f"{kind} {e.get('prefix')}"
        for k in ("prefix", "sequences", "documents", "tokens", "dtype", "bin_xxh3_64",
                  "idx_xxh3_64", "sidecar"):
            if k not in e:
                self.fail(f"{where}: manifest entry has no '{k}'")
                return None
        base = self.resolve(matdir, e["prefix"])
        ipath, bpath = base + ".idx", base + ".bin"
        for p in (ipath, bpath):
            if not os.path.isfile(p):
                self.fail(f"{where}: {p} is missing")
                return None
        try:
            idx = read_idx(ipath)
            toks = read_bin(bpath, idx["dtype"])
        except FormatError as err:
            self.fail(f"{where}: {err}")
            return None
        n = idx["sequence_count"]
        for msg in check_index(idx, os.path.getsize(bpath)):
            self.fail(f"{where}: {msg}")
        if os.path.getsize(bpath) == 0:
            self.fail(f"{where}: empty .bin (Megatron's numpy.memmap reader cannot map it)")
        if idx["dtype"] != e["dtype"]:
            self.fail(f"{where}: .idx dtype code {idx['code']} ({idx['dtype']}), manifest says {e['dtype']}")
        if idx["dtype"] not in ("uint16", "int32"):
            self.fail(f"{where}: dtype {idx['dtype']}; expected uint16 or int32")
        if e["sequences"] != n:
            self.fail(f"{where}: manifest sequences {e['sequences']}, .idx sequence_count {n}")
        if e["documents"] != idx["document_count"] - 1:
            self.fail(f"{where}: manifest documents {e['documents']}, .idx document_count "
                      f"{idx['document_count']} (= documents + 1)")
        total = int(idx["lengths"].astype(np.int64).sum())
        if e["tokens"] != total:
            self.fail(f"{where}: manifest tokens {e['tokens']}, sum of sequence lengths {total}")
        for key, p in (("idx_xxh3_64", ipath), ("bin_xxh3_64", bpath)):
            got = xxh3_file(p)
            if got is None:
                self.hash_skipped = True
            else:
                self.hashes += 1
                if got != str(e[key]).lower():
                    self.fail(f"{where}: {key} {e[key]}, file has {got}")
        # token values
        vocab = tok.get("vocab_size") or 0
        if len(toks):
            lo, hi = int(toks.min()), int(toks.max())
            if lo < 0:
                self.fail(f"{where}: negative token id {lo}")
            if vocab and hi >= vocab:
                self.fail(f"{where}: token id {hi} >= vocab_size {vocab}")
        if tok.get("append_eod") and n:
            ends = np.cumsum(idx["lengths"].astype(np.int64)) - 1
            last = np.asarray(toks[ends[idx["lengths"] > 0]], dtype=np.int64)
            bad = int((last != int(tok["eod"])).sum())
            if bad:
                self.fail(f"{where}: {bad} of {n} sequences do not end with the EOD id {tok['eod']}")
        # sidecar
        spath = self.resolve(matdir, e["sidecar"])
        if not os.path.isfile(spath):
            self.fail(f"{where}: sidecar {spath} is missing")
            return None
        sc = {}
        with h5py.File(spath, "r") as s:
            if text(s.attrs.get("kind", "")) != kind:
                self.fail(f"{where}: sidecar kind {s.attrs.get('kind')!r}, want {kind!r}")
            if text(s.attrs.get("prefix", "")) != e["prefix"]:
                self.fail(f"{where}: sidecar prefix {s.attrs.get('prefix')!r}, want {e['prefix']!r}")
            for k, dt in SIDECAR.items():
                if k not in s:
                    self.fail(f"{where}: sidecar has no {k}")
                    return None
                if s[k].dtype != np.dtype(dt):
                    self.fail(f"{where}: sidecar {k} is {s[k].dtype}, want {dt}")
                if s[k].shape != (n,):
                    self.fail(f"{where}: sidecar {k} has shape {s[k].shape}, want ({n},)")
                    return None
                sc[k] = s[k][:]
            for k in ("source_names", "provenance_names", "input_shard_names"):
                try:
                    sc[k] = names(s, k)
                except KeyError:
                    self.fail(f"{where}: sidecar has no {k}")
                    return None
        if not np.array_equal(sc["tokens"].astype(np.int64), idx["lengths"].astype(np.int64)):
            self.fail(f"{where}: sidecar tokens differ from the .idx sequence lengths")
        if not np.array_equal(sc["token_offset"].astype(np.int64), idx["pointers"] // idx["itemsize"]):
            self.fail(f"{where}: sidecar token_offset differs from sequence_pointers / itemsize")
        for k, table in (("source", "source_names"), ("declared", "provenance_names"),
                         ("inferred", "provenance_names"), ("input_shard", "input_shard_names")):
            if n and int(sc[k].max()) >= len(sc[table]):
                self.fail(f"{where}: sidecar {k} index {int(sc[k].max())} outside {table}")
                return None
        return idx, toks, sc

    def run(self, matdir, h5path, compare=None, jsonl_ids=None):
        import h5py  # noqa: PLC0415
        self.matdir = matdir
        mpath = os.path.join(matdir, "manifest.json")
        m = json.load(open(mpath))
        meg, tok = m.get("megatron"), m.get("tokenizer")
        if meg is None or tok is None:
            self.fail(f"{mpath} has no 'megatron' or no 'tokenizer' block")
            return
        for k in ("kind", "name", "model", "model_xxh3_64", "vocab_size", "eod", "append_eod"):
            if k not in tok:
                self.fail(f"manifest tokenizer has no '{k}'")
        if tok.get("append_eod") and (tok.get("eod") is None or int(tok["eod"]) < 0):
            self.fail("append_eod but no EOD id")
        vocab = tok.get("vocab_size") or 0
        if tok.get("model") and tok.get("model_xxh3_64"):
            model = tok["model"]
            cands = [model, os.path.join(matdir, model)]
            found = next((c for c in cands if os.path.isfile(c)), None)
            if found is None:
                self.notes.append(f"tokenizer model {model} not found here; its hash not checked")
            else:
                got = xxh3_file(found)
                if got is not None and got != str(tok["model_xxh3_64"]).lower():
                    self.fail(f"tokenizer model {found}: xxh3 {got}, manifest {tok['model_xxh3_64']}")
        f = h5py.File(h5path, "r")
        d = f["docs"]
        seed = int(f.attrs["seed"])
        rep = d["repeats"][:].astype(np.int64)
        ntok = d["n_tokens"][:].astype(np.int64)
        dsrc, dprov, dinf = d["source"][:], d["provenance"][:], d["inferred"][:]
        dline, dshard = d["line"][:], d["shard"][:]
        src_names = names(f["sources"], "name")
        prov_labels = [text(x) for x in d["provenance"].attrs["labels"]]
        inf_labels = [text(x) for x in d["inferred"].attrs["labels"]]
        shard_paths = names(f["shards"], "path")
        role = f["sources/role"][:]
        realised = int(f["plan/summary"].attrs["realised_tokens"])
        ndocs = len(rep)

        def same_path(a, b):
            a, b = os.path.normpath(a), os.path.normpath(b)
            return a == b or a.endswith("/" + b) or b.endswith("/" + a)

        def concat(kind):
            parts, dtypes = [], set()
            for e in meg.get(kind, []):
                r = self.shard(matdir, kind, e, tok)
                if r is None:
                    return None
                idx, _, sc = r
                dtypes.add(idx["dtype"])
                parts.append((e, idx, sc))
            # run-file agreement, per shard (the name tables are per sidecar)
            for e, idx, sc in parts:
                where = f"{kind} {e['prefix']}"
                doc = sc["doc_id"].astype(np.int64)
                if len(doc) and (doc.min() < 0 or doc.max() >= ndocs):
                    self.fail(f"{where}: doc_id outside the run's {ndocs} documents")
                    return None
                if not np.array_equal(idx["lengths"].astype(np.int64), ntok[doc]):
                    k = int(np.argmax(idx["lengths"].astype(np.int64) != ntok[doc]))
                    self.fail(f"{where}: sequence {k} (doc {doc[k]}) has {idx['lengths'][k]} tokens, "
                              f"/docs/n_tokens says {ntok[doc[k]]}")
                sn = np.array(sc["source_names"], dtype=object)[sc["source"]]
                want = np.array(src_names, dtype=object)[dsrc[doc]]
                if np.any(sn != want):
                    self.fail(f"{where}: {int((sn != want).sum())} sidecar sources differ from /docs/source")
                pn = np.array(sc["provenance_names"], dtype=object)
                for col, dcol, labels in (("declared", dprov, prov_labels), ("inferred", dinf, inf_labels)):
                    got = pn[sc[col]]
                    want = np.array(labels, dtype=object)[dcol[doc]]
                    if np.any(got != want):
                        self.fail(f"{where}: {int((got != want).sum())} sidecar {col} provenance "
                                  f"differ from /docs/{'provenance' if col == 'declared' else col}")
                if not np.array_equal(sc["line"].astype(np.int64), dline[doc].astype(np.int64)):
                    self.fail(f"{where}: sidecar line differs from /docs/line")
                ish = sc["input_shard_names"]
                bad = sum(not same_path(ish[a], shard_paths[b])
                          for a, b in zip(sc["input_shard"].tolist(), dshard[doc].tolist()))
                if bad:
                    self.fail(f"{where}: {bad} sidecar input shards differ from /shards/path[/docs/shard]")
            return parts, dtypes

        # --- mix
        got = concat("mix")
        if got is None:
            return
        mix, mix_dtypes = got
        doc = np.concatenate([sc["doc_id"] for _, _, sc in mix]) if mix else np.empty(0, np.uint64)
        cp = np.concatenate([sc["copy"] for _, _, sc in mix]) if mix else np.empty(0, np.uint32)
        counts = np.bincount(doc.astype(np.int64), minlength=ndocs)
        if not np.array_equal(counts, rep):
            k = int(np.argmax(counts != rep))
            self.fail(f"copies per document differ from /docs/repeats (doc {k}: {counts[k]} vs {rep[k]}; "
                      f"{int((counts != rep).sum())} documents)")
        if len(doc) and np.any(cp.astype(np.int64) >= rep[doc.astype(np.int64)]):
            self.fail("a copy index >= the document's repeats")
        pairs = doc.astype(np.uint64) * np.uint64(1 << 32) + cp.astype(np.uint64)
        if len(np.unique(pairs)) != len(pairs):
            self.fail("a (doc_id, copy) appears twice in the mix")
        keys = train_keys(seed, doc, cp)
        if len(keys) > 1 and not np.all(keys[1:] > keys[:-1]):
            k = int(np.argmax(~(keys[1:] > keys[:-1])))
            self.fail(f"the mix is not in training order: sequence {k + 1} (doc {doc[k + 1]} copy "
                      f"{cp[k + 1]}) does not follow doc {doc[k]} copy {cp[k]}")
        mix_tokens = sum(int(idx["lengths"].astype(np.int64).sum()) for _, idx, _ in mix)
        if mix_tokens != realised:
            self.fail(f"mix tokens {mix_tokens} != /plan/summary realised_tokens {realised}")
        for where, v in (("manifest mix_tokens", m.get("mix_tokens")),
                         ("manifest megatron.mix_tokens", meg.get("mix_tokens"))):
            if v is not None and v != mix_tokens:
                self.fail(f"{where} {v} != the .bin files' {mix_tokens} tokens")
        if len(mix_dtypes) > 1:
            self.fail(f"mix shards use several dtypes {sorted(mix_dtypes)}")
        for dt in mix_dtypes:
            if vocab and vocab > np.iinfo(dt).max + 1:
                self.fail(f"dtype {dt} cannot hold vocab_size {vocab}")
            if vocab and dt != optimal_dtype(vocab):
                self.notes.append(f"dtype {dt} differs from preprocess_data's choice "
                                  f"{optimal_dtype(vocab)} for vocab_size {vocab}")
        # the JSONL materialisation ("both"): same records in the same order
        if m.get("mix") and all("path" in e for e in m["mix"]):
            recs = [r for e in m["mix"] for r in read_jsonl(self.resolve(matdir, e["path"]))]
            jd = np.array([r["doc_id"] for r in recs], dtype=np.int64)
            jc = np.array([r["copy"] for r in recs], dtype=np.int64)
            lens = (np.concatenate([idx["lengths"] for _, idx, _ in mix]).astype(np.int64)
                    if mix else np.empty(0, np.int64))
            if not (np.array_equal(jd, doc.astype(np.int64)) and np.array_equal(jc, cp.astype(np.int64))):
                self.fail("the JSONL mix and the Megatron mix differ in (doc_id, copy) order")
            elif recs and "n_tokens" in recs[0]:
                jn = np.array([r["n_tokens"] for r in recs], dtype=np.int64)
                if not np.array_equal(jn, lens):
                    self.fail("JSONL n_tokens differ from the Megatron sequence lengths")
            self.notes.append(f"JSONL mix agrees record for record ({len(recs)} records)")

        # --- anchor
        got = concat("anchor")
        if got is None:
            return
        anchor, _ = got
        adoc = (np.concatenate([sc["doc_id"] for _, _, sc in anchor]).astype(np.int64)
                if anchor else np.empty(0, np.int64))
        acp = np.concatenate([sc["copy"] for _, _, sc in anchor]) if anchor else np.empty(0)
        want = np.nonzero(role[dsrc] == 0)[0]
        if not np.array_equal(adoc, want):
            self.fail(f"anchor split: {len(adoc)} documents, want the {len(want)} anchor-role "
                      f"documents in doc_id order")
        if np.any(acp != 0):
            self.fail("an anchor sequence has copy != 0")

        # --- weights files
        nweights = 0
        for kind, parts in (("mix", mix), ("anchor", anchor)):
            wpath = os.path.join(matdir, "megatron", f"{kind}.weights")
            if not parts:
                if os.path.exists(wpath) and open(wpath).read().split():
                    self.fail(f"{wpath} names prefixes but the manifest lists no {kind} shards")
                continue
            if not os.path.isfile(wpath):
                self.fail(f"{wpath} is missing")
                continue
            body = open(wpath).read()
            if len(body.strip().splitlines()) != 1:
                self.fail(f"{wpath}: not one line")
            prefixes, weights = parse_blend(body)
            if weights is None:
                self.fail(f"{wpath}: not 'weight prefix' pairs")
                continue
            if abs(sum(weights) - 1.0) > 1e-9:
                self.fail(f"{wpath}: weights sum to {sum(weights)!r}")
            if len(prefixes) != len(parts):
                self.fail(f"{wpath}: {len(prefixes)} prefixes, manifest lists {len(parts)} shards")
                continue
            total = sum(e["tokens"] for e, _, _ in parts)
            for (e, _, _), p, w in zip(parts, prefixes, weights):
                rp = self.resolve(matdir, p)
                if not (os.path.isfile(rp + ".idx") and os.path.isfile(rp + ".bin")):
                    self.fail(f"{wpath}: prefix {p} does not resolve (relative to {matdir}) to .idx/.bin")
                elif os.path.realpath(rp) != os.path.realpath(self.resolve(matdir, e["prefix"])):
                    self.fail(f"{wpath}: prefix {p} is not manifest entry {e['prefix']} (order?)")
                want_w = e["tokens"] / total if total else 0.0
                if abs(w - want_w) > 1e-9 * max(want_w, 1e-300) + 1e-15:
                    self.fail(f"{wpath}: weight {w!r} for {p}, tokens/total = {want_w!r}")
            nweights += len(prefixes)

        # --- optional: the same token stream as another materialisation
        if compare:
            self.compare_streams(matdir, meg, compare)

        # --- optional: ids re-tokenised from the JSONL text
        if jsonl_ids:
            self.check_ids(mix, jsonl_ids, tok)

        if self.fails:
            return
        eod = f", every sequence ends with EOD {tok['eod']}" if tok.get("append_eod") else ""
        hashes = (f"{self.hashes} xxh3 checksums" if not self.hash_skipped
                  else "xxh3 skipped (no python xxhash, no xxhsum)")
        print(f"megatron OK: {len(mix)} mix shards ({'/'.join(sorted(mix_dtypes)) or '-'}), "
              f"{len(doc)} sequences = copies of {int((rep > 0).sum())} documents in training "
              f"order, {mix_tokens} tokens = realised_tokens{eod}; {len(anchor)} anchor shards, "
              f"{len(adoc)} anchor documents in doc_id order; {hashes}; {nweights} weighted "
              f"prefixes summing to 1" + "".join(f"; {x}" for x in self.extra))

    def stream(self, matdir, meg):
        for e in meg.get("mix", []):
            base = self.resolve(matdir, e["prefix"])
            idx = read_idx(base + ".idx")
            yield idx["dtype"], read_bin(base + ".bin", idx["dtype"])

    def compare_streams(self, matdir, meg, other):
        om = json.load(open(os.path.join(other, "manifest.json"))).get("megatron")
        if om is None:
            self.fail(f"{other}/manifest.json has no 'megatron' block")
            return
        a, b = list(self.stream(matdir, meg)), list(self.stream(other, om))
        na, nb = sum(len(t) for _, t in a), sum(len(t) for _, t in b)
        if na != nb:
            self.fail(f"--compare-stream: {na} tokens here, {nb} in {other}")
            return
        # walk both shard lists in step, chunk by chunk
        ia = ib = oa = ob = 0
        pos = 0
        while pos < na:
            ta, tb = a[ia][1], b[ib][1]
            k = min(len(ta) - oa, len(tb) - ob, 1 << 22)
            if k == 0:
                if len(ta) - oa == 0:
                    ia, oa = ia + 1, 0
                if len(tb) - ob == 0:
                    ib, ob = ib + 1, 0
                continue
            xa = np.asarray(ta[oa:oa + k], dtype=np.int64)
            xb = np.asarray(tb[ob:ob + k], dtype=np.int64)
            if not np.array_equal(xa, xb):
                j = int(np.argmax(xa != xb))
                self.fail(f"--compare-stream: token {pos + j} differs ({xa[j]} vs {xb[j]} in {other})")
                return
            oa, ob, pos = oa + k, ob + k, pos + k
        same_dt = {d for d, _ in a} | {d for d, _ in b}
        kind = "byte-identical" if len(same_dt) <= 1 else "identical as tokens (dtypes differ)"
        self.extra.append(f"mix stream {kind} to {other} ({na} tokens, {len(a)} vs {len(b)} shards)")

    def check_ids(self, mix, path, tok):
        seqs = []
        for e, idx, _ in mix:
            toks = read_bin(self.resolve(self.matdir, e["prefix"]) + ".bin", idx["dtype"])
            ends = np.cumsum(idx["lengths"].astype(np.int64))
            starts = ends - idx["lengths"]
            seqs.extend(zip([toks] * len(starts), starts, ends))
        lines = [ln for ln in open(path) if ln.strip()]
        if len(lines) != len(seqs):
            self.fail(f"--jsonl-ids: {len(lines)} id lists, {len(seqs)} mix sequences")
            return
        eod = [int(tok["eod"])] if tok.get("append_eod") else []
        bad = 0
        for k, (ln, (t, s, e)) in enumerate(zip(lines, seqs)):
            want = json.loads(ln) + eod
            got = np.asarray(t[s:e], dtype=np.int64)
            if len(got) != len(want) or not np.array_equal(got, np.asarray(want, dtype=np.int64)):
                if not bad:
                    self.fail(f"--jsonl-ids: sequence {k} differs from the re-tokenised JSONL "
                              f"({len(got)} vs {len(want)} ids)")
                bad += 1
        if bad > 1:
            self.fail(f"--jsonl-ids: {bad} sequences differ in all")
        if not bad:
            self.extra.append(f"{len(seqs)} sequences equal the re-tokenised JSONL ids")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("matdir")
    ap.add_argument("h5")
    ap.add_argument("--compare-stream", metavar="OTHER_MATDIR")
    ap.add_argument("--jsonl-ids", metavar="IDS.jsonl")
    a = ap.parse_args(argv)
    c = Checker()
    try:
        c.run(a.matdir, a.h5, compare=a.compare_stream, jsonl_ids=a.jsonl_ids)
    except (OSError, KeyError, ValueError, FormatError) as err:
        c.fail(f"{type(err).__name__}: {err}")
    for x in c.notes:
        print("note:", x)
    for x in c.fails:
        print("FAIL:", x)
    return 1 if c.fails else 0


if __name__ == "__main__":
    sys.exit(main())
