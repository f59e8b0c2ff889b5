#pragma once
/// \file
/// \brief Per-document signals computed on a Kokkos execution space (DESIGN.md "/docs columns").
/// The driver fills a host batch in CSR form; the scorer moves it to the device, runs one kernel
/// and copies the results back. Kernels never see MPI.
#include <cstdint>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cleanmix/core/columns.hpp"

namespace cleanmix {

struct LmCounts;

/// \brief BatchInput::loo bits. kLooReference / kLooContrast: the document was counted into that
/// LM and is scored leave-one-out under it. kFoldScore: also score it under the two fold LMs
/// (setFoldLms), for the honest leave-one-group-out evaluation; kFold1: its group is in fold 1.
inline constexpr std::uint8_t kLooReference = 1, kLooContrast = 2, kFoldScore = 4, kFold1 = 8;
/// \brief How many LMs a document is left out of.
inline int looLms(std::uint8_t loo) {
  return (loo & kLooReference ? 1 : 0) + (loo & kLooContrast ? 1 : 0);
}

/// \brief A batch of tokenized documents in CSR form (host memory).
struct BatchInput {
  std::vector<std::uint64_t> tokOff{0};  ///< doc d's tokens are [tokOff[d], tokOff[d+1])
  std::vector<std::uint64_t> ids;
  std::vector<std::uint32_t> lens;  ///< token byte lengths
  std::vector<std::uint64_t> sentOff{0};
  std::vector<std::uint32_t> sentLens;  ///< tokens per sentence
  std::vector<std::uint64_t> lineOff{0};
  std::vector<std::uint64_t> lineHashes;  ///< non-blank trimmed lines
  std::vector<std::uint8_t> loo;          ///< kLooReference | kLooContrast
  std::vector<std::uint64_t> wordOff{0};
  std::vector<std::uint64_t> words;  ///< punctuation-stripped word hashes (MinHash shingles)

  std::size_t numDocs() const { return tokOff.size() - 1; }
  std::size_t numTokens() const { return ids.size(); }
  void clear();
  void append(std::span<const std::uint64_t> docIds, std::span<const std::uint32_t> docLens,
              std::span<const std::uint32_t> docSentLens,
              std::span<const std::uint64_t> docLineHashes, std::uint8_t looMask = 0,
              std::span<const std::uint64_t> docWords = {});
};

/// \brief The LM-derived Kernel columns, in the order of BatchOutput::foldLm's values.
inline constexpr Col kLmColumns[] = {Col::refPpl,    Col::refUnigramBits, Col::sentSurprisalSd,
                                     Col::refBitsSd, Col::refLowFrac,     Col::contrastBits,
                                     Col::contrastSd};
inline constexpr int kNumLmColumns = static_cast<int>(std::size(kLmColumns));
inline constexpr int kNumLmFolds = 2;

/// \brief Kernel results: the registry's `Kernel` columns (core/columns.hpp) filled for every
/// document of the batch (the other columns stay empty), and the MinHash band keys.
struct BatchOutput : DocRows {
  std::vector<std::uint64_t> bandKeys;  ///< [doc][band] LSH band keys (0: no shingles)
  /// [doc][fold][kLmColumns]: the LM columns under fold f's LMs, for kFoldScore documents
  /// (NaN for the others and without fold LMs)
  std::vector<double> foldLm;
  /// \brief Size every Kernel column to n.
  void resize(std::size_t n);
};

/// \brief MinHash LSH parameters ([dedup]): `bands` × `rows` hash functions over word
/// `shingle`-grams. P(two documents share a band) = 1 − (1 − J^rows)^bands for Jaccard J.
struct MinHashParams {
  int bands = 14;
  int rows = 8;
  int shingle = 5;
  std::uint64_t seed = 42;
};
inline constexpr int kMaxMinHashes = 512;

/// \brief Moving-average TTR window (tokens).
inline constexpr std::uint32_t kMattrWindow = 50;

/// \brief Scores batches on one execution space. Non-template interface; the implementation is a
/// template on the execution space (kernels/signals_impl.hpp).
class SignalScorer {
 public:
  virtual ~SignalScorer() = default;
  /// \brief Name of the execution space ("Serial", "OpenMP", "Cuda", ...).
  virtual std::string backend() const = 0;
  /// \brief The execution space's concurrency: its threads on a host backend.
  virtual int concurrency() const = 0;
  /// \brief Install the global unigram (bucket counts of all anchor + pool documents) used by
  /// tail_score: surprisal(b) = log2(N + V) − log2(c_b + 1), V = number of buckets.
  virtual void setUnigram(std::span<const std::uint64_t> counts) = 0;
  /// \brief Install the reference LM (see ngram_lm.hpp). Without it ref_ppl and
  /// sent_surprisal_sd are NaN. On a host backend the scorer reads the LmCounts' table in place
  /// (no copy: the tables are the largest allocation of a rank), so every LmCounts given to
  /// setLm, setContrastLm and setFoldLms must outlive the scorer's score() calls; a device
  /// backend copies them.
  virtual void setLm(const LmCounts& counts) = 0;
  /// \brief Install the contrast LM (after setLm). Without it contrast_bits and contrast_sd
  /// are NaN.
  virtual void setContrastLm(const LmCounts& counts) = 0;
  /// \brief Install the fold-0 count tables of the reference and contrast LMs (the counts of
  /// the documents of fold-0 groups; fold 1 is the rest). `contrastFold0` is ignored without a
  /// contrast LM. kFoldScore documents are then also scored under each fold's LMs.
  virtual void setFoldLms(const LmCounts& refFold0, const LmCounts& contrastFold0) = 0;
  /// \brief Enable MinHash band keys (BatchOutput::bandKeys).
  virtual void setMinHash(const MinHashParams& p) = 0;
  /// \brief Compute every signal of every document of the batch.
  virtual void score(const BatchInput& in, BatchOutput& out) = 0;
};

/// \brief Backends compiled into this build, e.g. {"serial"}; "default" names the first.
std::vector<std::string> enabledBackends();

/// \brief A scorer on the named backend ("default", "serial", "openmp", "cuda", "hip"). Throws
/// Error "backend not enabled" for one this build lacks.
std::unique_ptr<SignalScorer> makeSignalScorer(const std::string& backend = "default");

}  // namespace cleanmix
