#pragma once
/// \file
/// \brief The count stage (DESIGN.md "Stages"): read and tokenize this rank's pieces; count the
/// unigram buckets per provenance class (anchor and pool documents), the reference LM's n-grams
/// (anchor documents), the Naive-Bayes text histograms (labelled training documents) and the
/// benchmark n-grams (benchmark documents); quarantine bad records; then reduce every integer
/// across ranks. Checkpointed per rank: a segment of integer contributions covering the pieces
/// counted so far, rewritten every `checkpoint_seconds`, at the end and on a stop request.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cleanmix/classify/model.hpp"
#include "cleanmix/classify/setup.hpp"
#include "cleanmix/contam/decontam.hpp"
#include "cleanmix/kernels/ngram_lm.hpp"
#include "cleanmix/stages/input.hpp"
#include "cleanmix/tokenize/tokenizer.hpp"

namespace cleanmix {

class Communicator;

/// \brief A quarantined input record (a row of /errors).
struct ErrorRow {
  std::uint32_t shard = 0;
  std::uint64_t line = 0;  ///< 1-based
  std::string reason;
};

/// \brief What the count stage needs from the config.
struct CountParams {
  int vocabBits = 20;                   ///< [tokenizer] vocab_bits
  LmParams lm;                          ///< [lm] (unigramBits is set to vocabBits)
  DecontamParams decontam;              ///< [decontam]
  IngestParams ingest;                  ///< [ingest]
  std::uint64_t batchBytes = 8u << 20;  ///< [score] batch_bytes
  double checkpointSeconds = 300;       ///< [run] checkpoint_seconds
};

/// \brief Reference LM summary (/lm attributes).
struct LmSummary {
  int unigramBits = 0, tableBits = 0;
  double lambda[3] = {0, 0, 0};
  std::uint64_t tableBytes = 0, anchorDocs = 0, predictedTokens = 0;
  int contrastTableBits = 0;  ///< 0: no contrast LM
  std::uint64_t contrastTableBytes = 0, contrastDocs = 0, contrastTokens = 0;
  double anchorLooPerplexity = 0;  ///< token-weighted over anchor docs, leave-one-out
};

/// \brief The decontamination summary (/decontam attributes).
struct DecontamSummary {
  int ngram = 0, minWords = 0;
  std::uint64_t indexNgrams = 0, contaminatedDocs = 0;
};

/// \brief The count stage's result. Histograms are global (reduced); `errors` are this rank's.
struct CountResult {
  bool stopped = false;                ///< a stop request ended the stage (checkpoints written)
  std::vector<std::uint64_t> counts;   ///< [provenance class][bucket]
  std::vector<std::uint64_t> unigram;  ///< anchor + pool, all classes
  LmCounts lm;
  std::uint64_t anchorDocs = 0;
  LmCounts contrast;  ///< the contrast LM (synthetic_known training sources); empty when off
  std::uint64_t contrastDocs = 0;
  /// Fold-0 groups' counts of both LMs (lmFoldOf; ClassifierSetup::lmFolds), else empty.
  LmCounts refFold0, contrastFold0;
  NbCounts nb;
  PieceTally tally;                     ///< lines, docs, errors per piece
  std::vector<std::uint64_t> lineBase;  ///< line offset of each piece within its shard
  std::vector<ErrorRow> errors;         ///< this rank's quarantined lines, in input order
  std::vector<int> benchBit;            ///< per source: its bit in n-gram source masks, or -1
  BenchmarkIndex bench;                 ///< every benchmark n-gram of the run
  std::vector<std::uint64_t> benchNgrams, benchSkipped;  ///< per source
  DecontamSummary decontam;  ///< all but contaminatedDocs (known after the score stage)
};

/// \brief The anchor's unigram buckets: the LM's outcome counts minus the boundary tokens (the
/// plan's reference for tail coverage).
std::vector<std::uint64_t> referenceUnigram(const CountResult& counts);

/// \brief Run the count stage. Collective.
CountResult runCount(const Communicator& comm, const CountParams& params, const Corpus& corpus,
                     const Tokenizer& tokenizer, const ClassifierSetup& classifier,
                     const StageEnv& env);

// ---- checkpoint records -------------------------------------------------------------------

/// \brief One rank's count-stage contributions over `pieces` (all integers; sparse histograms).
struct CountSegment {
  std::vector<std::uint32_t> pieces;
  std::vector<std::uint64_t> lines, docs, errors;  ///< per entry of `pieces`
  std::vector<std::uint32_t> errPiece;
  std::vector<std::uint64_t> errLine;  ///< 1-based line within the piece
  std::vector<std::uint64_t> errReasonEnd;
  std::vector<std::uint8_t> errReasonText;
  std::vector<std::uint64_t> countIdx, countVal, lmIdx, lmVal, nbIdx, nbVal, contrastIdx,
      contrastVal, refFold0Idx, refFold0Val, contrastFold0Idx, contrastFold0Val;
  std::vector<std::uint64_t> benchKey, benchSources;
  std::vector<std::uint32_t> benchLen;
  std::vector<std::uint64_t> benchSkipped;  ///< per source
  std::vector<std::uint64_t> anchorDocs;    ///< one value
  std::vector<std::uint64_t> contrastDocs;  ///< one value

  template <class F>
  void visit(F&& f) {
    f("pieces", pieces);
    f("lines", lines);
    f("docs", docs);
    f("errors", errors);
    f("err_piece", errPiece);
    f("err_line", errLine);
    f("err_reason_end", errReasonEnd);
    f("err_reason_text", errReasonText);
    f("count_idx", countIdx);
    f("count_val", countVal);
    f("lm_idx", lmIdx);
    f("lm_val", lmVal);
    f("nb_idx", nbIdx);
    f("nb_val", nbVal);
    f("bench_key", benchKey);
    f("bench_sources", benchSources);
    f("bench_len", benchLen);
    f("bench_skipped", benchSkipped);
    f("anchor_docs", anchorDocs);
    f("contrast_idx", contrastIdx);
    f("contrast_val", contrastVal);
    f("contrast_docs", contrastDocs);
    f("ref_fold0_idx", refFold0Idx);
    f("ref_fold0_val", refFold0Val);
    f("contrast_fold0_idx", contrastFold0Idx);
    f("contrast_fold0_val", contrastFold0Val);
  }
};

/// \brief File name of the segment whose first piece is `firstPiece`.
std::string countSegmentName(std::uint32_t firstPiece);
void writeCountSegment(const ckpt::Store& store, const std::string& name, CountSegment& seg);
/// \brief Committed segments of this config: (file name, sidecar), by name.
std::vector<std::pair<std::string, ckpt::Sidecar>> listCountSegments(const ckpt::Store& store);
/// \brief Verified read; nullopt (with `why`) when the file does not match its sidecar.
std::optional<CountSegment> readCountSegment(const ckpt::Store& store, const std::string& name,
                                             std::string& why);

}  // namespace cleanmix
