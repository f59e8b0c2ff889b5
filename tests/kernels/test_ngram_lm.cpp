// Reference LM: kernel perplexity vs an independent map-based model, normalisation, and exact
// leave-one-out for anchor documents.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <tuple>

#include "cleanmix/kernels/ngram_lm.hpp"
#include "cleanmix/kernels/signals.hpp"
#include "cleanmix/tokenize/words.hpp"

using namespace cleanmix;

namespace {

using Ids = std::vector<std::uint64_t>;

/// Exact-count trigram JM model over token ids (no hashing), the formula of ngram_lm.hpp.
struct MapLm {
  std::map<std::uint64_t, double> c1;
  std::map<std::pair<std::uint64_t, std::uint64_t>, double> c2;
  std::map<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>, double> c3;
  double total = 0, v;
  double l[3];
  MapLm(const std::vector<Ids>& docs, double buckets, const double* lambda) : v(buckets) {
    for (int k = 0; k < 3; ++k) l[k] = lambda[k];
    const std::uint64_t B = kBoundaryId;
    for (const auto& d : docs) {
      std::uint64_t p2 = B, p1 = B;
      for (std::size_t j = 0; j <= d.size(); ++j) {
        const std::uint64_t w = j < d.size() ? d[j] : B;
        c1[w] += 1;
        c2[{p1, w}] += 1;
        c3[{p2, p1, w}] += 1;
        total += 1;
        p2 = p1;
        p1 = w;
      }
    }
  }
  template <class M, class K>
  static double get(const M& m, const K& k) {
    auto it = m.find(k);
    return it == m.end() ? 0.0 : it->second;
  }
  double prob(std::uint64_t u, std::uint64_t vv, std::uint64_t w) const {
    double p = l[0] * (get(c1, w) + 1) / (total + v), ws = l[0];
    const std::uint64_t B = kBoundaryId;
    const double cv = get(c1, vv);
    const double cuv = (u == B && vv == B) ? get(c1, B) : get(c2, std::make_pair(u, vv));
    if (cv > 0) p += l[1] * get(c2, std::make_pair(vv, w)) / cv, ws += l[1];
    if (cuv > 0) p += l[2] * get(c3, std::make_tuple(u, vv, w)) / cuv, ws += l[2];
    return p / ws;
  }
  double ppl(const Ids& d) const {
    const std::uint64_t B = kBoundaryId;
    std::uint64_t p2 = B, p1 = B;
    double bits = 0;
    for (std::size_t j = 0; j <= d.size(); ++j) {
      const std::uint64_t w = j < d.size() ? d[j] : B;
      bits -= std::log2(prob(p2, p1, w));
      p2 = p1;
      p1 = w;
    }
    return std::exp2(bits / double(d.size() + 1));
  }
};

Ids tokens(const std::string& t) {
  TokenizedDoc d;
  WordsTokenizer().tokenize(t, d, false);
  return d.ids;
}

std::vector<std::string> corpus() {
  std::mt19937 rng(3);
  const std::vector<std::string> w{"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "."};
  std::vector<std::string> docs;
  for (int i = 0; i < 40; ++i) {
    std::string t;
    for (int k = 0; k < 5 + static_cast<int>(rng() % 60); ++k) t += w[rng() % w.size()] + " ";
    docs.push_back(t);
  }
  return docs;
}

struct Scored {
  std::vector<double> ppl, sd, uni;
};

Scored score(const LmCounts& lm, const std::vector<std::string>& texts, bool anchor) {
  auto s = makeSignalScorer(CLEANMIX_TEST_BACKEND);
  s->setUnigram(std::vector<std::uint64_t>(1 << 10, 1));
  s->setLm(lm);
  BatchInput in;
  std::vector<TokenizedDoc> docs(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    WordsTokenizer().tokenize(texts[i], docs[i], true);
    in.append(docs[i].ids, docs[i].lens, docs[i].sentLens, docs[i].lineHashes, anchor);
  }
  BatchOutput out;
  s->score(in, out);
  return {out.refPpl, out.sentSurprisalSd, out.refUnigramBits};
}

LmParams params() {
  LmParams p;
  p.unigramBits = 16;
  p.tableBits = 18;
  return p;
}

}  // namespace

TEST(NgramLm, KernelMatchesExactCountModel) {
  const auto texts = corpus();
  LmCounts lm(params());
  std::vector<Ids> ids;
  for (const auto& t : texts) {
    ids.push_back(tokens(t));
    lm.addDocument(ids.back());
  }
  const MapLm ref(ids, 1 << 16, params().lambda);
  const std::vector<std::string> probe{"the cat sat on the mat .", "dog dog dog", "", "zebra!"};
  const auto got = score(lm, probe, false);
  for (std::size_t i = 0; i < probe.size(); ++i) {
    EXPECT_NEAR(got.ppl[i], ref.ppl(tokens(probe[i])), 1e-9 * got.ppl[i]) << probe[i];
    // ref_unigram_bits: the mean over the tokens of −log2((c(w) + 1) / (N + V)), N counting
    // the final boundaries too (the LM's predicted tokens).
    const Ids d = tokens(probe[i]);
    double bits = 0;
    for (auto w : d) bits -= std::log2((MapLm::get(ref.c1, w) + 1) / (ref.total + ref.v));
    EXPECT_NEAR(got.uni[i], d.empty() ? 0.0 : bits / double(d.size()), 1e-9) << probe[i];
  }
}

TEST(NgramLm, ConditionalDistributionSumsToOne) {
  const auto texts = corpus();
  std::vector<Ids> ids;
  for (const auto& t : texts) ids.push_back(tokens(t));
  const double buckets = 64;  // a small vocabulary space so the sum can be taken exactly
  const MapLm ref(ids, buckets, params().lambda);
  // Seen outcomes carry their exact probability; every unseen bucket gets the add-one share.
  for (auto [u, v] : {std::pair{kBoundaryId, kBoundaryId}, std::pair{ids[0][0], ids[0][1]},
                      std::pair{ids[1][2], ids[1][3]}}) {
    double sum = 0, seen = 0;
    for (const auto& [w, c] : ref.c1) {
      sum += ref.prob(u, v, w);
      ++seen;
    }
    sum += (buckets - seen) * ref.prob(u, v, 0x1234567ull);  // unseen: unigram add-one part only
    EXPECT_NEAR(sum, 1.0, 1e-12);
  }
}

TEST(NgramLm, LeaveOneOutEqualsModelWithoutTheDocument) {
  const auto texts = corpus();
  LmCounts all(params());
  for (const auto& t : texts) all.addDocument(tokens(t));
  const auto loo = score(all, texts, true);
  for (std::size_t i = 0; i < texts.size(); i += 7) {
    LmCounts without(params());
    for (std::size_t k = 0; k < texts.size(); ++k)
      if (k != i) without.addDocument(tokens(texts[k]));
    const auto plain = score(without, {texts[i]}, false);
    EXPECT_DOUBLE_EQ(loo.ppl[i], plain.ppl[0]) << "doc " << i;
    EXPECT_DOUBLE_EQ(loo.sd[i], plain.sd[0]) << "doc " << i;
    EXPECT_DOUBLE_EQ(loo.uni[i], plain.uni[0]) << "doc " << i;
  }
  // Without leave-one-out a training document looks far more probable than it is.
  const auto inSample = score(all, {texts[0]}, false);
  EXPECT_LT(inSample.ppl[0], loo.ppl[0]);
}

TEST(NgramLm, WithoutAnLmTheColumnsAreNaN) {
  auto s = makeSignalScorer(CLEANMIX_TEST_BACKEND);
  s->setUnigram(std::vector<std::uint64_t>(1 << 10, 1));
  BatchInput in;
  const Ids ids{1, 2, 3};
  const std::vector<std::uint32_t> lens{1, 1, 1}, sl{3};
  in.append(ids, lens, sl, {});
  BatchOutput out;
  s->score(in, out);
  EXPECT_TRUE(std::isnan(out.refPpl[0]));
  EXPECT_TRUE(std::isnan(out.refUnigramBits[0]));
}

namespace {

/// Kernel output of `texts` (each with its loo mask) under ref, con and, when given, fold-0
/// tables.
BatchOutput scoreWith(const LmCounts& ref, const LmCounts* con, const LmCounts* refF0,
                      const LmCounts* conF0, const std::vector<std::string>& texts,
                      const std::vector<std::uint8_t>& loo) {
  auto s = makeSignalScorer(CLEANMIX_TEST_BACKEND);
  s->setUnigram(std::vector<std::uint64_t>(1 << 10, 1));
  s->setLm(ref);
  if (con) s->setContrastLm(*con);
  if (refF0) s->setFoldLms(*refF0, *conF0);
  BatchInput in;
  std::vector<TokenizedDoc> docs(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    WordsTokenizer().tokenize(texts[i], docs[i], true);
    in.append(docs[i].ids, docs[i].lens, docs[i].sentLens, docs[i].lineHashes, loo[i]);
  }
  BatchOutput out;
  s->score(in, out);
  return out;
}

/// The kLmColumns values of doc i (the registry columns).
std::vector<double> lmValues(const BatchOutput& o, std::size_t i) {
  return {o.refPpl[i],     o.refUnigramBits[i], o.sentSurprisalSd[i], o.refBitsSd[i],
          o.refLowFrac[i], o.contrastBits[i],   o.contrastSd[i]};
}

}  // namespace

// contrast_bits is the mean per-token surprisal difference, so it equals log2 ppl under the
// reference LM minus log2 ppl under the contrast LM; a synthetic_known document scored
// leave-one-out under the contrast LM equals scoring it against a contrast LM built without it.
TEST(NgramLm, ContrastFeaturesAndLeaveOneOut) {
  const auto texts = corpus();
  LmCounts human(params());
  LmParams cp = params();
  cp.tableBits = 16;  // the contrast LM has its own (smaller) tables
  LmCounts con(cp), conWithout(cp);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (i % 2 == 0) {
      human.addDocument(tokens(texts[i]));
    } else {
      con.addDocument(tokens(texts[i]));
      if (i != 1) conWithout.addDocument(tokens(texts[i]));
    }
  }
  const std::vector<std::string> probe{texts[1], "the cat sat on the mat .", "zebra!", ""};
  const auto a = scoreWith(human, &con, nullptr, nullptr, probe, {kLooContrast, 0, 0, 0});
  const auto underCon = scoreWith(con, nullptr, nullptr, nullptr, probe, {0, 0, 0, 0});
  const auto underConWithout =
      scoreWith(conWithout, nullptr, nullptr, nullptr, probe, {0, 0, 0, 0});
  for (std::size_t i = 0; i < probe.size(); ++i) {
    const double conPpl = i == 0 ? underConWithout.refPpl[i] : underCon.refPpl[i];
    EXPECT_NEAR(a.contrastBits[i], std::log2(a.refPpl[i]) - std::log2(conPpl), 1e-9) << i;
    EXPECT_GE(a.contrastSd[i], 0.0);
    EXPECT_GE(a.refLowFrac[i], 0.0);
    EXPECT_LE(a.refLowFrac[i], 1.0);
  }
  // The document counted into the contrast LM is scored as if it were not in it (loo), so its
  // contrast_bits differs from scoring it as an outsider.
  const auto outsider = scoreWith(human, &con, nullptr, nullptr, probe, {0, 0, 0, 0});
  EXPECT_GT(outsider.contrastBits[0], a.contrastBits[0] + 0.1);
  // Without a contrast LM the two columns are NaN, the others are unchanged.
  const auto noCon = scoreWith(human, nullptr, nullptr, nullptr, probe, {0, 0, 0, 0});
  EXPECT_TRUE(std::isnan(noCon.contrastBits[1]) && std::isnan(noCon.contrastSd[1]));
  EXPECT_EQ(noCon.refPpl[1], outsider.refPpl[1]);
  EXPECT_EQ(noCon.refBitsSd[1], outsider.refBitsSd[1]);
}

// The fold LMs: a kFoldScore document's values under fold f equal scoring it against LMs built
// from fold f's documents only, leave-one-out exactly when it is one of them.
TEST(NgramLm, FoldLmsEqualLmsOfEachFold) {
  const auto texts = corpus();
  LmCounts ref(params()), con(params());
  LmCounts refF[2] = {LmCounts(params()), LmCounts(params())};
  LmCounts conF[2] = {LmCounts(params()), LmCounts(params())};
  // doc i: human if i % 2 == 0, else synthetic; fold = (i / 2) % 2
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Ids id = tokens(texts[i]);
    const int fold = static_cast<int>(i / 2 % 2);
    (i % 2 == 0 ? ref : con).addDocument(id);
    (i % 2 == 0 ? refF[fold] : conF[fold]).addDocument(id);
  }
  const std::vector<std::size_t> which{0, 1, 2, 3, 5, 6};
  std::vector<std::string> probe;
  std::vector<std::uint8_t> loo;
  for (auto i : which) {
    probe.push_back(texts[i]);
    const int fold = static_cast<int>(i / 2 % 2);
    loo.push_back(static_cast<std::uint8_t>((i % 2 == 0 ? kLooReference : kLooContrast) |
                                            kFoldScore | (fold ? kFold1 : 0)));
  }
  probe.push_back("the cat sat on a mat .");  // unlabelled: no fold values
  loo.push_back(0);
  const auto got = scoreWith(ref, &con, &refF[0], &conF[0], probe, loo);
  ASSERT_EQ(got.foldLm.size(), probe.size() * kNumLmFolds * kNumLmColumns);
  for (int f = 0; f < kNumLmFolds; ++f) {
    // the same documents scored against fold f's LMs alone: leave-one-out only when in fold f
    std::vector<std::uint8_t> looF;
    for (std::size_t k = 0; k < which.size(); ++k) {
      const int fold = (loo[k] & kFold1) ? 1 : 0;
      looF.push_back(fold == f ? static_cast<std::uint8_t>(loo[k] & (kLooReference | kLooContrast))
                               : std::uint8_t{0});
    }
    looF.push_back(0);
    const auto want = scoreWith(refF[f], &conF[f], nullptr, nullptr, probe, looF);
    for (std::size_t k = 0; k < which.size(); ++k) {
      const auto w = lmValues(want, k);
      for (int c = 0; c < kNumLmColumns; ++c) {
        const double g = got.foldLm[(k * kNumLmFolds + f) * kNumLmColumns + c];
        EXPECT_NEAR(g, w[c], 1e-9 * std::max(1.0, std::abs(w[c])))
            << "doc " << which[k] << " fold " << f << " column " << c;
      }
    }
    const std::size_t last = probe.size() - 1;
    EXPECT_TRUE(std::isnan(got.foldLm[(last * kNumLmFolds + f) * kNumLmColumns]));
  }
  // The registry columns are the full LMs', unchanged by the fold scoring.
  const auto full = scoreWith(ref, &con, nullptr, nullptr, probe, loo);
  for (std::size_t k = 0; k < probe.size(); ++k) {
    EXPECT_EQ(full.refPpl[k], got.refPpl[k]);
    EXPECT_EQ(full.contrastBits[k], got.contrastBits[k]);
  }
  EXPECT_TRUE(full.foldLm.empty());
}
