#include <gtest/gtest.h>

#include "cleanmix/cli/config.hpp"
#include "cleanmix/core/columns.hpp"
#include "cleanmix/core/error.hpp"

using namespace cleanmix;

namespace {

const char* kGood = R"(
[run]
output = "out/x.h5"
seed = 7

[tokenizer]
vocab_bits = 16

[[sources]]
name = "anchor"
paths = ["a/*.jsonl", "/abs/b.jsonl.zst"]
provenance = "human_verified"
role = "anchor"

[[sources]]
name = "web"
paths = "web/*.jsonl.gz"
provenance = "human_unverified"
text_key = "content"
)";

std::string errorOf(const std::string& text, const std::vector<std::string>& sets = {}) {
  try {
    parseConfig(text, "/base", "cfg.toml", sets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Config, ParsesAndResolvesPaths) {
  const auto c = parseConfig(kGood, "/base/dir", "cfg.toml");
  EXPECT_EQ(c.run.output, "/base/dir/out/x.h5");
  EXPECT_EQ(c.run.workdir, "/base/dir/out/x.h5.work");
  EXPECT_EQ(c.run.seed, 7u);
  EXPECT_EQ(c.tokenizer.vocabBits, 16);
  ASSERT_EQ(c.sources.size(), 2u);
  EXPECT_EQ(c.sources[0].paths,
            (std::vector<std::string>{"/base/dir/a/*.jsonl", "/abs/b.jsonl.zst"}));
  EXPECT_EQ(c.sources[0].role, Role::Anchor);
  EXPECT_EQ(c.sources[1].paths, (std::vector<std::string>{"/base/dir/web/*.jsonl.gz"}));
  EXPECT_EQ(c.sources[1].role, Role::Pool);  // default
  EXPECT_EQ(c.sources[1].textKey, "content");
  EXPECT_NE(c.effectiveToml.find("seed = 7"), std::string::npos);
}

TEST(Config, UnknownKeyNamesKeyAndLine) {
  std::string t = kGood;
  t.replace(t.find("seed = 7"), 8, "sede = 7");
  const auto e = errorOf(t);
  EXPECT_NE(e.find("cfg.toml:4"), std::string::npos) << e;
  EXPECT_NE(e.find("run.sede"), std::string::npos) << e;
}

TEST(Config, UnknownSectionAndSourceKey) {
  EXPECT_NE(errorOf(std::string(kGood) + "\n[plann]\nx = 1\n").find("plann"), std::string::npos);
  std::string t = kGood;
  t.replace(t.find("text_key"), 8, "textkey");
  EXPECT_NE(errorOf(t).find("sources.textkey"), std::string::npos);
}

TEST(Config, WrongTypeNamesKeyAndLine) {
  std::string t = kGood;
  t.replace(t.find("seed = 7"), 8, "seed = \"7\"");
  const auto e = errorOf(t);
  EXPECT_NE(e.find("cfg.toml:4"), std::string::npos) << e;
  EXPECT_NE(e.find("must be an integer"), std::string::npos) << e;
}

TEST(Config, BadValues) {
  std::string t = kGood;
  t.replace(t.find("\"human_unverified\""), 18, "\"human\"");
  EXPECT_NE(errorOf(t).find("provenance"), std::string::npos);
  std::string t2 = kGood;
  t2.replace(t2.find("vocab_bits = 16"), 15, "vocab_bits = 40");
  EXPECT_NE(errorOf(t2).find("out of range"), std::string::npos);
  std::string t3 = kGood;  // an anchor must be human_verified
  t3.replace(t3.find("\"human_verified\""), 16, "\"unknown\"");
  EXPECT_NE(errorOf(t3).find("anchor"), std::string::npos);
  EXPECT_NE(errorOf("[run]\nseed = 1\n").find("no [[sources]]"), std::string::npos);
  EXPECT_NE(errorOf("[run\n").find("cfg.toml:1"), std::string::npos);  // TOML syntax
}

TEST(Config, SetOverrides) {
  const auto c = parseConfig(kGood, "/b", "cfg.toml",
                             {"run.seed=99", "run.output=elsewhere.h5", "tokenizer.vocab_bits=12",
                              "sources.web.text_key=body", "ingest.split_bytes=8192"});
  EXPECT_EQ(c.run.seed, 99u);
  EXPECT_EQ(c.run.output, "/b/elsewhere.h5");  // a bare word is a string
  EXPECT_EQ(c.tokenizer.vocabBits, 12);
  EXPECT_EQ(c.sources[1].textKey, "body");
  EXPECT_EQ(c.ingest.splitBytes, 8192u);
  EXPECT_NE(errorOf(kGood, {"run.sede=1"}).find("run.sede"), std::string::npos);
  EXPECT_NE(errorOf(kGood, {"sources.nosuch.text_key=x"}).find("nosuch"), std::string::npos);
  EXPECT_NE(errorOf(kGood, {"noequals"}).find("key=value"), std::string::npos);
  EXPECT_NE(errorOf(kGood, {"run.seed=\"x\""}).find("integer"), std::string::npos);
}

TEST(Config, ShippedConfigsParse) {
  for (const char* name : {"sample.toml", "template.toml"}) {
    const auto c = loadConfig(std::string(CLEANMIX_SOURCE_DIR) + "/configs/" + name, {});
    EXPECT_FALSE(c.sources.empty()) << name;
  }
}

TEST(Config, ClassifierFeaturesThresholdSourceAndGroupKey) {
  const auto d = parseConfig(kGood, "/b", "cfg.toml");
  EXPECT_TRUE(d.classifier.features.empty());
  EXPECT_EQ(d.classifier.thresholdFrom, "groups");
  EXPECT_EQ(d.sources[0].groupKey, "");
  // The default feature set leaves out the hashed topic features and the pool-relative
  // tail_score.
  const auto mask = d.classifier.featureMask();
  const auto& names = featureNames();
  for (std::size_t k = 0; k < names.size(); ++k)
    EXPECT_EQ(mask[k], names[k].starts_with("nb_") || names[k] == "tail_score" ? 0 : 1) << names[k];
  const auto c = parseConfig(kGood, "/b", "cfg.toml",
                             {"classifier.features=[\"ttr\", \"nb_unigram_llr\"]",
                              "classifier.threshold_from=train", "sources.web.group_key=genre"});
  EXPECT_EQ(c.classifier.features, (std::vector<std::string>{"ttr", "nb_unigram_llr"}));
  EXPECT_EQ(c.classifier.thresholdFrom, "train");
  EXPECT_EQ(c.sources[1].groupKey, "genre");
  const auto m2 = c.classifier.featureMask();
  for (std::size_t k = 0; k < names.size(); ++k)
    EXPECT_EQ(m2[k], names[k] == "ttr" || names[k] == "nb_unigram_llr" ? 1 : 0) << names[k];
  EXPECT_NE(errorOf(kGood, {"classifier.features=[\"ttr2\"]"}).find("'ttr2' is not a feature"),
            std::string::npos);
  EXPECT_NE(errorOf(kGood, {"classifier.features=[\"ttr\", \"ttr\"]"}).find("twice"),
            std::string::npos);
  EXPECT_NE(errorOf(kGood, {"classifier.features=[]"}).find("empty"), std::string::npos);
  EXPECT_NE(errorOf(kGood, {"classifier.threshold_from=test"}).find("threshold_from"),
            std::string::npos);
  EXPECT_NE(errorOf(kGood, {"sources.web.group_key=content"}).find("group_key"),
            std::string::npos);  // web's text_key
  EXPECT_DOUBLE_EQ(d.classifier.abstainQuantile, 0.995);
  EXPECT_DOUBLE_EQ(parseConfig(kGood, "/b", "cfg.toml", {"classifier.abstain_quantile=1.0"})
                       .classifier.abstainQuantile,
                   1.0);
  EXPECT_NE(errorOf(kGood, {"classifier.abstain_quantile=0.0"}).find("abstain_quantile"),
            std::string::npos);
  EXPECT_NE(errorOf(kGood, {"classifier.abstain_quantile=1.5"}).find("abstain_quantile"),
            std::string::npos);
}

TEST(Config, PlanProvenanceTierAndCoverFirst) {
  const auto d = parseConfig(kGood, "/b", "cfg.toml");
  EXPECT_EQ(d.plan.unknownProvenance, "after_declared");
  EXPECT_TRUE(d.plan.coverFirst);
  const auto c = parseConfig(kGood, "/b", "cfg.toml",
                             {"plan.unknown_provenance=equal", "plan.cover_first=false"});
  EXPECT_EQ(c.plan.unknownProvenance, "equal");
  EXPECT_FALSE(c.plan.coverFirst);
  EXPECT_NE(errorOf(kGood, {"plan.unknown_provenance=last"}).find("after_declared or equal"),
            std::string::npos);
}

TEST(Config, SimulateSection) {
  const auto d = parseConfig(kGood, "/b", "cfg.toml");
  EXPECT_EQ(d.simulate.model, "unigram");  // defaults: the published unigram setup
  EXPECT_EQ(d.simulate.vocab, 10000u);
  EXPECT_EQ(d.simulate.generations, 20);
  EXPECT_EQ(d.simulate.arms, (std::vector<std::string>{"replace", "accumulate", "anchor"}));
  const auto c = parseConfig(
      kGood, "/b", "cfg.toml",
      {"simulate.arms=[\"anchor\",\"accumulate_sample\"]", "simulate.anchor_share=0.25",
       "simulate.tokens_per_generation=5000", "simulate.doc_tokens=500", "simulate.seeds=7"});
  EXPECT_EQ(c.simulate.arms, (std::vector<std::string>{"anchor", "accumulate_sample"}));
  EXPECT_DOUBLE_EQ(c.simulate.anchorShare, 0.25);
  EXPECT_EQ(c.simulate.tokensPerGeneration, 5000u);
  EXPECT_EQ(c.simulate.seeds, 7);
  EXPECT_NE(errorOf(kGood, {"simulate.arms=[\"sideways\"]"}).find("unknown arm 'sideways'"),
            std::string::npos);
  EXPECT_NE(errorOf(kGood, {"simulate.model=bigram"}).find("use unigram or trigram"),
            std::string::npos);
  EXPECT_NE(errorOf(kGood, {"simulate.arms=[\"cleanmix\"]"}).find("needs simulate.model"),
            std::string::npos);
  EXPECT_NE(errorOf(kGood, {"simulate.doc_tokens=3"}).find("multiple of"), std::string::npos);
  EXPECT_NE(errorOf(kGood, {"simulate.anchor_share=2"}).find("out of range"), std::string::npos);
  EXPECT_NE(errorOf(kGood, {"simulate.colour=1"}).find("unknown key 'simulate.colour'"),
            std::string::npos);
}
