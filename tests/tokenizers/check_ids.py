#!/usr/bin/python3
"""Compares cleanmix's token ids with a reference's, document by document (compare.sh).

  check_ids.py NAME DOCS.jsonl REF.ids CLEANMIX.ids [--alt ALT.ids] [--spm-ref]
               [--vocab FILE] [--informative GROUP]

REF/ALT/CLEANMIX: one JSON array of ids per document (--spm-ref: REF is spm_encode's
space-separated ids). A document passes when cleanmix equals REF; when it equals ALT instead
(reference.mjs hf-onig: the JS port's regexes patched to the Rust crate's Oniguruma meaning) it
is reported as a known reference difference; documents of GROUP (--informative, e.g.
unicode-version) are reported, never failed. Any other difference fails: the first one is shown
(text, position, both id windows with token strings from --vocab), then how many differ. Exit 1
on a failure, 0 otherwise.
"""
import argparse, base64, json, sys, unicodedata

# Code points regex engines and their Unicode tables disagree on (shown as hints only).
QUIRKS = {0xFEFF: "JS \\s matches it, White_Space does not", 0x0085: "White_Space; JS \\s misses it",
          0x180E: "not White_Space since Unicode 6.3; old PCRE2 \\s matches it",
          0x017F: "folds to s under (?i)", 0x212A: "folds to k under (?i)"}


def read_ids(path, spm=False):
    rows = []
    with open(path, encoding="utf-8", newline="\n") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            try:
                ids = [int(t) for t in line.split()] if spm else json.loads(line)
                if not isinstance(ids, list) or not all(type(i) is int for i in ids):
                    raise ValueError("not an array of integers")
            except ValueError as e:
                sys.exit(f"{path}:{n}: {e}: {line[:120]!r}")
            rows.append(ids)
    return rows


def load_vocab(path):
    """id -> token (bytes for byte-level vocabularies, else str), or None."""
    if not path:
        return None
    if path.endswith(".tiktoken"):
        return {int(r): base64.b64decode(b) for b, r in (l.split() for l in open(path) if l.strip())}
    if path.endswith(".json"):
        tj = json.load(open(path, encoding="utf-8"))
        vocab = {i: t for t, i in tj["model"]["vocab"].items()}
        vocab.update({a["id"]: a["content"] for a in tj.get("added_tokens", [])})
        if "ByteLevel" in json.dumps(tj.get("pre_tokenizer")):  # undo GPT-2's byte-to-char map
            bs = [*range(33, 127), *range(161, 173), *range(174, 256)]
            cs = bs + [256 + k for k in range(256 - len(bs))]
            bs += [b for b in range(256) if b not in bs]
            dec = {chr(c): b for b, c in zip(bs, cs)}
            vocab = {i: bytes(dec[c] for c in t) if all(c in dec for c in t) else t
                     for i, t in vocab.items()}
        return vocab
    if path.endswith(".vocab"):  # spm_train's piece<TAB>score, line number = id
        return {i: l.split("\t")[0] for i, l in enumerate(open(path, encoding="utf-8"))}
    return None


def shown(tok):
    """A token for display: text when it is whole UTF-8, else its bytes."""
    if isinstance(tok, bytes):
        try:
            return repr(tok.decode("utf-8"))
        except UnicodeDecodeError:
            return repr(tok)[1:]
    return repr(tok)


def window(ids, j, vocab, w=(4, 8)):
    part = ids[max(0, j - w[0]): j + w[1]]
    s = f"[{max(0, j - w[0])}:{max(0, j - w[0]) + len(part)}] {' '.join(map(str, part))}"
    if vocab is not None:
        s += "\n" + " " * 18 + " ".join(shown(vocab.get(i, "?")) for i in part)
    return s


def hints(text):
    out = []
    late = sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) == "Cn"})
    if late:
        out.append(f"unassigned in Unicode {unicodedata.unidata_version} (= Debian PCRE2 10.42's"
                   f" tables; the references use newer ones): {' '.join(late[:12])}")
    out += [f"U+{cp:04X} ({why})" for cp, why in QUIRKS.items() if chr(cp) in text]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name"); ap.add_argument("docs"); ap.add_argument("ref"); ap.add_argument("cleanmix")
    ap.add_argument("--alt"); ap.add_argument("--spm-ref", action="store_true")
    ap.add_argument("--vocab"); ap.add_argument("--informative", action="append", default=[])
    a = ap.parse_args()
    docs = [json.loads(l) for l in open(a.docs, encoding="utf-8", newline="\n")]
    ref, got = read_ids(a.ref, a.spm_ref), read_ids(a.cleanmix)
    alt = read_ids(a.alt) if a.alt else None
    for what, rows in (("reference", ref), ("cleanmix", got), ("alternative reference", alt)):
        if rows is not None and len(rows) != len(docs):
            print(f"FAIL {a.name}: {what} has {len(rows)} lines for {len(docs)} documents")
            if what == "cleanmix":
                print("  its first and last lines:", *(json.dumps(r)[:100] for r in rows[:2] + rows[-1:]),
                      sep="\n    ")
            return 1
    bad, known, info, refs_disagree, tokens = [], [], [], 0, 0
    for i, (doc, r, g) in enumerate(zip(docs, ref, got)):
        tokens += len(r)
        if alt is not None and alt[i] != r:
            refs_disagree += 1
        if g == r:
            continue
        if doc.get("group") in a.informative:
            info.append(i)
        elif alt is not None and g == alt[i]:
            known.append(i)
        else:
            bad.append(i)
    vocab = load_vocab(a.vocab) if (bad or info) else None
    groups = {}
    for d in docs:
        groups[d.get("group", "corpus")] = groups.get(d.get("group", "corpus"), 0) + 1
    print(f"{a.name}: {len(docs)} documents ({groups.get('corpus', 0)} from the sample corpus, "
          f"{len(docs) - groups.get('corpus', 0)} adversarial), {tokens} reference tokens compared")
    if refs_disagree:
        print(f"  note: the JS reference and its Oniguruma variant differ on {refs_disagree} documents")
    if known:
        print(f"  info: {len(known)} documents match the Oniguruma variant, not the JS reference (known"
              f" JS-port regex difference, not a cleanmix error): {' '.join(docs[i]['id'] for i in known[:8])}")
    first = lambda r, g: next((k for k, (x, y) in enumerate(zip(r, g)) if x != y), min(len(r), len(g)))
    for i in info:
        j = first(ref[i], got[i])
        print(f"  info: {docs[i]['id']} differs at token {j} (group {docs[i]['group']}: Unicode-table"
              f" versions, not a failure): {docs[i]['text'][:60]!r}\n"
              f"    reference {window(ref[i], j, vocab)}\n    cleanmix  {window(got[i], j, vocab)}")
    if not bad:
        print(f"  ok: {len(docs) - len(known) - len(info)} documents identical"
              f"{f', {len(known)} equal to the Oniguruma variant' if known else ''}"
              f"{f', {len(info)} informative differences' if info else ''}")
        return 0
    i = bad[0]
    r, g, text = ref[i], got[i], docs[i]["text"]
    j = first(r, g)
    print(f"FAIL {a.name}: document {i + 1} (id {docs[i].get('id')}, group {docs[i].get('group', 'corpus')})"
          f" differs at token {j} (reference {len(r)} tokens, cleanmix {len(g)})")
    print(f"  text ({len(text)} chars): {text[:200]!r}")
    print(f"  reference {window(r, j, vocab)}")
    print(f"  cleanmix  {window(g, j, vocab)}")
    if alt is not None and alt[i] != r:
        print(f"  onig-alt  {window(alt[i], j, vocab)}")
    for h in hints(text):
        print(f"  hint: the text contains {h}")
    print(f"  {len(bad)} of {len(docs)} documents differ: {' '.join(docs[k].get('id', '?') for k in bad[:10])}"
          f"{' ...' if len(bad) > 10 else ''}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
