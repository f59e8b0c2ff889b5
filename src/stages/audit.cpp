#include "cleanmix/stages/audit.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/stages/mix.hpp"

#include <fmt/format.h>

namespace cleanmix {
namespace {

struct Partial {  // a window's bucket count held by a rank that is not its owner
  std::uint64_t window;
  std::uint32_t bucket, count;
};

/// Entropy and types of a histogram given as sorted (bucket, count) pairs.
void statsOf(std::vector<std::pair<std::uint32_t, std::uint32_t>>& h, double& entropy,
             std::uint32_t& types, std::uint64_t& tokens) {
  std::sort(h.begin(), h.end());
  std::vector<std::uint64_t> counts;
  for (std::size_t i = 0; i < h.size();) {
    std::uint64_t c = 0;
    std::size_t j = i;
    for (; j < h.size() && h[j].first == h[i].first; ++j) c += h[j].second;
    counts.push_back(c);
    i = j;
  }
  tokens = 0;
  double sumClogC = 0;
  for (auto c : counts) {
    tokens += c;
    sumClogC += static_cast<double>(c) * std::log2(static_cast<double>(c));
  }
  types = static_cast<std::uint32_t>(counts.size());
  entropy = tokens ? std::log2(static_cast<double>(tokens)) - sumClogC / static_cast<double>(tokens)
                   : 0.0;
}

}  // namespace

WindowStats windowStats(const Communicator& comm, const std::vector<StreamSegment>& segments,
                        std::uint64_t window) {
  const int np = comm.size();
  std::uint64_t begin = UINT64_MAX, end = 0;
  for (const auto& s : segments) {
    if (s.buckets.empty()) continue;
    begin = std::min(begin, s.start);
    end = std::max<std::uint64_t>(end, s.start + s.buckets.size());
  }
  const auto begins = comm.allgather(begin);
  const std::uint64_t total = comm.allreduceMax(end);
  // owner of window w: the last rank whose first token is <= the window's first token
  // Ranks holding tokens, by first token (ascending: rank order is stream order). The owner of
  // window w is the last of them whose first token is <= the window's first token.
  std::vector<std::pair<std::uint64_t, int>> starts;
  for (int r = 0; r < np; ++r)
    if (begins[r] != UINT64_MAX) starts.emplace_back(begins[r], r);
  auto owner = [&](std::uint64_t w) {
    const std::pair<std::uint64_t, int> key{w * window, np};
    const auto it = std::upper_bound(starts.begin(), starts.end(), key);
    return it == starts.begin() ? 0 : std::prev(it)->second;
  };
  // Local histograms per window (sparse): (window, bucket) pairs.
  std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> mine;
  WindowStats out;
  const bool any = begin != UINT64_MAX;
  const std::uint64_t firstWindow = any ? begin / window : 0;
  std::vector<std::vector<Partial>> send(np);
  if (any) {
    const std::uint64_t lastWindow = (end - 1) / window;
    mine.resize(lastWindow - firstWindow + 1);
    for (const auto& s : segments)
      for (std::size_t i = 0; i < s.buckets.size(); ++i)
        mine[(s.start + i) / window - firstWindow].push_back({s.buckets[i], 1});
    for (std::uint64_t w = firstWindow; w <= lastWindow; ++w) {
      const int o = owner(w);
      if (o == comm.rank()) continue;
      auto& h = mine[w - firstWindow];
      std::sort(h.begin(), h.end());
      for (std::size_t i = 0; i < h.size();) {
        std::size_t j = i;
        std::uint32_t c = 0;
        for (; j < h.size() && h[j].first == h[i].first; ++j) c += h[j].second;
        send[o].push_back({w, h[i].first, c});
        i = j;
      }
      h.clear();
    }
  }
  const auto got = comm.alltoallv(send);
  // Owned windows: those whose first token is here.
  std::uint64_t ownFirst = UINT64_MAX, ownLast = 0;
  if (any)
    for (std::uint64_t w = firstWindow; w < firstWindow + mine.size(); ++w)
      if (owner(w) == comm.rank()) {
        ownFirst = std::min(ownFirst, w);
        ownLast = std::max(ownLast, w);
      }
  for (const auto& p : got) {  // partial windows that continue here
    ownFirst = std::min(ownFirst, p.window);
    ownLast = std::max(ownLast, p.window);
  }
  if (ownFirst == UINT64_MAX) {
    out.first = total / window;  // no window: an empty block at the end
    return out;
  }
  out.first = ownFirst;
  std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> h(ownLast - ownFirst + 1);
  for (std::uint64_t w = ownFirst; w <= ownLast; ++w)
    if (any && w >= firstWindow && w < firstWindow + mine.size())
      h[w - ownFirst] = std::move(mine[w - firstWindow]);
  for (const auto& p : got) h[p.window - ownFirst].push_back({p.bucket, p.count});
  for (auto& x : h) {
    double e;
    std::uint32_t t;
    std::uint64_t n;
    statsOf(x, e, t, n);
    out.entropy.push_back(e);
    out.types.push_back(t);
    out.tokens.push_back(n);
  }
  return out;
}

AuditSummary runAudit(const Communicator& comm, const AuditParams& params, const MixPass& mix) {
  // The training stream: my copies in training order, after the copies of lower ranks.
  std::uint64_t myTokens = 0;
  for (const auto& c : mix.copies) myTokens += c.tokens;
  std::uint64_t pos = comm.exscanSum(myTokens);
  std::vector<StreamSegment> train;
  for (const auto& c : mix.copies) {
    StreamSegment seg;
    seg.start = pos;
    seg.buckets = mix.tokens[mix.tokensOf.at(c.doc)].buckets;
    pos += seg.buckets.size();
    train.push_back(std::move(seg));
  }
  // The anchor stream: anchor documents in doc_id order (they are local and in order).
  std::vector<StreamSegment> anchor = mix.anchorStream;
  std::uint64_t myAnchor = 0;
  for (const auto& seg : anchor) myAnchor += seg.buckets.size();
  std::uint64_t apos = comm.exscanSum(myAnchor);
  for (auto& seg : anchor) {
    seg.start = apos;
    apos += seg.buckets.size();
  }
  const std::uint64_t W = params.batchTokens;
  const WindowStats batches = windowStats(comm, train, W);
  const WindowStats windows = windowStats(comm, anchor, W);
  // Floor: the percentile of complete anchor windows (every rank gets them all).
  std::vector<double> full;
  for (std::size_t k = 0; k < windows.entropy.size(); ++k)
    if (windows.tokens[k] == W) full.push_back(windows.entropy[k]);
  std::vector<double> allFull = comm.alltoallv(std::vector<std::vector<double>>(comm.size(), full));
  std::sort(allFull.begin(), allFull.end());
  AuditSummary au;
  au.enabled = true;
  au.batchTokens = W;
  au.floorPercentile = params.floorPercentile;
  au.absoluteFloor = params.absoluteFloor;
  au.anchorWindows = allFull.size();
  au.floorBits =
      allFull.empty()
          ? 0.0
          : allFull[static_cast<std::size_t>(std::floor(params.floorPercentile / 100.0 *
                                                        static_cast<double>(allFull.size() - 1)))];
  const double floor = std::max(au.floorBits, params.absoluteFloor);
  au.block.first = batches.first;
  au.block.entropy = batches.entropy;
  au.block.types = batches.types;
  au.block.tokens = batches.tokens;
  std::uint64_t held = 0;
  for (std::size_t k = 0; k < batches.entropy.size(); ++k) {
    // Only complete batches are judged: a short final batch has less entropy by size alone.
    const bool hold = batches.tokens[k] == W && batches.entropy[k] < floor;
    au.block.hold.push_back(hold ? 1 : 0);
    held += hold;
  }
  au.held = comm.allreduceSum(held);
  au.batches = comm.allreduceSum<std::uint64_t>(batches.entropy.size());
  if (comm.isRoot())
    fmt::print(stderr,
               "[cleanmix] audit: {} batches of {} tokens, floor {:.3f} bits (p{} of {} anchor "
               "windows), {} held for review\n",
               au.batches, W, floor, params.floorPercentile, au.anchorWindows, au.held);
  return au;
}

}  // namespace cleanmix
