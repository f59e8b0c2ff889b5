#pragma once
/// \file
/// \brief How a run's classifier is set up before any document is read: its config section,
/// which sources are labelled training data, and whether a model is loaded or fitted in-run.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cleanmix/classify/model.hpp"
#include "cleanmix/core/source.hpp"

namespace cleanmix {

/// \brief Config section [classifier].
struct ClassifierParams {
  bool enabled = true;
  std::string model;                ///< model file to load ("" = fit in-run)
  std::string decision = "linear";  ///< which model sets p_synthetic / inferred
  double targetFpr = 0.01;
  double l2 = 0.01;
  int nbBits = 14;
  std::uint64_t maxTrainDocs = 200000;  ///< labelled rows gathered to rank 0 (sampled)
  /// Features the linear model uses, by name (featureNames()). Empty: every feature but the
  /// hashed topic features nb_unigram_llr and nb_bigram_llr, which do not transfer to groups
  /// the training data lacks, and tail_score, which is measured against the whole pool and so
  /// drifts as the pool fills with generated text (docs/contamination.md, "Domain shift";
  /// docs/simulate.md).
  std::vector<std::string> features;
  /// Where the linear threshold comes from: "groups" (target FPR on the pooled out-of-group
  /// scores of the leave-one-group-out evaluation, when it could run) or "train" (target FPR on
  /// the human training documents, in-sample).
  std::string thresholdFrom = "groups";
  /// Documents farther from the labelled training documents (Mahalanobis distance on the
  /// linear model's features) than this quantile of the training documents' own distances are
  /// not judged: they keep their declared provenance. 1 = judge every document.
  double abstainQuantile = 0.995;
  /// LM features in the leave-one-group-out evaluation: "folds" (groups split into two folds by
  /// a hash of their name; a left-out group's LM features come from LMs counted over the other
  /// fold only, so the group's documents never helped build them) or "shared" (the run's LMs,
  /// labelled documents leave-one-out only: optimistic, as the left-out group's other documents
  /// are in them).
  std::string cvLm = "folds";
  /// \brief One flag per feature (featureNames() order).
  std::vector<std::uint8_t> featureMask() const;
};

/// \brief The hashed Naive-Bayes text features (nb_*): topic features whose counts include every
/// training document, so a leave-one-group-out evaluation of them is optimistic.
bool isHashedTextFeature(std::string_view name);
/// \brief tail_score: a feature measured against the whole pool (it moves with the pool's
/// composition), left out of the default feature set.
bool isPoolRelativeFeature(std::string_view name);

/// \brief The class a source's documents train as: 0 human (human_verified), 1 synthetic
/// (synthetic_known), -1 not labelled (benchmarks never are).
int trainingLabel(const SourceConfig& src);

/// \brief The fold (0 or 1) of a group in the leave-one-group-out LM evaluation: a hash of its
/// name, so it is known while counting and the same at any rank count.
std::uint8_t lmFoldOf(std::string_view group);

/// \brief The classifier of one run.
struct ClassifierSetup {
  bool active = false;  ///< it runs: a model is loaded, or both labelled classes exist to fit one
  bool fitNb = false;   ///< the NB text features are counted in-run (no model loaded)
  /// some non-benchmark source is `synthetic_known`: the contrast LM is counted from them
  bool hasSyntheticLabels = false;
  /// the count stage keeps fold-0 LM tables and the score stage scores labelled documents under
  /// both folds' LMs (cvLm = "folds", fitted in-run)
  bool lmFolds = false;
  std::optional<ClassifierModel> loaded;
  /// \brief NB histograms to count into (empty) or the loaded model's.
  NbCounts initialNb() const;
  int nbBits = 14;
};

/// \brief Load the model, if any, and decide whether the classifier runs. Throws Error when the
/// model file cannot be read.
ClassifierSetup setupClassifier(const ClassifierParams& params,
                                const std::vector<SourceConfig>& sources);

}  // namespace cleanmix
