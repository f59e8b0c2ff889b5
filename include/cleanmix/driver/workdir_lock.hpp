#pragma once
/// \file
/// \brief One run per work directory (docs/operations.md "Work directory lock"). Checkpoints,
/// the completion record and the mix spill files in a work directory belong to one run; a
/// second run on it would resume from checkpoints another run is still writing, or wipe them.
///
/// Rank 0 holds `<workdir>/lock`, a text file naming the holder: host, pid (with the process's
/// start time and the host's boot id, so a reused pid is not mistaken for the holder), the
/// Slurm job id and restart count, the output and the start time. A run that finds a lock:
/// - held by a live process (same host: the pid runs with that start time; another host: its
///   Slurm job is still queued or running) stops at once with an error naming the holder;
/// - left by a run that is gone (its pid is not running on this host, its Slurm job has ended,
///   or it is an earlier start of this same requeued job) takes it over, with a message;
/// - left on another host outside Slurm, whose liveness cannot be checked from here, stops
///   with an error that says so and how to remove the lock once the holder is known dead.
/// The check and the takeover happen under `flock` of `<workdir>/lock.guard` (best effort where
/// the file system has no locks; the fresh lock is then still created atomically with link()).
#include <filesystem>
#include <string>

namespace cleanmix {

class Communicator;

/// \brief Who holds a work directory (the lock file's fields).
struct LockHolder {
  std::string host, bootId, slurmJob, output, started;
  long pid = 0;
  unsigned long long pidStart = 0;  ///< /proc/<pid>/stat start time (clock ticks since boot)
  int slurmRestart = 0;
};

/// \brief This process as a holder.
LockHolder currentHolder(const std::string& output);
/// \brief Parse / format the lock file's text (key=value lines). parse returns false when the
/// text is not a cleanmix lock.
bool parseLock(const std::string& text, LockHolder& h);
std::string formatLock(const LockHolder& h);
/// \brief "host H, pid P, Slurm job J" for messages.
std::string describeHolder(const LockHolder& h);

/// \brief Whether `h` still holds its lock, seen from `me`; `why` says how that was decided.
/// Returns 1 alive, 0 gone, -1 cannot tell (another host, no Slurm job to ask about).
int holderAlive(const LockHolder& h, const LockHolder& me, std::string& why);

/// \brief The lock of one run (RAII). The constructor is collective: rank 0 takes the lock, and
/// when it cannot, every rank throws the same CollectiveError naming the holder. The
/// destructor (rank 0) removes the lock if it is still this run's.
class WorkdirLock {
 public:
  WorkdirLock(const Communicator& comm, const std::filesystem::path& workdir,
              const std::string& output);
  ~WorkdirLock();
  WorkdirLock(const WorkdirLock&) = delete;
  WorkdirLock& operator=(const WorkdirLock&) = delete;

 private:
  std::filesystem::path _path;
  LockHolder _me;
  bool _held = false;
};

}  // namespace cleanmix
