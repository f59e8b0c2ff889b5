// Reference token ids for compare.sh, from independent implementations on npm (fetch.sh installs
// them under ${CLEANMIX_CACHE:-$HOME/.cache/cleanmix}/npm).
//   node reference.mjs KIND [MODEL] < texts.jsonl > ids.jsonl
// Input: JSON Lines with a string "text"; output: one JSON array of ids per input line, in order.
// KIND:
//   tiktoken-cl100k_base, tiktoken-o200k_base  the `tiktoken` package's WASM encoder (Rust core,
//       fancy-regex), encode_ordinary: special-token text is encoded as ordinary text. No MODEL.
//   hf MODEL          @huggingface/tokenizers: new Tokenizer(tokenizer.json, tokenizer_config.json)
//       .encode(text, {add_special_tokens: false}).ids. Like the Rust `tokenizers` crate, added
//       tokens written in the text (e.g. "<|endoftext|>") still become their ids.
//   hf-onig MODEL     as hf, with the two places where this JS port's regexes differ from the Rust
//       crate's Oniguruma ones patched to Oniguruma's meaning: the ByteLevel pre-tokenizer's
//       built-in pattern uses JS \s (U+FEFF is space, U+0085 is not; Oniguruma: White_Space),
//       and (?i:...) is rewritten with ASCII case folding only ('[sS], where Oniguruma's also
//       matches U+017F ſ). compare.sh accepts a cleanmix result equal to this one as a known
//       reference difference.
//   hf-ordinary MODEL as hf, but without added tokens: their text is encoded as ordinary text.
// Packages load from $CLEANMIX_NPM, else ${CLEANMIX_CACHE:-$HOME/.cache/cleanmix}/npm.
// MODEL's config is X.tokenizer_config.json beside X.tokenizer.json, else tokenizer_config.json in
// the same folder, else {}.
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

const [kind, model] = process.argv.slice(2);
const die = (msg) => { console.error(`reference.mjs: ${msg}`); process.exit(2); };
const env = process.env;
if (!env.CLEANMIX_NPM && !env.CLEANMIX_CACHE && !env.HOME) die("set CLEANMIX_NPM, CLEANMIX_CACHE or HOME");
const npm = env.CLEANMIX_NPM || join(env.CLEANMIX_CACHE || join(env.HOME, ".cache", "cleanmix"), "npm");
const require = createRequire(join(npm, "/"));

function tiktokenEncoder(name) {
  const enc = require("tiktoken").get_encoding(name);
  return (text) => Array.from(enc.encode_ordinary(text));
}

function hfEncoder(path, variant) {
  if (!path) die(`${kind} needs MODEL (a tokenizer.json)`);
  const { Tokenizer } = require("@huggingface/tokenizers");
  const json = JSON.parse(readFileSync(path, "utf8"));
  const cfgPath = [path.replace(/tokenizer\.json$/, "tokenizer_config.json"),
    join(dirname(path), "tokenizer_config.json")].find((p) => p !== path && existsSync(p));
  const config = cfgPath ? JSON.parse(readFileSync(cfgPath, "utf8")) : {};
  if (variant === "hf-ordinary") json.added_tokens = [];
  const tok = new Tokenizer(json, config);
  if (variant === "hf-onig") patchOniguruma(tok.pre_tokenizer);
  return (text) => tok.encode(text, { add_special_tokens: false }).ids;
}

// Walks a pre-tokenizer (Sequence: .tokenizers) and rewrites its compiled regexes.
function patchOniguruma(pt) {
  if (!pt) return;
  for (const sub of pt.tokenizers ?? []) patchOniguruma(sub);
  if (!(pt.pattern instanceof RegExp)) return;
  let src = pt.pattern.source;
  if (pt.constructor.name.startsWith("ByteLevel"))
    src = src.replaceAll("\\s", "\\p{White_Space}").replaceAll("\\S", "\\P{White_Space}");
  src = src.replaceAll("'[sS]", "'[sS\\u017F]");
  if (src !== pt.pattern.source) pt.pattern = new RegExp(src, pt.pattern.flags);
}

let encode;
if (kind?.startsWith("tiktoken-")) encode = tiktokenEncoder(kind.slice("tiktoken-".length));
else if (["hf", "hf-onig", "hf-ordinary"].includes(kind)) encode = hfEncoder(model, kind);
else die(`unknown KIND ${kind}; usage: node reference.mjs KIND [MODEL] < texts.jsonl > ids.jsonl`);

const lines = readFileSync(0, "utf8").split("\n");
if (lines.at(-1) === "") lines.pop();
const out = [];
lines.forEach((line, i) => {
  let rec;
  try { rec = JSON.parse(line); } catch (e) { die(`line ${i + 1}: ${e.message}`); }
  if (typeof rec?.text !== "string") die(`line ${i + 1}: no string "text"`);
  out.push(JSON.stringify(encode(rec.text)));
});
process.stdout.write(out.length ? out.join("\n") + "\n" : "");
