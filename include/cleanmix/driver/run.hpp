#pragma once
/// \file
/// \brief The driver: sequences the stages (index, count, score, dedup, classify, plan with its
/// mix pass, audit and materialize, write) and owns the run context (communicator, config,
/// checkpoint store, phase timer, progress, stop flag). No stage logic lives here.
#include <string>

#include "cleanmix/driver/config.hpp"

namespace cleanmix {

class Communicator;

struct RunOptions {
  bool resume = false;
  bool calibrateOnly = false;  ///< `cleanmix calibrate`: fit, report and write the model; no HDF5
  std::string modelOut;        ///< where calibrate writes the model
  std::string materializeDir;  ///< `run --materialize DIR`: write the mix through mix sinks
};

/// \brief Run the whole pipeline; collective. Returns the process exit code: 0, or
/// ckpt::kExitStopped after a stop request.
int runPipeline(const RunConfig& cfg, const Communicator& comm, const RunOptions& opts);

}  // namespace cleanmix
