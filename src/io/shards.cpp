#include "cleanmix/io/shards.hpp"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "cleanmix/core/error.hpp"

namespace cleanmix {

Compression compressionOf(const std::string& path) {
  auto ends = [&](std::string_view suf) {
    return path.size() >= suf.size() &&
           path.compare(path.size() - suf.size(), suf.size(), suf) == 0;
  };
  if (ends(".gz")) return Compression::Gzip;
  if (ends(".zst") || ends(".zstd")) return Compression::Zstd;
  return Compression::None;
}

namespace {

std::vector<std::string> expandGlob(const std::string& pattern, const std::string& source) {
  glob_t g{};
  const int rc = ::glob(pattern.c_str(), GLOB_ERR | GLOB_MARK, nullptr, &g);
  std::vector<std::string> out;
  if (rc == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
  if (rc == GLOB_NOMATCH || (rc == 0 && out.empty()))
    fail("discoverShards", "source '{}': pattern '{}' matches no file", source, pattern);
  if (rc != 0) fail("discoverShards", "source '{}': cannot expand '{}'", source, pattern);
  return out;
}

}  // namespace

std::vector<ShardInfo> expandShardPaths(const std::vector<SourceConfig>& sources) {
  std::vector<ShardInfo> shards;
  std::map<std::string, std::string> owner;  // path -> source, to reject a file in two sources
  for (std::uint32_t s = 0; s < sources.size(); ++s) {
    const auto& src = sources[s];
    std::set<std::string> paths;
    for (const auto& pat : src.paths)
      for (auto& p : expandGlob(pat, src.name)) paths.insert(std::move(p));
    for (const auto& p : paths) {  // std::set: sorted bytewise
      if (!p.empty() && p.back() == '/')
        fail("discoverShards", "source '{}': '{}' is a directory, not a shard", src.name, p);
      auto [it, fresh] = owner.emplace(p, src.name);
      if (!fresh)
        fail("discoverShards", "'{}' is matched by sources '{}' and '{}'", p, it->second, src.name);
      shards.push_back({p, s, 0, compressionOf(p)});
    }
  }
  return shards;
}

void statShard(ShardInfo& shard, const std::string& sourceName) {
  struct stat st {};
  if (::stat(shard.path.c_str(), &st) != 0)
    fail("discoverShards", "cannot stat '{}': {}", shard.path, errnoText(errno));
  if (!S_ISREG(st.st_mode))
    fail("discoverShards", "source '{}': '{}' is not a regular file", sourceName, shard.path);
  const int fd = ::open(shard.path.c_str(), O_RDONLY);
  if (fd < 0) fail("discoverShards", "cannot open '{}': {}", shard.path, errnoText(errno));
  ::close(fd);
  shard.bytes = static_cast<std::uint64_t>(st.st_size);
  shard.mtimeNs = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

std::vector<ShardInfo> discoverShards(const std::vector<SourceConfig>& sources) {
  auto shards = expandShardPaths(sources);
  for (auto& s : shards) statShard(s, sources[s.source].name);
  return shards;
}

std::uint64_t pieceBytesFor(const std::vector<ShardInfo>& shards, int nRanks,
                            std::uint64_t splitBytes) {
  std::uint64_t total = 0;
  for (const auto& s : shards) total += s.bytes;
  const std::uint64_t fairQuarter = total / (4 * static_cast<std::uint64_t>(std::max(nRanks, 1)));
  return std::min<std::uint64_t>(splitBytes, std::max<std::uint64_t>(fairQuarter, 1u << 20));
}

std::vector<Piece> splitIntoPieces(const std::vector<ShardInfo>& shards, std::uint64_t pieceBytes) {
  std::vector<Piece> pieces;
  pieceBytes = std::max<std::uint64_t>(pieceBytes, 1);
  for (std::uint32_t i = 0; i < shards.size(); ++i) {
    const auto& s = shards[i];
    if (s.compression != Compression::None || s.bytes <= pieceBytes) {
      pieces.push_back({i, 0, s.bytes});
      continue;
    }
    const std::uint64_t n = (s.bytes + pieceBytes - 1) / pieceBytes;
    for (std::uint64_t k = 0; k < n; ++k)
      pieces.push_back({i, s.bytes * k / n, s.bytes * (k + 1) / n});
  }
  return pieces;
}

ShardAssignment assignPieces(const ShardTable& table, int nRanks) {
  ShardAssignment a;
  a.firstPiece.assign(nRanks + 1, 0);
  std::uint64_t total = 0;
  for (const auto& p : table.pieces) total += pieceBytes(p);
  // owner(piece) = floor(midpoint * n / T), monotone in the piece index.
  std::vector<std::uint32_t> count(nRanks, 0);
  std::uint64_t before = 0;
  for (const auto& p : table.pieces) {
    const std::uint64_t b = pieceBytes(p);
    int r = 0;
    if (total > 0) {
      const unsigned __int128 mid2 = static_cast<unsigned __int128>(2 * before + b) * nRanks;
      r = static_cast<int>(std::min<unsigned __int128>(
          mid2 / (2 * static_cast<unsigned __int128>(total)), nRanks - 1));
    }
    ++count[r];
    before += b;
  }
  for (int r = 0; r < nRanks; ++r) a.firstPiece[r + 1] = a.firstPiece[r] + count[r];
  return a;
}

}  // namespace cleanmix
