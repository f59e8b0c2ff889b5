#include "cleanmix/driver/workdir_lock.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/error.hpp"

namespace cleanmix {
namespace fs = std::filesystem;

namespace {

constexpr const char* kMagic = "cleanmix workdir lock v1";

std::string readAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

/// Field 22 of /proc/<pid>/stat: the start time in clock ticks since boot; 0 when the process
/// does not exist or has exited (a zombie waiting for its parent). The command name (field 2)
/// may hold spaces and parentheses: skip to the last ')'.
unsigned long long processStart(long pid) {
  const std::string stat = readAll(fmt::format("/proc/{}/stat", pid));
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(in >> field)) return 0;
    if (i == 3 && (field == "Z" || field == "X")) return 0;
  }
  return std::strtoull(field.c_str(), nullptr, 10);
}

std::string envOr(const char* name, const char* dflt = "") {
  const char* v = std::getenv(name);
  return v ? v : dflt;
}

/// The state of Slurm job `id` from squeue: "" when squeue knows no such job (ended and purged),
/// "?" when squeue cannot be run.
std::string slurmJobState(const std::string& id) {
  for (char c : id)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '_')) return "?";
  const std::string cmd = fmt::format("squeue -h -j {} -o %T 2>/dev/null", id);
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "?";
  std::string out;
  std::array<char, 256> buf{};
  while (std::fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int rc = pclose(p);
  if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) == 127) return "?";
  out = trimmed(out);
  if (WEXITSTATUS(rc) != 0 && out.empty()) return "";  // "Invalid job id": purged
  return out;
}

}  // namespace

LockHolder currentHolder(const std::string& output) {
  LockHolder h;
  std::array<char, 256> host{};
  gethostname(host.data(), host.size() - 1);
  h.host = host.data();
  h.bootId = trimmed(readAll("/proc/sys/kernel/random/boot_id"));
  h.pid = static_cast<long>(getpid());
  h.pidStart = processStart(h.pid);
  h.slurmJob = envOr("SLURM_JOB_ID");
  h.slurmRestart = std::atoi(envOr("SLURM_RESTART_COUNT", "0").c_str());
  h.output = output;
  const std::time_t now = std::time(nullptr);
  std::array<char, 32> t{};
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(t.data(), t.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  h.started = t.data();
  return h;
}

std::string formatLock(const LockHolder& h) {
  return fmt::format(
      "{}\nhost={}\npid={}\npid_start={}\nboot_id={}\nslurm_job_id={}\nslurm_restart={}\n"
      "started={}\noutput={}\n",
      kMagic, h.host, h.pid, h.pidStart, h.bootId, h.slurmJob, h.slurmRestart, h.started, h.output);
}

bool parseLock(const std::string& text, LockHolder& h) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kMagic) return false;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = line.substr(0, eq), v = line.substr(eq + 1);
    if (k == "host")
      h.host = v;
    else if (k == "pid")
      h.pid = std::strtol(v.c_str(), nullptr, 10);
    else if (k == "pid_start")
      h.pidStart = std::strtoull(v.c_str(), nullptr, 10);
    else if (k == "boot_id")
      h.bootId = v;
    else if (k == "slurm_job_id")
      h.slurmJob = v;
    else if (k == "slurm_restart")
      h.slurmRestart = std::atoi(v.c_str());
    else if (k == "started")
      h.started = v;
    else if (k == "output")
      h.output = v;
  }
  return !h.host.empty() && h.pid > 0;
}

std::string describeHolder(const LockHolder& h) {
  std::string s = fmt::format("host {}, pid {}", h.host, h.pid);
  if (!h.slurmJob.empty()) s += fmt::format(", Slurm job {}", h.slurmJob);
  if (h.slurmRestart > 0) s += fmt::format(" (restart {})", h.slurmRestart);
  if (!h.started.empty()) s += fmt::format(", started {}", h.started);
  return s;
}

int holderAlive(const LockHolder& h, const LockHolder& me, std::string& why) {
  if (h.host == me.host && h.bootId == me.bootId) {
    const unsigned long long start = processStart(h.pid);
    if (start != 0 && start == h.pidStart) {
      why = fmt::format("pid {} is running on {}", h.pid, h.host);
      return 1;
    }
    why = start == 0 ? fmt::format("pid {} is not running on {}", h.pid, h.host)
                     : fmt::format("pid {} on {} is now another process", h.pid, h.host);
    return 0;
  }
  if (h.host == me.host) {
    why = fmt::format("{} has rebooted since", h.host);
    return 0;
  }
  if (h.slurmJob.empty()) {
    why = fmt::format(
        "it runs on another host ({}) outside Slurm, so this run cannot check that pid {} is "
        "gone",
        h.host, h.pid);
    return -1;
  }
  if (h.slurmJob == me.slurmJob) {
    if (h.slurmRestart < me.slurmRestart) {
      why = fmt::format("it is an earlier start ({}) of this Slurm job, now at start {}",
                        h.slurmRestart + 1, me.slurmRestart + 1);
      return 0;
    }
    why = fmt::format("it is another step of this Slurm job ({})", h.slurmJob);
    return 1;
  }
  const std::string state = slurmJobState(h.slurmJob);
  if (state == "?") {
    why = fmt::format("squeue cannot be run here to check Slurm job {}", h.slurmJob);
    return -1;
  }
  static const std::array<const char*, 8> kLive{"RUNNING",    "PENDING",   "CONFIGURING",
                                                "COMPLETING", "SUSPENDED", "REQUEUED",
                                                "RESIZING",   "STOPPED"};
  for (const char* s : kLive)
    if (state.rfind(s, 0) == 0) {
      why = fmt::format("Slurm job {} is {}", h.slurmJob, state);
      return 1;
    }
  why = state.empty() ? fmt::format("Slurm job {} is no longer known to Slurm", h.slurmJob)
                      : fmt::format("Slurm job {} is {}", h.slurmJob, state);
  return 0;
}

WorkdirLock::WorkdirLock(const Communicator& comm, const fs::path& workdir,
                         const std::string& output)
    : _path(workdir / "lock") {
  std::string error;
  if (comm.isRoot()) {
    _me = currentHolder(output);
    std::error_code ec;
    fs::create_directories(workdir, ec);
    const fs::path guardPath = workdir / "lock.guard";
    const int guard = ::open(guardPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (guard < 0) {
      error = fmt::format("cannot create '{}': {}", guardPath.string(), std::strerror(errno));
    } else {
      // Serialises the check and the takeover between runs that start together. Where the
      // file system has no locks (ENOLCK), a fresh lock is still created atomically below.
      const bool guarded = ::flock(guard, LOCK_EX) == 0;
      const std::string mine = formatLock(_me);
      const fs::path tmp = workdir / fmt::format("lock.{}.{}", _me.host, _me.pid);
      {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << mine;
        if (!out.flush())
          error = fmt::format("cannot write '{}': {}", tmp.string(), std::strerror(errno));
      }
      for (int attempt = 0; error.empty() && attempt < 3 && !_held; ++attempt) {
        if (::link(tmp.c_str(), _path.c_str()) == 0) {
          _held = true;
          break;
        }
        if (errno != EEXIST) {
          error = fmt::format("cannot create '{}': {}", _path.string(), std::strerror(errno));
          break;
        }
        const std::string text = readAll(_path);
        LockHolder other;
        if (!parseLock(text, other)) {
          if (text.empty() && attempt == 0) continue;  // being written right now: look again
          error = fmt::format(
              "'{}' exists but is not a cleanmix lock; remove it if no run uses this work "
              "directory",
              _path.string());
          break;
        }
        std::string why;
        const int alive = holderAlive(other, _me, why);
        if (alive != 0) {
          error = fmt::format(
              "work directory '{}' is in use by another run ({}; {}): wait for it, or give "
              "this run another --workdir{}",
              workdir.string(), describeHolder(other), why,
              alive < 0 ? fmt::format(". If you know that run is dead, remove '{}'", _path.string())
                        : "");
          break;
        }
        if (!guarded) {
          error = fmt::format(
              "work directory '{}' has a stale lock ({}; {}), but this file system cannot "
              "lock '{}' to take it over safely: remove '{}' and rerun",
              workdir.string(), describeHolder(other), why, guardPath.string(), _path.string());
          break;
        }
        fmt::print(stderr,
                   "[cleanmix] work directory lock: taking over from a run that is gone ({}; {})\n",
                   describeHolder(other), why);
        if (::rename(tmp.c_str(), _path.c_str()) == 0) {
          _held = true;
        } else {
          error = fmt::format("cannot replace '{}': {}", _path.string(), std::strerror(errno));
        }
      }
      ::unlink(tmp.c_str());
      if (guarded) ::flock(guard, LOCK_UN);
      ::close(guard);
    }
  }
  comm.bcastBytes(error);
  if (!error.empty()) throw CollectiveError("cleanmix::run: " + error);
}

WorkdirLock::~WorkdirLock() {
  if (!_held) return;
  // Only this run's lock: a lock another run took over (after this one was judged gone) stays.
  LockHolder h;
  if (parseLock(readAll(_path), h) && h.host == _me.host && h.pid == _me.pid &&
      h.pidStart == _me.pidStart)
    ::unlink(_path.c_str());
}

}  // namespace cleanmix
