#pragma once
/// \file
/// \brief The run's completion record in the work directory (`run.manifest`, a Boost text
/// archive): what `--resume` checks to skip a run that already completed for this config.
#include <string>

#include "cleanmix/driver/config.hpp"

namespace cleanmix {

class Communicator;
namespace ckpt {
class Store;
}

/// \brief Hash of the effective config (the manifest's key).
std::string configHash(const RunConfig& cfg);
/// \brief What checkpoints must match: the hash of the config keys that can change a result.
std::string checkpointKey(const RunConfig& cfg);

/// \brief --resume: true on every rank when the manifest says this exact config already
/// completed and the output still has the recorded size and checksum. Collective.
bool alreadyComplete(const Communicator& comm, const RunConfig& cfg);

/// \brief After a completed run: rank 0 records it and removes the checkpoints (unless kept).
void recordCompletion(const Communicator& comm, const RunConfig& cfg, const ckpt::Store& store);

}  // namespace cleanmix
