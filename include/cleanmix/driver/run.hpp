#pragma once
/// \file
/// \brief The driver: orders the stages (index, count, reduce, score, write), names the concrete
/// execution space, and owns all MPI choreography through Communicator.
#include <cstdint>
#include <string>

#include "cleanmix/cli/config.hpp"
#include "cleanmix/io/shards.hpp"

namespace cleanmix {

class Communicator;

struct RunOptions {
  bool resume = false;
  bool calibrateOnly = false;  ///< `cleanmix calibrate`: fit, report and write the model; no HDF5
  std::string modelOut;        ///< where calibrate writes the model
  std::string materializeDir;  ///< `run --materialize DIR`: write the mix as JSONL shards
};

/// \brief Run the whole pipeline; collective. Returns the process exit code (0).
int runPipeline(const RunConfig& cfg, const Communicator& comm, const RunOptions& opts);

/// \brief Index stage: rank 0 discovers shards and splits them; the table is broadcast. Errors
/// found by rank 0 are rethrown on every rank.
ShardTable indexStage(const RunConfig& cfg, const Communicator& comm);

/// \brief Parse-only pass over this rank's pieces (read, decompress, JSON): the throughput floor
/// used by perf/. Returns raw bytes read; lines and documents through the out-parameters.
std::uint64_t parseOnlyPass(const RunConfig& cfg, const ShardTable& table, std::uint32_t begin,
                            std::uint32_t end, std::uint64_t& lines, std::uint64_t& docs);

}  // namespace cleanmix
