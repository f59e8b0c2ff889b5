#pragma once
/// \file
/// \brief The provenance classifier (DESIGN.md "Provenance classifier"). Pure functions, no MPI.
///
/// Features per document: the registry columns marked as features (core/columns.hpp), in
/// registry order. Two of them are hashed text features, the mean Naive-Bayes log-ratio log
/// P(bucket | synthetic) / P(bucket | human) of its unigram and bigram buckets (multinomial NB with
/// add-one smoothing over hashed counts of the training split). Two models: **vote** (synthetic
/// when at least 2 of low ref_ppl, low burstiness, low ttr; thresholds chosen on the training split
/// for balanced accuracy) and **linear** (logistic regression on standardised features with L2,
/// class-balanced; its threshold admits the target false-positive rate on human training
/// documents).
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "cleanmix/core/columns.hpp"

namespace cleanmix {

/// \brief Integer NB histograms: [class (0 human, 1 synthetic)][order (0 uni, 1 bi)][bucket].
struct NbCounts {
  int bits = 14;
  std::vector<std::uint64_t> counts;
  explicit NbCounts(int b = 14);
  std::size_t buckets() const { return std::size_t{1} << bits; }
  std::uint64_t* row(int cls, int order) { return counts.data() + (2 * cls + order) * buckets(); }
  const std::uint64_t* row(int cls, int order) const {
    return counts.data() + (2 * cls + order) * buckets();
  }
  void add(std::span<const std::uint64_t> ids, int cls);
  /// \brief Cache the row totals and the per-bucket log-ratio tables (call once the counts are
  /// final, e.g. after the reduce).
  void computeTotals();
  std::uint64_t total[2][2] = {{0, 0}, {0, 0}};  ///< [class][order]
  std::vector<double> logRatio;                  ///< [order][bucket], for documents not trained on
};

/// \brief Per-document NB text features (mean log-ratio over unigram and bigram buckets). With
/// `ownClass` >= 0 the document's own counts are left out (it is a training document).
void nbFeatures(const NbCounts& c, std::span<const std::uint64_t> ids, int ownClass, double& uni,
                double& bi);

/// \brief Logistic regression on standardised features.
struct LinearModel {
  std::vector<double> mean, sd, weight;  ///< per feature (weights on standardised values)
  double bias = 0, threshold = 0.5;      ///< decision: probability >= threshold
  double probability(const double* x) const;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& mean& sd& weight& bias& threshold;
  }
};

/// \brief The reference rule with calibrated thresholds (features: log2 ref_ppl, burstiness,
/// ttr); "low" means below the threshold.
struct VoteModel {
  double threshold[3] = {0, 0, 0};
  int votes(const double* x) const;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& threshold;
  }
};
/// \brief Feature indices of the vote's inputs: log2 ref_ppl, burstiness, ttr.
inline constexpr int kVoteFeatures[3] = {featureIndex("ref_ppl"), featureIndex("burstiness"),
                                         featureIndex("ttr")};
static_assert(kVoteFeatures[0] >= 0 && kVoteFeatures[1] >= 0 && kVoteFeatures[2] >= 0,
              "the vote's columns must be classifier features (core/columns.hpp)");

struct Metrics {
  double precision = 0, recall = 0, f1 = 0, auroc = 0, fpr = 0;
  std::uint64_t positives = 0, negatives = 0;
};

/// \brief Where the labelled data lies in feature space: the Mahalanobis distance of a document
/// from the labelled training documents (on the linear model's standardised features). A
/// document farther than `maxDistance` (a quantile of the training documents' own distances)
/// is outside the labelled data's range and is not judged.
struct RangeModel {
  std::vector<std::int32_t> features;  ///< feature indices used
  std::vector<double> mean, sd;        ///< per used feature
  std::vector<double> precision;       ///< inverse covariance of the standardised features
  double maxDistance =
      std::numeric_limits<double>::max();  ///< max: no limit (text archives cannot hold inf)
  double distance(const double* x) const;
  bool inRange(const double* x) const { return distance(x) <= maxDistance; }  ///< NaN: no
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& features& mean& sd& precision& maxDistance;
  }
};

/// \brief Fit the range on the training rows; `quantile` (in (0, 1]) of their distances sets
/// maxDistance (1: no limit, every document with finite features is in range).
RangeModel fitRange(std::span<const double> rows, std::span<const std::uint8_t> use,
                    double quantile);

/// \brief Everything `calibrate` writes and `run` loads (Boost text archive).
struct ClassifierModel {
  int nbBits = 14;
  std::vector<std::uint64_t> nbCounts;  ///< the NbCounts of the training split
  LinearModel linear;
  VoteModel vote;
  std::uint64_t trainDocs = 0;
  RangeModel range;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& nbBits& nbCounts& linear& vote& trainDocs& range;
  }
};

/// \brief Fit on rows (row-major, kNumFeatures each) with labels (1 = synthetic). `use` (one
/// flag per feature; empty = all) picks the features: an unused one gets weight 0.
LinearModel fitLinear(std::span<const double> rows, std::span<const std::uint8_t> labels, double l2,
                      double targetFpr, std::span<const std::uint8_t> use = {});

/// \brief The smallest threshold at which at most floor(targetFpr × n) of the n human scores
/// are >= it (scores are probabilities; 1e-12 at the least).
double thresholdAtFpr(std::vector<double> humanScores, double targetFpr);

/// \brief One group of a leave-one-group-out cross-validation.
struct GroupFold {
  std::uint32_t group = 0;
  bool trained = false;  ///< the other groups held both classes, so a model was fitted
  double threshold = 0;  ///< from the *other* groups' out-of-group human scores at target FPR
  std::uint64_t human = 0, falsePositives = 0, synthetic = 0, truePositives = 0;
};

/// \brief Leave-one-group-out cross-validation of the linear model: for each group, fit on the
/// others and score the group's documents ("out-of-group" scores).
struct GroupCv {
  std::vector<GroupFold> folds;  ///< one per group present, in group order
  std::vector<double> scores;    ///< pooled out-of-group scores (documents of trained folds)
  std::vector<std::uint8_t> labels;
  double auroc = 0.5;
  double tprAt1 = 0, tprAt5 = 0;  ///< pooled TPR at 1% and 5% pooled FPR
  double threshold = 0;           ///< at targetFpr of every pooled out-of-group human score
  std::uint64_t human = 0, falsePositives = 0, synthetic = 0, truePositives = 0;  ///< Σ trained
  bool usable() const { return !scores.empty() && human > 0 && synthetic > 0; }
};
/// With `foldRows` (the rows again under fold 0's LMs, then fold 1's: 2 × rows) and
/// `groupFold` (each group id's fold), a group of fold a is fitted and scored on the rows under
/// the other fold's LMs, which its documents did not help build.
GroupCv leaveOneGroupOut(std::span<const double> rows, std::span<const std::uint8_t> labels,
                         std::span<const std::uint32_t> groups, double l2, double targetFpr,
                         std::span<const std::uint8_t> use = {},
                         std::span<const double> foldRows = {},
                         std::span<const std::uint8_t> groupFold = {});

/// \brief TPR at the threshold that admits `fpr` of the human scores (thresholdAtFpr).
double tprAtFpr(std::span<const double> scores, std::span<const std::uint8_t> labels, double fpr);
VoteModel fitVote(std::span<const double> rows, std::span<const std::uint8_t> labels);

/// \brief Area under the ROC curve (Mann–Whitney; ties count one half).
double auroc(std::span<const double> scores, std::span<const std::uint8_t> labels);
/// \brief Precision, recall, F1 and false-positive rate of `score >= threshold`, plus AUROC.
Metrics evaluate(std::span<const double> scores, std::span<const std::uint8_t> labels,
                 double threshold);

void saveModel(const ClassifierModel& m, const std::string& path);
ClassifierModel loadModel(const std::string& path);

/// \brief True for documents in the held-out split (about 1 in 5), by a hash of (source name,
/// hash of the raw text): the same at any rank count and piece split, and exact duplicates
/// always fall on the same side, so they cannot leak from training into evaluation.
bool inHoldout(const std::string& source, std::uint64_t textHash);

}  // namespace cleanmix
