// cleanmix: one MPI program from corpus shards to a scored, provenance-labelled HDF5 file.
#include <mpi.h>

#include <CLI/CLI.hpp>
#include <Kokkos_Core.hpp>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>

#include "cleanmix/cli/config.hpp"
#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/config.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/core/kokkos_compat.hpp"
#include "cleanmix/driver/run.hpp"
#include "cleanmix/io/jsonl.hpp"
#include "cleanmix/kernels/signals.hpp"
#include "cleanmix/output/writer.hpp"
#include "cleanmix/simulate/simulate.hpp"
#include "cleanmix/stages/index.hpp"

namespace {

/// Rank from the launcher's environment, before MPI_Init (for usage errors).
int launcherRank() {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"})
    if (const char* s = std::getenv(v)) return std::atoi(s);
  return 0;
}

std::string versionText() {
  return fmt::format("cleanmix {} (schema {}, Kokkos backends: {})", CLEANMIX_VERSION,
                     CLEANMIX_SCHEMA_VERSION, CLEANMIX_KOKKOS_BACKENDS);
}

struct Args {
  std::string config, out, workdir;
  std::vector<std::string> sets;
  bool resume = false;
  std::string inspectFile;
  bool digest = false;
  std::string materialize, modelOut, reportOut;
  int generations = -1;  ///< simulate: overrides simulate.generations
  std::string input;     ///< tokenize: JSONL input
  bool summaryOnly = false;
};

/// MPI + Kokkos for the commands that need them; exceptions become exit codes here.
int withRuntime(int argc, char** argv,
                const std::function<int(const cleanmix::Communicator&)>& body) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int worldRank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &worldRank);
  int code = 0;
  {
    cleanmix::kx::initialize();
    try {
      cleanmix::Communicator comm(MPI_COMM_WORLD);
      code = body(comm);
    } catch (const cleanmix::ConfigError& e) {
      if (worldRank == 0) fmt::print(stderr, "[rank {}] config error: {}\n", worldRank, e.what());
      code = 2;
    } catch (const cleanmix::CollectiveError& e) {
      if (worldRank == 0) fmt::print(stderr, "[rank {}] fatal: {}\n", worldRank, e.what());
      code = 1;
    } catch (const std::exception& e) {
      // One rank failed alone: the others may be inside a collective, so end the whole job.
      fmt::print(stderr, "[rank {}] fatal: {}\n", worldRank, e.what());
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 1);
      return 1;
    }
    Kokkos::finalize();
  }
  MPI_Finalize();
  return code;
}

/// Every rank reads the config; they agree on the outcome before any other collective.
cleanmix::RunConfig loadRunConfig(const cleanmix::Communicator& comm, const Args& a) {
  cleanmix::RunConfig cfg;
  std::string err;
  try {
    cfg = cleanmix::loadConfig(a.config, a.sets);
    if (!a.out.empty()) cfg.run.output = std::filesystem::absolute(a.out);
    if (!a.workdir.empty())
      cfg.run.workdir = std::filesystem::absolute(a.workdir);
    else if (!a.out.empty())
      cfg.run.workdir = cfg.run.output.string() + ".work";
  } catch (const cleanmix::ConfigError& e) {
    err = e.what();
  }
  if (!comm.allOk(err.empty())) {
    if (err.empty()) err = "cleanmix::loadConfig: the config failed to load on another rank";
    throw cleanmix::ConfigError(err);
  }
  return cfg;
}

int inspectCommand(const Args& a) {
  try {
    return cleanmix::inspectFile(a.inspectFile, a.digest, std::cout);
  } catch (const std::exception& e) {
    fmt::print(stderr, "fatal: {}\n", e.what());
    return 1;
  }
}

/// `cleanmix tokenize CONFIG --input F.jsonl`: the configured tokenizer's ids of every record's
/// text, one JSON array per line (no EOD), or with --summary only the totals and the encode
/// throughput (one thread; load time excluded), for tests/tokenizers and perf/tokenizers.sh.
int tokenizeCommand(const Args& a) {
  try {
    const cleanmix::RunConfig cfg = cleanmix::loadConfig(a.config, a.sets);
    const auto tok = cleanmix::makeTokenizer(cfg.tokenizer);
    std::ifstream in(a.input, std::ios::binary);
    if (!in) {
      fmt::print(stderr, "error: cannot open '{}'\n", a.input);
      return 2;
    }
    cleanmix::JsonlParser parser;
    std::string line, padded, out;
    std::vector<std::uint64_t> ids;
    std::uint64_t docs = 0, bytes = 0, tokens = 0, lineNo = 0;
    double seconds = 0;
    while (std::getline(in, line)) {
      ++lineNo;
      padded.assign(line);
      padded.append(64, '\0');
      const auto parsed = parser.parse(std::string_view(padded.data(), line.size()), "text");
      if (!parsed.ok) {
        fmt::print(stderr, "error: {}:{}: {}\n", a.input, lineNo, parsed.reason);
        return 2;
      }
      ids.clear();
      const auto t0 = std::chrono::steady_clock::now();
      tok->encode(parsed.text, ids);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ++docs;
      bytes += parsed.text.size();
      tokens += ids.size();
      if (a.summaryOnly) continue;
      out.assign("[");
      for (std::size_t i = 0; i < ids.size(); ++i)
        fmt::format_to(std::back_inserter(out), "{}{}", i ? "," : "", ids[i]);
      out += "]\n";
      std::fwrite(out.data(), 1, out.size(), stdout);
    }
    if (a.summaryOnly)
      fmt::print(
          "{{\"tokenizer\": \"{}\", \"documents\": {}, \"bytes\": {}, \"tokens\": {}, "
          "\"seconds\": {:.6f}, \"mb_per_s\": {:.3f}, \"tokens_per_s\": {:.0f}}}\n",
          tok->identity().name, docs, bytes, tokens, seconds,
          seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0,
          seconds > 0 ? static_cast<double>(tokens) / seconds : 0.0);
    return 0;
  } catch (const cleanmix::ConfigError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "fatal: {}\n", e.what());
    return 1;
  }
}

/// The plots are drawn by scripts/report.py with Debian's python3-h5py and matplotlib.
int reportCommand(const Args& a) {
  const char* env = std::getenv("CLEANMIX_REPORT_SCRIPT");
  std::string script = env ? env : CLEANMIX_REPORT_SCRIPT_INSTALLED;
  if (!std::filesystem::exists(script)) script = CLEANMIX_REPORT_SCRIPT_SOURCE;
  if (!std::filesystem::exists(script)) {
    fmt::print(stderr, "fatal: report script not found (set CLEANMIX_REPORT_SCRIPT)\n");
    return 1;
  }
  std::vector<std::string> args{"/usr/bin/python3", script, a.inspectFile, "--out", a.reportOut};
  std::vector<char*> argv2;
  argv2.reserve(args.size() + 1);
  for (auto& x : args) argv2.push_back(x.data());
  argv2.push_back(nullptr);
  ::execv(argv2[0], argv2.data());
  fmt::print(stderr,
             "fatal: cannot run /usr/bin/python3 (apt-get install python3-h5py "
             "python3-matplotlib): {}\n",
             std::strerror(errno));
  return 1;
}

int runCommand(const cleanmix::Communicator& comm, const Args& a) {
  const auto cfg = loadRunConfig(comm, a);
  if (comm.isRoot()) {
    const auto scorer = cleanmix::makeSignalScorer(cfg.score.backend);
    fmt::print(stderr, "[cleanmix] {} on {} ranks, kernels on Kokkos {} (concurrency {})\n",
               versionText(), comm.size(), scorer->backend(), scorer->concurrency());
  }
  cleanmix::RunOptions opts;
  opts.resume = a.resume;
  if (!a.materialize.empty())
    opts.materializeDir = std::filesystem::absolute(a.materialize).string();
  return cleanmix::runPipeline(cfg, comm, opts);
}

int calibrateCommand(const cleanmix::Communicator& comm, const Args& a) {
  auto cfg = loadRunConfig(comm, a);
  cfg.classifier.enabled = true;
  cfg.classifier.model.clear();  // calibrate always fits
  cleanmix::RunOptions opts;
  opts.calibrateOnly = true;
  opts.modelOut =
      a.modelOut.empty() ? std::filesystem::path(a.config).stem().string() + ".model" : a.modelOut;
  return cleanmix::runPipeline(cfg, comm, opts);
}

/// The collapse simulation: arms x seeds x generations, written to DIR/simulate.{h5,csv}.
int simulateCommand(const cleanmix::Communicator& comm, const Args& a) {
  auto cfg = loadRunConfig(comm, a);
  if (a.generations >= 0) cfg.simulate.generations = a.generations;
  const auto& p = cfg.simulate;
  if (comm.isRoot())
    fmt::print(stderr,
               "[cleanmix] simulate on {} ranks: model {}, arms {}, {} generations x {} seeds, "
               "{}\n",
               comm.size(), p.model, fmt::join(p.arms, ","), p.generations, p.seeds,
               p.model == "unigram"
                   ? fmt::format("Zipf s = {} over {} types, {} tokens per generation", p.zipfS,
                                 p.vocab, p.tokensPerGeneration)
                   : std::string("generation 0 = the config's human pool text"));
  const std::filesystem::path dir = std::filesystem::absolute(a.out);
  cleanmix::SimulateInputs in;
  in.sources = cfg.sources;
  in.ingest = cfg.ingest;
  in.tokenizer = cfg.tokenizer;
  in.lambda = {cfg.lm.lambda[0], cfg.lm.lambda[1], cfg.lm.lambda[2]};
  in.workdir = dir / "cleanmix-arm";
  // The cleanmix arm's plan is the real pipeline, run on the pool the simulation wrote.
  in.pipeline = [&](const std::vector<cleanmix::SourceConfig>& sources, double budget,
                    const std::filesystem::path& out, const std::filesystem::path& mixDir) {
    cleanmix::RunConfig run = cfg;
    run.sources = sources;
    run.plan.budget = budget;
    run.run.output = out;
    run.run.workdir = out.string() + ".work";
    run.run.keepCheckpoints = false;
    cleanmix::RunOptions opts;
    opts.materializeDir = mixDir.string();
    const int rc = cleanmix::runPipeline(run, comm, opts);
    if (rc != 0)
      throw cleanmix::CollectiveError(fmt::format(
          "simulate: the cleanmix arm's pipeline run {} ended with status {}", out.string(), rc));
  };
  const auto result = cleanmix::runSimulate(comm, p, cfg.run.seed, in);
  cleanmix::writeSimulate(comm, p, cfg.run.seed, result, dir);
  if (comm.isRoot()) {
    fmt::print("{}", cleanmix::simulateSummary(p, result));
    fmt::print(stderr, "[cleanmix] simulate: {} rows in {:.2f} s -> {}\n", result.rows.size(),
               result.seconds, (dir / "simulate.h5").string());
  }
  return 0;
}

/// Parse-only pass (read, decompress, JSON) over this rank's pieces: perf/'s floor.
int benchParseCommand(const cleanmix::Communicator& comm, const Args& a) {
  const auto cfg = loadRunConfig(comm, a);
  cleanmix::Corpus corpus;
  corpus.sources = &cfg.sources;
  corpus.table = cleanmix::indexShards(comm, cfg.sources, cfg.ingest);
  corpus.assign = cleanmix::assignPieces(corpus.table, comm.size());
  corpus.begin = corpus.assign.begin(comm.rank());
  corpus.end = corpus.assign.end(comm.rank());
  comm.barrier();
  const double t0 = MPI_Wtime();
  std::uint64_t lines = 0, docs = 0;
  const std::uint64_t bytes = cleanmix::parseOnlyPass(corpus, cfg.ingest, lines, docs);
  const double el = MPI_Wtime() - t0;
  const double maxEl = comm.allreduceMax(el);
  const std::uint64_t totalBytes = comm.allreduceSum(bytes);
  const std::uint64_t totalLines = comm.allreduceSum(lines);
  if (comm.isRoot())
    fmt::print("parse-only: {} ranks, {} bytes, {} lines, {:.3f} s, {:.1f} MB/s per rank\n",
               comm.size(), totalBytes, totalLines, maxEl,
               static_cast<double>(totalBytes) / 1e6 / maxEl / comm.size());
  return 0;
}

/// The command line. Returns the subcommand chosen, or null with `exitCode` set (help,
/// version, usage error).
CLI::App* parseArgs(CLI::App& app, Args& a, int argc, char** argv, int& exitCode) {
  app.set_version_flag("--version", versionText());
  app.require_subcommand(1);
  auto* run =
      app.add_subcommand("run", "Run the pipeline on a config (under mpirun/srun or alone)");
  run->add_option("config", a.config, "TOML config file")->required();
  run->add_option("--out", a.out, "Output HDF5 file (overrides run.output)");
  run->add_option("--workdir", a.workdir, "Work directory for checkpoints (overrides run.workdir)");
  run->add_flag("--resume", a.resume, "Skip work a previous run of this config completed");
  run->add_option("--set", a.sets, "Override a config key: section.key=value (repeatable)");
  run->add_option("--materialize", a.materialize,
                  "Write the planned mix (training order) and the anchor split as JSONL shards, "
                  "with a manifest, to this directory");

  auto* inspect = app.add_subcommand("inspect", "Print a human summary of a run file");
  inspect->add_option("file", a.inspectFile, "cleanmix HDF5 output")
      ->required()
      ->check(CLI::ExistingFile);
  inspect->add_flag("--digest", a.digest, "Print a checksum per dataset (all but /timing)");

  auto* calibrate =
      app.add_subcommand("calibrate",
                         "Fit the provenance classifier on the config's labelled sources, report "
                         "held-out metrics and write the model file");
  calibrate->add_option("config", a.config, "TOML config file")->required();
  calibrate->add_option("--out", a.modelOut, "Model file to write (default: <config stem>.model)");
  calibrate->add_option("--set", a.sets, "Override a config key: section.key=value (repeatable)");

  auto* report = app.add_subcommand("report", "Write an HTML report with plots of a run file");
  report->add_option("file", a.inspectFile, "cleanmix HDF5 output")
      ->required()
      ->check(CLI::ExistingFile);
  report->add_option("--out", a.reportOut, "Output directory")->required();

  auto* simulate = app.add_subcommand(
      "simulate",
      "Collapse simulation: recursive training on generated text under each arm ([simulate])");
  simulate->add_option("config", a.config, "TOML config file")->required();
  simulate
      ->add_option("--generations", a.generations, "Generations (overrides simulate.generations)")
      ->check(CLI::Range(0, 100000));
  simulate->add_option("--out", a.out, "Output directory (simulate.h5, simulate.csv)")->required();
  simulate->add_option("--set", a.sets, "Override a config key: section.key=value (repeatable)");

  auto* tokenize = app.add_subcommand(
      "tokenize",
      "Print the configured tokenizer's ids of each JSONL record's text (one array per line)");
  tokenize->add_option("config", a.config, "TOML config file ([tokenizer] is used)")->required();
  tokenize->add_option("--input", a.input, "JSON Lines file with a \"text\" field")->required();
  tokenize->add_option("--set", a.sets, "Override a config key: section.key=value (repeatable)");
  tokenize->add_flag("--summary", a.summaryOnly, "Print only totals and encode throughput");

  auto* bench =
      app.add_subcommand("bench-parse", "Parse-only pass (read, decompress, JSON) for perf/");
  bench->add_option("config", a.config, "TOML config file")->required();
  bench->add_option("--set", a.sets, "Override a config key");
  bench->group("");  // hidden
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    exitCode = app.exit(e);
    return nullptr;
  } catch (const CLI::ParseError& e) {
    if (launcherRank() == 0) app.exit(e);
    exitCode = 2;
    return nullptr;
  }
  return app.get_subcommands().front();
}

int dispatch(int argc, char** argv) {
  CLI::App app{
      "cleanmix: contamination-controlled pretraining mixes (MPI + Kokkos + parallel HDF5)",
      "cleanmix"};
  Args a;
  int exitCode = 0;
  const CLI::App* cmd = parseArgs(app, a, argc, argv, exitCode);
  if (!cmd) return exitCode;
  const std::string name = cmd->get_name();
  if (name == "inspect") return inspectCommand(a);
  if (name == "report") return reportCommand(a);
  if (name == "tokenize") return tokenizeCommand(a);
  using Body = int (*)(const cleanmix::Communicator&, const Args&);
  const Body body = name == "run"         ? runCommand
                    : name == "calibrate" ? calibrateCommand
                    : name == "simulate"  ? simulateCommand
                                          : benchParseCommand;
  return withRuntime(argc, argv, [&](const cleanmix::Communicator& comm) { return body(comm, a); });
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return dispatch(argc, argv);
  } catch (const std::exception& e) {  // only before MPI starts: withRuntime catches the rest
    fmt::print(stderr, "fatal: {}\n", e.what());
    return 1;
  }
}
