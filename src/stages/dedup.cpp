#include "cleanmix/stages/dedup.hpp"

#include <algorithm>
#include <compare>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/contam/dedup.hpp"
#include "cleanmix/core/hash.hpp"

namespace cleanmix {
namespace {

struct Edge {  // trivially copyable, unlike std::pair
  std::uint64_t first, second;
  auto operator<=>(const Edge&) const = default;  // NOLINT(modernize-use-nullptr): tidy 14 bug
};

struct Member {
  std::uint64_t label, id;
  std::uint64_t prov;
};
struct Assign {
  std::uint64_t id, rep;
};

}  // namespace

DedupResult findDuplicates(const Communicator& comm, const DedupInput& in) {
  const int np = comm.size();
  const std::size_t nd = in.provRank.size();
  const std::uint64_t off = in.docOffset;
  const std::uint64_t a2a0 = comm.alltoallvBytes();
  const auto counts = comm.allgather<std::uint64_t>(nd);
  std::vector<std::uint64_t> starts(np, 0);
  for (int r = 1; r < np; ++r) starts[r] = starts[r - 1] + counts[r - 1];
  auto owner = [&](std::uint64_t id) {
    return static_cast<int>(std::upper_bound(starts.begin(), starts.end(), id) - starts.begin()) -
           1;
  };

  // 1. Shuffle bucket keys to the rank their hash picks; buckets become star edges.
  std::vector<std::vector<KeyedDoc>> byKey(np);
  for (std::size_t d = 0; d < nd; ++d) {
    if (!in.participate[d]) continue;
    auto emit = [&](std::uint64_t k) {
      if (k) byKey[mix64(k) % static_cast<std::uint64_t>(np)].push_back({k, off + d});
    };
    for (int b = 0; b < in.bands; ++b) emit(in.bandKeys[d * in.bands + b]);
    emit(in.exactKeys[d]);
  }
  auto items = comm.alltoallv(byKey);
  const auto edges = candidateEdges(items);
  items = {};

  // 2. Each endpoint's owner keeps its adjacency.
  std::vector<std::vector<Edge>> toOwner(np);
  for (const auto& [u, v] : edges) {
    toOwner[owner(u)].push_back({u, v});
    toOwner[owner(v)].push_back({v, u});
  }
  auto adj = comm.alltoallv(toOwner);
  toOwner = {};
  std::sort(adj.begin(), adj.end());
  adj.erase(std::unique(adj.begin(), adj.end()), adj.end());
  DedupResult res;
  std::uint64_t pairs = 0;
  for (const auto& [v, u] : adj) pairs += v < u;
  res.candidatePairs = comm.allreduceSum(pairs);

  // 3. Min-label propagation: a component's label is its smallest doc_id.
  std::vector<std::uint64_t> label(nd);
  for (std::size_t d = 0; d < nd; ++d) label[d] = off + d;
  std::vector<std::uint64_t> nbrs;
  nbrs.reserve(adj.size());
  for (const auto& e : adj) nbrs.push_back(e.second);
  std::sort(nbrs.begin(), nbrs.end());
  nbrs.erase(std::unique(nbrs.begin(), nbrs.end()), nbrs.end());
  std::vector<std::uint64_t> nbrLabel(nbrs.size());
  for (;;) {
    ++res.rounds;
    std::vector<std::vector<std::uint64_t>> req(np);
    for (auto u : nbrs) req[owner(u)].push_back(u);  // nbrs ascending => grouped by owner
    std::vector<std::size_t> from;
    const auto asked = comm.alltoallv(req, &from);
    std::vector<std::vector<std::uint64_t>> reply(np);
    std::size_t at = 0;
    for (int r = 0; r < np; ++r)
      for (std::size_t i = 0; i < from[r]; ++i, ++at) reply[r].push_back(label[asked[at] - off]);
    nbrLabel = comm.alltoallv(reply);  // same order as nbrs
    bool changed = false;
    for (const auto& [v, u] : adj) {
      const auto it = std::lower_bound(nbrs.begin(), nbrs.end(), u);
      const std::uint64_t lu = nbrLabel[static_cast<std::size_t>(it - nbrs.begin())];
      if (lu < label[v - off]) {
        label[v - off] = lu;
        changed = true;
      }
    }
    if (comm.allreduceMax<int>(changed ? 1 : 0) == 0) break;
  }

  // 4. Representative per component, chosen at the owner of its label.
  std::vector<std::vector<Member>> members(np);
  for (std::size_t i = 0; i < adj.size(); ++i) {
    if (i > 0 && adj[i].first == adj[i - 1].first) continue;  // once per document
    const std::uint64_t v = adj[i].first;
    members[owner(label[v - off])].push_back({label[v - off], v, in.provRank[v - off]});
  }
  auto got = comm.alltoallv(members);
  std::sort(got.begin(), got.end(), [](const Member& a, const Member& b) {
    return a.label != b.label ? a.label < b.label
                              : (a.prov != b.prov ? a.prov < b.prov : a.id < b.id);
  });
  std::vector<std::vector<Assign>> back(np);
  std::uint64_t clusters = 0;
  for (std::size_t i = 0; i < got.size();) {
    std::size_t j = i;
    while (j < got.size() && got[j].label == got[i].label) ++j;
    ++clusters;
    for (std::size_t k = i; k < j; ++k) back[owner(got[k].id)].push_back({got[k].id, got[i].id});
    i = j;
  }
  const auto reps = comm.alltoallv(back);
  res.dupOf.assign(nd, -1);
  std::uint64_t dups = 0;
  for (const auto& a : reps)
    if (a.rep != a.id) {
      res.dupOf[a.id - off] = static_cast<std::int64_t>(a.rep);
      ++dups;
    }
  res.clusters = comm.allreduceSum(clusters);
  res.duplicates = comm.allreduceSum(dups);
  res.alltoallvBytes = comm.alltoallvBytes() - a2a0;
  return res;
}

DedupSummary runDedup(const Communicator& comm, const DedupParams& params,
                      const std::vector<SourceConfig>& sources, ScoreRows& rows,
                      std::uint64_t docOffset) {
  DocRows& docs = rows.d;
  DedupResult dedup;
  if (params.enabled) {
    DedupInput in;
    in.docOffset = docOffset;
    in.bands = params.bands;
    in.exactKeys = std::move(rows.exactKeys);
    in.bandKeys = std::move(rows.bandKeys);
    in.provRank = std::move(rows.provRank);
    in.participate = std::move(rows.participate);
    dedup = findDuplicates(comm, in);
  } else {
    dedup.dupOf.assign(docs.size(), -1);
  }
  docs.dupOf = std::move(dedup.dupOf);
  docs.verdict.resize(docs.size());
  for (std::size_t i = 0; i < docs.size(); ++i) {
    const Role role = sources[docs.source[i]].role;
    Verdict v = Verdict::Keep;
    if (role == Role::Benchmark)
      v = Verdict::Benchmark;
    else if (role == Role::Anchor)
      v = Verdict::Anchor;
    else if (docs.contaminated[i] > 0)
      v = Verdict::Contaminated;
    else if (docs.dupOf[i] >= 0)
      v = Verdict::Duplicate;
    docs.verdict[i] = static_cast<std::uint8_t>(v);
  }
  return {params.enabled,   params.bands,         params.rows,
          params.shingle,   dedup.candidatePairs, dedup.clusters,
          dedup.duplicates, dedup.rounds,         comm.allreduceMax(dedup.alltoallvBytes)};
}

}  // namespace cleanmix
