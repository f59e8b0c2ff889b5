#include "cleanmix/driver/checkpoint.hpp"

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
#include "cleanmix/core/config.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/output/h5.hpp"

namespace cleanmix::ckpt {
namespace fs = std::filesystem;

namespace {

volatile std::sig_atomic_t gStop = 0;

extern "C" void onStopSignal(int) {
  gStop = 1;
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

/// Serial HDF5 (one file per rank and piece; the sec2 driver, no MPI-IO).
class SerialFile {
 public:
  static SerialFile create(const fs::path& p) {
    SerialFile f;
    f._id = h5::Id(h5::checkId(H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                               "checkpoint create"),
                   H5Fclose);
    return f;
  }
  static SerialFile open(const fs::path& p) {
    SerialFile f;
    f._id = h5::Id(h5::checkId(H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "checkpoint open"),
                   H5Fclose);
    return f;
  }
  template <class T>
  void put(const char* name, const std::vector<T>& v) const {
    const hsize_t n = v.size();
    h5::Id space(h5::checkId(H5Screate_simple(1, &n, nullptr), name), H5Sclose);
    // Large columns are chunked with shuffle + deflate(1): sorted indices and mostly-small
    // counts shrink several-fold for little CPU.
    h5::Id dcpl(h5::checkId(H5Pcreate(H5P_DATASET_CREATE), name), H5Pclose);
    if (n >= 4096) {
      const hsize_t chunk = std::min<hsize_t>(n, hsize_t{1} << 16);
      h5::check(H5Pset_chunk(dcpl, 1, &chunk), name);
      h5::check(H5Pset_shuffle(dcpl), name);
      h5::check(H5Pset_deflate(dcpl, 1), name);
    }
    h5::Id d(h5::checkId(
                 H5Dcreate2(_id, name, h5::nativeType<T>(), space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                 name),
             H5Dclose);
    if (n)
      h5::check(H5Dwrite(d, h5::nativeType<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), name);
  }
  template <class T>
  void get(const char* name, std::vector<T>& v) const {
    v = h5::readColumn<T>(_id, name);
  }
  void close() {
    h5::check(H5Fflush(_id, H5F_SCOPE_LOCAL), "checkpoint flush");
    _id.reset();
  }

 private:
  h5::Id _id;
};

}  // namespace

void installStopHandler() {
  struct sigaction sa {};
  sa.sa_handler = onStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, nullptr);
}

bool stopRequested() {
  return gStop != 0;
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

void ScoreRows::append(ScoreRows& o) {
  std::vector<void*> from;
  o.visit([&](const char*, auto& v) { from.push_back(&v); });
  std::size_t k = 0;
  visit([&](const char*, auto& v) {
    using V = std::remove_reference_t<decltype(v)>;
    const V& src = *static_cast<V*>(from[k++]);
    v.insert(v.end(), src.begin(), src.end());
  });
  for (std::size_t b = 0; b < benchDirty.size(); ++b) benchDirty[b] += o.benchDirty[b];
  looBitsMicro += o.looBitsMicro;
  looTokens += o.looTokens;
}

Store::Store(fs::path workdir, std::string configHash, bool enabled)
    : _dir(std::move(workdir) / "ckpt"), _configHash(std::move(configHash)), _enabled(enabled) {}

std::string Store::countName(std::uint32_t firstPiece) {
  return fmt::format("s{:08d}.h5", firstPiece);
}

void Store::startFresh(const ShardTable& table) const {
  std::error_code ec;
  fs::remove_all(_dir, ec);
  if (ec)
    fail("checkpoint", "cannot clear old checkpoints in '{}': {}", _dir.string(), ec.message());
  ensureDirs();
  writeTextFile(_dir / "index.txt", IndexFile{CLEANMIX_VERSION, _configHash, table});
}

void Store::ensureDirs() const {
  std::error_code ec;
  for (const char* sub : {"count", "score"}) {
    fs::create_directories(_dir / sub, ec);
    if (ec)
      fail("checkpoint", "cannot create checkpoint directory '{}': {}", (_dir / sub).string(),
           ec.message());
  }
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
  if (f.version != CLEANMIX_VERSION) {
    why = fmt::format("checkpoints were written by cleanmix {} (this is {})", f.version,
                      CLEANMIX_VERSION);
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

void Store::commit(const fs::path& tmp, const fs::path& final, std::vector<std::uint32_t> pieces,
                   std::uint64_t docs) const {
  Sidecar s{CLEANMIX_VERSION, _configHash, 0, {}, std::move(pieces), docs};
  s.checksum = fileChecksum(tmp, s.bytes);
  // Verify: the file re-read from disk must be readable as HDF5 and have the size written.
  std::error_code ec;
  if (s.checksum.empty() || s.bytes != fs::file_size(tmp, ec) || ec || H5Fis_hdf5(tmp.c_str()) <= 0)
    fail("checkpoint", "verification of '{}' failed after writing it", tmp.string());
  const fs::path done = final.string() + ".done";
  fs::remove(done, ec);  // a stale sidecar never vouches for the new file
  fs::rename(tmp, final);
  writeTextFile(done, s);
}

std::optional<Sidecar> Store::verify(const fs::path& file, std::string& why) const {
  Sidecar s;
  if (!readTextFile(file.string() + ".done", s)) {
    why = "no sidecar";
    return std::nullopt;
  }
  if (s.configHash != _configHash || s.version != CLEANMIX_VERSION) {
    why = "sidecar of another config or version";
    return std::nullopt;
  }
  std::uint64_t bytes = 0;
  const std::string sum = fileChecksum(file, bytes);
  if (sum != s.checksum || bytes != s.bytes) {
    why = fmt::format("size/checksum {}/{} != sidecar {}/{}", bytes, sum, s.bytes, s.checksum);
    return std::nullopt;
  }
  return s;
}

std::vector<std::pair<std::string, Sidecar>> Store::listCountSegments() const {
  std::vector<std::pair<std::string, Sidecar>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(_dir / "count", ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() < 4 || name.substr(name.size() - 3) != ".h5") continue;
    Sidecar s;
    if (!readTextFile(e.path().string() + ".done", s)) continue;
    if (s.configHash != _configHash || s.version != CLEANMIX_VERSION) continue;
    out.emplace_back(name, std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

void Store::writeCountSegment(const std::string& name, CountSegment& seg) const {
  const fs::path final = _dir / "count" / name;
  const fs::path tmp = final.string() + ".tmp";
  {
    SerialFile f = SerialFile::create(tmp);
    seg.visit([&](const char* n, const auto& v) { f.put(n, v); });
    f.close();
  }
  std::uint64_t docs = 0;
  for (auto d : seg.docs) docs += d;
  commit(tmp, final, seg.pieces, docs);
}

std::optional<CountSegment> Store::readCountSegment(const std::string& name,
                                                    std::string& why) const {
  const fs::path file = _dir / "count" / name;
  const auto side = verify(file, why);
  if (!side) return std::nullopt;
  CountSegment seg;
  SerialFile f = SerialFile::open(file);
  seg.visit([&](const char* n, auto& v) { f.get(n, v); });
  const std::size_t np = seg.pieces.size();
  if (seg.pieces != side->pieces || seg.lines.size() != np || seg.docs.size() != np ||
      seg.errors.size() != np || seg.errLine.size() != seg.errPiece.size() ||
      seg.errReasonEnd.size() != seg.errPiece.size() || seg.anchorDocs.size() != 1) {
    why = "inconsistent columns";
    return std::nullopt;
  }
  return seg;
}

void Store::writeScorePiece(std::uint32_t piece, ScoreRows& rows) const {
  const fs::path final = _dir / "score" / fmt::format("p{:08d}.h5", piece);
  const fs::path tmp = final.string() + ".tmp";
  {
    SerialFile f = SerialFile::create(tmp);
    rows.visit([&](const char* n, const auto& v) { f.put(n, v); });
    f.put("bench_dirty", rows.benchDirty);
    f.put("loo_bits_micro", std::vector<std::int64_t>{rows.looBitsMicro});
    f.put("loo_tokens", std::vector<std::uint64_t>{rows.looTokens});
    f.close();
  }
  commit(tmp, final, {piece}, rows.size());
}

std::optional<ScoreRows> Store::readScorePiece(std::uint32_t piece, std::uint64_t docs) const {
  const fs::path file = _dir / "score" / fmt::format("p{:08d}.h5", piece);
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  std::string why;
  const auto side = verify(file, why);
  if (!side || side->pieces != std::vector<std::uint32_t>{piece} || side->docs != docs)
    return std::nullopt;
  ScoreRows rows;
  SerialFile f = SerialFile::open(file);
  rows.visit([&](const char* n, auto& v) { f.get(n, v); });
  f.get("bench_dirty", rows.benchDirty);
  std::vector<std::int64_t> loo;
  std::vector<std::uint64_t> looTok;
  f.get("loo_bits_micro", loo);
  f.get("loo_tokens", looTok);
  if (loo.size() != 1 || looTok.size() != 1 || rows.benchDirty.size() != 64) return std::nullopt;
  rows.looBitsMicro = loo[0];
  rows.looTokens = looTok[0];
  // Every per-document column must have one row per document (band keys: bands per row).
  bool ok = true;
  rows.visit([&](const char* n, const auto& v) {
    if (std::string_view(n) != "band_keys" && v.size() != docs) ok = false;
  });
  if (!ok || (docs && rows.bandKeys.size() % docs != 0)) return std::nullopt;
  return rows;
}

}  // namespace cleanmix::ckpt
