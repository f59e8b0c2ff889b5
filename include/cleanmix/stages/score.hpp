#pragma once
/// \file
/// \brief The score stage (DESIGN.md "Stages"): re-read and fully tokenize this rank's pieces,
/// compute the host-side columns (zstd ratio, decontamination matches, NB text features, exact
/// duplicate keys) and run the Kokkos signal kernel (kernels/signals.hpp) for the rest, against
/// the count stage's global histograms. Produces the score-stage columns of the registry
/// (core/columns.hpp) for this rank's documents. Checkpointed per piece.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cleanmix/classify/setup.hpp"
#include "cleanmix/core/columns.hpp"
#include "cleanmix/kernels/signals.hpp"
#include "cleanmix/stages/count.hpp"
#include "cleanmix/stages/input.hpp"
#include "cleanmix/tokenize/tokenizer.hpp"

namespace cleanmix {

class Communicator;

/// \brief Config section [score].
struct ScoreParams {
  std::uint64_t batchBytes = 8u << 20;  ///< text bytes per host->device scoring batch
  int ompThreads = 0;                   ///< tokenizer threads per rank (0: OMP default)
  std::string backend = "default";      ///< Kokkos execution space for the kernels
};

/// \brief The score stage's rows of one piece (or, appended, of a rank): the registry's scored
/// columns, what later stages need per document, and the piece's integer partial sums.
struct ScoreRows {
  DocRows d;  ///< the scored columns (ColumnInfo::scored()) are filled
  std::vector<std::uint64_t> exactKeys, bandKeys;
  std::vector<std::uint8_t> provRank, participate, label, holdout;
  /// [labelled document, in row order][fold][kLmColumns]: the LM columns under each fold's LMs
  /// (classifier.cv_lm = "folds"), else empty
  std::vector<double> foldLm;
  // integer partial sums (added, not appended)
  std::vector<std::uint64_t> benchDirty = std::vector<std::uint64_t>(64, 0);
  std::int64_t looBitsMicro = 0;  ///< anchor leave-one-out surprisal in micro-bits (exact sum)
  std::uint64_t looTokens = 0;

  std::size_t size() const { return d.source.size(); }
  /// \brief Per-document columns: the registry's scored columns, then the band keys and the
  /// score stage's own per-document values, in a fixed order.
  template <class F>
  void visit(F&& f) {
    d.visit([&](const ColumnInfo& c, auto& v) {
      if (c.scored()) f(c.name.data(), v);
    });
    f("exact_keys", exactKeys);
    f("band_keys", bandKeys);
    f("prov_rank", provRank);
    f("participate", participate);
    f("label", label);
    f("holdout", holdout);
    f("fold_lm", foldLm);
  }
  /// \brief Append `o`'s rows and add its partial sums.
  void append(ScoreRows& o);
  /// \brief Room for `docs` rows with `bands` band keys each (fold_lm grows as needed): the
  /// columns are then allocated once, not grown by doubling with two copies alive at a time.
  void reserve(std::size_t docs, std::size_t bands);
  void clear() { *this = ScoreRows{}; }
};

/// \brief The score stage's result: this rank's rows, in doc_id order.
struct ScoreResult {
  bool stopped = false;  ///< a stop request ended the stage (checkpoints written)
  ScoreRows rows;
  std::string backend;  ///< the Kokkos execution space the kernels ran on
};

/// \brief Run the score stage; `minHash` (nullopt: dedup off) enables LSH band keys.
/// Collective (only for the stop agreement).
ScoreResult runScore(const Communicator& comm, const ScoreParams& params,
                     const IngestParams& ingest, const std::optional<MinHashParams>& minHash,
                     const Corpus& corpus, const Tokenizer& tokenizer, const CountResult& counts,
                     const ClassifierSetup& classifier, const StageEnv& env);

// ---- checkpoint records -------------------------------------------------------------------

/// \brief Make `d.groupNames` the run's sorted group names (the union over ranks) and remap
/// `d.group` to them, so a document's group index is the same at any rank count. Collective.
void agreeGroups(const Communicator& comm, DocRows& d);

void writeScorePiece(const ckpt::Store& store, std::uint32_t piece, ScoreRows& rows);
/// \brief Verified read of one piece's rows; nullopt when absent, stale or not matching `docs`.
std::optional<ScoreRows> readScorePiece(const ckpt::Store& store, std::uint32_t piece,
                                        std::uint64_t docs);

}  // namespace cleanmix
