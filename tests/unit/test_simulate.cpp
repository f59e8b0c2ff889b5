// The collapse simulation's pure parts against closed forms: the Wright–Fisher homozygosity
// recursion, the Zipf source, the counter-based stream, the metrics on hand-computed counts.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include "cleanmix/core/error.hpp"
#include "cleanmix/simulate/collapse.hpp"
#include "cleanmix/simulate/real_corpus.hpp"
#include "cleanmix/simulate/trigram.hpp"

namespace sim = cleanmix::sim;

TEST(Simulate, CounterStreamDependsOnlyOnItsKey) {
  sim::CounterRng a(7, 1, 2, 3), b(7, 1, 2, 3), c(7, 1, 2, 4), d(8, 1, 2, 3);
  for (int i = 0; i < 4; ++i) {
    const auto x = a.next();
    EXPECT_EQ(x, b.next());
    EXPECT_NE(x, c.next());
    EXPECT_NE(x, d.next());
  }
}

TEST(Simulate, BelowIsUniform) {
  // Chi-square over 10 cells, 100,000 draws: 99.9% critical value for 9 dof is 27.9.
  sim::CounterRng rng(1, 2, 3, 4);
  std::vector<double> cells(10, 0);
  const int n = 100000;
  for (int i = 0; i < n; ++i) cells[rng.below(10)] += 1;
  double chi2 = 0;
  for (double c : cells) chi2 += (c - n / 10.0) * (c - n / 10.0) / (n / 10.0);
  EXPECT_LT(chi2, 27.9);
}

TEST(Simulate, CategoricalDrawsInProportionAndNeverAZeroWeight) {
  const std::vector<std::uint64_t> w{0, 1, 0, 3, 0};
  sim::Categorical cat(w);
  EXPECT_EQ(cat.total(), 4u);
  sim::CounterRng rng(3, 0, 0, 0);
  std::vector<int> seen(w.size(), 0);
  for (int i = 0; i < 40000; ++i) ++seen[cat.draw(rng)];
  EXPECT_EQ(seen[0] + seen[2] + seen[4], 0);
  EXPECT_NEAR(seen[3] / 40000.0, 0.75, 0.01);
}

TEST(Simulate, ZipfWeightsFollowThePowerLaw) {
  const auto w = sim::zipfWeights(10000, 1.07);
  ASSERT_EQ(w.size(), 10000u);
  EXPECT_NEAR(static_cast<double>(w[0]) / w[1], std::pow(2.0, 1.07), 1e-9);
  EXPECT_NEAR(static_cast<double>(w[9]) / w[99], std::pow(10.0, 1.07), 1e-6);
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  EXPECT_NEAR(total, std::ldexp(1.0, 40), std::ldexp(1.0, 40) * 1e-9);
  EXPECT_THROW(sim::zipfWeights(0, 1.0), std::exception);
}

TEST(Simulate, MetricsOnHandComputedCounts) {
  const std::vector<std::uint64_t> c{4, 2, 1, 1, 0};
  EXPECT_DOUBLE_EQ(sim::chao1(c), 4 + 2.0 * 2.0 / (2 * 1));  // f1 = 2, f2 = 1
  const std::vector<std::uint64_t> noDoubles{3, 1, 1, 1};
  EXPECT_DOUBLE_EQ(sim::chao1(noDoubles), 4 + 3.0 * 2.0 / 2);  // bias-corrected
  // p = (1/2, 1/4, 1/8, 1/8): H = 1.75 bits, Σp² = 1/4 + 1/16 + 2/64
  EXPECT_DOUBLE_EQ(sim::entropyBits(c), 1.75);
  EXPECT_DOUBLE_EQ(sim::homozygosity(c), 0.25 + 0.0625 + 2.0 / 64);
  const std::vector<std::uint64_t> ref{1, 1, 1, 1, 1};
  EXPECT_DOUBLE_EQ(sim::typesKept(ref, c), 0.8);
  // add-k with k = 1 over V = 5, C = 8: q = (5, 3, 2, 2, 1) / 13
  const std::vector<std::uint64_t> held{1, 0, 0, 0, 1};
  EXPECT_NEAR(sim::smoothedPerplexity(c, held, 1.0), std::sqrt(13.0 / 5 * 13.0 / 1), 1e-12);
  // KL(uniform over 5 || q) = Σ 1/5 log2((1/5) / q_i)
  double kl = 0;
  for (double q : {5.0, 3.0, 2.0, 2.0, 1.0}) kl += 0.2 * std::log2(0.2 / (q / 13));
  EXPECT_NEAR(sim::klBits(ref, c, 1.0), kl, 1e-12);
}

TEST(Simulate, TailIsFixedByReferenceRank) {
  const std::vector<std::uint64_t> ref{1, 9, 5, 5, 0};
  const auto order = sim::rankOrder(ref);
  EXPECT_EQ(order, (std::vector<std::uint32_t>{1, 2, 3, 0, 4}));  // ties by id
  const auto tail = sim::tailSet(ref, 2);
  EXPECT_EQ(tail, (std::vector<std::uint8_t>{1, 0, 0, 1, 1}));
  const std::vector<std::uint64_t> model{2, 2, 2, 2, 2};
  EXPECT_DOUBLE_EQ(sim::tailMass(model, tail), 0.6);
}

TEST(Simulate, ChooseSubsetIsDistinctSortedAndUniform) {
  std::vector<double> hits(20, 0);
  for (std::uint64_t t = 0; t < 20000; ++t) {
    sim::CounterRng rng(5, 9, t, 0);
    const auto s = sim::chooseSubset(20, 5, rng);
    ASSERT_EQ(s.size(), 5u);
    ASSERT_TRUE(std::is_sorted(s.begin(), s.end()));
    ASSERT_EQ(std::set<std::uint64_t>(s.begin(), s.end()).size(), 5u);
    for (auto x : s) hits[x] += 1;
  }
  for (double h : hits) EXPECT_NEAR(h / 20000, 0.25, 0.015);
  sim::CounterRng rng(1, 1, 1, 1);
  EXPECT_EQ(sim::chooseSubset(4, 4, rng), (std::vector<std::uint64_t>{0, 1, 2, 3}));
  EXPECT_THROW(sim::chooseSubset(3, 4, rng), std::exception);
}

// Pure multinomial resampling of n tokens per generation from the empirical distribution of the
// last: 1 − E[Σp²] shrinks by (1 − 1/n) a generation, whatever the distribution. V = 1,000 Zipf
// (s = 1.07), n = 1,000, 2,000 replicates: the mean must sit within 4 standard errors of
// 1 − (1 − 1/n)^g (1 − S₀), where g counts resamplings from the source (generation 0 is the
// first draw, so generation k of the simulation is g = k + 1).
TEST(Simulate, WrightFisherHomozygosityMatchesTheClosedForm) {
  const std::size_t v = 1000;
  const std::uint64_t n = 1000;
  const auto source = sim::zipfWeights(v, 1.07);
  const double s0 = sim::homozygosity(source);
  EXPECT_NEAR(s0, 0.0417, 5e-4);
  const int reps = 2000, gens = 50;
  std::vector<double> sum(gens + 1, 0), sumSq(gens + 1, 0);
  for (int r = 0; r < reps; ++r) {
    std::vector<std::uint64_t> counts = source;
    for (int g = 0; g <= gens; ++g) {
      sim::Categorical model(counts);
      std::vector<std::uint64_t> next(v, 0);
      sim::CounterRng rng(11, 0, static_cast<std::uint64_t>(g), static_cast<std::uint64_t>(r));
      for (std::uint64_t i = 0; i < n; ++i) ++next[model.draw(rng)];
      counts.swap(next);
      const double s = sim::homozygosity(counts);
      sum[g] += s;
      sumSq[g] += s * s;
    }
  }
  for (int g : {0, 9, 10, 49, 50}) {
    const double mean = sum[g] / reps;
    const double se = std::sqrt((sumSq[g] / reps - mean * mean) / reps);
    const double expect = sim::wrightFisherHomozygosity(s0, static_cast<double>(n), g + 1);
    EXPECT_NEAR(mean, expect, 4 * se) << "generation " << g << " (g = " << g + 1 << ")";
  }
  // The reference figures (0.0516 at g = 10, 0.0901 at g = 50) against the closed form:
  EXPECT_NEAR(sim::wrightFisherHomozygosity(s0, 1000, 10), 0.0516, 0.001);
  EXPECT_NEAR(sim::wrightFisherHomozygosity(s0, 1000, 50), 0.0901, 0.0025);
}

// ---- the trigram model -----------------------------------------------------------------------

namespace {
sim::NgramCounts countsOf(const std::vector<sim::Tokens>& docs, std::uint32_t vocab) {
  std::vector<const sim::Tokens*> p;
  for (const auto& d : docs) p.push_back(&d);
  sim::NgramCounts c(vocab);
  c.addDocuments(p);
  return c;
}
}  // namespace

TEST(SimulateTrigram, ScoredDistributionsSumToOne) {
  const std::vector<sim::Tokens> docs{{2, 3, 4, 2, 3}, {3, 4, 4}, {5}};
  const sim::TrigramModel m(countsOf(docs, 7), {0.1, 0.3, 0.6}, 100);
  for (std::uint32_t u : {0u, 2u, 3u, 6u})
    for (std::uint32_t v : {0u, 3u, 4u, 6u}) {
      double total = 0;
      for (std::uint32_t w = 0; w < 7; ++w) total += std::exp(m.logProb(u, v, w));
      EXPECT_NEAR(total, 1.0, 1e-12) << u << " " << v;
    }
}

TEST(SimulateTrigram, PerplexityIsTheFormulaByHand) {
  // One document "2 3": framed B B 2 3 B. Counts: tri (B,B,2) (B,2,3) (2,3,B); bi (B,2) (2,3)
  // (3,B); uni 2, 3, B once each, N = 3, V = 4.
  const std::vector<sim::Tokens> docs{{2, 3}};
  const sim::TrigramModel m(countsOf(docs, 4), {0.1, 0.3, 0.6}, 100);
  // P(2 | B B) = 0.6 * 1 + 0.3 * 1 + 0.1 * 2/7; the same for the other two positions.
  const double p = 0.6 + 0.3 + 0.1 * 2.0 / 7.0;
  EXPECT_NEAR(m.logProb(0, 0, 2), std::log(p), 1e-12);
  EXPECT_NEAR(m.perplexity(docs), 1.0 / p, 1e-12);
  // An unseen context keeps only the unigram: P(3 | 1 1) = (1 + 1) / (3 + 4).
  EXPECT_NEAR(m.logProb(1, 1, 3), std::log(2.0 / 7.0), 1e-12);
}

TEST(SimulateTrigram, SamplingFollowsTheMleMixture) {
  // After (B, 2) the trigram continuation is 3 (twice) or 4 (once); the bigram of 2 the same;
  // the MLE unigram over predicted tokens: 2 x3, 3 x2, 4 x1, B x3 (N = 9).
  const std::vector<sim::Tokens> docs{{2, 3}, {2, 3}, {2, 4}};
  const sim::TrigramModel m(countsOf(docs, 6), {0.1, 0.3, 0.6}, 2);
  std::vector<double> second(6, 0);
  const int n = 60000;
  for (int i = 0; i < n; ++i) {
    sim::CounterRng rng(1, 2, 3, static_cast<std::uint64_t>(i));
    sim::Tokens t;
    m.sample(rng, t);
    ASSERT_LE(t.size(), 2u);
    for (auto x : t) ASSERT_LT(x, 5u);  // type 5 has no count: never drawn
    if (t.size() == 2 && t[0] == 2) second[t[1]] += 1;
  }
  // P(first = 2) = 0.9 + 0.1 * 3/9; P(3 | B 2) = 0.9 * 2/3 + 0.1 * 2/9.
  const double first2 = 0.9 + 0.1 * 3 / 9.0;
  EXPECT_NEAR(second[3] / n, first2 * (0.9 * 2 / 3.0 + 0.1 * 2 / 9.0), 0.01);
  EXPECT_NEAR(second[4] / n, first2 * (0.9 * 1 / 3.0 + 0.1 * 1 / 9.0), 0.01);
}

TEST(SimulateTrigram, CountsMergeLikeCountingTogether) {
  const std::vector<sim::Tokens> a{{2, 3, 4}}, b{{3, 4, 2}, {2}};
  auto ca = countsOf(a, 5);
  ca.merge(countsOf(b, 5));
  std::vector<sim::Tokens> all = a;
  all.insert(all.end(), b.begin(), b.end());
  const auto c = countsOf(all, 5);
  ASSERT_EQ(ca.tri.size(), c.tri.size());
  for (std::size_t i = 0; i < c.tri.size(); ++i) {
    EXPECT_EQ(ca.tri[i].key, c.tri[i].key);
    EXPECT_EQ(ca.tri[i].count, c.tri[i].count);
  }
  EXPECT_EQ(ca.uni, c.uni);
}

// ---- the real corpus: tokens, surfaces and text survive the round trips ----------------------

TEST(SimulateRealCorpus, LoadsSplitsRendersAndEncodesBack) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "cleanmix_unit_simulate_corpus";
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream h(dir / "human.jsonl");
    for (int i = 0; i < 10; ++i)
      h << "{\"text\": \"The Cat sat, number " << i << "; \\u00e9t\\u00e9 (ok).\", \"genre\": \"g"
        << i % 2 << "\"}\n";
    h << "not json\n";
    std::ofstream o(dir / "other.jsonl");
    o << "{\"text\": \"Zebra words only here\"}\n";
  }
  cleanmix::SourceConfig human, other;
  human.name = "human";
  human.paths = {(dir / "human.jsonl").string()};
  human.provenance = cleanmix::Provenance::HumanUnverified;
  human.groupKey = "genre";
  other.name = "other";
  other.paths = {(dir / "other.jsonl").string()};
  other.provenance = cleanmix::Provenance::SyntheticKnown;
  const std::vector<cleanmix::SourceConfig> sources{human, other};
  EXPECT_EQ(sim::defaultRealSources(sources), (std::vector<std::string>{"human"}));
  const auto c = sim::loadRealCorpus(sources, {"human"}, {}, {}, 5);
  EXPECT_EQ(c.train.size(), 8u);  // the bad line is skipped; documents 4 and 9 are held out
  EXPECT_EQ(c.held.size(), 2u);
  EXPECT_EQ(c.trainGroups[1], "g1");
  // The vocabulary covers every source ("zebra" is only in the other one), sorted, casefolded.
  EXPECT_TRUE(std::is_sorted(c.vocab.begin() + 2, c.vocab.end()));
  EXPECT_NE(std::find(c.vocab.begin(), c.vocab.end(), "zebra"), c.vocab.end());
  EXPECT_NE(std::find(c.vocab.begin(), c.vocab.end(), "été"), c.vocab.end());
  EXPECT_EQ(std::find(c.vocab.begin(), c.vocab.end(), "Cat"), c.vocab.end());
  const auto back = sim::RealCorpus::unpack(c.pack());
  EXPECT_EQ(back.vocab, c.vocab);
  EXPECT_EQ(back.train, c.train);
  EXPECT_EQ(back.held, c.held);
  EXPECT_EQ(back.trainText, c.trainText);
  const sim::Encoder enc(c.vocab, {});
  for (const auto& d : c.train) EXPECT_EQ(enc.encode(sim::renderText(d, c.vocab)), d);
  EXPECT_EQ(enc.encode(c.trainText[0]), c.train[0]);  // the original text encodes the same
  EXPECT_EQ(enc.encode("unseenword"), (sim::Tokens{sim::kUnknown}));
  EXPECT_THROW(sim::loadRealCorpus(sources, {"nope"}, {}, {}, 5), cleanmix::ConfigError);
  fs::remove_all(dir);
}
