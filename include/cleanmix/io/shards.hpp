#pragma once
/// \file
/// \brief Shard discovery and the deterministic, byte-balanced assignment of shard pieces to ranks.
#include <cstdint>
#include <string>
#include <vector>

#include "cleanmix/core/source.hpp"

namespace cleanmix {

enum class Compression : std::uint8_t { None = 0, Gzip = 1, Zstd = 2 };

/// \brief Compression from the file name (.gz, .zst; anything else is plain).
Compression compressionOf(const std::string& path);

/// \brief One input file. Shards are ordered by source (config order), then by path (bytewise).
struct ShardInfo {
  std::string path;
  std::uint32_t source = 0;
  std::uint64_t bytes = 0;
  Compression compression = Compression::None;
  std::int64_t mtimeNs = 0;  ///< modification time (checkpoints refuse a changed corpus)

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& path& source& bytes& compression& mtimeNs;
  }
};

/// \brief A unit of work: a whole compressed shard, or a byte range of a plain one. A range owns
/// the lines that *start* inside it (see LineReader).
struct Piece {
  std::uint32_t shard = 0;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& shard& begin& end;
  }
};

/// \brief The shard table every rank holds after the index stage.
struct ShardTable {
  std::vector<ShardInfo> shards;
  std::vector<Piece> pieces;  ///< in global document order

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& shards& pieces;
  }
};

/// \brief Expand every source's globs and sort (no per-file metadata calls beyond the directory
/// listing). Throws Error naming the pattern or path when a glob matches nothing, a match is a
/// directory, or a file is matched by two sources. Sizes are left at 0.
std::vector<ShardInfo> expandShardPaths(const std::vector<SourceConfig>& sources);

/// \brief Stat and open-check one shard, filling its size. Throws Error naming the file.
void statShard(ShardInfo& shard, const std::string& sourceName);

/// \brief expandShardPaths + statShard for every file (single process; tests and tools).
std::vector<ShardInfo> discoverShards(const std::vector<SourceConfig>& sources);

/// \brief Split plain shards larger than `pieceBytes` into ranges; compressed shards stay whole.
std::vector<Piece> splitIntoPieces(const std::vector<ShardInfo>& shards, std::uint64_t pieceBytes);

/// \brief Piece size for a run: small enough that a plain shard much larger than a rank's fair
/// share is split (fair share / 4, at least 1 MiB), never above the configured split_bytes.
std::uint64_t pieceBytesFor(const std::vector<ShardInfo>& shards, int nRanks,
                            std::uint64_t splitBytes);

/// \brief Contiguous ranges of pieces per rank, balanced by bytes: rank r owns the pieces whose
/// byte midpoint falls in [r·T/n, (r+1)·T/n). Deterministic; contiguity keeps each rank's
/// documents a contiguous block of doc_ids.
struct ShardAssignment {
  std::vector<std::uint32_t> firstPiece;  ///< size nRanks + 1
  std::uint32_t begin(int rank) const { return firstPiece[rank]; }
  std::uint32_t end(int rank) const { return firstPiece[rank + 1]; }
};

ShardAssignment assignPieces(const ShardTable& table, int nRanks);

/// \brief Bytes of a piece (its range, or the whole compressed file).
inline std::uint64_t pieceBytes(const Piece& p) {
  return p.end - p.begin;
}

}  // namespace cleanmix
