#include "cleanmix/cli/config.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "cleanmix/core/columns.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/core/utf8.hpp"

namespace cleanmix {
namespace fs = std::filesystem;

namespace {

enum class Kind { String, Integer, Float, StringList, Bool, FloatList, StringOrInteger };

const char* kindName(Kind k) {
  switch (k) {
    case Kind::String: return "a string";
    case Kind::Integer: return "an integer";
    case Kind::Float: return "a number";
    case Kind::StringList: return "a string or an array of strings";
    case Kind::Bool: return "a boolean";
    case Kind::FloatList: return "an array of numbers";
    case Kind::StringOrInteger: return "a string or an integer";
  }
  return "?";
}

/// Keys each section accepts. Sections of later stages are added with their stages.
const std::map<std::string, std::map<std::string, Kind>>& schema() {
  static const std::map<std::string, std::map<std::string, Kind>> s{
      {"run",
       {{"output", Kind::String},
        {"workdir", Kind::String},
        {"seed", Kind::Integer},
        {"progress_seconds", Kind::Float},
        {"checkpoint", Kind::Bool},
        {"checkpoint_seconds", Kind::Float},
        {"keep_checkpoints", Kind::Bool}}},
      {"tokenizer",
       {{"kind", Kind::String},
        {"vocab_bits", Kind::Integer},
        {"model", Kind::String},
        {"preset", Kind::String},
        {"pattern", Kind::String},
        {"eod", Kind::StringOrInteger},
        {"append_eod", Kind::Bool}}},
      {"lm",
       {{"table_bits", Kind::Integer},
        {"contrast_table_bits", Kind::Integer},
        {"lambdas", Kind::FloatList}}},
      {"dedup",
       {{"enabled", Kind::Bool},
        {"bands", Kind::Integer},
        {"rows", Kind::Integer},
        {"shingle", Kind::Integer}}},
      {"decontam", {{"ngram", Kind::Integer}, {"min_words", Kind::Integer}}},
      {"plan",
       {{"enabled", Kind::Bool},
        {"token_budget", Kind::Integer},
        {"allocation", Kind::String},
        {"temperature_alpha", Kind::Float},
        {"max_epochs", Kind::Float},
        {"synthetic_cap", Kind::Float},
        {"max_repeats", Kind::Integer},
        {"tail_boost", Kind::Float},
        {"unknown_provenance", Kind::String},
        {"cover_first", Kind::Bool},
        {"max_dup_line_frac", Kind::Float},
        {"max_top2gram_frac", Kind::Float},
        {"max_dup5gram_frac", Kind::Float},
        {"min_tokens", Kind::Integer},
        {"max_tokens", Kind::Integer}}},
      {"audit",
       {{"enabled", Kind::Bool},
        {"batch_tokens", Kind::Integer},
        {"floor_percentile", Kind::Float},
        {"absolute_floor", Kind::Float}}},
      {"materialize",
       {{"shard_bytes", Kind::Integer}, {"format", Kind::String}, {"round_bytes", Kind::Integer}}},
      {"classifier",
       {{"enabled", Kind::Bool},
        {"model", Kind::String},
        {"decision", Kind::String},
        {"target_fpr", Kind::Float},
        {"l2", Kind::Float},
        {"nb_bits", Kind::Integer},
        {"max_train_docs", Kind::Integer},
        {"features", Kind::StringList},
        {"threshold_from", Kind::String},
        {"cv_lm", Kind::String},
        {"abstain_quantile", Kind::Float}}},
      {"simulate",
       {{"model", Kind::String},
        {"arms", Kind::StringList},
        {"vocab", Kind::Integer},
        {"zipf_s", Kind::Float},
        {"tokens_per_generation", Kind::Integer},
        {"doc_tokens", Kind::Integer},
        {"generations", Kind::Integer},
        {"seeds", Kind::Integer},
        {"anchor_share", Kind::Float},
        {"smoothing", Kind::Float},
        {"tail_rank", Kind::Integer},
        {"real_sources", Kind::StringList},
        {"heldout_every", Kind::Integer},
        {"keep_runs", Kind::Bool}}},
      {"ingest", {{"max_line_bytes", Kind::Integer}, {"split_bytes", Kind::Integer}}},
      {"score",
       {{"batch_bytes", Kind::Integer}, {"omp_threads", Kind::Integer}, {"backend", Kind::String}}},
      {"sources",
       {{"name", Kind::String},
        {"paths", Kind::StringList},
        {"provenance", Kind::String},
        {"role", Kind::String},
        {"text_key", Kind::String},
        {"group_key", Kind::String},
        {"format", Kind::String}}},
  };
  return s;
}

struct Ctx {
  std::string file;
  std::string where(const toml::node& n) const {
    const auto& src = n.source();
    if (src.begin.line == 0) return file + " (--set)";
    return fmt::format("{}:{}", file, src.begin.line);
  }
};

bool hasKind(const toml::node& n, Kind k) {
  switch (k) {
    case Kind::String: return n.is_string();
    case Kind::Integer: return n.is_integer();
    case Kind::Float: return n.is_number();
    case Kind::Bool: return n.is_boolean();
    case Kind::FloatList:
      if (const auto* a = n.as_array()) {
        for (const auto& e : *a)
          if (!e.is_number()) return false;
        return true;
      }
      return false;
    case Kind::StringOrInteger: return n.is_string() || n.is_integer();
    case Kind::StringList:
      if (n.is_string()) return true;
      if (const auto* a = n.as_array()) {
        for (const auto& e : *a)
          if (!e.is_string()) return false;
        return true;
      }
      return false;
  }
  return false;
}

void checkTable(const Ctx& ctx, const toml::table& t, const std::string& section) {
  const auto& keys = schema().at(section);
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    auto it = keys.find(key);
    if (it == keys.end())
      configFail("loadConfig", "{}: unknown key '{}.{}'", ctx.where(v), section, key);
    if (!hasKind(v, it->second))
      configFail("loadConfig", "{}: key '{}.{}' must be {}", ctx.where(v), section, key,
                 kindName(it->second));
  }
}

void validate(const Ctx& ctx, const toml::table& root) {
  for (const auto& [k, v] : root) {
    const std::string key(k.str());
    if (!schema().count(key))
      configFail("loadConfig", "{}: unknown key or section '{}'", ctx.where(v), key);
    if (key == "sources") {
      const auto* arr = v.as_array();
      if (!arr || !arr->is_array_of_tables())
        configFail("loadConfig", "{}: 'sources' must be an array of tables ([[sources]])",
                   ctx.where(v));
      for (const auto& e : *arr) checkTable(ctx, *e.as_table(), key);
    } else {
      const auto* t = v.as_table();
      if (!t) configFail("loadConfig", "{}: '{}' must be a table ([{}])", ctx.where(v), key, key);
      checkTable(ctx, *t, key);
    }
  }
}

template <class T>
T get(const toml::table& root, const char* section, const char* key, T dflt) {
  if (auto v = root[section][key].value<T>()) return *v;
  return dflt;
}

std::uint64_t getPositive(const Ctx& ctx, const toml::table& root, const char* section,
                          const char* key, std::uint64_t dflt, std::uint64_t lo, std::uint64_t hi) {
  const toml::node* n = root[section][key].node();
  if (!n) return dflt;
  const std::int64_t v = n->value<std::int64_t>().value_or(-1);
  if (v < 0 || static_cast<std::uint64_t>(v) < lo || static_cast<std::uint64_t>(v) > hi)
    configFail("loadConfig", "{}: key '{}.{}' = {} is out of range [{}, {}]", ctx.where(*n),
               section, key, v, lo, hi);
  return static_cast<std::uint64_t>(v);
}

fs::path resolve(const fs::path& base, const std::string& p) {
  fs::path q(p);
  return q.is_absolute() ? q.lexically_normal() : (base / q).lexically_normal();
}

/// Apply one `a.b.c=value` override. `sources.<name>.<key>` addresses a source by name.
void applyOverride(toml::table& root, const std::string& kv) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    configFail("loadConfig", "--set '{}': expected key=value", kv);
  const std::string key = kv.substr(0, eq);
  const std::string raw = kv.substr(eq + 1);
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  if (parts.size() < 2) configFail("loadConfig", "--set '{}': key must be section.key", kv);

  // Parse the value as TOML; a bare word becomes a string.
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + raw, std::string_view{"--set"});
  } catch (const toml::parse_error&) {
    // toml++ does not check strings built in code: without this, bytes that are not UTF-8 would
    // reach the run but be recorded (effectiveToml) as other characters.
    if (!isValidUtf8(raw)) configFail("loadConfig", "--set '{}': the value is not valid UTF-8", kv);
    parsed = toml::table{};
    parsed.insert("v", raw);
  }
  toml::node& value = *parsed.get("v");

  toml::table* target = nullptr;
  std::string leaf;
  if (parts[0] == "sources") {
    if (parts.size() != 3) configFail("loadConfig", "--set '{}': use sources.<name>.<key>", kv);
    auto* arr = root["sources"].as_array();
    if (arr)
      for (auto& e : *arr)
        if (auto* t = e.as_table(); t && (*t)["name"].value<std::string>() == parts[1]) target = t;
    if (!target) configFail("loadConfig", "--set '{}': no source named '{}'", kv, parts[1]);
    leaf = parts[2];
  } else {
    if (parts.size() != 2) configFail("loadConfig", "--set '{}': key must be section.key", kv);
    if (!root.contains(parts[0])) root.insert(parts[0], toml::table{});
    target = root[parts[0]].as_table();
    if (!target) configFail("loadConfig", "--set '{}': '{}' is not a table", kv, parts[0]);
    leaf = parts[1];
  }
  target->insert_or_assign(leaf, std::move(value));
}

// ---- one parser per section ----------------------------------------------------------------

RunParams parseRun(const Ctx& ctx, const toml::table& root, const fs::path& baseDir,
                   const std::string& displayName) {
  RunParams r;
  const fs::path stemDefault = fs::path(displayName).stem();
  r.output = resolve(
      baseDir, get<std::string>(root, "run", "output", "out/" + stemDefault.string() + ".h5"));
  r.workdir = root["run"]["workdir"]
                  ? resolve(baseDir, *root["run"]["workdir"].value<std::string>())
                  : fs::path(r.output.string() + ".work");
  r.seed = getPositive(ctx, root, "run", "seed", 42, 0, UINT64_MAX >> 1);
  r.progressSeconds = get<double>(root, "run", "progress_seconds", 5.0);
  r.checkpoint = get<bool>(root, "run", "checkpoint", true);
  r.checkpointSeconds = get<double>(root, "run", "checkpoint_seconds", 300.0);
  if (!(r.checkpointSeconds > 0))
    configFail("loadConfig", "{}: run.checkpoint_seconds must be > 0",
               ctx.where(*root["run"]["checkpoint_seconds"].node()));
  r.keepCheckpoints = get<bool>(root, "run", "keep_checkpoints", false);
  return r;
}

TokenizerParams parseTokenizer(const Ctx& ctx, const toml::table& root, const fs::path& baseDir) {
  TokenizerParams t;
  t.kind = get<std::string>(root, "tokenizer", "kind", "words");
  const auto& kinds = tokenizerKinds();
  if (std::find(kinds.begin(), kinds.end(), t.kind) == kinds.end())
    configFail("loadConfig", "{}: tokenizer.kind = '{}' is not available (known: {})",
               ctx.where(*root["tokenizer"]["kind"].node()), t.kind, fmt::join(kinds, ", "));
  if (const auto m = root["tokenizer"]["model"].value<std::string>())
    t.model = resolve(baseDir, *m).string();
  t.preset = get<std::string>(root, "tokenizer", "preset", "");
  t.pattern = get<std::string>(root, "tokenizer", "pattern", "");
  if (const auto id = root["tokenizer"]["eod"].value<std::int64_t>())
    t.eod = fmt::format("#{}", *id);
  else
    t.eod = get<std::string>(root, "tokenizer", "eod", "");
  t.appendEod = get<bool>(root, "tokenizer", "append_eod", false);
  if (t.kind == "words") {
    for (const char* k : {"model", "preset", "pattern"})
      if (root["tokenizer"][k])
        configFail("loadConfig", "{}: tokenizer.{} needs a model tokenizer (tokenizer.kind)",
                   ctx.where(*root["tokenizer"][k].node()), k);
    t.vocabBits = static_cast<int>(getPositive(ctx, root, "tokenizer", "vocab_bits", 20, 8, 28));
    if (!t.eod.empty() || t.appendEod) makeTokenizer(t);  // the error names the problem
    return t;
  }
  // A model tokenizer: load it now, so a bad file is an error before any work starts, and size
  // the histograms to its vocabulary (exact ids).
  const auto tok = makeTokenizer(t);
  const int need = vocabBitsFor(*tok);
  if (need > 28)
    configFail("loadConfig",
               "tokenizer.model '{}': a vocabulary of {} needs 2^{} buckets (at most "
               "2^28)",
               t.model, tok->identity().vocabSize, need);
  t.vocabBits = need;
  if (const auto vb = root["tokenizer"]["vocab_bits"].value<std::int64_t>()) {
    if (*vb < need)
      configFail("loadConfig",
                 "{}: tokenizer.vocab_bits = {} is too small for the vocabulary of {} "
                 "tokens in '{}' (needs {}; leave it unset to follow the vocabulary)",
                 ctx.where(*root["tokenizer"]["vocab_bits"].node()), *vb, tok->identity().vocabSize,
                 t.model, need);
    t.vocabBits = static_cast<int>(std::min<std::int64_t>(*vb, 28));
  }
  return t;
}

IngestParams parseIngest(const Ctx& ctx, const toml::table& root) {
  IngestParams i;
  i.maxLineBytes = getPositive(ctx, root, "ingest", "max_line_bytes", 16u << 20, 64, 1ull << 31);
  i.splitBytes = getPositive(ctx, root, "ingest", "split_bytes", 64u << 20, 4096, 1ull << 40);
  return i;
}

ScoreParams parseScore(const Ctx& ctx, const toml::table& root) {
  ScoreParams s;
  s.batchBytes = getPositive(ctx, root, "score", "batch_bytes", 8u << 20, 1024, 1ull << 34);
  s.backend = get<std::string>(root, "score", "backend", "default");
  s.ompThreads = static_cast<int>(getPositive(ctx, root, "score", "omp_threads", 0, 0, 1024));
  return s;
}

LmParams parseLm(const Ctx& ctx, const toml::table& root, int vocabBits) {
  LmParams l;
  l.unigramBits = vocabBits;
  l.tableBits = static_cast<int>(getPositive(ctx, root, "lm", "table_bits", 21, 10, 30));
  l.contrastTableBits =
      static_cast<int>(getPositive(ctx, root, "lm", "contrast_table_bits", 19, 0, 30));
  if (l.contrastTableBits > 0 && l.contrastTableBits < 10)
    configFail("loadConfig", "{}: lm.contrast_table_bits must be 0 (no contrast LM) or 10..30",
               ctx.where(*root["lm"]["contrast_table_bits"].node()));
  if (const auto* lam = root["lm"]["lambdas"].as_array()) {
    double sum = 0;
    if (lam->size() != 3)
      configFail("loadConfig", "{}: lm.lambdas must have 3 weights (unigram, bigram, trigram)",
                 ctx.where(*lam));
    for (std::size_t k = 0; k < 3; ++k) {
      l.lambda[k] = lam->get(k)->value<double>().value_or(-1.0);
      if (l.lambda[k] < 0) configFail("loadConfig", "{}: lm.lambdas must be >= 0", ctx.where(*lam));
      sum += l.lambda[k];
    }
    if (l.lambda[0] <= 0 || std::abs(sum - 1.0) > 1e-9)
      configFail("loadConfig", "{}: lm.lambdas must sum to 1 with a unigram weight > 0 (got {})",
                 ctx.where(*lam), sum);
  }
  return l;
}

DedupParams parseDedup(const Ctx& ctx, const toml::table& root, const std::string& displayName) {
  DedupParams d;
  d.enabled = get<bool>(root, "dedup", "enabled", true);
  d.bands = static_cast<int>(getPositive(ctx, root, "dedup", "bands", 14, 1, 512));
  d.rows = static_cast<int>(getPositive(ctx, root, "dedup", "rows", 8, 1, 512));
  if (d.bands * d.rows > 512)
    configFail("loadConfig", "{}: dedup.bands x dedup.rows = {} exceeds 512 hash functions",
               displayName, d.bands * d.rows);
  d.shingle = static_cast<int>(getPositive(ctx, root, "dedup", "shingle", 5, 1, 64));
  return d;
}

DecontamParams parseDecontam(const Ctx& ctx, const toml::table& root) {
  DecontamParams d;
  d.ngram = static_cast<int>(getPositive(ctx, root, "decontam", "ngram", 13, 1, 64));
  d.minWords = static_cast<int>(getPositive(ctx, root, "decontam", "min_words", 8, 1, 64));
  return d;
}

ClassifierParams parseClassifier(const Ctx& ctx, const toml::table& root, const fs::path& baseDir) {
  ClassifierParams c;
  c.enabled = get<bool>(root, "classifier", "enabled", true);
  if (auto m = root["classifier"]["model"].value<std::string>(); m && !m->empty())
    c.model = resolve(baseDir, *m).string();
  c.decision = get<std::string>(root, "classifier", "decision", "linear");
  if (c.decision != "linear" && c.decision != "vote")
    configFail("loadConfig", "{}: classifier.decision must be 'linear' or 'vote'",
               ctx.where(*root["classifier"]["decision"].node()));
  c.targetFpr = get<double>(root, "classifier", "target_fpr", 0.01);
  if (!(c.targetFpr >= 0 && c.targetFpr < 1))
    configFail("loadConfig", "{}: classifier.target_fpr must be in [0, 1)",
               ctx.where(*root["classifier"]["target_fpr"].node()));
  c.l2 = get<double>(root, "classifier", "l2", 0.01);
  c.nbBits = static_cast<int>(getPositive(ctx, root, "classifier", "nb_bits", 14, 8, 24));
  c.maxTrainDocs = getPositive(ctx, root, "classifier", "max_train_docs", 200000, 100, 10000000);
  c.cvLm = get<std::string>(root, "classifier", "cv_lm", "folds");
  if (c.cvLm != "folds" && c.cvLm != "shared")
    configFail("loadConfig", "{}: classifier.cv_lm must be 'folds' or 'shared'",
               ctx.where(*root["classifier"]["cv_lm"].node()));
  c.thresholdFrom = get<std::string>(root, "classifier", "threshold_from", "groups");
  if (c.thresholdFrom != "groups" && c.thresholdFrom != "train")
    configFail("loadConfig", "{}: classifier.threshold_from must be 'groups' or 'train'",
               ctx.where(*root["classifier"]["threshold_from"].node()));
  c.abstainQuantile = get<double>(root, "classifier", "abstain_quantile", 0.995);
  if (!(c.abstainQuantile > 0 && c.abstainQuantile <= 1))
    configFail("loadConfig", "{}: classifier.abstain_quantile must be in (0, 1]",
               ctx.where(*root["classifier"]["abstain_quantile"].node()));
  if (const auto* arr = root["classifier"]["features"].as_array()) {
    c.features.clear();
    for (const auto& e : *arr) {
      const std::string name = *e.value<std::string>();
      const auto& known = featureNames();
      if (std::find(known.begin(), known.end(), name) == known.end())
        configFail("loadConfig", "{}: classifier.features: '{}' is not a feature (known: {})",
                   ctx.where(e), name, fmt::join(known, ", "));
      if (std::find(c.features.begin(), c.features.end(), name) != c.features.end())
        configFail("loadConfig", "{}: classifier.features lists '{}' twice", ctx.where(e), name);
      c.features.push_back(name);
    }
    if (c.features.empty())
      configFail("loadConfig", "{}: classifier.features is empty",
                 ctx.where(*root["classifier"]["features"].node()));
  }
  return c;
}

PlanParams parsePlan(const Ctx& ctx, const toml::table& root) {
  PlanParams p;
  p.enabled = get<bool>(root, "plan", "enabled", true);
  p.budget = static_cast<double>(getPositive(ctx, root, "plan", "token_budget", 0, 0, 1ull << 62));
  p.allocation = get<std::string>(root, "plan", "allocation", "unimax");
  if (p.allocation != "unimax" && p.allocation != "proportional" && p.allocation != "temperature")
    configFail("loadConfig", "{}: plan.allocation must be proportional, temperature or unimax",
               ctx.where(*root["plan"]["allocation"].node()));
  auto unit = [&](const char* key, double dflt, double lo, double hi) {
    const double v = get<double>(root, "plan", key, dflt);
    if (!(v >= lo && v <= hi))
      configFail("loadConfig", "{}: plan.{} = {} is out of range [{}, {}]",
                 ctx.where(*root["plan"][key].node()), key, v, lo, hi);
    return v;
  };
  p.alpha = unit("temperature_alpha", 0.3, 1e-6, 10);
  p.maxEpochs = unit("max_epochs", 4, 1e-6, 1e6);
  p.syntheticCap = unit("synthetic_cap", 0.10, 0, 1);
  p.tailBoost = unit("tail_boost", 1.0, 0, 100);
  p.maxDupLineFrac = unit("max_dup_line_frac", 0.30, 0, 1);
  p.maxTop2gramFrac = unit("max_top2gram_frac", 0.20, 0, 1);
  p.maxDup5gramFrac = unit("max_dup5gram_frac", 0.15, 0, 1);
  p.maxRepeats = static_cast<int>(getPositive(ctx, root, "plan", "max_repeats", 4, 1, 1000));
  p.unknownProvenance = get<std::string>(root, "plan", "unknown_provenance", p.unknownProvenance);
  if (p.unknownProvenance != "after_declared" && p.unknownProvenance != "equal")
    configFail("loadConfig", "{}: plan.unknown_provenance must be after_declared or equal",
               ctx.where(*root["plan"]["unknown_provenance"].node()));
  p.coverFirst = get<bool>(root, "plan", "cover_first", p.coverFirst);
  p.minTokens = getPositive(ctx, root, "plan", "min_tokens", 50, 0, 1ull << 40);
  p.maxTokens = getPositive(ctx, root, "plan", "max_tokens", 100000, 1, 1ull << 40);
  return p;
}

MaterializeParams parseMaterialize(const Ctx& ctx, const toml::table& root) {
  MaterializeParams m;
  m.shardBytes = getPositive(ctx, root, "materialize", "shard_bytes", 64u << 20, 1024, 1ull << 40);
  m.format = get<std::string>(root, "materialize", "format", "jsonl");
  m.roundBytes = getPositive(ctx, root, "materialize", "round_bytes", 64u << 20, 4096, 1ull << 40);
  const auto& known = mixSinkFormats();
  if (std::find(known.begin(), known.end(), m.format) == known.end())
    configFail("loadConfig", "{}: materialize.format = '{}' is not supported (known: {})",
               ctx.where(*root["materialize"]["format"].node()), m.format, fmt::join(known, ", "));
  return m;
}

AuditParams parseAudit(const Ctx& ctx, const toml::table& root) {
  AuditParams a;
  a.enabled = get<bool>(root, "audit", "enabled", true);
  a.batchTokens = getPositive(ctx, root, "audit", "batch_tokens", 65536, 16, 1ull << 32);
  a.floorPercentile = get<double>(root, "audit", "floor_percentile", 1.0);
  if (!(a.floorPercentile >= 0 && a.floorPercentile <= 100))
    configFail("loadConfig", "{}: audit.floor_percentile must be in [0, 100]",
               ctx.where(*root["audit"]["floor_percentile"].node()));
  a.absoluteFloor = get<double>(root, "audit", "absolute_floor", 0.0);
  return a;
}

SourceConfig parseSource(const Ctx& ctx, const toml::table& t, const fs::path& baseDir,
                         std::set<std::string>& names) {
  SourceConfig s;
  const auto* nameNode = t.get("name");
  if (!nameNode) configFail("loadConfig", "{}: a [[sources]] entry lacks 'name'", ctx.where(t));
  s.name = *nameNode->value<std::string>();
  if (s.name.empty() || !names.insert(s.name).second)
    configFail("loadConfig", "{}: source name '{}' is empty or repeated", ctx.where(*nameNode),
               s.name);
  const auto* pathsNode = t.get("paths");
  if (!pathsNode) configFail("loadConfig", "{}: source '{}' lacks 'paths'", ctx.where(t), s.name);
  if (pathsNode->is_string())
    s.paths.push_back(resolve(baseDir, *pathsNode->value<std::string>()).string());
  else
    for (const auto& p : *pathsNode->as_array())
      s.paths.push_back(resolve(baseDir, *p.value<std::string>()).string());
  if (s.paths.empty())
    configFail("loadConfig", "{}: source '{}' has no paths", ctx.where(*pathsNode), s.name);
  const auto* provNode = t.get("provenance");
  if (!provNode)
    configFail("loadConfig", "{}: source '{}' lacks 'provenance'", ctx.where(t), s.name);
  auto prov = parseProvenance(*provNode->value<std::string>());
  if (!prov)
    configFail("loadConfig",
               "{}: sources.provenance = '{}' is not one of human_verified, human_unverified, "
               "synthetic_known, synthetic_suspected, unknown",
               ctx.where(*provNode), *provNode->value<std::string>());
  s.provenance = *prov;
  if (const auto* roleNode = t.get("role")) {
    auto role = parseRole(*roleNode->value<std::string>());
    if (!role)
      configFail("loadConfig", "{}: sources.role = '{}' is not one of anchor, pool, benchmark",
                 ctx.where(*roleNode), *roleNode->value<std::string>());
    s.role = *role;
  }
  if (s.role == Role::Anchor && s.provenance != Provenance::HumanVerified)
    configFail("loadConfig",
               "{}: source '{}' has role anchor but provenance {} (anchors must be "
               "human_verified)",
               ctx.where(t), s.name, toString(s.provenance));
  if (auto tk = t["text_key"].value<std::string>()) s.textKey = *tk;
  if (s.textKey.empty())
    configFail("loadConfig", "{}: source '{}' has an empty text_key", ctx.where(t), s.name);
  if (const auto* gk = t.get("group_key")) {
    s.groupKey = *gk->value<std::string>();
    if (s.groupKey.empty() || s.groupKey == s.textKey)
      configFail("loadConfig",
                 "{}: source '{}': group_key must name a metadata key other than "
                 "text_key '{}'",
                 ctx.where(*gk), s.name, s.textKey);
  }
  if (const auto* formatNode = t.get("format")) {
    s.format = *formatNode->value<std::string>();
    const auto& known = readerFormats();
    if (std::find(known.begin(), known.end(), s.format) == known.end())
      configFail("loadConfig", "{}: source '{}': format '{}' is not supported (known: {})",
                 ctx.where(*formatNode), s.name, s.format, fmt::join(known, ", "));
  }
  return s;
}

std::vector<SourceConfig> parseSources(const Ctx& ctx, const toml::table& root,
                                       const fs::path& baseDir, const std::string& displayName) {
  const auto* arr = root["sources"].as_array();
  if (!arr || arr->empty()) configFail("loadConfig", "{}: no [[sources]] defined", displayName);
  std::vector<SourceConfig> sources;
  std::set<std::string> names;
  for (const auto& e : *arr) sources.push_back(parseSource(ctx, *e.as_table(), baseDir, names));
  int benchmarks = 0;
  for (const auto& s : sources) benchmarks += s.role == Role::Benchmark;
  if (benchmarks > 64)
    configFail("loadConfig", "{}: {} benchmark sources; at most 64 are supported", displayName,
               benchmarks);
  return sources;
}

/// What the results depend on: the config without the keys that only steer how the run goes
/// (progress, checkpoints, threads, batch size), so a resume may change them.
std::string resultToml(toml::table key) {
  if (auto* run = key["run"].as_table())
    for (const char* k :
         {"progress_seconds", "checkpoint", "checkpoint_seconds", "keep_checkpoints"})
      run->erase(k);
  if (auto* score = key["score"].as_table())
    for (const char* k : {"omp_threads", "batch_bytes"}) score->erase(k);
  std::ostringstream ks;
  ks << key;
  return ks.str();
}
SimulateParams parseSimulate(const Ctx& ctx, const toml::table& root) {
  SimulateParams p;
  p.model = get<std::string>(root, "simulate", "model", p.model);
  if (p.model != "unigram" && p.model != "trigram")
    configFail("loadConfig", "{}: simulate.model = '{}': use unigram or trigram",
               ctx.where(*root["simulate"]["model"].node()), p.model);
  if (const auto* arr = root["simulate"]["arms"].as_array()) {
    p.arms.clear();
    const auto& known = simulateArms();
    for (const auto& e : *arr) {
      const std::string a = e.value<std::string>().value_or("");
      if (std::find(known.begin(), known.end(), a) == known.end())
        configFail("loadConfig", "{}: simulate.arms: unknown arm '{}' (known: {})", ctx.where(e), a,
                   fmt::join(known, ", "));
      p.arms.push_back(a);
    }
    if (p.arms.empty()) configFail("loadConfig", "{}: simulate.arms is empty", ctx.where(*arr));
  }
  p.vocab = getPositive(ctx, root, "simulate", "vocab", p.vocab, 2, 1ull << 31);
  p.tokensPerGeneration = getPositive(ctx, root, "simulate", "tokens_per_generation",
                                      p.tokensPerGeneration, 2, 1ull << 40);
  p.docTokens = getPositive(ctx, root, "simulate", "doc_tokens", p.docTokens, 2, 1ull << 32);
  if (p.tokensPerGeneration % p.docTokens)
    configFail("loadConfig",
               "{}: simulate.tokens_per_generation ({}) must be a multiple of "
               "simulate.doc_tokens ({})",
               ctx.file, p.tokensPerGeneration, p.docTokens);
  p.generations =
      static_cast<int>(getPositive(ctx, root, "simulate", "generations", p.generations, 0, 100000));
  p.seeds = static_cast<int>(getPositive(ctx, root, "simulate", "seeds", p.seeds, 1, 10000));
  p.tailRank = getPositive(ctx, root, "simulate", "tail_rank", p.tailRank, 0, 1ull << 40);
  p.heldoutEvery =
      getPositive(ctx, root, "simulate", "heldout_every", p.heldoutEvery, 2, 1ull << 40);
  p.keepRuns = get<bool>(root, "simulate", "keep_runs", p.keepRuns);
  if (const auto* arr = root["simulate"]["real_sources"].as_array())
    for (const auto& e : *arr) p.realSources.push_back(e.value<std::string>().value_or(""));
  for (const auto& a : p.arms)
    if (a == "cleanmix" && p.model != "trigram")
      configFail("loadConfig",
                 "{}: the cleanmix arm runs the real pipeline on text: it needs "
                 "simulate.model = \"trigram\"",
                 ctx.file);
  auto unit = [&](const char* key, double dflt, double lo, double hi) {
    const double v = get<double>(root, "simulate", key, dflt);
    if (!(v >= lo && v <= hi))
      configFail("loadConfig", "{}: simulate.{} = {} is out of range [{}, {}]",
                 ctx.where(*root["simulate"][key].node()), key, v, lo, hi);
    return v;
  };
  p.zipfS = unit("zipf_s", p.zipfS, 1e-3, 10);
  p.anchorShare = unit("anchor_share", p.anchorShare, 0, 1);
  p.smoothing = unit("smoothing", p.smoothing, 1e-9, 1e3);
  return p;
}

}  // namespace

RunConfig parseConfig(const std::string& text, const fs::path& baseDir,
                      const std::string& displayName, const std::vector<std::string>& overrides) {
  Ctx ctx{displayName};
  toml::table root;
  try {
    root = toml::parse(text, std::string_view{displayName});
  } catch (const toml::parse_error& e) {
    configFail("loadConfig", "{}:{}: {}", displayName, e.source().begin.line, e.description());
  }
  for (const auto& kv : overrides) applyOverride(root, kv);
  validate(ctx, root);

  RunConfig c;
  std::ostringstream os;
  os << root;
  c.effectiveToml = os.str();
  c.resultToml = resultToml(root);
  c.run = parseRun(ctx, root, baseDir, displayName);
  c.tokenizer = parseTokenizer(ctx, root, baseDir);
  if (c.tokenizer.kind != "words")  // the model file's content is part of what a result depends on
    c.resultToml += fmt::format("\n# tokenizer model xxh3_64 {}\n",
                                makeTokenizer(c.tokenizer)->identity().modelHash);
  c.ingest = parseIngest(ctx, root);
  c.score = parseScore(ctx, root);
  c.lm = parseLm(ctx, root, c.tokenizer.vocabBits);
  c.dedup = parseDedup(ctx, root, displayName);
  c.decontam = parseDecontam(ctx, root);
  c.classifier = parseClassifier(ctx, root, baseDir);
  c.plan = parsePlan(ctx, root);
  c.materialize = parseMaterialize(ctx, root);
  if (c.materialize.format != "jsonl" && c.tokenizer.kind == "words")
    configFail("loadConfig",
               "materialize.format = '{}' writes model token ids: set tokenizer.kind "
               "to 'tiktoken', 'hf' or 'sentencepiece' (docs/tokenizers.md)",
               c.materialize.format);
  c.audit = parseAudit(ctx, root);
  c.simulate = parseSimulate(ctx, root);
  c.sources = parseSources(ctx, root, baseDir, displayName);
  return c;
}

RunConfig loadConfig(const fs::path& file, const std::vector<std::string>& overrides) {
  std::ifstream in(file, std::ios::binary);
  if (!in) configFail("loadConfig", "cannot open config '{}': {}", file.string(), errnoText(errno));
  std::ostringstream os;
  os << in.rdbuf();
  const fs::path abs = fs::absolute(file);
  RunConfig c = parseConfig(os.str(), abs.parent_path(), file.string(), overrides);
  c.configPath = abs;
  return c;
}

}  // namespace cleanmix
