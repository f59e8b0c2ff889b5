#pragma once
/// \file
/// \brief The write stage (DESIGN.md "Output"): the tables are assembled from the stage results
/// (output/schema.hpp) and written collectively to `<out>.partial`, renamed to `<out>` once
/// every rank has closed it. Table-driven: each table is a list of fields; /docs iterates the
/// column registry (core/columns.hpp).
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <vector>

#include "cleanmix/core/progress.hpp"
#include "cleanmix/output/schema.hpp"

namespace cleanmix {

class Communicator;

/// \brief The write stage: assemble, then write the run file; the /timing row is taken (lap
/// "write") just before /timing is written. Rank 0 prints the closing line (documents,
/// quarantined, input lines reconciled or not, seconds, peak RSS). Collective.
void runWrite(const Communicator& comm, const std::filesystem::path& out, const RunInfo& info,
              StageResults&& results, PhaseTimer& timer);

/// \brief Write every table. Collective over `comm`. Throws Error on failure. `timingNow` is
/// called just before /timing is written (last), so the write phase can time itself.
void writeRunFile(const Communicator& comm, const std::filesystem::path& out, const RunOutput& run,
                  const std::function<std::vector<double>()>& timingNow);

/// \brief Print a human summary of a run file; with `digest`, one XXH3 line per dataset (all
/// but /timing) for comparing runs. Returns 0, or throws Error.
int inspectFile(const std::filesystem::path& file, bool digest, std::ostream& os);

}  // namespace cleanmix
