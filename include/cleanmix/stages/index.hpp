#pragma once
/// \file
/// \brief The index stage (DESIGN.md "Stages"): rank 0 expands the sources' globs; every rank
/// stats and open-checks a strided slice of the shards; shards are split into pieces and the
/// pieces assigned to ranks, balanced by bytes. Owns the checkpoint index: a resume reuses the
/// pieces of the checkpointed run (their boundaries depend on that run's rank count).
#include <vector>

#include "cleanmix/core/source.hpp"
#include "cleanmix/io/reader.hpp"
#include "cleanmix/stages/input.hpp"

namespace cleanmix {

class Communicator;

/// \brief The shard table alone (no checkpoint handling): expand, stat, split. Errors found on
/// any rank are rethrown on every rank, the first by path order. Collective.
ShardTable indexShards(const Communicator& comm, const std::vector<SourceConfig>& sources,
                       const IngestParams& ingest);

/// \brief The index stage: the shard table, then, when checkpoints are on, either the saved
/// pieces (with `resume` and a matching index) or a fresh checkpoint index. Collective.
Corpus runIndex(const Communicator& comm, const std::vector<SourceConfig>& sources,
                const IngestParams& ingest, bool resume, const StageEnv& env);

/// \brief Parse-only pass over this rank's pieces (read, decompress, JSON): the throughput floor
/// used by perf/. Returns raw bytes read; lines and documents through the out-parameters.
std::uint64_t parseOnlyPass(const Corpus& corpus, const IngestParams& ingest, std::uint64_t& lines,
                            std::uint64_t& docs);

}  // namespace cleanmix
