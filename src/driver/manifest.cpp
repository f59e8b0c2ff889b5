#include "cleanmix/driver/manifest.hpp"

#include <xxhash.h>

#include <boost/serialization/string.hpp>
#include <filesystem>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/archive.hpp"
#include "cleanmix/core/config.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/stages/checkpoint.hpp"

namespace cleanmix {
namespace fs = std::filesystem;
namespace {

struct RunManifest {
  std::string version, configHash, output;
  std::uint64_t outputBytes = 0;
  std::string outputChecksum;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& version& configHash& output& outputBytes& outputChecksum;
  }
};

fs::path manifestPath(const RunConfig& cfg) {
  return cfg.run.workdir / "run.manifest";
}

}  // namespace

std::string configHash(const RunConfig& cfg) {
  return fmt::format("{:016x}", XXH3_64bits(cfg.effectiveToml.data(), cfg.effectiveToml.size()));
}

std::string checkpointKey(const RunConfig& cfg) {
  return fmt::format("{:016x}", XXH3_64bits(cfg.resultToml.data(), cfg.resultToml.size()));
}

bool alreadyComplete(const Communicator& comm, const RunConfig& cfg) {
  bool done = false;
  if (comm.isRoot()) {
    RunManifest m;
    std::uint64_t bytes = 0;
    done = readTextFile(manifestPath(cfg), m) && m.configHash == configHash(cfg) &&
           m.output == cfg.run.output.string() && m.version == ckpt::formatTag() &&
           ckpt::fileChecksum(cfg.run.output, bytes) == m.outputChecksum && bytes == m.outputBytes;
  }
  done = comm.allreduceMax<int>(done ? 1 : 0) != 0;
  if (done && comm.isRoot())
    fmt::print(stderr, "[cleanmix] --resume: {} is complete for this config; nothing to do\n",
               cfg.run.output.string());
  return done;
}

void recordCompletion(const Communicator& comm, const RunConfig& cfg, const ckpt::Store& store) {
  if (!comm.isRoot()) return;
  std::error_code ec;
  fs::create_directories(cfg.run.workdir, ec);
  if (!ec) {
    RunManifest m{ckpt::formatTag(), configHash(cfg), cfg.run.output.string(), 0, {}};
    m.outputChecksum = ckpt::fileChecksum(cfg.run.output, m.outputBytes);
    try {
      writeTextFile(manifestPath(cfg), m);
    } catch (const Error& e) {  // the output is complete; only --resume's shortcut is lost
      fmt::print(stderr, "[cleanmix] warning: completion not recorded: {}\n", e.what());
    }
  }
  // The run is complete and recorded: its checkpoints are no longer needed.
  if (store.enabled() && !cfg.run.keepCheckpoints) store.remove();
}

}  // namespace cleanmix
