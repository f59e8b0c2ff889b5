#!/usr/bin/python3
"""Deterministic test inputs from the bundled sample corpus (data/sample/*/*.jsonl[.gz|.zst]).

  corpus.py docs SAMPLE_DIR OUT.jsonl [MAX]  every valid document ({"id","text"}), shards in
                                             sorted path order, lines in file order (MAX: stop)
  corpus.py text SAMPLE_DIR OUT.txt          sentencepiece training text: every non-blank line
                                             of every document, one per line
  corpus.py lines IN.jsonl OUT.jsonl         each document split at "\\n" into one record per
                                             line (the sentencepiece comparison: spm_encode reads
                                             one line of text per line); ids become ID:LINENO
  corpus.py plain IN.jsonl OUT.txt           the texts, one per line (spm_encode's input); texts
                                             must not contain "\\n"
Lines that are not a JSON object with a string "text" (the corpus's planted bad lines) are
skipped. .zst shards are read with the zstd command (Python has no zstd module before 3.14).
"""
import glob, gzip, json, os, subprocess, sys


def shard_lines(path):
    if path.endswith(".gz"):
        data = gzip.open(path, "rb").read()
    elif path.endswith(".zst"):
        data = subprocess.run(["zstd", "-dcq", path], check=True, stdout=subprocess.PIPE).stdout
    else:
        data = open(path, "rb").read()
    return data.decode("utf-8").split("\n")


def documents(sample_dir):
    for path in sorted(glob.glob(os.path.join(sample_dir, "*", "*.jsonl*"))):
        rel = os.path.relpath(path, sample_dir)
        for n, line in enumerate(shard_lines(path), 1):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("text"), str):
                yield {"id": rec.get("id", f"{rel}:{n}"), "text": rec["text"]}


def dump(rec):
    return json.dumps(rec, ensure_ascii=False) + "\n"


def main(argv):
    mode, src, out = argv[1], argv[2], argv[3]
    n = 0
    with open(out, "w", encoding="utf-8", newline="") as f:
        if mode == "docs":
            limit = int(argv[4]) if len(argv) > 4 else None
            for rec in documents(src):
                if limit is not None and n >= limit:
                    break
                f.write(dump(rec)); n += 1
        elif mode == "text":
            for rec in documents(src):
                for line in rec["text"].split("\n"):
                    if line.strip():
                        f.write(line + "\n"); n += 1
        elif mode == "lines":
            for raw in open(src, encoding="utf-8", newline=""):
                rec = json.loads(raw)
                for i, line in enumerate(rec["text"].split("\n")):
                    piece = {"id": f"{rec.get('id', '?')}:{i}", "text": line}
                    if "group" in rec:
                        piece["group"] = rec["group"]
                    f.write(dump(piece)); n += 1
        elif mode == "plain":
            for raw in open(src, encoding="utf-8", newline=""):
                text = json.loads(raw)["text"]
                if "\n" in text:
                    sys.exit(f"corpus.py plain: a text contains a newline: {text[:80]!r}")
                f.write(text + "\n"); n += 1
        else:
            sys.exit(f"unknown mode {mode!r}")
    print(f"corpus.py {mode}: {n} records -> {out}")


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv)
