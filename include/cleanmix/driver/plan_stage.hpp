#pragma once
/// \file
/// \brief The plan stage: eligibility and quality gates, budget allocation (plan/allocate.hpp),
/// importance weights toward the anchor, and integer repeats per document. Collective; the
/// result does not depend on the rank count.
#include <cstdint>

#include "cleanmix/cli/config.hpp"
#include "cleanmix/core/tables.hpp"

namespace cleanmix {

class Communicator;

/// \brief Fill docs.repeats and run.plan (all but the coverage), update verdicts (low_quality,
/// synthetic_capped). `docOffset` is the global doc_id of local row 0.
void planStage(const Communicator& comm, const RunConfig& cfg, DocRows& docs,
               std::uint64_t docOffset, RunOutput::Plan& plan);

/// \brief The counter-based uniform in [0, 1) keyed by (seed, doc_id) used to integerise repeats.
double planUniform(std::uint64_t seed, std::uint64_t docId);

}  // namespace cleanmix
