// Classifier fitting and thresholding on a small labelled fixture.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "cleanmix/classify/model.hpp"

using namespace cleanmix;

namespace {

/// Two Gaussian classes that differ in features 0 (log2 ppl) and 11 (NB unigram LLR).
void fixture(int n, unsigned seed, std::vector<double>& rows, std::vector<std::uint8_t>& y) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0, 1);
  for (int i = 0; i < n; ++i) {
    const bool syn = i % 4 == 0;  // 25 % synthetic: imbalanced like real labelled sets
    for (int j = 0; j < kNumFeatures; ++j) {
      double x = g(rng);
      if (j == 0) x += syn ? -1.5 : 1.5;
      if (j == 11) x += syn ? 1.0 : -1.0;
      rows.push_back(x);
    }
    y.push_back(syn ? 1 : 0);
  }
}

}  // namespace

TEST(Classifier, AurocHandComputed) {
  const std::vector<double> s{0.1, 0.4, 0.35, 0.8};
  const std::vector<std::uint8_t> y{0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(auroc(s, y), 0.75);  // pairs (pos > neg): 0.35>0.1, 0.8>0.1, 0.8>0.4
  EXPECT_DOUBLE_EQ(auroc(std::vector<double>{1, 1}, std::vector<std::uint8_t>{0, 1}), 0.5);
}

TEST(Classifier, EvaluateCountsTheConfusionMatrix) {
  const std::vector<double> s{0.9, 0.8, 0.2, 0.7, 0.1};
  const std::vector<std::uint8_t> y{1, 1, 1, 0, 0};
  const auto m = evaluate(s, y, 0.5);
  EXPECT_DOUBLE_EQ(m.precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.fpr, 0.5);
  EXPECT_EQ(m.positives, 3u);
  EXPECT_EQ(m.negatives, 2u);
}

TEST(Classifier, LinearModelSeparatesAndHoldsTheTargetFpr) {
  std::vector<double> tr, te;
  std::vector<std::uint8_t> ytr, yte;
  fixture(2000, 1, tr, ytr);
  fixture(2000, 2, te, yte);
  const auto m = fitLinear(tr, ytr, 0.01, 0.05);
  // The informative features get the right signs; noise features stay small.
  EXPECT_LT(m.weight[0], -0.5);
  EXPECT_GT(m.weight[11], 0.3);
  for (int j : {1, 2, 5, 9}) EXPECT_LT(std::abs(m.weight[j]), 0.2) << j;
  std::vector<double> p;
  for (std::size_t i = 0; i < yte.size(); ++i) p.push_back(m.probability(&te[i * kNumFeatures]));
  const auto met = evaluate(p, yte, m.threshold);
  EXPECT_GT(met.auroc, 0.95);
  EXPECT_LT(met.fpr, 0.08);  // target 5 % on training humans, held-out within sampling error
  // Training-set FPR is at most the target by construction.
  std::vector<double> ptr;
  for (std::size_t i = 0; i < ytr.size(); ++i) ptr.push_back(m.probability(&tr[i * kNumFeatures]));
  EXPECT_LE(evaluate(ptr, ytr, m.threshold).fpr, 0.05);
}

TEST(Classifier, VoteThresholdsFollowTheSignalAndRefuseInvertedOnes) {
  std::vector<double> tr;
  std::vector<std::uint8_t> y;
  fixture(1000, 3, tr, y);  // low log2 ppl = synthetic: informative for the rule
  const auto v = fitVote(tr, y);
  EXPECT_GT(v.threshold[0], -1.5);
  EXPECT_LT(v.threshold[0], 1.5);
  // Burstiness and TTR carry no signal: their rules must not flag most human documents.
  int flaggedHuman = 0, humans = 0;
  for (std::size_t i = 0; i < y.size(); ++i)
    if (!y[i]) {
      ++humans;
      flaggedHuman += v.votes(&tr[i * kNumFeatures]) >= 2;
    }
  EXPECT_LT(flaggedHuman, humans / 2);
}

TEST(Classifier, NbFeaturesLeaveOneOut) {
  NbCounts c(8);
  const std::vector<std::uint64_t> synth{1, 2, 3, 1, 2, 3}, human{7, 8, 9, 7, 8, 9};
  c.add(synth, 1);
  c.add(human, 0);
  c.computeTotals();
  double u = 0, b = 0;
  nbFeatures(c, synth, -1, u, b);
  EXPECT_GT(u, 0);  // its own tokens look synthetic in-sample
  double uLoo = 0, bLoo = 0;
  nbFeatures(c, synth, 1, uLoo, bLoo);
  EXPECT_LT(uLoo, u);  // without itself, the evidence is gone
  EXPECT_NEAR(uLoo, std::log((0 + 1.0) / (0 + 256.0)) - std::log((0 + 1.0) / (6 + 256.0)), 1e-12);
}

TEST(Classifier, ModelFileRoundTrips) {
  std::vector<double> tr;
  std::vector<std::uint8_t> y;
  fixture(400, 4, tr, y);
  ClassifierModel m;
  m.nbBits = 8;
  m.nbCounts.assign(4 * 256, 3);
  m.linear = fitLinear(tr, y, 0.01, 0.01);
  m.vote = fitVote(tr, y);
  const auto path = (std::filesystem::temp_directory_path() / "cleanmix_test.model").string();
  saveModel(m, path);
  const auto back = loadModel(path);
  EXPECT_EQ(back.linear.weight, m.linear.weight);  // exact: 17 significant digits
  EXPECT_EQ(back.linear.threshold, m.linear.threshold);
  EXPECT_EQ(back.vote.threshold[0], m.vote.threshold[0]);
  EXPECT_EQ(back.nbCounts, m.nbCounts);
  std::filesystem::remove(path);
}

TEST(Classifier, NbFastPathEqualsTheGeneralFormula) {
  NbCounts c(8);
  c.add(std::vector<std::uint64_t>{1, 2, 3, 1, 2, 5, 9}, 1);
  c.add(std::vector<std::uint64_t>{7, 8, 9, 7, 8, 2}, 0);
  c.computeTotals();
  const std::vector<std::uint64_t> doc{2, 9, 7, 1, 1, 300};
  double u = 0, b = 0;
  nbFeatures(c, doc, -1, u, b);
  // The general formula without leave-one-out, term by term.
  double want = 0;
  for (auto id : doc) {
    const std::uint64_t k = id & 255;
    want += std::log((c.row(1, 0)[k] + 1.0) / (c.total[1][0] + 256.0)) -
            std::log((c.row(0, 0)[k] + 1.0) / (c.total[0][0] + 256.0));
  }
  EXPECT_NEAR(u, want / doc.size(), 1e-12);
}
