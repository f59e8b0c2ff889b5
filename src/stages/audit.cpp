#include "cleanmix/stages/audit.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/stages/mix.hpp"

#include <fmt/format.h>

namespace cleanmix {
namespace {

struct Partial {  // a window's bucket count held by a rank that is not its owner
  std::uint64_t window;
  std::uint32_t bucket, count;
};

/// Entropy and types of a histogram of (bucket, count) pairs; `sorted`: already ascending by
/// bucket (else sorted here). A bucket may appear more than once; its counts are summed.
void statsOf(std::vector<std::pair<std::uint32_t, std::uint32_t>>& h, bool sorted, double& entropy,
             std::uint32_t& types, std::uint64_t& tokens) {
  if (!sorted) std::sort(h.begin(), h.end());
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

WindowStats windowStats(const Communicator& comm, const std::vector<SegmentView>& segments,
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
  WindowStats out;
  const bool any = begin != UINT64_MAX;
  std::vector<std::vector<Partial>> send(np);
  // One window at a time: its buckets, then its (bucket, count) histogram, ascending.
  std::vector<std::uint32_t> buf;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> hist, pending;
  std::uint64_t ownFirst = UINT64_MAX, pendingWindow = UINT64_MAX;
  auto histogram = [&] {
    std::sort(buf.begin(), buf.end());
    hist.clear();
    for (std::size_t i = 0; i < buf.size();) {
      std::size_t j = i;
      while (j < buf.size() && buf[j] == buf[i]) ++j;
      hist.emplace_back(buf[i], static_cast<std::uint32_t>(j - i));
      i = j;
    }
    buf.clear();
  };
  auto stats = [&](std::vector<std::pair<std::uint32_t, std::uint32_t>>& h, bool sorted) {
    double e;
    std::uint32_t t;
    std::uint64_t n;
    statsOf(h, sorted, e, t, n);
    out.entropy.push_back(e);
    out.types.push_back(t);
    out.tokens.push_back(n);
  };
  auto finish = [&](std::uint64_t w) {
    histogram();
    const int o = owner(w);
    if (o != comm.rank()) {  // its first token is on an earlier rank: send the partial counts
      for (const auto& [bucket, c] : hist) send[o].push_back({w, bucket, c});
      return;
    }
    ownFirst = std::min(ownFirst, w);
    if ((w + 1) * window > end) {  // may go on on later ranks: merged after the exchange
      pending.swap(hist);
      pendingWindow = w;
    } else {
      stats(hist, true);  // histogram() leaves it ascending
    }
  };
  if (any) {
    buf.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(window, end - begin)));
    std::uint64_t cur = begin / window;
    for (const auto& s : segments)
      for (std::size_t i = 0; i < s.buckets.size(); ++i) {
        const std::uint64_t w = (s.start + i) / window;
        if (w != cur) {
          finish(cur);
          cur = w;
        }
        buf.push_back(s.buckets[i]);
      }
    finish(cur);
  }
  const auto got = comm.alltoallv(send);
  for (const auto& p : got) {  // partial windows that continue here: only my last one
    if (p.window != pendingWindow)
      fail("windowStats", "rank {}: partial counts for window {}, which it does not own",
           comm.rank(), p.window);
    pending.emplace_back(p.bucket, p.count);
  }
  if (pendingWindow != UINT64_MAX) stats(pending, got.empty());
  if (ownFirst == UINT64_MAX) {
    out.first = total / window;  // no window: an empty block at the end
    return out;
  }
  out.first = ownFirst;
  return out;
}

AuditSummary runAudit(const Communicator& comm, const AuditParams& params, const MixPass& mix) {
  // The training stream: my copies in training order, after the copies of lower ranks.
  std::uint64_t myTokens = 0;
  for (const auto& c : mix.copies) myTokens += c.tokens;
  std::uint64_t pos = comm.exscanSum(myTokens);
  std::vector<SegmentView> train;  // views: a copy's buckets are not copied
  train.reserve(mix.copies.size());
  for (const auto& c : mix.copies) {
    const auto& b = mix.tokens[mix.tokensOf.at(c.doc)].buckets;
    train.push_back({pos, b});
    pos += b.size();
  }
  // The anchor stream: anchor documents in doc_id order (they are local and in order).
  std::uint64_t myAnchor = 0;
  for (const auto& seg : mix.anchorStream) myAnchor += seg.buckets.size();
  std::uint64_t apos = comm.exscanSum(myAnchor);
  std::vector<SegmentView> anchor;
  anchor.reserve(mix.anchorStream.size());
  for (const auto& seg : mix.anchorStream) {
    anchor.push_back({apos, seg.buckets});
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
