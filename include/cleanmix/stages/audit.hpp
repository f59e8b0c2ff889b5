#pragma once
/// \file
/// \brief The batch entropy audit (DESIGN.md "Batch entropy audit"). The planned copies are put
/// in a deterministic training order (a counter-based key per (seed, doc_id, copy), independent
/// of the rank count), redistributed by key range with MPI_Alltoallv, and cut into batches of
/// `batch_tokens`. Each batch gets its unigram entropy (over vocabulary buckets) and type count;
/// the floor is the `floor_percentile` of the same statistic over same-size windows of the
/// anchor stream (anchor documents in doc_id order). A batch that straddles ranks is merged at
/// the rank that holds its first token, from integer partial histograms, so results are
/// bit-identical at any rank count.
#include <cstdint>
#include <span>
#include <vector>

namespace cleanmix {

class Communicator;

/// \brief Statistics of windows held by one rank: its first window's index and, per window,
/// entropy (bits), types and tokens.
struct WindowStats {
  std::uint64_t first = 0;
  std::vector<double> entropy;
  std::vector<std::uint32_t> types;
  std::vector<std::uint64_t> tokens;
};

/// \brief Statistics of consecutive windows of `window` tokens over a stream distributed in
/// rank order (rank r's tokens precede rank r+1's). Each rank feeds its own tokens in stream
/// order, in runs of any length (`add`), and gets the windows whose first token it holds
/// (`finish`; the last window may be shorter). The stream is read once, one window at a time:
/// memory O(window), whatever the stream's length. A window that straddles ranks is merged at the
/// rank holding its first token, from integer partial histograms, so the figures do not depend on
/// the rank count or on how the runs are cut.
class WindowAccumulator {
 public:
  /// This rank's tokens are [begin, begin + count) of the stream (`begin`: an exclusive scan of
  /// the counts in rank order).
  WindowAccumulator(std::uint64_t window, std::uint64_t begin, std::uint64_t count);
  /// The next tokens of this rank's share, in order.
  void add(std::span<const std::uint32_t> buckets);
  /// Collective. An error when the tokens added are not `count`.
  WindowStats finish(const Communicator& comm);

 private:
  void close();  // the window being filled is complete here
  std::uint64_t _window, _begin, _end, _pos;
  std::vector<std::uint32_t> _buf;                             // the current window's buckets
  std::vector<std::pair<std::uint32_t, std::uint32_t>> _head;  // partial first window, if not mine
  std::vector<std::pair<std::uint32_t, std::uint32_t>> _tail;  // my last window, may go on
  std::uint64_t _headWindow = UINT64_MAX, _tailWindow = UINT64_MAX, _ownFirst = UINT64_MAX;
  WindowStats _out;
};

/// \brief Config section [audit].
struct AuditParams {
  bool enabled = true;
  std::uint64_t batchTokens = 65536;
  double floorPercentile = 1.0;
  double absoluteFloor = 0;  ///< bits; 0 = use the calibrated floor only
};

/// \brief A block of consecutive audit batches held by this rank.
struct BatchBlock {
  std::uint64_t first = 0;
  std::vector<double> entropy;
  std::vector<std::uint32_t> types;
  std::vector<std::uint64_t> tokens;
  std::vector<std::uint8_t> hold;
};

/// \brief The audit's result (/audit): global figures and this rank's batches.
struct AuditSummary {
  bool enabled = false;
  std::uint64_t batchTokens = 0, anchorWindows = 0, batches = 0, held = 0;
  double floorPercentile = 0, floorBits = 0, absoluteFloor = 0;
  BatchBlock block;
};

struct MixPass;

/// \brief Audit the planned mix: batches of the training stream (the mix pass's copies in
/// training order, their token buckets exchanged one round of the key space at a time) against
/// the calibrated floor from same-size anchor windows (`mix.anchorWindows`). Consumes the mix
/// pass's token records. Collective.
AuditSummary runAudit(const Communicator& comm, const AuditParams& params, MixPass& mix);

}  // namespace cleanmix
