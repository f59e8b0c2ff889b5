#pragma once
/// \file
/// \brief Writes the run file (DESIGN.md "Output") collectively: to `<out>.partial`, renamed to
/// `<out>` once every rank has closed it.
#include <filesystem>
#include <functional>
#include <vector>

#include "cleanmix/core/tables.hpp"

namespace cleanmix {

class Communicator;

/// \brief Write every table. Collective over `comm`. Throws Error on failure. `timingNow` is
/// called just before /timing is written (last), so the write phase can time itself.
void writeRunFile(const Communicator& comm, const std::filesystem::path& out, const RunOutput& run,
                  const std::function<std::vector<double>()>& timingNow);

/// \brief Print a human summary of a run file; with `digest`, one XXH3 line per dataset (all
/// but /timing) for comparing runs. Returns 0, or throws Error.
int inspectFile(const std::filesystem::path& file, bool digest, std::ostream& os);

}  // namespace cleanmix
