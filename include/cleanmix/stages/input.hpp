#pragma once
/// \file
/// \brief What every reading stage shares: the corpus the index stage found (sources, shard
/// table, this rank's pieces), the environment the driver lends a stage (progress, checkpoints,
/// the stop flag), and readPieces(), the loop that turns this rank's pieces into batches of
/// documents through the source's DocumentReader (io/reader.hpp).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cleanmix/core/progress.hpp"
#include "cleanmix/core/source.hpp"
#include "cleanmix/io/reader.hpp"
#include "cleanmix/io/shards.hpp"
#include "cleanmix/stages/checkpoint.hpp"

namespace cleanmix {

class Communicator;

/// \brief The index stage's result: the sources, every shard and piece in global document order,
/// and this rank's contiguous range of pieces [begin, end).
struct Corpus {
  const std::vector<SourceConfig>* sources = nullptr;
  ShardTable table;
  ShardAssignment assign;
  std::uint32_t begin = 0, end = 0;
  std::uint64_t myBytes = 0;  ///< bytes of this rank's pieces
  bool resumed = false;       ///< the pieces are those of a checkpointed run being resumed

  const SourceConfig& sourceOfShard(std::uint32_t shard) const {
    return (*sources)[table.shards[shard].source];
  }
  const SourceConfig& sourceOfPiece(std::uint32_t piece) const {
    return sourceOfShard(table.pieces[piece].shard);
  }
  std::uint32_t sourceIndexOfPiece(std::uint32_t piece) const {
    return table.shards[table.pieces[piece].shard].source;
  }
};

/// \brief What the driver lends a stage: progress lines, the phase timer, the checkpoint store
/// and the stop flag.
struct StageEnv {
  Progress& progress;
  PhaseTimer& timer;
  const ckpt::Store& store;
  std::function<int()> stopSignal;  ///< the signal that asked for a stop (SIGUSR1, SIGTERM), or 0
};

/// \brief A stop request ends a stage on every rank once any rank saw it (each finishes its
/// current piece first; their checkpoints are written by then). Collective. Returns the
/// highest signal number any rank saw (for the message), 0 when none did.
int stopAgreed(const Communicator& comm, bool stoppedHere, const StageEnv& env);

/// \brief Documents read from input and waiting to be tokenized, with where they came from.
struct TextBatch {
  std::string arena;
  std::vector<std::size_t> off{0};
  std::vector<std::uint32_t> piece;      ///< index into the shard table's pieces
  std::vector<std::uint64_t> localLine;  ///< 1-based record (line) within the piece
  std::vector<std::uint32_t> replaced;   ///< invalid UTF-8 repaired by the reader
  std::string groupArena;                ///< the documents' groups (InputRecord::group)
  std::vector<std::size_t> groupOff{0};

  std::size_t size() const { return piece.size(); }
  std::string_view text(std::size_t i) const {
    return {arena.data() + off[i], off[i + 1] - off[i]};
  }
  std::string_view group(std::size_t i) const {
    return {groupArena.data() + groupOff[i], groupOff[i + 1] - groupOff[i]};
  }
  void add(std::string_view t, std::uint32_t p, std::uint64_t line, std::uint32_t rep,
           std::string_view g = {}) {
    arena.append(t);
    off.push_back(arena.size());
    piece.push_back(p);
    localLine.push_back(line);
    replaced.push_back(rep);
    groupArena.append(g);
    groupOff.push_back(groupArena.size());
  }
  void clear() {
    arena.clear();
    off.assign(1, 0);
    groupArena.clear();
    groupOff.assign(1, 0);
    piece.clear();
    localLine.clear();
    replaced.clear();
  }
};

/// \brief Per-piece tallies of the count stage (reduced globally into line/doc offsets).
struct PieceTally {
  std::vector<std::uint64_t> lines, docs, errors;
  explicit PieceTally(std::size_t n = 0) : lines(n, 0), docs(n, 0), errors(n, 0) {}
};

/// \brief Checkpoint hooks of a stage that is checkpointed per piece. With hooks, batches never
/// span pieces: the batch is flushed at the end of every piece, before `done(piece)`.
struct PieceHooks {
  std::function<bool(std::uint32_t)> skip;  ///< true: the piece was restored from a checkpoint
  std::function<void(std::uint32_t)> done;  ///< the piece is finished (its batch was flushed)
  std::function<bool()> stop;               ///< true: end the loop before the next piece
  bool stopped = false;                     ///< out: the loop ended early on a stop request
};

/// \brief Read every record of this rank's pieces: documents go to `onBatch(batch)` in batches
/// of about `batchBytes` of text, quarantined records to `onError(piece, line, reason)`.
template <class OnBatch, class OnError>
void readPieces(const Corpus& corpus, const IngestParams& ingest, std::uint64_t batchBytes,
                PieceTally* tally, Progress& progress, OnBatch onBatch, OnError onError,
                PieceHooks* hooks = nullptr) {
  TextBatch batch;
  std::uint64_t rawDone = 0;
  for (std::uint32_t p = corpus.begin; p < corpus.end; ++p) {
    if (hooks && hooks->stop && hooks->stop()) {
      hooks->stopped = true;
      break;
    }
    const Piece& piece = corpus.table.pieces[p];
    if (hooks && hooks->skip && hooks->skip(p)) {
      rawDone += pieceBytes(piece);
      progress.update(p - corpus.begin + 1, rawDone);
      continue;
    }
    const auto reader =
        makeReader(corpus.sourceOfPiece(p), corpus.table.shards[piece.shard], piece, ingest);
    InputRecord rec;
    std::uint64_t n = 0;
    while (reader->next(rec)) {
      ++n;
      if (!rec.reason.empty()) {
        onError(p, n, std::string(rec.reason));
        if (tally) ++tally->errors[p];
        continue;
      }
      batch.add(rec.text, p, n, rec.replaced, rec.group);
      if (tally) ++tally->docs[p];
      if (batch.arena.size() >= batchBytes) {
        onBatch(batch);
        batch.clear();
      }
    }
    if (tally) tally->lines[p] = n;
    rawDone += std::min(reader->rawConsumed(), pieceBytes(piece));  // readers read ahead
    if (hooks) {
      if (batch.size() > 0) onBatch(batch);
      batch.clear();
      if (const int ms = ckpt::testPieceDelayMs(); ms > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      if (hooks->done) hooks->done(p);
    }
    progress.update(p - corpus.begin + 1, rawDone);
  }
  if (batch.size() > 0) onBatch(batch);
}

}  // namespace cleanmix
