// Every host backend gives the Serial backend's kernel output bit for bit (a GPU backend: within
// 1e-12 relative, see expectSame), on a batch that turns on
// every part of the kernel (reference and contrast LMs, fold LMs, leave-one-out, MinHash), at any
// thread count (CTest runs the OpenMP binary at OMP_NUM_THREADS 1 and 2) and in any batch split.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <type_traits>
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

/// Host backends (Serial, OpenMP) must agree bit for bit. A GPU's log2/exp2 and its FMA
/// contraction round differently from the host's, so there the floating-point columns are
/// compared within 1e-12 relative (the maximum is printed for perf/gpu.sh's report); integer
/// columns, band keys included, stay exact.
bool hostBackend(const std::string& b) {
  return b == "serial" || b == "openmp";
}

void expectSame(const BatchOutput& a, const BatchOutput& b, bool exact) {
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> bytes;
  std::vector<const std::vector<double>*> reals;
  auto raw = [](const auto& v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(v.data());
    return std::vector<std::uint8_t>(p, p + v.size() * sizeof(v[0]));
  };
  a.visit([&](const ColumnInfo& c, const auto& v) {
    if (c.stage != ColumnStage::Kernel) return;
    bytes.emplace_back(std::string(c.name), raw(v));
    if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::vector<double>>)
      reals.push_back(&v);
    else
      reals.push_back(nullptr);
  });
  double worst = 0;
  auto near = [&](const std::vector<double>& x, const std::vector<double>& y,
                  const std::string& n) {
    ASSERT_EQ(x.size(), y.size()) << n;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (std::isnan(x[i]) || std::isnan(y[i])) {
        EXPECT_EQ(std::isnan(x[i]), std::isnan(y[i])) << n << " row " << i;
        continue;
      }
      const double rel = std::abs(x[i] - y[i]) / std::max(1e-300, std::abs(x[i]));
      worst = std::max(worst, rel);
      EXPECT_LE(rel, 1e-12) << n << " row " << i << ": " << x[i] << " vs " << y[i];
    }
  };
  std::size_t k = 0;
  b.visit([&](const ColumnInfo& c, const auto& v) {
    if (c.stage != ColumnStage::Kernel) return;
    ASSERT_LT(k, bytes.size());
    if (exact || !reals[k]) {
      EXPECT_TRUE(bytes[k].second == raw(v)) << "column " << bytes[k].first << " differs";
    } else if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::vector<double>>) {
      near(*reals[k], v, bytes[k].first);
    }
    ++k;
  });
  EXPECT_TRUE(raw(a.bandKeys) == raw(b.bandKeys)) << "band keys differ";
  if (exact)
    EXPECT_TRUE(raw(a.foldLm) == raw(b.foldLm)) << "fold LM values differ";
  else
    near(a.foldLm, b.foldLm, "fold_lm");
  if (!exact) std::printf("[backends] max relative difference from Serial: %.3g\n", worst);
}

}  // namespace

TEST(Backends, BitIdenticalToSerial) {
  const Fixture& f = fixture();
  const auto serial = f.score("serial", 1000);
  ASSERT_EQ(serial.refPpl.size(), f.docs.size());
  ASSERT_EQ(serial.bandKeys.size(), f.docs.size() * 14);
  expectSame(serial, f.score(CLEANMIX_TEST_BACKEND, 1000), hostBackend(CLEANMIX_TEST_BACKEND));
}

TEST(Backends, IndependentOfTheBatchSplit) {
  const Fixture& f = fixture();
  const auto whole = f.score(CLEANMIX_TEST_BACKEND, 1000);
  expectSame(whole, f.score(CLEANMIX_TEST_BACKEND, 7), true);  // same backend: bitwise
  expectSame(whole, f.score(CLEANMIX_TEST_BACKEND, 1), true);
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
