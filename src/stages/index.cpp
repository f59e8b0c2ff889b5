#include "cleanmix/stages/index.hpp"

#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <fmt/format.h>

#include <algorithm>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/comm/records.hpp"
#include "cleanmix/core/archive.hpp"
#include "cleanmix/core/error.hpp"

namespace cleanmix {

ShardTable indexShards(const Communicator& comm, const std::vector<SourceConfig>& sources,
                       const IngestParams& ingest) {
  // Rank 0 expands the globs (directory listings only) and shares the sorted paths.
  ShardTable t;
  unpackBytes(rootThenShare(comm,
                            [&] {
                              ShardTable r;
                              r.shards = expandShardPaths(sources);
                              return packBytes(r);
                            }),
              t);
  // Every rank stats and open-checks a strided slice (metadata load spread over the ranks);
  // sizes are summed, and the first error by path order is reported by every rank.
  std::vector<std::uint64_t> sizes(t.shards.size(), 0), mtimes(t.shards.size(), 0);
  std::uint64_t firstBad = UINT64_MAX;
  std::string err;
  for (std::size_t i = static_cast<std::size_t>(comm.rank()); i < t.shards.size();
       i += static_cast<std::size_t>(comm.size())) {
    try {
      statShard(t.shards[i], sources[t.shards[i].source].name);
      sizes[i] = t.shards[i].bytes;
      mtimes[i] = static_cast<std::uint64_t>(t.shards[i].mtimeNs);
    } catch (const Error& e) {
      firstBad = i;
      err = e.what();
      break;
    }
  }
  comm.allreduceSum(std::span<std::uint64_t>(sizes));
  comm.allreduceSum(std::span<std::uint64_t>(mtimes));
  const std::uint64_t bad = comm.allreduceMin(firstBad);
  if (bad != UINT64_MAX) {
    const int owner = static_cast<int>(bad % static_cast<std::uint64_t>(comm.size()));
    if (comm.rank() != owner) err.clear();
    const auto all = comm.gatherBytes(err);
    std::string msg;
    if (comm.isRoot())
      for (const auto& m : all) msg += m;
    comm.bcastBytes(msg);
    throw CollectiveError(msg);
  }
  for (std::size_t i = 0; i < t.shards.size(); ++i) {
    t.shards[i].bytes = sizes[i];
    t.shards[i].mtimeNs = static_cast<std::int64_t>(mtimes[i]);
  }
  t.pieces = splitIntoPieces(t.shards, pieceBytesFor(t.shards, comm.size(), ingest.splitBytes));
  return t;
}

Corpus runIndex(const Communicator& comm, const std::vector<SourceConfig>& sources,
                const IngestParams& ingest, bool resume, const StageEnv& env) {
  Corpus c;
  c.sources = &sources;
  c.table = indexShards(comm, sources, ingest);
  if (env.store.enabled()) {
    const std::string saved = rootThenShare(comm, [&]() -> std::string {
      std::string why;
      if (resume) {
        if (auto t = env.store.loadIndex(c.table, why)) return "R" + packBytes(*t);
        fmt::print(stderr, "[cleanmix] --resume: {}; starting from the beginning\n", why);
      }
      env.store.startFresh(c.table);
      return "F";
    });
    if (saved[0] == 'R') {
      unpackBytes(saved.substr(1), c.table);
      c.resumed = true;
    }
  }
  c.assign = assignPieces(c.table, comm.size());
  c.begin = c.assign.begin(comm.rank());
  c.end = c.assign.end(comm.rank());
  for (std::uint32_t p = c.begin; p < c.end; ++p) c.myBytes += pieceBytes(c.table.pieces[p]);
  if (comm.isRoot())
    fmt::print(stderr, "[cleanmix] index: {} sources, {} shards, {} pieces over {} ranks{}\n",
               sources.size(), c.table.shards.size(), c.table.pieces.size(), comm.size(),
               c.resumed ? " (pieces of the checkpointed run)" : "");
  return c;
}

int stopAgreed(const Communicator& comm, bool stoppedHere, const StageEnv& env) {
  int mine = 0;
  if (env.store.enabled() && (stoppedHere || env.stopSignal() != 0))
    mine = std::max(1, env.stopSignal());
  return comm.allreduceMax<int>(mine);
}

std::uint64_t parseOnlyPass(const Corpus& corpus, const IngestParams& ingest, std::uint64_t& lines,
                            std::uint64_t& docs) {
  Progress quiet(false, 1e9);
  PieceTally tally(corpus.table.pieces.size());
  readPieces(
      corpus, ingest, std::uint64_t{8} << 20, &tally, quiet, [](const TextBatch&) {},
      [](std::uint32_t, std::uint64_t, const std::string&) {});
  std::uint64_t raw = 0;
  lines = docs = 0;
  for (std::uint32_t p = corpus.begin; p < corpus.end; ++p) {
    lines += tally.lines[p];
    docs += tally.docs[p];
    raw += pieceBytes(corpus.table.pieces[p]);
  }
  return raw;
}

}  // namespace cleanmix
