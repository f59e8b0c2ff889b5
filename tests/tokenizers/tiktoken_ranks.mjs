// Converts the npm `tiktoken` package's bundled encoder (encoders/NAME.json) into a standard
// tiktoken rank file ("<base64 token> <rank>" per line, ranks ascending), as OpenAI publishes it.
// Usage: node tiktoken_ranks.mjs NODE_MODULES NAME OUT.tiktoken
//
// The JSON's `bpe_ranks` is lines "<x> <offset> <b64> <b64> ...". Found by experiment against the
// WASM constructor (asserted below): a first field starting with "!" marks this compact form (any
// other first field is read as a standard "<b64> <rank>" line, so "X 0 ..." throws); field 2 is
// the rank of field 3 and the following tokens take consecutive ranks. The constructor also
// accepts the standard format itself, so the output is checked by loading it back.
import { createRequire } from "node:module";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import assert from "node:assert/strict";

const [nodeModules, name, out] = process.argv.slice(2);
if (!out) { console.error("usage: node tiktoken_ranks.mjs NODE_MODULES NAME OUT"); process.exit(2); }
const require = createRequire(`${nodeModules}/`);
const { Tiktoken } = require("tiktoken/lite");
const enc = require(`tiktoken/encoders/${name}.json`);
// sha256 of the files OpenAI publishes (tiktoken_ext/openai_public.py, expected_hash).
const PUBLISHED = {
  cl100k_base: "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
  o200k_base: "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
};

const ranks = new Map();  // rank -> base64
let lines = 0;
for (const line of enc.bpe_ranks.split("\n")) {
  if (line === "") continue;
  const [mark, offset, ...toks] = line.split(" ");
  assert(mark.startsWith("!") && /^\d+$/.test(offset), `not a compact line: ${line.slice(0, 40)}`);
  toks.forEach((b64, i) => {
    const r = Number(offset) + i;
    assert(!ranks.has(r), `rank ${r} appears twice`);
    ranks.set(r, b64);
  });
  lines++;
}
const sorted = [...ranks.keys()].sort((a, b) => a - b);
const text = sorted.map((r) => `${ranks.get(r)} ${r}\n`).join("");

// Every rank decodes to its token's bytes, in the encoder built from the JSON and in the one
// built from the converted file; the two encode sample text identically.
const tk = new Tiktoken(enc.bpe_ranks, enc.special_tokens, enc.pat_str);
const tkStd = new Tiktoken(text, enc.special_tokens, enc.pat_str);
const seen = new Set();
for (const r of sorted) {
  const want = Buffer.from(ranks.get(r), "base64");
  assert.equal(want.toString("base64"), ranks.get(r), `rank ${r}: non-canonical base64`);
  for (const t of [tk, tkStd]) {
    const got = Buffer.from(t.decode_single_token_bytes(r));
    assert(got.equals(want), `rank ${r}: file says ${want.toString("hex")}, encoder ${got.toString("hex")}`);
  }
  assert(!seen.has(want.toString("latin1")), `rank ${r}: duplicate token bytes`);
  seen.add(want.toString("latin1"));
}
for (const id of Object.values(enc.special_tokens)) assert(!ranks.has(id), `special ${id} is also a rank`);
const past = sorted[sorted.length - 1] + 1;
for (const s of ["Hello world", "  x\r\n\tdon't 12345 <|endoftext|> Привет 你好 👍🏽", "ſ".repeat(99)])
  assert.deepEqual([...tkStd.encode_ordinary(s)], [...tk.encode_ordinary(s)]);
tk.free(); tkStd.free();

writeFileSync(out, text);
const sha = createHash("sha256").update(text).digest("hex");
if (PUBLISHED[name]) assert.equal(sha, PUBLISHED[name], `${name}: sha256 differs from the published file`);
const dense = sorted[0] === 0 && sorted.length === past;
console.log(`${name}: ${sorted.length} ranks ${sorted[0]}..${past - 1}${dense ? " (dense)" : " (with gaps)"} ` +
  `from ${lines} compact line(s); decode checks passed; sha256 ${sha}` +
  `${PUBLISHED[name] ? " = published" : ""} -> ${out}`);
