// The model tokenizers: `tiktoken` (rank file + split pattern), `hf` (tokenizer.json, byte-level
// BPE) and `sentencepiece` (.model through libsentencepiece), and makeTokenizer().
#include <sentencepiece_processor.h>
#include <simdjson.h>
#include <utf8proc.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <unordered_map>
#include <bit>
#include <charconv>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "cleanmix/core/error.hpp"
#include "cleanmix/core/utf8.hpp"
#include "cleanmix/tokenize/bpe.hpp"
#include "cleanmix/tokenize/words.hpp"

namespace cleanmix {
namespace {

std::string readModelFile(const std::string& path, const char* kind) {
  if (path.empty()) configFail("tokenizer", "tokenizer.kind = '{}' needs tokenizer.model", kind);
  std::ifstream in(path, std::ios::binary);
  if (!in) configFail("tokenizer", "tokenizer.model '{}': cannot open the file", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in.good() && !in.eof())
    configFail("tokenizer", "tokenizer.model '{}': cannot read the file", path);
  return std::move(ss).str();
}

std::string fileName(const std::string& path) {
  const auto s = path.find_last_of('/');
  return s == std::string::npos ? path : path.substr(s + 1);
}

/// Token start offsets -> tokens per sentence. A sentence ends after `.`, `!` or `?` followed
/// by white space or the end of the text, and at a blank line (the `words` rule, applied to the
/// text the model tokenised); a token belongs to the sentence it starts in; empty ones drop.
void sentenceLengths(std::string_view t, const std::vector<TokenSpan>& spans,
                     std::vector<std::uint32_t>& out) {
  std::vector<std::uint32_t> ends;  // sentence end offsets, ascending
  int newlines = 0;
  for (std::size_t i = 0; i < t.size();) {
    utf8proc_int32_t cp = static_cast<unsigned char>(t[i]);
    std::size_t len = 1;
    if (cp >= 0x80) {
      const auto l = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(t.data() + i),
                                      static_cast<utf8proc_ssize_t>(t.size() - i), &cp);
      len = l > 0 ? static_cast<std::size_t>(l) : 1;
    }
    if (isSpaceCodepoint(cp)) {
      if (cp == '\n' && ++newlines == 2) ends.push_back(static_cast<std::uint32_t>(i));
    } else {
      newlines = 0;
      if (cp == '.' || cp == '!' || cp == '?') {
        const std::size_t k = i + len;
        bool boundary = k >= t.size();
        if (!boundary) {
          utf8proc_int32_t c2 = static_cast<unsigned char>(t[k]);
          if (c2 >= 0x80)
            utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(t.data() + k),
                             static_cast<utf8proc_ssize_t>(t.size() - k), &c2);
          boundary = isSpaceCodepoint(c2);
        }
        if (boundary) ends.push_back(static_cast<std::uint32_t>(k));
      }
    }
    i += len;
  }
  // A run of white-space-only tokens between two sentences (a blank line's "\n\n") is carried
  // into the next sentence rather than counted as one.
  auto blank = [&](const TokenSpan& sp) {
    for (std::uint32_t i = sp.begin; i < sp.end && i < t.size(); ++i) {
      const char c = t[i];
      if (c != ' ' && (c < '\t' || c > '\r')) return false;
    }
    return true;
  };
  std::size_t s = 0;
  std::uint32_t count = 0;
  bool content = false;
  for (const TokenSpan& sp : spans) {
    while (s < ends.size() && sp.begin >= ends[s]) {
      if (content) {
        out.push_back(count);
        count = 0;
      }
      content = false;
      ++s;
    }
    ++count;
    content |= !blank(sp);
  }
  if (count > 0) out.push_back(count);
}

/// What the three model tokenizers share: `norm`, line hashes and word inputs as `words` makes
/// them; ids, lens and sentences from the model on the (UTF-8 repaired) text.
class ModelTokenizer : public Tokenizer {
 public:
  void tokenize(std::string_view text, TokenizedDoc& out, bool full) const final {
    out.clear();
    out.replaced = normalizeText(text, out.norm);
    thread_local std::vector<TokenSpan> spans;
    spans.clear();
    const std::string_view modelText =
        encodeSpans(validUtf8(text), out.ids, full ? &spans : nullptr);
    if (!full) return;
    out.lens.reserve(spans.size());
    for (const TokenSpan& s : spans) out.lens.push_back(s.end - s.begin);
    sentenceLengths(modelText, spans, out.sentLens);
    appendLineHashes(out.norm, out.lineHashes);
  }
  void encode(std::string_view text, std::vector<std::uint64_t>& ids) const final {
    encodeSpans(validUtf8(text), ids, nullptr);
  }
  TokenizerIdentity identity() const final { return _id; }

 protected:
  /// `text`, or its repair (U+FFFD per invalid byte, as the readers do) in a per-thread buffer.
  static std::string_view validUtf8(std::string_view text) {
    if (isValidUtf8(text)) return text;
    thread_local std::string repaired;
    repairUtf8(text, repaired);
    return repaired;
  }
  /// Appends the ids of valid UTF-8 `t` (and their spans); returns the text the spans index.
  virtual std::string_view encodeSpans(std::string_view t, std::vector<std::uint64_t>& ids,
                                       std::vector<TokenSpan>* spans) const = 0;

  /// Resolve `params.eod` ("" none, "#<id>", or a name `byName` knows) and `appendEod`.
  template <class ByName>
  void setEod(const TokenizerParams& p, ByName&& byName) {
    _id.appendEod = p.appendEod;
    if (p.eod.empty()) {
      if (p.appendEod)
        configFail("tokenizer",
                   "tokenizer.append_eod = true needs tokenizer.eod (a token name or id)");
      return;
    }
    if (p.eod[0] == '#') {
      std::int64_t id = -1;
      const auto r = std::from_chars(p.eod.data() + 1, p.eod.data() + p.eod.size(), id);
      if (r.ec != std::errc{} || id < 0 || static_cast<std::uint64_t>(id) >= _id.vocabSize)
        configFail("tokenizer", "tokenizer.eod = {}: not a token id of '{}' (vocabulary {})",
                   p.eod.substr(1), _id.model, _id.vocabSize);
      _id.eod = id;
      return;
    }
    const std::optional<std::uint64_t> id = byName(p.eod);
    if (!id)
      configFail("tokenizer", "tokenizer.eod = '{}': no such token in '{}'", p.eod, _id.model);
    _id.eod = static_cast<std::int64_t>(*id);
  }

  TokenizerIdentity _id;
};

// ---- tiktoken -----------------------------------------------------------------------------

struct TiktokenPreset {
  std::string_view name, pattern;
  std::vector<std::pair<std::string, std::uint32_t>> specials;
};

const std::vector<TiktokenPreset>& tiktokenPresets() {
  // The patterns and special tokens of tiktoken's encoders (the npm `tiktoken` package's
  // encoders/*.json; OpenAI's tiktoken_ext/openai_public.py has the same up to possessive
  // quantifiers, which do not change the matches).
  static const std::vector<TiktokenPreset> p{
      {"cl100k_base",
       R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       {{"<|endoftext|>", 100257},
        {"<|fim_prefix|>", 100258},
        {"<|fim_middle|>", 100259},
        {"<|fim_suffix|>", 100260},
        {"<|endofprompt|>", 100276}}},
      {"o200k_base",
       R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}}},
  };
  return p;
}

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool decodeBase64(std::string_view in, std::string& out) {
  out.clear();
  if (in.empty() || in.size() % 4 != 0) return false;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else {
        if (pad > 0) return false;
        v[k] = base64Value(c);
        if (v[k] < 0) return false;
      }
    }
    const std::uint32_t w = static_cast<std::uint32_t>(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
    out.push_back(static_cast<char>(w >> 16));
    if (pad < 2) out.push_back(static_cast<char>(w >> 8 & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(w & 0xFF));
  }
  return true;
}

class TiktokenTokenizer final : public ModelTokenizer {
 public:
  explicit TiktokenTokenizer(const TokenizerParams& p) {
    const TiktokenPreset* preset = nullptr;
    for (const auto& pr : tiktokenPresets())
      if (pr.name == p.preset) preset = &pr;
    if (!p.preset.empty() && !preset)
      configFail("tokenizer", "tokenizer.preset = '{}' is not known (cl100k_base, o200k_base)",
                 p.preset);
    const std::string pattern = !p.pattern.empty() ? p.pattern
                                : preset           ? std::string(preset->pattern)
                                                   : std::string();
    if (pattern.empty())
      configFail("tokenizer",
                 "tokenizer.kind = 'tiktoken' needs tokenizer.preset or tokenizer.pattern");
    const std::string file = readModelFile(p.model, "tiktoken");
    std::vector<std::string> bytes;
    std::string tok;
    std::size_t lineNo = 0;
    for (std::size_t a = 0; a < file.size();) {
      std::size_t b = file.find('\n', a);
      if (b == std::string::npos) b = file.size();
      std::string_view line(file.data() + a, b - a);
      a = b + 1;
      ++lineNo;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) continue;
      const auto sp = line.find(' ');
      std::uint64_t rank = 0;
      const char* rb = line.data() + (sp == std::string_view::npos ? line.size() : sp + 1);
      const char* re = line.data() + line.size();
      if (sp == std::string_view::npos || std::from_chars(rb, re, rank).ptr != re || rb == re)
        configFail("tokenizer", "{}:{}: expected '<base64 token> <rank>'", p.model, lineNo);
      if (!decodeBase64(line.substr(0, sp), tok))
        configFail("tokenizer", "{}:{}: the token is not valid base64", p.model, lineNo);
      if (rank >= (1u << 26))
        configFail("tokenizer", "{}:{}: rank {} is too large", p.model, lineNo, rank);
      if (bytes.size() <= rank) bytes.resize(rank + 1);
      if (!bytes[rank].empty())
        configFail("tokenizer", "{}:{}: rank {} appears twice", p.model, lineNo, rank);
      bytes[rank] = tok;
    }
    if (bytes.empty()) configFail("tokenizer", "{}: no ranks in the file", p.model);
    _id = {"tiktoken", preset ? std::string(preset->name) : fileName(p.model),
           p.model,    fmt::format("{:016x}", XXH3_64bits(file.data(), file.size())),
           0,          -1,
           false};
    std::uint64_t vocab = bytes.size();
    if (preset && p.pattern.empty())
      for (const auto& [name, id] : preset->specials) {
        _specials.emplace(name, id);
        vocab = std::max<std::uint64_t>(vocab, id + 1ull);
      }
    for (const auto& [name, id] : _specials)
      if (id < bytes.size() && !bytes[id].empty())
        configFail("tokenizer", "{}: special token {} = {} is also a rank of the file", p.model,
                   name, id);
    _id.vocabSize = vocab;
    _bpe.setVocab(std::move(bytes), p.model);
    _bpe.deriveTiktokenMerges();
    _bpe.wholeLookup = true;
    _split.emplace(pattern, p.model);
    setEod(p, [&](const std::string& name) -> std::optional<std::uint64_t> {
      if (auto it = _specials.find(name); it != _specials.end()) return it->second;
      const std::int64_t id = _bpe.find(name);
      if (id >= 0) return static_cast<std::uint64_t>(id);
      return std::nullopt;
    });
  }
  std::string_view name() const override { return "tiktoken"; }

 protected:
  std::string_view encodeSpans(std::string_view t, std::vector<std::uint64_t>& ids,
                               std::vector<TokenSpan>* spans) const override {
    // encode_ordinary: special-token text in a document is ordinary text.
    _split->split(t, false, [&](std::size_t b, std::size_t e, bool) {
      _bpe.encode(t.substr(b, e - b), static_cast<std::uint32_t>(b), ids, spans);
    });
    return t;
  }

 private:
  ByteBpe _bpe;
  std::optional<RegexSplitter> _split;
  std::map<std::string, std::uint32_t> _specials;
};

// ---- Hugging Face tokenizer.json ------------------------------------------------------------

/// GPT-2's byte <-> unicode map: printable bytes map to themselves, the others to U+0100 on.
std::array<std::int32_t, 256> byteToUnicode() {
  std::array<std::int32_t, 256> m{};
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    m[b] = printable ? b : 256 + n++;
  }
  return m;
}

constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class HfTokenizer final : public ModelTokenizer {
 public:
  explicit HfTokenizer(const TokenizerParams& p) {
    const std::string file = readModelFile(p.model, "hf");
    _id = {"hf",    fileName(p.model),
           p.model, fmt::format("{:016x}", XXH3_64bits(file.data(), file.size())),
           0,       -1,
           false};
    const std::string& where = p.model;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (auto err = parser.parse(file).get(root))
      configFail("tokenizer", "{}: not valid JSON: {}", where, simdjson::error_message(err));
    auto unsupported = [&](std::string_view part, std::string_view what) {
      configFail("tokenizer",
                 "{}: {} '{}' is not supported (cleanmix reads byte-level BPE: see "
                 "docs/tokenizers.md)",
                 where, part, what);
    };
    auto typeOf = [&](simdjson::dom::element e) -> std::string {
      std::string_view t;
      if (e.is_null()) return "";
      if (e["type"].get(t)) configFail("tokenizer", "{}: a component without a 'type'", where);
      return std::string(t);
    };
    auto boolOr = [](simdjson::dom::element e, const char* k, bool dflt) {
      bool v = dflt;
      if (e[k].get(v)) return dflt;
      return v;
    };
    // normalizer: none or NFC
    simdjson::dom::element norm;
    if (!root["normalizer"].get(norm) && !norm.is_null()) {
      const std::string t = typeOf(norm);
      if (t != "NFC") unsupported("normalizer", t);
      _nfc = true;
    }
    // pre_tokenizer: [Split(Isolated)...] then ByteLevel
    simdjson::dom::element pre;
    if (root["pre_tokenizer"].get(pre) || pre.is_null())
      unsupported("pre_tokenizer", "null (byte-level BPE needs ByteLevel)");
    std::vector<simdjson::dom::element> steps;
    if (typeOf(pre) == "Sequence") {
      simdjson::dom::array arr;
      if (pre["pretokenizers"].get(arr))
        configFail("tokenizer", "{}: Sequence without pretokenizers", where);
      for (auto e : arr) steps.push_back(e);
    } else {
      steps.push_back(pre);
    }
    bool byteLevel = false;
    for (auto s : steps) {
      const std::string t = typeOf(s);
      if (byteLevel) unsupported("pre_tokenizer after ByteLevel", t);
      if (t == "Split") {
        std::string_view behavior;
        if (s["behavior"].get(behavior) || behavior != "Isolated")
          unsupported("Split behavior", behavior);
        if (boolOr(s, "invert", false)) unsupported("Split invert", "true");
        std::string_view rx, str;
        if (!s["pattern"]["Regex"].get(rx)) {
          _splits.push_back(std::make_unique<RegexSplitter>(rx, where));
        } else if (!s["pattern"]["String"].get(str)) {
          _splits.push_back(
              std::make_unique<RegexSplitter>("\\Q" + std::string(str) + "\\E", where));
        } else {
          unsupported("Split pattern", "without Regex or String");
        }
      } else if (t == "ByteLevel") {
        if (boolOr(s, "add_prefix_space", true)) unsupported("ByteLevel add_prefix_space", "true");
        if (boolOr(s, "use_regex", true))
          _splits.push_back(std::make_unique<RegexSplitter>(kGpt2Pattern, where));
        byteLevel = true;
      } else {
        unsupported("pre_tokenizer", t);
      }
    }
    if (!byteLevel) unsupported("pre_tokenizer", "without ByteLevel");
    // post_processor: encoding is add_special_tokens = false, so templates add nothing
    simdjson::dom::element post;
    if (!root["post_processor"].get(post) && !post.is_null()) {
      const std::string t = typeOf(post);
      if (t != "ByteLevel" && t != "TemplateProcessing" && t != "Sequence")
        unsupported("post_processor", t);
    }
    // model: BPE
    simdjson::dom::element model;
    if (root["model"].get(model)) configFail("tokenizer", "{}: no 'model'", where);
    {
      const std::string t = typeOf(model);
      if (t != "BPE") unsupported("model.type", t);
    }
    double dropout = 0;
    if (!model["dropout"].get(dropout) && dropout > 0) unsupported("model.dropout", "> 0");
    if (boolOr(model, "byte_fallback", false)) unsupported("model.byte_fallback", "true");
    for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      std::string_view v;
      if (!model[k].get(v) && !v.empty()) unsupported(fmt::format("model.{}", k), v);
    }
    const bool ignoreMerges = boolOr(model, "ignore_merges", false);
    // vocabulary: byte-level alphabet -> bytes
    const auto b2u = byteToUnicode();
    std::array<std::int16_t, 512> u2b;
    u2b.fill(-1);
    for (int b = 0; b < 256; ++b)
      u2b[static_cast<std::size_t>(b2u[b])] = static_cast<std::int16_t>(b);
    simdjson::dom::object vocab;
    if (model["vocab"].get(vocab))
      configFail("tokenizer", "{}: model.vocab is not an object", where);
    std::vector<std::string> bytes;
    std::unordered_map<std::string, std::uint32_t> byName;
    auto toBytes = [&](std::string_view key, std::string& out) {
      out.clear();
      for (std::size_t i = 0; i < key.size();) {
        utf8proc_int32_t cp = -1;
        const auto l = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(key.data() + i),
                                        static_cast<utf8proc_ssize_t>(key.size() - i), &cp);
        if (l <= 0 || cp < 0 || cp >= 512 || u2b[static_cast<std::size_t>(cp)] < 0) return false;
        out.push_back(static_cast<char>(u2b[static_cast<std::size_t>(cp)]));
        i += static_cast<std::size_t>(l);
      }
      return !out.empty();
    };
    std::string raw;
    std::uint64_t vocabSize = 0;
    for (auto [key, value] : vocab) {
      std::uint64_t id = 0;
      if (value.get(id) || id >= (1u << 26))
        configFail("tokenizer", "{}: model.vocab['{}'] is not a token id", where, key);
      byName.emplace(std::string(key), static_cast<std::uint32_t>(id));
      vocabSize = std::max(vocabSize, id + 1);
      if (!toBytes(key, raw))
        configFail("tokenizer",
                   "{}: vocabulary entry '{}' is not in the byte-level alphabet (not a "
                   "byte-level BPE)",
                   where, key);
      if (bytes.size() <= id) bytes.resize(id + 1);
      if (!bytes[id].empty())
        configFail("tokenizer", "{}: token id {} appears twice in model.vocab", where, id);
      bytes[id] = raw;
    }
    // added tokens: split out of the text before pre-tokenization, as `tokenizers` does
    simdjson::dom::array added;
    if (!root["added_tokens"].get(added))
      for (auto a : added) {
        std::string_view content;
        std::uint64_t id = 0;
        if (a["content"].get(content) || a["id"].get(id) || content.empty())
          configFail("tokenizer", "{}: an added token without content or id", where);
        for (const char* k : {"lstrip", "rstrip", "single_word"})
          if (boolOr(a, k, false))
            unsupported(fmt::format("added token {} {}", content, k), "true");
        _added.push_back({std::string(content), static_cast<std::uint32_t>(id)});
        byName[std::string(content)] = static_cast<std::uint32_t>(id);
        vocabSize = std::max(vocabSize, id + 1);
      }
    std::sort(_added.begin(), _added.end(), [](const auto& a, const auto& b) {
      return a.first.size() > b.first.size();  // longest first: leftmost-longest matching
    });
    for (const auto& a : _added) _addedFirst[static_cast<unsigned char>(a.first[0])] = true;
    _id.vocabSize = vocabSize;
    _bpe.setVocab(std::move(bytes), where);
    _bpe.wholeLookup = ignoreMerges;
    // merges: "a b" or ["a", "b"]
    simdjson::dom::array merges;
    if (model["merges"].get(merges))
      configFail("tokenizer", "{}: model.merges is not a list", where);
    std::uint32_t rank = 0;
    for (auto m : merges) {
      std::string_view a, b, s;
      simdjson::dom::array pair;
      if (!m.get(s)) {
        const auto sp = s.find(' ');
        if (sp == std::string_view::npos || s.find(' ', sp + 1) != std::string_view::npos)
          configFail("tokenizer", "{}: merge {} '{}' is not 'left right'", where, rank, s);
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else if (!m.get(pair) && pair.size() == 2 && !pair.at(0).get(a) && !pair.at(1).get(b)) {
      } else {
        configFail("tokenizer", "{}: merge {} is neither 'left right' nor [left, right]", where,
                   rank);
      }
      const auto ia = byName.find(std::string(a)), ib = byName.find(std::string(b));
      const auto ic = byName.find(std::string(a) + std::string(b));
      if (ia == byName.end() || ib == byName.end() || ic == byName.end())
        configFail("tokenizer", "{}: merge {} ('{}' '{}') names a token not in model.vocab", where,
                   rank, a, b);
      _bpe.addMerge(ia->second, ib->second, rank++, ic->second);
    }
    _bpe.finishMerges();
    setEod(p, [&](const std::string& name) -> std::optional<std::uint64_t> {
      if (auto it = byName.find(name); it != byName.end()) return it->second;
      return std::nullopt;
    });
  }
  std::string_view name() const override { return "hf"; }

 protected:
  std::string_view encodeSpans(std::string_view t, std::vector<std::uint64_t>& ids,
                               std::vector<TokenSpan>* spans) const override {
    std::string_view text = t;
    thread_local std::string nfc;
    if (_nfc) {                         // NFC changes offsets: spans index the normalised text
      utf8proc_uint8_t* out = nullptr;  // explicit length: NUL is a character, not the end
      const utf8proc_ssize_t len =
          utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(t.data()),
                       static_cast<utf8proc_ssize_t>(t.size()), &out,
                       static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
      if (len < 0) fail("tokenizer", "NFC: {}", utf8proc_errmsg(len));
      nfc.assign(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len));
      std::free(out);
      text = nfc;
    }
    // added tokens, leftmost-longest
    std::size_t last = 0;
    for (std::size_t i = 0; i < text.size() && !_added.empty(); ++i) {
      if (!_addedFirst[static_cast<unsigned char>(text[i])]) continue;
      for (const auto& [content, id] : _added)
        if (text.compare(i, content.size(), content) == 0) {
          preTokenize(text, last, i, ids, spans);
          ids.push_back(id);
          if (spans)
            spans->push_back(
                {static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(i + content.size())});
          i += content.size() - 1;
          last = i + 1;
          break;
        }
    }
    preTokenize(text, last, text.size(), ids, spans);
    return text;
  }

 private:
  void preTokenize(std::string_view text, std::size_t b, std::size_t e,
                   std::vector<std::uint64_t>& ids, std::vector<TokenSpan>* spans) const {
    if (e <= b) return;
    splitLevel(text, b, e, 0, ids, spans);
  }
  void splitLevel(std::string_view text, std::size_t b, std::size_t e, std::size_t level,
                  std::vector<std::uint64_t>& ids, std::vector<TokenSpan>* spans) const {
    if (level == _splits.size()) {
      _bpe.encode(text.substr(b, e - b), static_cast<std::uint32_t>(b), ids, spans);
      return;
    }
    const std::string_view piece = text.substr(b, e - b);
    _splits[level]->split(piece, true, [&](std::size_t pb, std::size_t pe, bool) {
      splitLevel(text, b + pb, b + pe, level + 1, ids, spans);
    });
  }

  ByteBpe _bpe;
  bool _nfc = false;
  std::vector<std::unique_ptr<RegexSplitter>> _splits;
  std::vector<std::pair<std::string, std::uint32_t>> _added;
  bool _addedFirst[256] = {};
};

// ---- SentencePiece ------------------------------------------------------------------------

class SentencePieceTokenizer final : public ModelTokenizer {
 public:
  explicit SentencePieceTokenizer(const TokenizerParams& p) {
    const std::string file = readModelFile(p.model, "sentencepiece");
    const auto st = _sp.LoadFromSerializedProto(file);
    if (!st.ok())
      configFail("tokenizer", "{}: not a SentencePiece model: {}", p.model, st.ToString());
    _id = {"sentencepiece",
           fileName(p.model),
           p.model,
           fmt::format("{:016x}", XXH3_64bits(file.data(), file.size())),
           static_cast<std::uint64_t>(_sp.GetPieceSize()),
           -1,
           false};
    setEod(p, [&](const std::string& name) -> std::optional<std::uint64_t> {
      const int id = _sp.PieceToId(name);
      if (id >= 0 && _sp.IdToPiece(id) == name) return static_cast<std::uint64_t>(id);
      return std::nullopt;
    });
  }
  std::string_view name() const override { return "sentencepiece"; }

 protected:
  std::string_view encodeSpans(std::string_view t, std::vector<std::uint64_t>& ids,
                               std::vector<TokenSpan>* spans) const override {
    if (!spans) {
      thread_local std::vector<int> v;
      v.clear();
      const auto st = _sp.Encode(t, &v);
      if (!st.ok()) fail("tokenizer", "sentencepiece: {}", st.ToString());
      ids.insert(ids.end(), v.begin(), v.end());
      return t;
    }
    const auto spt = _sp.EncodeAsImmutableProto(t);
    const std::size_t n = spt.pieces_size();
    for (std::size_t i = 0; i < n; ++i) {
      const auto piece = spt.pieces(static_cast<int>(i));
      ids.push_back(piece.id());
      spans->push_back({piece.begin(), std::max(piece.begin(), piece.end())});
    }
    return t;
  }

 private:
  sentencepiece::SentencePieceProcessor _sp;
};

}  // namespace

const std::vector<std::string>& tokenizerKinds() {
  static const std::vector<std::string> k{"words", "tiktoken", "hf", "sentencepiece"};
  return k;
}

std::shared_ptr<const Tokenizer> makeTokenizer(const TokenizerParams& p) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const Tokenizer>> cache;
  const std::string key = fmt::format("{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}", p.kind, p.model, p.preset,
                                      p.pattern, p.eod, p.appendEod);
  const std::lock_guard lock(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  std::shared_ptr<const Tokenizer> t;
  if (p.kind == "words") {
    if (!p.eod.empty() || p.appendEod)
      configFail("tokenizer",
                 "tokenizer.eod / append_eod need a model tokenizer (kind = "
                 "'tiktoken', 'hf' or 'sentencepiece'); 'words' has no token ids");
    t = std::make_shared<WordsTokenizer>();
  } else if (p.kind == "tiktoken") {
    t = std::make_shared<TiktokenTokenizer>(p);
  } else if (p.kind == "hf") {
    t = std::make_shared<HfTokenizer>(p);
  } else if (p.kind == "sentencepiece") {
    t = std::make_shared<SentencePieceTokenizer>(p);
  } else {
    configFail("makeTokenizer",
               "tokenizer.kind = '{}' is not available (words, tiktoken, hf, "
               "sentencepiece)",
               p.kind);
  }
  cache.emplace(key, t);
  return t;
}

int vocabBitsFor(const Tokenizer& t) {
  const std::uint64_t v = t.identity().vocabSize;
  if (v == 0) return 0;
  return std::max(8, static_cast<int>(std::bit_width(v - 1)));
}

}  // namespace cleanmix
