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
  std::uint64_t suspected = 0;  ///< documents inferred synthetic_suspected
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
