#pragma once
/// \file
/// \brief Checkpoints in the work directory (DESIGN.md "Stages"; docs/operations.md), so that
/// `--resume` restarts after a crash, a time limit or a requeue with any number of ranks and
/// gives output bit-identical to an uninterrupted run.
///
/// Layout under `<workdir>/ckpt/`:
/// - `index.txt`: Boost text archive of the config hash and the shard table with its pieces.
///   A resume reuses the pieces (their boundaries depend on the rank count of the first run).
/// - `count/sNNNNNNNN.h5`: one rank's count-stage contributions for a set of pieces (sparse
///   integer histograms, per-piece tallies, quarantine rows, benchmark n-grams). Rewritten every
///   `checkpoint_seconds`, at the end of the rank's range and on a stop request.
/// - `score/pNNNNNNNN.h5`: one piece's document rows from the score stage.
///
/// Every data file is written under a temporary name, re-read to take its size and XXH3-64, and
/// only then committed with a `.done` sidecar (Boost text archive) holding the config hash, the
/// size, the checksum and the pieces it covers. A file without a matching sidecar is ignored and
/// its pieces are recomputed. No binary archives are written to disk.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cleanmix/core/tables.hpp"
#include "cleanmix/io/shards.hpp"

namespace cleanmix::ckpt {

/// \brief Exit status of a run that stopped early on request (SIGUSR1) after checkpointing.
inline constexpr int kExitStopped = 3;

/// \brief Install the SIGUSR1 handler (idempotent). A stop request makes the count and score
/// stages finish their current piece, checkpoint and return kExitStopped.
void installStopHandler();
bool stopRequested();

/// \brief Test hook: milliseconds to sleep after each count/score piece
/// (`CLEANMIX_TEST_PIECE_DELAY_MS`), so signal tests can hit a stage on a small corpus.
int testPieceDelayMs();

/// \brief XXH3-64 (hex) of a file's bytes, and its size; "" when it cannot be read.
std::string fileChecksum(const std::filesystem::path& p, std::uint64_t& bytes);

/// \brief The `.done` sidecar of a committed checkpoint file.
struct Sidecar {
  std::string version, configHash;
  std::uint64_t bytes = 0;
  std::string checksum;               ///< XXH3-64, hex
  std::vector<std::uint32_t> pieces;  ///< pieces the file covers
  std::uint64_t docs = 0;             ///< document rows (score) or documents counted (count)

  template <class A>
  void serialize(A& ar, unsigned) {
    ar& version& configHash& bytes& checksum& pieces& docs;
  }
};

/// \brief One rank's count-stage contributions over `pieces` (all integers; sparse histograms).
struct CountSegment {
  std::vector<std::uint32_t> pieces;
  std::vector<std::uint64_t> lines, docs, errors;  ///< per entry of `pieces`
  std::vector<std::uint32_t> errPiece;
  std::vector<std::uint64_t> errLine;  ///< 1-based line within the piece
  std::vector<std::uint64_t> errReasonEnd;
  std::vector<std::uint8_t> errReasonText;
  std::vector<std::uint64_t> countIdx, countVal, lmIdx, lmVal, nbIdx, nbVal;
  std::vector<std::uint64_t> benchKey, benchSources;
  std::vector<std::uint32_t> benchLen;
  std::vector<std::uint64_t> benchSkipped;  ///< per source
  std::vector<std::uint64_t> anchorDocs;    ///< one value

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
  }
};

/// \brief Nonzero entries of a dense histogram, as (index, value) pairs; when more than half
/// are nonzero, `idx` stays empty and `val` is the dense table.
void sparsify(const std::vector<std::uint64_t>& dense, std::vector<std::uint64_t>& idx,
              std::vector<std::uint64_t>& val);
/// \brief dense[idx[k]] += val[k]; throws Error when an index is out of range.
void addSparse(std::vector<std::uint64_t>& dense, const std::vector<std::uint64_t>& idx,
               const std::vector<std::uint64_t>& val, const char* what);

/// \brief The score stage's rows of one piece (or, appended, of a rank): every per-document
/// value the later stages need, and the piece's integer partial sums.
struct ScoreRows {
  DocRows d;  ///< the columns the score stage fills
  std::vector<std::uint64_t> exactKeys, bandKeys;
  std::vector<std::uint8_t> provRank, participate, label, holdout;
  // integer partial sums (added, not appended)
  std::vector<std::uint64_t> benchDirty = std::vector<std::uint64_t>(64, 0);
  std::int64_t looBitsMicro = 0;
  std::uint64_t looTokens = 0;

  std::size_t size() const { return d.source.size(); }
  /// Per-document columns: the registry's scored columns (core/columns.hpp), then the band
  /// keys and the score stage's own per-document values, in a fixed order.
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
  }
  /// Append `o`'s rows and add its partial sums.
  void append(ScoreRows& o);
  void clear() { *this = ScoreRows{}; }
};

/// \brief The checkpoint directory of one run. Data-file methods are per rank (no collectives).
class Store {
 public:
  Store(std::filesystem::path workdir, std::string configHash, bool enabled);
  bool enabled() const { return _enabled; }
  const std::filesystem::path& dir() const { return _dir; }

  /// \brief Rank 0: remove every checkpoint and write the index of a fresh run.
  void startFresh(const ShardTable& table) const;
  /// \brief Rank 0: the saved shard table, or nullopt (with `why`) when there is none or it
  /// belongs to another config or another corpus (paths, sizes or mtimes differ from `now`).
  std::optional<ShardTable> loadIndex(const ShardTable& now, std::string& why) const;
  /// \brief Rank 0: create the count/ and score/ folders if missing (a resume).
  void ensureDirs() const;
  /// \brief Rank 0: remove the checkpoint directory (after a completed run).
  void remove() const;

  /// \brief Committed count segments: (file name, sidecar) of every file whose sidecar matches
  /// this config (checksums are verified when the segment is loaded).
  std::vector<std::pair<std::string, Sidecar>> listCountSegments() const;
  void writeCountSegment(const std::string& name, CountSegment& seg) const;
  /// Verified read; nullopt (with `why`) when the file does not match its sidecar.
  std::optional<CountSegment> readCountSegment(const std::string& name, std::string& why) const;

  void writeScorePiece(std::uint32_t piece, ScoreRows& rows) const;
  /// Verified read of one piece's rows; nullopt when absent, stale or not matching `docs`.
  std::optional<ScoreRows> readScorePiece(std::uint32_t piece, std::uint64_t docs) const;

  static std::string countName(std::uint32_t firstPiece);

 private:
  std::filesystem::path _dir;
  std::string _configHash;
  bool _enabled;
  void commit(const std::filesystem::path& tmp, const std::filesystem::path& final,
              std::vector<std::uint32_t> pieces, std::uint64_t docs) const;
  std::optional<Sidecar> verify(const std::filesystem::path& file, std::string& why) const;
};

}  // namespace cleanmix::ckpt
