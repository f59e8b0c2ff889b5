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

/// Entropy and types of a histogram of (bucket, count) pairs, appended to `out`; `sorted`:
/// already ascending by bucket (else sorted here). A bucket may appear more than once; its
/// counts are summed.
void appendStats(WindowStats& out, std::vector<std::pair<std::uint32_t, std::uint32_t>>& h,
                 bool sorted) {
  if (!sorted) std::sort(h.begin(), h.end());
  std::uint64_t tokens = 0;
  std::uint32_t types = 0;
  double sumClogC = 0;
  for (std::size_t i = 0; i < h.size();) {
    std::uint64_t c = 0;
    std::size_t j = i;
    for (; j < h.size() && h[j].first == h[i].first; ++j) c += h[j].second;
    tokens += c;
    ++types;
    sumClogC += static_cast<double>(c) * std::log2(static_cast<double>(c));
    i = j;
  }
  out.entropy.push_back(tokens ? std::log2(static_cast<double>(tokens)) -
                                     sumClogC / static_cast<double>(tokens)
                               : 0.0);
  out.types.push_back(types);
  out.tokens.push_back(tokens);
}

}  // namespace

WindowAccumulator::WindowAccumulator(std::uint64_t window, std::uint64_t begin, std::uint64_t count)
    : _window(window), _begin(begin), _end(begin + count), _pos(begin) {
  if (window == 0) fail("audit", "window of 0 tokens");
  _buf.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(window, count)));
}

void WindowAccumulator::add(std::span<const std::uint32_t> buckets) {
  if (buckets.size() > _end - _pos)
    fail("audit", "{} tokens added past this rank's share [{}, {})", buckets.size(), _begin, _end);
  while (!buckets.empty()) {
    // The current window ends at the next multiple of the window, or at my last token.
    const std::uint64_t room = _window - _pos % _window;
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(room, buckets.size()));
    _buf.insert(_buf.end(), buckets.begin(), buckets.begin() + static_cast<std::ptrdiff_t>(n));
    buckets = buckets.subspan(n);
    _pos += n;
    if (_pos % _window == 0 || _pos == _end) close();
  }
}

void WindowAccumulator::close() {
  const std::uint64_t w = (_pos - 1) / _window;
  // The window's (bucket, count) histogram, ascending.
  std::sort(_buf.begin(), _buf.end());
  std::vector<std::pair<std::uint32_t, std::uint32_t>> hist;
  for (std::size_t i = 0; i < _buf.size();) {
    std::size_t j = i;
    while (j < _buf.size() && _buf[j] == _buf[i]) ++j;
    hist.emplace_back(_buf[i], static_cast<std::uint32_t>(j - i));
    i = j;
  }
  _buf.clear();
  if (w * _window < _begin) {  // its first token is on an earlier rank: sent there at finish
    _head = std::move(hist);
    _headWindow = w;
    return;
  }
  _ownFirst = std::min(_ownFirst, w);
  if ((w + 1) * _window > _end) {  // may go on on later ranks: merged after the exchange
    _tail = std::move(hist);
    _tailWindow = w;
    return;
  }
  appendStats(_out, hist, true);
}

WindowStats WindowAccumulator::finish(const Communicator& comm) {
  if (_pos != _end)
    fail("audit", "rank {}: {} of its {} tokens were added", comm.rank(), _pos - _begin,
         _end - _begin);
  const int np = comm.size();
  const bool any = _end > _begin;
  const auto begins = comm.allgather<std::uint64_t>(any ? _begin : UINT64_MAX);
  const std::uint64_t total = comm.allreduceMax<std::uint64_t>(any ? _end : 0);
  // The owner of a window is the last rank holding tokens whose first token is at or before
  // the window's first token (rank order is stream order).
  std::vector<std::vector<Partial>> send(np);
  if (_headWindow != UINT64_MAX) {
    int owner = -1;
    for (int r = 0; r < np; ++r)
      if (begins[r] != UINT64_MAX && begins[r] <= _headWindow * _window) owner = r;
    if (owner < 0 || owner == comm.rank())
      fail("audit", "rank {}: no owner for window {}", comm.rank(), _headWindow);
    for (const auto& [bucket, c] : _head) send[owner].push_back({_headWindow, bucket, c});
  }
  const auto got = comm.alltoallv(send);
  for (const auto& p : got) {  // partial windows that continue on later ranks: only my last one
    if (p.window != _tailWindow)
      fail("audit", "rank {}: partial counts for window {}, which it does not own", comm.rank(),
           p.window);
    _tail.emplace_back(p.bucket, p.count);
  }
  if (_tailWindow != UINT64_MAX) appendStats(_out, _tail, got.empty());
  _out.first = _ownFirst == UINT64_MAX ? total / _window : _ownFirst;  // none: an empty block
  WindowStats out = std::move(_out);
  _out = {};
  return out;
}

AuditSummary runAudit(const Communicator& comm, const AuditParams& params, MixPass& mix) {
  const std::uint64_t W = params.batchTokens;
  // The training stream: my copies in training order, after the copies of lower ranks. Their
  // token buckets arrive one round of the key space at a time (my copies of round k are
  // contiguous in key order), so only one round's buckets are held.
  std::uint64_t myTokens = 0;
  for (const auto& c : mix.copies) myTokens += c.tokens;
  WindowAccumulator train(W, comm.exscanSum(myTokens), myTokens);
  forEachCopyByRound<DocTokensRecord>(
      mix, comm.rank(), comm.size(), "audit",
      [&](std::uint32_t k) {
        return mix.tokenSpill.active()
                   ? exchangeRecords(comm, mix.tokenSpill.take<DocTokensRecord>(k, comm.size()))
                   : exchangeRecords(comm, std::move(mix.tokensOut));
      },
      [&](const Copy&, const DocTokensRecord& t) { train.add(t.buckets); });
  const WindowStats batches = train.finish(comm);
  const WindowStats& windows = mix.anchorWindows;
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
    fmt::print(
        stderr,
        "[cleanmix] audit: {} batches of {} tokens, floor {:.3f} bits (p{} of {} anchor "
        "windows), {} held for review{}\n",
        au.batches, W, floor, params.floorPercentile, au.anchorWindows, au.held,
        mix.rounds > 1 ? fmt::format("; token buckets exchanged in {} rounds", mix.rounds) : "");
  return au;
}

}  // namespace cleanmix
