#pragma once
/// \file
/// \brief The classify stage (DESIGN.md "Provenance classifier"): the labelled documents'
/// features (the registry's feature columns, core/columns.hpp) are gathered to rank 0, which
/// fits the models (or takes the loaded one) and evaluates them on the held-out split; every
/// rank then scores its documents: p_synthetic, and inferred = synthetic_suspected where the
/// deciding model flags human_unverified or unknown text.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cleanmix/classify/model.hpp"
#include "cleanmix/classify/setup.hpp"
#include "cleanmix/core/source.hpp"
#include "cleanmix/stages/score.hpp"

namespace cleanmix {

class Communicator;

/// \brief One group of the leave-one-group-out evaluation (/classifier/groups).
struct GroupCvRow {
  std::string group;
  std::uint8_t trained = 0;  ///< 0: the other groups lacked a class, so it was not judged
  std::uint64_t human = 0, falsePositives = 0, synthetic = 0, truePositives = 0;
  double threshold = 0;  ///< set on the other groups' out-of-group human scores
  /// its LM fold (cv_lm = "folds": its LM features came from the other fold's LMs), or 255
  std::uint8_t lmFold = 255;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& group& trained& human& falsePositives& synthetic& truePositives& threshold& lmFold;
  }
};

/// \brief The leave-one-group-out evaluation of the linear model on the training split.
struct GroupCvSummary {
  bool ran = false;
  std::string note;  ///< why it did not run, when it did not
  /// LMs behind the LM features: "folds" (the left-out group's fold excluded) or "shared"
  std::string lmCv = "shared";
  std::vector<GroupCvRow> rows;
  double auroc = 0, tprAt1 = 0, tprAt5 = 0;  ///< pooled out-of-group
  double threshold = 0;                      ///< target FPR on the pooled out-of-group human scores
  std::uint64_t human = 0, falsePositives = 0, synthetic = 0, truePositives = 0;  ///< Σ judged
  std::vector<double> scores;  ///< pooled out-of-group scores, their labels and groups
  std::vector<std::uint8_t> labels;
  std::vector<std::uint32_t> groups;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& ran& note& lmCv& rows& auroc& tprAt1& tprAt5& threshold& human& falsePositives& synthetic&
        truePositives& scores& labels& groups;
  }
};

/// \brief The classifier summary (/classifier attributes).
struct ClassifierSummary {
  bool enabled = false;
  std::string decision, source;  ///< which model decides; "fitted in-run" or the model path
  double threshold = 0, targetFpr = 0;
  double voteThreshold[3] = {0, 0, 0};
  std::vector<double> weights;  ///< linear weights on standardised features
  std::uint64_t trainDocs = 0, holdoutDocs = 0;
  std::uint64_t holdoutSynthetic = 0, holdoutHuman = 0;
  double linear[5] = {0, 0, 0, 0, 0};  ///< held-out precision, recall, F1, AUROC, FPR
  double vote[5] = {0, 0, 0, 0, 0};
  std::uint64_t suspected = 0;        ///< documents inferred synthetic_suspected
  std::uint64_t notJudged = 0;        ///< non-benchmark documents outside the labelled range
  double maxDistance = 0;             ///< the range: Mahalanobis distance at abstain_quantile
  std::vector<std::string> features;  ///< the features the linear model uses
  std::string thresholdFrom;          ///< "out-of-group", "train" or "model file"
  double trainThreshold = 0;          ///< the in-sample threshold (target FPR on training humans)
  std::vector<std::string> groupNames;
  GroupCvSummary cv;
};

/// \brief The classify stage's result: the summary and the model it used.
struct ClassifyResult {
  ClassifierSummary summary;
  ClassifierModel model;
};

/// \brief Run the classify stage: fills rows.d.pSynthetic (NaN when the classifier cannot run)
/// and rows.d.inferred (= provenance when it cannot). `docOffset` is the global doc_id of local
/// row 0; `seed` keys the training subsample beyond max_train_docs. Collective.
ClassifyResult runClassify(const Communicator& comm, const ClassifierParams& params,
                           const ClassifierSetup& setup, const NbCounts& nb,
                           std::uint64_t anchorDocs, const std::vector<SourceConfig>& sources,
                           ScoreRows& rows, std::uint64_t docOffset, std::uint64_t seed);

/// \brief The table `cleanmix calibrate` prints: held-out metrics of both models.
void printCalibration(std::FILE* out, const ClassifierSummary& s, const std::string& modelPath);

}  // namespace cleanmix
