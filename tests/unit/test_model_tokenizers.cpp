// The model tokenizers on small models built here: BPE merge order against a naive tiktoken
// reimplementation, tiktoken and tokenizer.json agreeing on the same vocabulary, the full-mode
// fields, and every bad-model error. Token-for-token equality with the real references
// (npm tiktoken, @huggingface/tokenizers, spm_encode) is tests/tokenizers/compare.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <regex>

#include "cleanmix/core/error.hpp"
#include "cleanmix/tokenize/bpe.hpp"
#include "cleanmix/tokenize/tokenizer.hpp"

namespace cleanmix {
namespace {
namespace fs = std::filesystem;

std::string base64(std::string_view in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += k[v >> 18 & 63];
    out += k[v >> 12 & 63];
    out += i + 1 < in.size() ? k[v >> 6 & 63] : '=';
    out += i + 2 < in.size() ? k[v & 63] : '=';
  }
  return out;
}

/// A BPE vocabulary "trained" on random text over a small alphabet: the 256 bytes, then
/// `merges` concatenations of frequent-ish adjacent tokens, each a new rank.
struct ToyVocab {
  std::vector<std::string> bytes;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> merges;  // merge i makes token 256 + i
};

ToyVocab toyVocab(int merges, std::uint32_t seed) {
  ToyVocab v;
  for (int b = 0; b < 256; ++b) v.bytes.emplace_back(1, static_cast<char>(b));
  std::mt19937 rng(seed);
  const std::string alphabet = "abcde ";
  std::map<std::string, std::uint32_t> have;
  for (std::uint32_t i = 0; i < 256; ++i) have[v.bytes[i]] = i;
  std::vector<std::uint32_t> pool;
  for (char c : alphabet) pool.push_back(static_cast<unsigned char>(c));
  while (static_cast<int>(v.merges.size()) < merges) {
    const std::uint32_t a = pool[rng() % pool.size()], b = pool[rng() % pool.size()];
    const std::string t = v.bytes[a] + v.bytes[b];
    if (t.size() > 12 || have.count(t)) continue;
    have[t] = static_cast<std::uint32_t>(v.bytes.size());
    pool.push_back(static_cast<std::uint32_t>(v.bytes.size()));
    v.merges.push_back({a, b});
    v.bytes.push_back(t);
  }
  return v;
}

/// tiktoken's _byte_pair_merge, written the plain way (whole-piece lookup, then merge the
/// lowest-ranked adjacent pair whose concatenation is a token, leftmost first).
std::vector<std::uint64_t> naiveTiktoken(const std::vector<std::string>& bytes,
                                         const std::string& piece) {
  std::map<std::string, std::uint64_t> rank;
  for (std::size_t i = 0; i < bytes.size(); ++i) rank[bytes[i]] = i;
  if (auto it = rank.find(piece); it != rank.end()) return {it->second};
  std::vector<std::string> parts;
  for (char c : piece) parts.emplace_back(1, c);
  for (;;) {
    std::size_t best = 0;
    std::uint64_t bestRank = ~0ull;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      auto it = rank.find(parts[i] + parts[i + 1]);
      if (it != rank.end() && it->second < bestRank) bestRank = it->second, best = i;
    }
    if (bestRank == ~0ull) break;
    parts[best] += parts[best + 1];
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  std::vector<std::uint64_t> ids;
  for (const auto& p : parts) ids.push_back(rank.at(p));
  return ids;
}

std::string randomText(std::mt19937& rng, std::size_t n) {
  const std::string alphabet = "abcde ";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
  return s;
}

TEST(ByteBpe, MergeOrderEqualsNaiveTiktokenOnShortAndLongPieces) {
  const ToyVocab v = toyVocab(300, 7);
  ByteBpe bpe;
  bpe.setVocab(v.bytes, "toy");
  bpe.deriveTiktokenMerges();
  std::mt19937 rng(11);
  std::size_t longPieces = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const std::size_t n = trial < 300 ? 1 + rng() % 40 : 129 + rng() % 600;  // both code paths
    longPieces += n > 128;
    const std::string piece = randomText(rng, n);
    std::vector<std::uint64_t> ids;
    std::vector<TokenSpan> spans;
    bpe.encode(piece, 5, ids, &spans);
    ASSERT_EQ(ids, naiveTiktoken(v.bytes, piece)) << "piece of " << n << ": " << piece;
    std::string back;
    std::uint32_t at = 5;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      back += v.bytes[ids[i]];
      EXPECT_EQ(spans[i].begin, at);
      at = spans[i].end;
    }
    EXPECT_EQ(back, piece);
  }
  EXPECT_EQ(longPieces, 100u);
}

class ModelFiles : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("cleanmix_tok_" + std::to_string(::getpid()));
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }
  std::string write(const std::string& name, const std::string& data) {
    std::ofstream(dir / name, std::ios::binary) << data;
    return (dir / name).string();
  }
  std::string rankFile(const ToyVocab& v, const std::string& name = "toy.tiktoken") {
    std::string s;
    for (std::size_t i = 0; i < v.bytes.size(); ++i)
      s += base64(v.bytes[i]) + " " + std::to_string(i) + "\n";
    return write(name, s);
  }
  /// The same vocabulary as a GPT-2-style tokenizer.json (ByteLevel with its regex).
  std::string tokenizerJson(const ToyVocab& v, const std::string& extraAdded = "") {
    auto b2u = [](unsigned char b) {
      int n = 0;
      for (int c = 0; c < 256; ++c) {
        const bool printable = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174;
        if (c == b) return printable ? c : 256 + n;
        if (!printable) ++n;
      }
      return 0;
    };
    auto enc = [&](const std::string& s) {
      std::string out;
      for (unsigned char c : s) {
        const int cp = b2u(c);
        if (cp < 0x80) {
          if (cp == '"' || cp == '\\') out += '\\';
          out += static_cast<char>(cp);
        } else {
          out += static_cast<char>(0xC0 | cp >> 6);
          out += static_cast<char>(0x80 | (cp & 63));
        }
      }
      return out;
    };
    std::string vocab, merges;
    for (std::size_t i = 0; i < v.bytes.size(); ++i)
      vocab += (i ? "," : "") + ("\"" + enc(v.bytes[i]) + "\":" + std::to_string(i));
    for (std::size_t i = 0; i < v.merges.size(); ++i)
      merges += (i ? "," : "") + ("\"" + enc(v.bytes[v.merges[i].first]) + " " +
                                  enc(v.bytes[v.merges[i].second]) + "\"");
    return write(
        "tokenizer.json",
        R"({"version":"1.0","added_tokens":[{"id":)" + std::to_string(v.bytes.size()) +
            R"(,"content":"<|eot|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true})" +
            extraAdded +
            R"(],"normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},"post_processor":{"type":"ByteLevel"},"decoder":null,"model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":"","end_of_word_suffix":"","fuse_unk":false,"byte_fallback":false,"vocab":{)" +
            vocab + R"(},"merges":[)" + merges + "]}}");
  }
  static TokenizerParams params(const std::string& kind, const std::string& model) {
    TokenizerParams p;
    p.kind = kind;
    p.model = model;
    return p;
  }
};

constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

/// Hugging Face's BPE written the plain way: merge the adjacent pair listed earliest in
/// `merges`, leftmost first.
std::vector<std::uint64_t> naiveHf(const ToyVocab& v, const std::string& piece) {
  std::map<std::pair<std::string, std::string>, std::size_t> rank;
  for (std::size_t i = 0; i < v.merges.size(); ++i)
    rank.emplace(std::pair{v.bytes[v.merges[i].first], v.bytes[v.merges[i].second]}, i);
  std::vector<std::string> parts;
  for (char c : piece) parts.emplace_back(1, c);
  for (;;) {
    std::size_t best = 0, bestRank = SIZE_MAX;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      auto it = rank.find({parts[i], parts[i + 1]});
      if (it != rank.end() && it->second < bestRank) bestRank = it->second, best = i;
    }
    if (bestRank == SIZE_MAX) break;
    parts[best] += parts[best + 1];
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  std::map<std::string, std::uint64_t> id;
  for (std::size_t i = 0; i < v.bytes.size(); ++i) id[v.bytes[i]] = i;
  std::vector<std::uint64_t> ids;
  for (const auto& p : parts) ids.push_back(id.at(p));
  return ids;
}

TEST_F(ModelFiles, TokenizerJsonAndRankFileEqualTheirNaiveAlgorithms) {
  // Over the alphabet "abcde ", GPT-2's split pattern is ` ?[a-e]+|\s+(?!\S)|\s+`; each piece
  // is then merged by the naive tiktoken (rank of the concatenation) and naive Hugging Face
  // (rank of the listed merge) algorithms, which differ in general.
  const ToyVocab v = toyVocab(200, 3);
  TokenizerParams tp = params("tiktoken", rankFile(v));
  tp.pattern = kGpt2Pattern;
  const auto tik = makeTokenizer(tp);
  const auto hf = makeTokenizer(params("hf", tokenizerJson(v)));
  EXPECT_EQ(tik->identity().vocabSize, v.bytes.size());
  EXPECT_EQ(hf->identity().vocabSize, v.bytes.size() + 1);  // + the added <|eot|>
  const std::regex split(R"( ?[a-e]+|\s+(?!\S)|\s+)");
  std::mt19937 rng(5);
  for (int i = 0; i < 200; ++i) {
    const std::string text = randomText(rng, 1 + rng() % 300);
    std::vector<std::uint64_t> a, b, wantA, wantB;
    tik->encode(text, a);
    hf->encode(text, b);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), split);
         it != std::sregex_iterator(); ++it) {
      const auto x = naiveTiktoken(v.bytes, it->str()), y = naiveHf(v, it->str());
      wantA.insert(wantA.end(), x.begin(), x.end());
      wantB.insert(wantB.end(), y.begin(), y.end());
    }
    ASSERT_EQ(a, wantA) << text;
    ASSERT_EQ(b, wantB) << text;
  }
  // an added token in the text is split out by `hf` (as `tokenizers` does); tiktoken's
  // encode_ordinary keeps special-token text ordinary
  std::vector<std::uint64_t> ab, cd, all, ordinary;
  hf->encode("ab", ab);
  hf->encode("cd", cd);
  hf->encode("ab<|eot|>cd", all);
  std::vector<std::uint64_t> want = ab;
  want.push_back(v.bytes.size());
  want.insert(want.end(), cd.begin(), cd.end());
  EXPECT_EQ(all, want);
  tik->encode("ab<|eot|>cd", ordinary);
  EXPECT_EQ(std::count(ordinary.begin(), ordinary.end(), v.bytes.size()), 0);
}

TEST_F(ModelFiles, FullModeFieldsAndEod) {
  const ToyVocab v = toyVocab(100, 9);
  TokenizerParams tp = params("tiktoken", rankFile(v));
  tp.pattern = kGpt2Pattern;
  tp.eod = "#7";
  tp.appendEod = true;
  const auto t = makeTokenizer(tp);
  EXPECT_EQ(t->identity().eod, 7);
  EXPECT_EQ(t->extraTokens(), 1u);
  EXPECT_EQ(vocabBitsFor(*t), 9);  // 356 ids
  TokenizedDoc d;
  const std::string text =
      "abc de. Ab cd!\n\n  ee a\xff"
      "b";  // invalid UTF-8 is repaired
  t->tokenize(text, d, true);
  EXPECT_EQ(d.replaced, 1u);
  ASSERT_EQ(d.lens.size(), d.ids.size());
  const std::uint32_t bytes = std::accumulate(d.lens.begin(), d.lens.end(), 0u);
  EXPECT_EQ(bytes, text.size() + 2);  // 0xff became U+FFFD (3 bytes)
  EXPECT_EQ(std::accumulate(d.sentLens.begin(), d.sentLens.end(), 0u), d.ids.size());
  EXPECT_EQ(d.sentLens.size(), 3u);
  for (auto id : d.ids) EXPECT_LT(id, t->identity().vocabSize);
  EXPECT_FALSE(d.norm.empty());
  EXPECT_FALSE(d.lineHashes.empty());
  std::vector<std::uint64_t> ids;
  t->encode(text, ids);
  EXPECT_EQ(ids, d.ids);  // encode() is tokenize()'s ids (no EOD: the sinks append it)
}

void expectConfigError(const TokenizerParams& p, const std::vector<std::string>& parts) {
  try {
    makeTokenizer(p);
    ADD_FAILURE() << "no error for " << p.kind << " " << p.model;
  } catch (const ConfigError& e) {
    for (const auto& s : parts)
      EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << e.what() << " lacks " << s;
  }
}

TEST_F(ModelFiles, BadModelsAreConfigErrorsNamingFileAndProblem) {
  const ToyVocab v = toyVocab(20, 1);
  std::string good;
  for (std::size_t i = 0; i < v.bytes.size(); ++i)
    good += base64(v.bytes[i]) + " " + std::to_string(i) + "\n";
  auto tik = [&](const std::string& name, const std::string& data) {
    TokenizerParams p = params("tiktoken", write(name, data));
    p.pattern = kGpt2Pattern;
    return p;
  };
  expectConfigError(tik("dup.tiktoken", good + base64("zz") + " 3\n"),
                    {"dup.tiktoken", "rank 3 appears twice"});
  expectConfigError(tik("b64.tiktoken", good + "!!!= 400\n"), {"b64.tiktoken:277", "base64"});
  expectConfigError(tik("norank.tiktoken", good + base64("zz") + "\n"),
                    {"norank.tiktoken:277", "<rank>"});
  expectConfigError(tik("nobyte.tiktoken", good.substr(good.find('\n') + 1)),
                    {"nobyte.tiktoken", "byte 0x00"});
  {
    TokenizerParams p = params("tiktoken", (dir / "missing.tiktoken").string());
    p.preset = "cl100k_base";
    expectConfigError(p, {"missing.tiktoken", "cannot open"});
  }
  {
    TokenizerParams p = params("tiktoken", write("ok.tiktoken", good));
    expectConfigError(p, {"preset or tokenizer.pattern"});
    p.preset = "p99k";
    expectConfigError(p, {"p99k", "not known"});
    p.preset = "cl100k_base";
    p.eod = "<|nope|>";
    expectConfigError(p, {"<|nope|>", "no such token", "ok.tiktoken"});
    p.eod = "#999999";
    expectConfigError(p, {"999999", "not a token id"});
    p.eod = "";
    p.appendEod = true;
    expectConfigError(p, {"append_eod", "needs tokenizer.eod"});
    p.appendEod = false;
    p.pattern = "(unclosed";
    expectConfigError(p, {"ok.tiktoken", "does not compile"});
  }
  const std::string json = tokenizerJson(v);
  std::ifstream in(json);
  const std::string j((std::istreambuf_iterator<char>(in)), {});
  auto hf = [&](const std::string& name, const std::string& from, const std::string& to) {
    std::string s = j;
    const auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    return params("hf", write(name, s));
  };
  expectConfigError(hf("uni.json", R"("type":"BPE")", R"("type":"Unigram")"),
                    {"uni.json", "model.type 'Unigram'"});
  expectConfigError(hf("meta.json", R"("pre_tokenizer":{"type":"ByteLevel")",
                       R"("pre_tokenizer":{"type":"Metaspace")"),
                    {"meta.json", "pre_tokenizer 'Metaspace'"});
  expectConfigError(hf("nfkc.json", R"("normalizer":null)", R"("normalizer":{"type":"NFKC"})"),
                    {"nfkc.json", "normalizer 'NFKC'"});
  expectConfigError(hf("prefix.json", R"("add_prefix_space":false)", R"("add_prefix_space":true)"),
                    {"prefix.json", "add_prefix_space"});
  expectConfigError(hf("fallback.json", R"("byte_fallback":false)", R"("byte_fallback":true)"),
                    {"fallback.json", "byte_fallback"});
  expectConfigError(hf("merge.json", R"("merges":[)", R"("merges":["qq rr",)"),
                    {"merge.json", "not in model.vocab"});
  expectConfigError(hf("lstrip.json", R"("lstrip":false)", R"("lstrip":true)"),
                    {"lstrip.json", "lstrip"});
  expectConfigError(params("hf", write("broken.json", j.substr(0, j.size() / 2))),
                    {"broken.json", "not valid JSON"});
  expectConfigError(params("sentencepiece", write("bad.model", "not a protobuf")),
                    {"bad.model", "SentencePiece"});
  expectConfigError(params("sentencepiece", ""), {"needs tokenizer.model"});
  TokenizerParams w;
  w.eod = "<|endoftext|>";
  expectConfigError(w, {"'words' has no token ids"});
}

TEST(RegexSplitter, AsciiScannerEqualsPcre2OnTheCl100kPattern) {
  constexpr const char* kCl100k =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  const RegexSplitter fast(kCl100k, "test");
  RegexSplitter pcre(kCl100k, "test");
  ASSERT_TRUE(fast.fast());
  pcre.disableFast();
  // Every kind of character the scanner decides on, and the non-ASCII ones it must hand over.
  const std::vector<std::string> atoms = {"a",
                                          "Z",
                                          "s",
                                          "S",
                                          "t",
                                          "r",
                                          "e",
                                          "v",
                                          "l",
                                          "L",
                                          "d",
                                          "m",
                                          "x",
                                          "'",
                                          "'",
                                          "1",
                                          "9",
                                          " ",
                                          " ",
                                          " ",
                                          "\t",
                                          "\r",
                                          "\n",
                                          "\n",
                                          "\x0b",
                                          "\x0c",
                                          "!",
                                          ".",
                                          "(",
                                          "\x1f",
                                          std::string(1, '\0'),
                                          "\xc3\xa9",
                                          "\xc5\xbf",
                                          "\xd9\xa1",
                                          "\xc2\xa0",
                                          "\xe3\x80\x80",
                                          "\xc2\x85",
                                          "\xf0\x9f\x98\x80",
                                          "\xe2\x80\x99",
                                          "\xe1\xa0\x8e"};
  std::mt19937 rng(17);
  auto pieces = [](const RegexSplitter& r, const std::string& t) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    r.split(t, true, [&](std::size_t b, std::size_t e, bool) { out.emplace_back(b, e); });
    return out;
  };
  for (int i = 0; i < 20000; ++i) {
    std::string t;
    const std::size_t len = 1 + rng() % 24;
    for (std::size_t k = 0; k < len; ++k) t += atoms[rng() % (k % 3 ? 18 : atoms.size())];
    ASSERT_EQ(pieces(fast, t), pieces(pcre, t)) << "text: " << t;
  }
}

TEST(RegexSplitter, RustWhiteSpaceAndDollarMeanWhatTheyMeanInRust) {
  // PCRE2's \s also matches U+180E (not White_Space since Unicode 6.3); Rust's does not. `$`
  // is the end of the text only (PCRE2 would also match before a final newline).
  const RegexSplitter s(R"(\s+|\S+)", "test");
  std::vector<std::string> got;
  const std::string text =
      "a\xe1\xa0\x8e"
      "b \xc2\xa0\n";
  s.split(text, false,
          [&](std::size_t b, std::size_t e, bool) { got.push_back(text.substr(b, e - b)); });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0],
            "a\xe1\xa0\x8e"
            "b");
  const RegexSplitter d(R"(a$)", "test");
  int n = 0;
  d.split("a\n", false, [&](std::size_t, std::size_t, bool) { ++n; });
  EXPECT_EQ(n, 0);
  EXPECT_THROW(translatePattern(R"([\S])", "test"), ConfigError);
}

}  // namespace
}  // namespace cleanmix
