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

/// \brief A run of the global token stream held by this rank: tokens [start, start + size).
struct StreamSegment {
  std::uint64_t start = 0;
  std::vector<std::uint32_t> buckets;
};

/// \brief A view of a run of the stream (the buckets stay where they are).
struct SegmentView {
  std::uint64_t start = 0;
  std::span<const std::uint32_t> buckets;
};

/// \brief Statistics of consecutive windows of `window` tokens over a stream distributed in
/// rank order (rank r's segments precede rank r+1's; a rank's segments are consecutive and in
/// order). Returns the windows whose first token this rank holds: their first index and, per
/// window, entropy (bits), types and tokens. The last window may be shorter. The stream is read
/// once, one window at a time: memory O(window) besides the segments. Collective.
struct WindowStats {
  std::uint64_t first = 0;
  std::vector<double> entropy;
  std::vector<std::uint32_t> types;
  std::vector<std::uint64_t> tokens;
};
WindowStats windowStats(const Communicator& comm, const std::vector<SegmentView>& segments,
                        std::uint64_t window);

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
/// training order) against the calibrated floor from same-size anchor windows. Collective.
AuditSummary runAudit(const Communicator& comm, const AuditParams& params, const MixPass& mix);

}  // namespace cleanmix
