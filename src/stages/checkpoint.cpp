#include "cleanmix/stages/checkpoint.hpp"

#include <hdf5.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <csignal>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <type_traits>

#include "cleanmix/core/archive.hpp"
#include "cleanmix/core/columns.hpp"
#include "cleanmix/core/config.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/io/h5.hpp"

namespace cleanmix::ckpt {
namespace fs = std::filesystem;

namespace {

volatile std::sig_atomic_t gStop = 0;

extern "C" void onStopSignal(int sig) {
  gStop = sig;
}

/// The saved index: the config it belongs to and the shard table with its pieces.
struct IndexFile {
  std::string version, configHash;
  ShardTable table;
  template <class A>
  void serialize(A& ar, unsigned) {
    ar& version& configHash& table;
  }
};

}  // namespace

const std::string& formatTag() {
  static const std::string tag = std::string(CLEANMIX_VERSION) + "/columns-" + columnsFingerprint();
  return tag;
}

void installStopHandler() {
  struct sigaction sa {};
  sa.sa_handler = onStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int stopSignal() {
  return gStop;
}

const char* signalName(int sig) {
  switch (sig) {
    case SIGUSR1: return "SIGUSR1";
    case SIGTERM: return "SIGTERM";
    default: return "a signal";
  }
}

int testPieceDelayMs() {
  static const int ms = [] {
    const char* s = std::getenv("CLEANMIX_TEST_PIECE_DELAY_MS");
    return s ? std::max(0, std::atoi(s)) : 0;
  }();
  return ms;
}

std::string fileChecksum(const fs::path& p, std::uint64_t& bytes) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return {};
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  std::vector<char> buf(1 << 20);
  bytes = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    XXH3_64bits_update(st, buf.data(), got);
    bytes += got;
  }
  const auto h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return fmt::format("{:016x}", h);
}

void sparsify(const std::vector<std::uint64_t>& dense, std::vector<std::uint64_t>& idx,
              std::vector<std::uint64_t>& val) {
  idx.clear();
  val.clear();
  std::size_t nnz = 0;
  for (const auto v : dense) nnz += v != 0;
  if (2 * nnz > dense.size()) {  // mostly full: dense is smaller (no indices)
    val = dense;
    return;
  }
  for (std::size_t i = 0; i < dense.size(); ++i)
    if (dense[i]) {
      idx.push_back(i);
      val.push_back(dense[i]);
    }
}

void addSparse(std::vector<std::uint64_t>& dense, const std::vector<std::uint64_t>& idx,
               const std::vector<std::uint64_t>& val, const char* what) {
  if (idx.empty() && !val.empty()) {  // stored dense
    if (val.size() != dense.size())
      fail("checkpoint", "{}: {} dense values for a table of {}", what, val.size(), dense.size());
    for (std::size_t i = 0; i < val.size(); ++i) dense[i] += val[i];
    return;
  }
  if (idx.size() != val.size())
    fail("checkpoint", "{}: {} indices but {} values", what, idx.size(), val.size());
  for (std::size_t k = 0; k < idx.size(); ++k) {
    if (idx[k] >= dense.size())
      fail("checkpoint", "{}: index {} out of range {} (table size changed?)", what, idx[k],
           dense.size());
    dense[idx[k]] += val[k];
  }
}

Store::Store(const fs::path& workdir, std::string configHash, bool enabled)
    : _dir(workdir / "ckpt"), _configHash(std::move(configHash)), _enabled(enabled) {}

void Store::startFresh(const ShardTable& table) const {
  std::error_code ec;
  fs::remove_all(_dir, ec);
  if (ec)
    fail("checkpoint", "cannot clear old checkpoints in '{}': {}", _dir.string(), ec.message());
  fs::create_directories(_dir, ec);
  if (ec) fail("checkpoint", "cannot create '{}': {}", _dir.string(), ec.message());
  writeTextFile(_dir / "index.txt", IndexFile{formatTag(), _configHash, table});
}

std::optional<ShardTable> Store::loadIndex(const ShardTable& now, std::string& why) const {
  IndexFile f;
  if (!fs::exists(_dir / "index.txt")) {
    why = "no checkpoints in " + _dir.string();
    return std::nullopt;
  }
  if (!readTextFile(_dir / "index.txt", f)) {
    why = "unreadable " + (_dir / "index.txt").string();
    return std::nullopt;
  }
  if (f.version != formatTag()) {
    why = fmt::format(
        "checkpoints were written by cleanmix {} (this is {}; the part after "
        "'columns-' fingerprints the per-document column registry)",
        f.version, formatTag());
    return std::nullopt;
  }
  if (f.configHash != _configHash) {
    why = fmt::format("checkpoints belong to another config (hash {}, this config {})",
                      f.configHash, _configHash);
    return std::nullopt;
  }
  if (f.table.shards.size() != now.shards.size()) {
    why = fmt::format("the sources now match {} shards, the checkpoints {}", now.shards.size(),
                      f.table.shards.size());
    return std::nullopt;
  }
  for (std::size_t i = 0; i < now.shards.size(); ++i) {
    const auto &a = f.table.shards[i], &b = now.shards[i];
    if (a.path != b.path || a.source != b.source || a.bytes != b.bytes || a.mtimeNs != b.mtimeNs) {
      why = fmt::format("shard '{}' changed since the checkpoints were written", b.path);
      return std::nullopt;
    }
  }
  return f.table;
}

void Store::remove() const {
  std::error_code ec;
  fs::remove_all(_dir, ec);
}

namespace {

/// Verify a freshly written file and commit it: rename it into place, then write its sidecar.
void commit(const fs::path& tmp, const fs::path& final, const Sidecar& meta) {
  Sidecar s = meta;
  s.checksum = fileChecksum(tmp, s.bytes);
  // The file re-read from disk must be readable as HDF5 and have the size written.
  std::error_code ec;
  if (s.checksum.empty() || s.bytes != fs::file_size(tmp, ec) || ec || H5Fis_hdf5(tmp.c_str()) <= 0)
    fail("checkpoint", "verification of '{}' failed after writing it", tmp.string());
  const fs::path done = final.string() + ".done";
  fs::remove(done, ec);  // a stale sidecar never vouches for the new file
  fs::rename(tmp, final);
  writeTextFile(done, s);
}

}  // namespace

void Store::write(const std::string& stage, const std::string& name,
                  const std::function<void(const h5::SerialFile&)>& fill,
                  std::vector<std::uint32_t> pieces, std::uint64_t docs) const {
  const fs::path final = _dir / stage / name;
  const fs::path tmp = final.string() + ".tmp";
  std::error_code ec;
  fs::create_directories(final.parent_path(), ec);
  if (ec)
    fail("checkpoint", "cannot create checkpoint directory '{}': {}", final.parent_path().string(),
         ec.message());
  {
    h5::SerialFile f = h5::SerialFile::create(tmp);
    fill(f);
    f.close();
  }
  commit(tmp, final, Sidecar{formatTag(), _configHash, 0, {}, std::move(pieces), docs});
}

std::optional<std::pair<h5::SerialFile, Sidecar>> Store::open(const std::string& stage,
                                                              const std::string& name,
                                                              std::string& why) const {
  const fs::path file = _dir / stage / name;
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    why = "no file";
    return std::nullopt;
  }
  Sidecar s;
  if (!readTextFile(file.string() + ".done", s)) {
    why = "no sidecar";
    return std::nullopt;
  }
  if (s.configHash != _configHash || s.version != formatTag()) {
    why = "sidecar of another config or version";
    return std::nullopt;
  }
  std::uint64_t bytes = 0;
  const std::string sum = fileChecksum(file, bytes);
  if (sum != s.checksum || bytes != s.bytes) {
    why = fmt::format("size/checksum {}/{} != sidecar {}/{}", bytes, sum, s.bytes, s.checksum);
    return std::nullopt;
  }
  return std::make_pair(h5::SerialFile::open(file), std::move(s));
}

std::vector<std::pair<std::string, Sidecar>> Store::list(const std::string& stage) const {
  std::vector<std::pair<std::string, Sidecar>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(_dir / stage, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() < 4 || name.substr(name.size() - 3) != ".h5") continue;
    Sidecar s;
    if (!readTextFile(e.path().string() + ".done", s)) continue;
    if (s.configHash != _configHash || s.version != formatTag()) continue;
    out.emplace_back(name, std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

}  // namespace cleanmix::ckpt
