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
