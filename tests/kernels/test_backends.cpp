// Every backend gives the Serial backend's kernel output bit for bit, on a batch that turns on
// every part of the kernel (reference and contrast LMs, fold LMs, leave-one-out, MinHash), at any
// thread count (CTest runs the OpenMP binary at OMP_NUM_THREADS 1 and 2) and in any batch split.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "cleanmix/contam/dedup.hpp"
#include "cleanmix/kernels/ngram_lm.hpp"
#include "cleanmix/kernels/signals.hpp"
#include "cleanmix/tokenize/words.hpp"

using namespace cleanmix;

namespace {

struct Fixture {
  std::vector<std::string> texts;
  std::vector<TokenizedDoc> docs;
  std::vector<std::uint8_t> loo;
  LmCounts ref, con, refF0, conF0;
  std::vector<std::uint64_t> unigram;

  static LmParams params() {
    LmParams p;
    p.unigramBits = 14;
    p.tableBits = 16;
    return p;
  }

  Fixture() : ref(params()), con(params()), refF0(params()), conF0(params()) {
    std::mt19937_64 rng(20261207);
    const std::vector<std::string> w{"the",  "cat", "sat", "on",   "a",   "mat", "and", "dog",
                                     "ran",  ".",   "!",   "\n",   "ünï", "x",   "y",   "zebra",
                                     "data", ",",   "?",   "\n\n", "of",  "to",  "in",  "it"};
    for (int i = 0; i < 300; ++i) {
      std::string t;
      // lengths from 0 to ~3000 tokens, some long (several scratch tables, long LM loops)
      const int n = i % 50 == 0 ? 3000 : static_cast<int>(rng() % 400);
      for (int k = 0; k < n; ++k) t += w[rng() % (i % 4 == 0 ? 6 : w.size())] + " ";
      if (i % 7 == 0) t += t.substr(0, t.size() / 2);  // repeated halves: duplicated 5-grams
      texts.push_back(t);
    }
    docs.resize(texts.size());
    unigram.assign(1 << 12, 0);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      WordsTokenizer().tokenize(texts[i], docs[i], true);
      wordHashes(docs[i].norm, docs[i].words);
      for (auto id : docs[i].ids) ++unigram[id & (unigram.size() - 1)];
      const int kind = static_cast<int>(i % 3);  // 0 human, 1 synthetic, 2 unlabelled
      const int fold = static_cast<int>(i / 3 % 2);
      std::uint8_t m = 0;
      if (kind == 0) {
        ref.addDocument(docs[i].ids);
        if (fold == 0) refF0.addDocument(docs[i].ids);
        m = kLooReference;
      } else if (kind == 1) {
        con.addDocument(docs[i].ids);
        if (fold == 0) conF0.addDocument(docs[i].ids);
        m = kLooContrast;
      }
      if (kind != 2) m |= kFoldScore | (fold ? kFold1 : 0);
      loo.push_back(m);
    }
  }

  /// Score docs [b, e) on `backend` in batches of `batch` documents.
  BatchOutput score(const std::string& backend, std::size_t batch) const {
    auto s = makeSignalScorer(backend);
    s->setUnigram(unigram);
    s->setLm(ref);
    s->setContrastLm(con);
    s->setFoldLms(refF0, conF0);
    s->setMinHash({14, 8, 5, 42});
    BatchOutput all;
    for (std::size_t b = 0; b < docs.size(); b += batch) {
      BatchInput in;
      for (std::size_t i = b; i < std::min(docs.size(), b + batch); ++i)
        in.append(docs[i].ids, docs[i].lens, docs[i].sentLens, docs[i].lineHashes, loo[i],
                  docs[i].words);
      BatchOutput out;
      s->score(in, out);
      append(all, out);
    }
    return all;
  }

  static void append(BatchOutput& all, const BatchOutput& o) {
    all.DocRows::append(o, [](const ColumnInfo& c) { return c.stage == ColumnStage::Kernel; });
    all.bandKeys.insert(all.bandKeys.end(), o.bandKeys.begin(), o.bandKeys.end());
    all.foldLm.insert(all.foldLm.end(), o.foldLm.begin(), o.foldLm.end());
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

/// Bitwise equality of two outputs (NaNs included), naming the first column that differs.
void expectBitIdentical(const BatchOutput& a, const BatchOutput& b) {
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> bytes;
  auto raw = [](const auto& v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(v.data());
    return std::vector<std::uint8_t>(p, p + v.size() * sizeof(v[0]));
  };
  a.visit([&](const ColumnInfo& c, const auto& v) {
    if (c.stage == ColumnStage::Kernel) bytes.emplace_back(std::string(c.name), raw(v));
  });
  std::size_t k = 0;
  b.visit([&](const ColumnInfo& c, const auto& v) {
    if (c.stage != ColumnStage::Kernel) return;
    ASSERT_LT(k, bytes.size());
    EXPECT_TRUE(bytes[k].second == raw(v)) << "column " << bytes[k].first << " differs";
    ++k;
  });
  EXPECT_TRUE(raw(a.bandKeys) == raw(b.bandKeys)) << "band keys differ";
  EXPECT_TRUE(raw(a.foldLm) == raw(b.foldLm)) << "fold LM values differ";
}

}  // namespace

TEST(Backends, BitIdenticalToSerial) {
  const Fixture& f = fixture();
  const auto serial = f.score("serial", 1000);
  ASSERT_EQ(serial.refPpl.size(), f.docs.size());
  ASSERT_EQ(serial.bandKeys.size(), f.docs.size() * 14);
  expectBitIdentical(serial, f.score(CLEANMIX_TEST_BACKEND, 1000));
}

TEST(Backends, IndependentOfTheBatchSplit) {
  const Fixture& f = fixture();
  const auto whole = f.score(CLEANMIX_TEST_BACKEND, 1000);
  expectBitIdentical(whole, f.score(CLEANMIX_TEST_BACKEND, 7));
  expectBitIdentical(whole, f.score(CLEANMIX_TEST_BACKEND, 1));
}

TEST(Backends, EveryPartOfTheKernelRan) {
  const Fixture& f = fixture();
  const auto o = f.score(CLEANMIX_TEST_BACKEND, 1000);
  std::size_t withCon = 0, folds = 0, keyed = 0;
  for (std::size_t i = 0; i < f.docs.size(); ++i) {
    withCon += !std::isnan(o.contrastBits[i]);
    keyed += o.bandKeys[i * 14] != 0;
  }
  for (double v : o.foldLm) folds += !std::isnan(v);
  EXPECT_GT(withCon, f.docs.size() / 2);
  EXPECT_GT(folds, f.docs.size());
  EXPECT_GT(keyed, f.docs.size() / 2);
}
