// Signal kernels on one backend (CLEANMIX_TEST_BACKEND), against hand-computed values and an
// independent host implementation (ordered maps and sets, no hashing tricks).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "cleanmix/core/error.hpp"
#include "cleanmix/kernels/signals.hpp"
#include "cleanmix/tokenize/words.hpp"

using namespace cleanmix;

namespace {

struct Ref {
  std::uint32_t nTypes;
  double entropy, ttr, mattr, burstiness, dupLine, top2, dup5, tail;
};

/// Independent computation from the tokenizer's output.
Ref reference(const TokenizedDoc& d, const std::vector<std::uint64_t>& unigram) {
  Ref r{};
  const std::size_t n = d.ids.size();
  std::map<std::uint64_t, std::uint64_t> c;
  for (auto id : d.ids) ++c[id];
  r.nTypes = static_cast<std::uint32_t>(c.size());
  if (n) {
    for (auto& [id, k] : c) {
      const double p = double(k) / double(n);
      r.entropy -= p * std::log2(p);
    }
    r.ttr = double(c.size()) / double(n);
  }
  r.mattr = r.ttr;
  if (n > kMattrWindow) {
    double s = 0;
    for (std::size_t i = 0; i + kMattrWindow <= n; ++i)
      s +=
          double(
              std::set<std::uint64_t>(d.ids.begin() + i, d.ids.begin() + i + kMattrWindow).size()) /
          kMattrWindow;
    r.mattr = s / double(n - kMattrWindow + 1);
  }
  const double total = std::accumulate(unigram.begin(), unigram.end(), 0.0);
  for (auto id : d.ids)
    r.tail += -std::log2((unigram[id % unigram.size()] + 1.0) / (total + unigram.size()));
  if (n) r.tail /= double(n);
  const double bytes = std::accumulate(d.lens.begin(), d.lens.end(), 0.0);
  if (n >= 2 && bytes > 0) {
    std::map<std::pair<std::uint64_t, std::uint64_t>, std::pair<std::uint64_t, std::uint64_t>> bg;
    for (std::size_t i = 0; i + 1 < n; ++i) {
      auto& e = bg[{d.ids[i], d.ids[i + 1]}];
      ++e.first;
      e.second = d.lens[i] + d.lens[i + 1];
    }
    std::uint64_t bc = 0, bb = 0;
    for (auto& [k, v] : bg)
      if (v.first > bc || (v.first == bc && v.second > bb)) bc = v.first, bb = v.second;
    r.top2 = std::min(1.0, double(bc * bb) / bytes);
  }
  if (n >= 5 && bytes > 0) {
    std::map<std::vector<std::uint64_t>, int> g;
    for (std::size_t i = 0; i + 5 <= n; ++i)
      ++g[std::vector<std::uint64_t>(d.ids.begin() + i, d.ids.begin() + i + 5)];
    std::vector<bool> cov(n, false);
    for (std::size_t i = 0; i + 5 <= n; ++i)
      if (g[std::vector<std::uint64_t>(d.ids.begin() + i, d.ids.begin() + i + 5)] > 1)
        for (std::size_t j = i; j < i + 5; ++j) cov[j] = true;
    double cb = 0;
    for (std::size_t j = 0; j < n; ++j) cb += cov[j] ? d.lens[j] : 0;
    r.dup5 = cb / bytes;
  }
  if (d.sentLens.size() >= 2) {
    const double m = d.sentLens.size();
    const double mean = std::accumulate(d.sentLens.begin(), d.sentLens.end(), 0.0) / m;
    double v = 0;
    for (auto x : d.sentLens) v += (x - mean) * (x - mean);
    r.burstiness = std::sqrt(v / m) / mean;
  }
  if (!d.lineHashes.empty()) {
    std::set<std::uint64_t> seen;
    std::size_t dups = 0;
    for (auto h : d.lineHashes) dups += !seen.insert(h).second;
    r.dupLine = double(dups) / d.lineHashes.size();
  }
  return r;
}

class Signals : public ::testing::Test {
 protected:
  void SetUp() override {
    scorer = makeSignalScorer(CLEANMIX_TEST_BACKEND);
    unigram.assign(1 << 10, 0);
    for (std::size_t b = 0; b < unigram.size(); ++b) unigram[b] = (b * 7919) % 13;
    scorer->setUnigram(unigram);
  }
  BatchOutput run(const std::vector<std::string>& texts, std::vector<TokenizedDoc>& docs) {
    docs.assign(texts.size(), {});
    BatchInput in;
    for (std::size_t i = 0; i < texts.size(); ++i) {
      WordsTokenizer().tokenize(texts[i], docs[i], true);
      in.append(docs[i].ids, docs[i].lens, docs[i].sentLens, docs[i].lineHashes);
    }
    BatchOutput out;
    scorer->score(in, out);
    return out;
  }
  std::unique_ptr<SignalScorer> scorer;
  std::vector<std::uint64_t> unigram;
};

}  // namespace

TEST_F(Signals, BackendIsTheRequestedOne) {
  std::string b = scorer->backend();
  for (auto& ch : b) ch = static_cast<char>(std::tolower(ch));
  EXPECT_EQ(b, CLEANMIX_TEST_BACKEND);
}

TEST_F(Signals, HandComputed) {
  std::vector<TokenizedDoc> d;
  // "a b a b": entropy 1 bit, ttr 0.5; bigram "a b" twice = 4 of 4 bytes; no 5-grams
  // "x. y y. z z z." sentences of 2, 3, 4 tokens: CV = sqrt(2/3)/3
  // "l1\nl2\nl1\nl1" lines: 2 of 4 repeat an earlier line
  auto o = run({"a b a b", "x. y y. z z z.", "l1\nl2\nl1\nl1", ""}, d);
  EXPECT_EQ(o.nTypes[0], 2u);
  EXPECT_DOUBLE_EQ(o.entropyBits[0], 1.0);
  EXPECT_DOUBLE_EQ(o.ttr[0], 0.5);
  EXPECT_DOUBLE_EQ(o.mattr[0], 0.5);
  EXPECT_DOUBLE_EQ(o.top2gramFrac[0], 1.0);
  EXPECT_DOUBLE_EQ(o.dup5gramFrac[0], 0.0);
  EXPECT_DOUBLE_EQ(o.burstiness[0], 0.0);
  EXPECT_NEAR(o.burstiness[1], std::sqrt(2.0 / 3.0) / 3.0, 1e-15);
  EXPECT_DOUBLE_EQ(o.dupLineFrac[2], 0.5);
  EXPECT_EQ(o.nTypes[3], 0u);  // empty document: every signal 0
  for (double v : {o.entropyBits[3], o.ttr[3], o.mattr[3], o.tailScore[3], o.top2gramFrac[3],
                   o.dup5gramFrac[3], o.burstiness[3], o.dupLineFrac[3]})
    EXPECT_EQ(v, 0.0);
}

TEST_F(Signals, Dup5gramCoverage) {
  std::vector<TokenizedDoc> d;
  // 5-gram "a b c d e" twice, separated by "x": 10 of 11 one-byte tokens covered.
  auto o = run({"a b c d e x a b c d e"}, d);
  EXPECT_DOUBLE_EQ(o.dup5gramFrac[0], 10.0 / 11.0);
}

TEST_F(Signals, MattrSlidingWindow) {
  std::vector<TokenizedDoc> d;
  std::string t;  // 100 tokens cycling through 25 types: every window of 50 has 25 types
  for (int i = 0; i < 100; ++i) t += "w" + std::to_string(i % 25) + " ";
  auto o = run({t}, d);
  EXPECT_DOUBLE_EQ(o.mattr[0], 0.5);
  EXPECT_DOUBLE_EQ(o.ttr[0], 0.25);
}

TEST_F(Signals, TailScoreUsesAddOneUnigram) {
  std::vector<TokenizedDoc> d;
  auto o = run({"one"}, d);
  const double total = std::accumulate(unigram.begin(), unigram.end(), 0.0);
  const std::uint64_t b = tokenId("one") % unigram.size();
  EXPECT_NEAR(o.tailScore[0], std::log2(total + 1024) - std::log2(unigram[b] + 1.0), 1e-12);
}

TEST_F(Signals, MatchesIndependentComputationOnRandomText) {
  std::mt19937 rng(11);
  const std::vector<std::string> words{"the",  "cat", "sat",   "on", "mat", "ünï",
                                       "data", "x",   "again", ",",  ".",   "!",
                                       "?",    "\n",  "\n\n",  "y",  "z"};
  std::vector<std::string> texts;
  for (int i = 0; i < 60; ++i) {
    std::string t;
    const int n = static_cast<int>(rng() % 400);
    for (int k = 0; k < n; ++k) t += words[rng() % (i % 3 == 0 ? 4 : words.size())] + " ";
    texts.push_back(t);
  }
  std::vector<TokenizedDoc> d;
  const auto o = run(texts, d);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Ref r = reference(d[i], unigram);
    SCOPED_TRACE("doc " + std::to_string(i));
    EXPECT_EQ(o.nTypes[i], r.nTypes);
    EXPECT_NEAR(o.entropyBits[i], r.entropy, 1e-9);
    EXPECT_NEAR(o.ttr[i], r.ttr, 1e-12);
    EXPECT_NEAR(o.mattr[i], r.mattr, 1e-9);
    EXPECT_NEAR(o.tailScore[i], r.tail, 1e-9);
    EXPECT_NEAR(o.top2gramFrac[i], r.top2, 1e-12);
    EXPECT_NEAR(o.dup5gramFrac[i], r.dup5, 1e-12);
    EXPECT_NEAR(o.burstiness[i], r.burstiness, 1e-9);
    EXPECT_NEAR(o.dupLineFrac[i], r.dupLine, 1e-12);
  }
}

// A document's values do not depend on which batch it is scored in (the determinism contract).
TEST_F(Signals, IndependentOfBatchComposition) {
  const std::vector<std::string> texts{"alpha beta gamma. delta!", "a a a a a a a a a a a a",
                                       "one\ntwo\none",
                                       "The quick brown fox. The quick brown fox."};
  std::vector<TokenizedDoc> d;
  const auto all = run(texts, d);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto one = run({texts[i]}, d);
    EXPECT_EQ(one.entropyBits[0], all.entropyBits[i]);
    EXPECT_EQ(one.tailScore[0], all.tailScore[i]);
    EXPECT_EQ(one.mattr[0], all.mattr[i]);
    EXPECT_EQ(one.dup5gramFrac[0], all.dup5gramFrac[i]);
  }
}

TEST(SignalsFactory, UnknownBackendThrows) {
  EXPECT_THROW(makeSignalScorer("no-such-backend"), Error);
}

// Misuse is reported in the project's error style: cleanmix::Error naming the function.
TEST(SignalsFactory, MisuseThrowsCleanmixErrors) {
  auto s = makeSignalScorer(CLEANMIX_TEST_BACKEND);
  const auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no cleanmix::Error");
  };
  BatchInput in;
  BatchOutput out;
  EXPECT_EQ(message([&] { s->score(in, out); }).rfind("cleanmix::score:", 0), 0u);
  const std::vector<std::uint64_t> three(3, 1);
  EXPECT_EQ(message([&] { s->setUnigram(three); }).rfind("cleanmix::setUnigram:", 0), 0u);
  EXPECT_EQ(message([&] { s->setMinHash({0, 8, 5, 1}); }).rfind("cleanmix::setMinHash:", 0), 0u);
  EXPECT_EQ(message([&] { s->setMinHash({64, 9, 5, 1}); }).rfind("cleanmix::setMinHash:", 0), 0u);
}
