#pragma once
/// \file
/// \brief The checkpoint mechanism every checkpointed stage shares (DESIGN.md "Stages";
/// docs/operations.md), so that `--resume` restarts after a crash, a time limit or a requeue
/// with any number of ranks and gives output bit-identical to an uninterrupted run. What a
/// stage keeps is its own business (stages/count.hpp, stages/score.hpp); this is how it is kept.
///
/// Layout under `<workdir>/ckpt/`: `index.txt` (Boost text archive of the config key and the
/// shard table with its pieces: a resume reuses the pieces, whose boundaries depend on the rank
/// count of the first run), then one folder per stage (`count/`, `score/`) of serial HDF5 files.
/// Every data file is written under a temporary name, re-read to take its size and XXH3-64, and
/// only then committed with a `.done` sidecar (Boost text archive) holding the config key, the
/// size, the checksum and the pieces it covers. A file without a matching sidecar is ignored
/// and its pieces are recomputed. No binary archives are written to disk.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cleanmix/io/h5.hpp"
#include "cleanmix/io/shards.hpp"

namespace cleanmix::ckpt {

/// \brief Exit status of a run that stopped early on request (SIGUSR1 or SIGTERM) after
/// checkpointing.
inline constexpr int kExitStopped = 3;

/// \brief Install the SIGUSR1 and SIGTERM handler (idempotent). A stop request makes the count
/// and score stages finish their current piece, checkpoint and return kExitStopped. SIGTERM is
/// what `scancel`, a preemption and a node shutdown send first (SIGKILL follows after Slurm's
/// KillWait), so it is a stop request too, not a crash.
void installStopHandler();
/// \brief The signal that asked this rank to stop (SIGUSR1 or SIGTERM), 0 when none did.
int stopSignal();
/// \brief "SIGUSR1", "SIGTERM" (for messages).
const char* signalName(int sig);

/// \brief Test hook: milliseconds to sleep after each count/score piece
/// (`CLEANMIX_TEST_PIECE_DELAY_MS`), so signal tests can hit a stage on a small corpus.
int testPieceDelayMs();

/// \brief What checkpoints are compatible with: the cleanmix version and the fingerprint of the
/// per-document column registry ("<version>/columns-<16 hex>"). Index and sidecars carry it.
const std::string& formatTag();

/// \brief XXH3-64 (hex) of a file's bytes, and its size; "" when it cannot be read.
std::string fileChecksum(const std::filesystem::path& p, std::uint64_t& bytes);

/// \brief The `.done` sidecar of a committed checkpoint file.
struct Sidecar {
  std::string version, configHash;
  std::uint64_t bytes = 0;
  std::string checksum;               ///< XXH3-64, hex
  std::vector<std::uint32_t> pieces;  ///< pieces the file covers
  std::uint64_t docs = 0;             ///< documents the file covers

  template <class A>
  void serialize(A& ar, unsigned) {
    ar& version& configHash& bytes& checksum& pieces& docs;
  }
};

/// \brief Nonzero entries of a dense histogram, as (index, value) pairs; when more than half
/// are nonzero, `idx` stays empty and `val` is the dense table.
void sparsify(const std::vector<std::uint64_t>& dense, std::vector<std::uint64_t>& idx,
              std::vector<std::uint64_t>& val);
/// \brief dense[idx[k]] += val[k]; throws Error when an index is out of range.
void addSparse(std::vector<std::uint64_t>& dense, const std::vector<std::uint64_t>& idx,
               const std::vector<std::uint64_t>& val, const char* what);

/// \brief The checkpoint directory of one run. File methods are per rank (no collectives).
class Store {
 public:
  Store(const std::filesystem::path& workdir, std::string configHash, bool enabled);
  bool enabled() const { return _enabled; }
  const std::filesystem::path& dir() const { return _dir; }

  /// \brief Rank 0: remove every checkpoint and write the index of a fresh run.
  void startFresh(const ShardTable& table) const;
  /// \brief Rank 0: the saved shard table, or nullopt (with `why`) when there is none or it
  /// belongs to another config or another corpus (paths, sizes or mtimes differ from `now`).
  std::optional<ShardTable> loadIndex(const ShardTable& now, std::string& why) const;
  /// \brief Rank 0: remove the checkpoint directory (after a completed run).
  void remove() const;

  /// \brief Write `<stage>/<name>`: `fill` puts its columns; then verify and commit it with a
  /// sidecar covering `pieces` and `docs`.
  void write(const std::string& stage, const std::string& name,
             const std::function<void(const h5::SerialFile&)>& fill,
             std::vector<std::uint32_t> pieces, std::uint64_t docs) const;
  /// \brief The committed file `<stage>/<name>` opened for reading, with its sidecar, when its
  /// size and checksum match the sidecar of this config; nullopt (with `why`) otherwise.
  std::optional<std::pair<h5::SerialFile, Sidecar>> open(const std::string& stage,
                                                         const std::string& name,
                                                         std::string& why) const;
  /// \brief (file name, sidecar) of every committed `.h5` file of `stage` whose sidecar belongs
  /// to this config, by name (checksums are verified by open()).
  std::vector<std::pair<std::string, Sidecar>> list(const std::string& stage) const;

 private:
  std::filesystem::path _dir;
  std::string _configHash;
  bool _enabled;
};

}  // namespace cleanmix::ckpt
