#include "lifecycle/experiments.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/hashing.h"
#include "core/recall_channel_names.h"
#include "lifecycle_test_support.h"
#include "models/recommender.h"

namespace recserve::lifecycle {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::TempDir;
using testing::WriteFile;

// FNV-1a 64 written out from its definition (offset basis 0xcbf29ce484222325, prime
// 0x100000001b3, xor each byte then multiply), independent of core/hashing.h.
uint64_t ReferenceFnv1a64(const std::string& bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char byte : bytes) {
    hash = (hash ^ byte) * 0x100000001b3ULL;
  }
  return hash;
}

// MurmurHash3 fmix64, written out from its definition.
uint64_t ReferenceFmix64(uint64_t k) {
  k = (k ^ (k >> 33)) * 0xff51afd7ed558ccdULL;
  k = (k ^ (k >> 33)) * 0xc4ceb9fe1a85ec53ULL;
  return k ^ (k >> 33);
}

// The documented bucket: top 53 bits of fmix64(FNV-1a("salt:user")) divided by 2^53.
double ReferenceBucket(const std::string& salt, const std::string& user) {
  const uint64_t h = ReferenceFmix64(ReferenceFnv1a64(salt + ":" + user));
  return std::ldexp(static_cast<double>(h >> 11), -53);
}

// "<prefix><n>"; built by appending (GCC 12 -O3 reports a false -Wrestrict for "lit" + string).
std::string NumberedId(std::string_view prefix, long n) {
  std::string id(prefix);
  id += std::to_string(n);
  return id;
}

ExperimentsConfig MustParse(const std::string& yaml) {
  Result<ExperimentsConfig> config = ParseExperiments(yaml, "test.yaml");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return config.ok() ? std::move(config).value() : ExperimentsConfig();
}

std::string ParseError(const std::string& yaml) {
  Result<ExperimentsConfig> config = ParseExperiments(yaml, "exp.yaml");
  if (config.ok()) return "(parsed without error)";
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  return config.status().message();
}

// A one-experiment file with one variant whose body is `variant_body` (YAML lines at indent 8).
std::string OneVariant(const std::string& variant_body) {
  return "experiments:\n"
         "  - name: exp_a\n"
         "    salt: salt-a\n"
         "    variants:\n"
         "      - name: var_a\n" +
         variant_body;
}

TEST(ExperimentsFormula, ReferenceFnvMatchesPublishedVectors) {
  // Published FNV-1a 64 test vectors (Fowler/Noll/Vo reference suite).
  EXPECT_EQ(ReferenceFnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(ReferenceFnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(ReferenceFnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(ExperimentsFormula, MixBitsIsMurmur3Fmix64) {
  EXPECT_EQ(MixBits64(0), 0u);
  for (uint64_t x : {1ULL, 2ULL, 0xcbf29ce484222325ULL, ~0ULL, 0x8000000000000000ULL}) {
    EXPECT_EQ(MixBits64(x), ReferenceFmix64(x)) << x;
  }
}

TEST(ExperimentsFormula, BucketIsTheDocumentedFormula) {
  for (int i = 0; i < 2000; ++i) {
    const std::string user = NumberedId("u", i * 7919);
    const double bucket = AssignmentBucket("salt-x", user);
    ASSERT_EQ(bucket, ReferenceBucket("salt-x", user)) << user;
    ASSERT_GE(bucket, 0.0);
    ASSERT_LT(bucket, 1.0);
  }
  // Non-ASCII ids hash their UTF-8 bytes.
  EXPECT_EQ(AssignmentBucket("s", "użytkownik"), ReferenceBucket("s", "użytkownik"));
}

// Known vectors, computed outside this code base (a Python transcription of the formula in
// docs/EXPERIMENTS.md): the top 53 bits of fmix64(FNV-1a 64("<salt>:<user>")), as an integer.
TEST(ExperimentsFormula, BucketMatchesPinnedKnownVectors) {
  struct Vector {
    const char* salt;
    const char* user;
    uint64_t top53;
  };
  for (const Vector& v :
       {Vector{"shadow", "user-42", 1759065849962492ULL},
        Vector{"shadow", "user0", 1892653029423267ULL},
        Vector{"shadow", "alice", 1249932089829199ULL}, Vector{"shadow", "u1", 2930875926110565ULL},
        Vector{"shadow", "user399", 5886111142063623ULL}}) {
    EXPECT_EQ(AssignmentBucket(v.salt, v.user), std::ldexp(static_cast<double>(v.top53), -53))
        << v.salt << ":" << v.user;
  }
  // The 5% "shadow" cohort among user0..user399, from the same outside computation.
  const std::vector<int> cohort = {4,   15,  47,  68,  72,  74,  101, 112, 124, 159, 172, 179,
                                   187, 206, 211, 224, 258, 275, 280, 305, 336, 342, 386, 391};
  std::vector<int> in_rollout;
  for (int u = 0; u < 400; ++u) {
    if (InRollout("shadow", NumberedId("user", u), 0.05)) in_rollout.push_back(u);
  }
  EXPECT_EQ(in_rollout, cohort);
}

// Properties a rollout relies on, whatever the hash: on 10k users a share p takes about p of
// them, the same users every time, and raising p only adds users (monotone, nested cohorts).
TEST(ExperimentsFormula, RolloutCohortsAreSizedStickyAndNested) {
  constexpr int kUsers = 10000;
  const double shares[] = {0.01, 0.05, 0.10, 0.25, 0.50, 0.90};
  int previous_count = 0;
  std::vector<bool> previous(kUsers, false);
  for (double share : shares) {
    int count = 0;
    for (int u = 0; u < kUsers; ++u) {
      const std::string user = NumberedId("user", u);
      const bool in = InRollout("shadow", user, share);
      ASSERT_EQ(in, InRollout("shadow", user, share)) << user;  // sticky
      if (previous[static_cast<size_t>(u)]) {
        ASSERT_TRUE(in) << user << " left the cohort at " << share;
      }
      previous[static_cast<size_t>(u)] = in;
      count += in;
    }
    // Binomial: 4 standard deviations of sqrt(p(1-p)/n) (at most 0.02 for n = 10000).
    const double tolerance = 4 * std::sqrt(share * (1 - share) / kUsers);
    EXPECT_NEAR(count / double(kUsers), share, tolerance) << share;
    EXPECT_GE(count, previous_count);
    previous_count = count;
  }
  EXPECT_FALSE(InRollout("shadow", "user-42", 0.0));
  EXPECT_TRUE(InRollout("shadow", "user-42", 1.0));
}

TEST(ExperimentsParse, ShippedExampleFileIsValid) {
  Result<ExperimentsConfig> config =
      LoadExperimentsFile(std::string(RECSERVE_SOURCE_DIR) + "/config/experiments.yaml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_EQ(config->experiments().size(), 1u);
  const Experiment& e = config->experiments()[0];
  EXPECT_EQ(e.name, "candidates_400");
  ASSERT_EQ(e.variants.size(), 1u);
  const Variant& v = e.variants[0];
  EXPECT_EQ(v.name, "more_candidates");
  EXPECT_DOUBLE_EQ(v.allocation, 0.05);
  EXPECT_EQ(v.parameters.candidates, 400u);
  EXPECT_EQ(v.parameters.ranker, true);
  EXPECT_DOUBLE_EQ(v.parameters.channel_weights.at("ials"), 1.5);
  EXPECT_DOUBLE_EQ(v.parameters.channel_weights.at("popularity"), 0.5);
  EXPECT_NEAR(e.control_share(), 0.95, 1e-12);
}

TEST(ExperimentsParse, EmptyFilesMeanNoExperiments) {
  EXPECT_TRUE(MustParse("").experiments().empty());
  EXPECT_TRUE(MustParse("# only a comment\n").experiments().empty());
  EXPECT_TRUE(MustParse("experiments: []\n").experiments().empty());
  EXPECT_TRUE(MustParse("experiments:\n").experiments().empty());
  EXPECT_TRUE(ExperimentsConfig().Assign("u1").empty());
}

TEST(ExperimentsParse, SlicesFollowFileOrderAndDecimalSumsOfOneAreAccepted) {
  ExperimentsConfig config = MustParse(
      "experiments:\n"
      "  - name: e\n"
      "    salt: s\n"
      "    variants:\n"
      "      - {name: a, allocation: 0.1}\n"
      "      - {name: b, allocation: 0.2}\n"
      "      - {name: c, allocation: 0.7}\n");
  const Experiment& e = config.experiments()[0];
  ASSERT_EQ(e.variants.size(), 3u);
  EXPECT_EQ(e.variants[0].bucket_begin, 0.0);
  EXPECT_DOUBLE_EQ(e.variants[1].bucket_begin, 0.1);
  EXPECT_DOUBLE_EQ(e.variants[2].bucket_begin, 0.1 + 0.2);
  EXPECT_EQ(e.variants[2].bucket_end, 1.0);
  EXPECT_EQ(e.control_share(), 0.0);
  EXPECT_EQ(e.VariantForBucket(0.05)->name, "a");
  EXPECT_EQ(e.VariantForBucket(0.1)->name, "b");
  EXPECT_EQ(e.VariantForBucket(0.999999)->name, "c");
  EXPECT_TRUE(e.variants[0].parameters.empty());
}

TEST(ExperimentsParse, EveryValidationErrorNamesFileExperimentVariantAndField) {
  struct Case {
    std::string yaml;
    std::vector<std::string> expected;  // substrings of the message
  };
  const std::vector<Case> cases = {
      {"experiments: [", {"exp.yaml", "YAML syntax error", "line"}},
      {"- a\n- b\n", {"exp.yaml", "must be a mapping"}},
      {"experiment: []\n", {"exp.yaml", "unknown key 'experiment'", "line 1", "experiments"}},
      {"experiments: 3\n", {"exp.yaml", "field 'experiments'", "must be a list"}},
      {"experiments:\n  - 3\n", {"exp.yaml", "experiment #1", "must be a mapping"}},
      {"experiments:\n  - salt: s\n    variants: [{name: a, allocation: 0.1}]\n",
       {"exp.yaml", "experiment #1", "field 'name' is missing"}},
      {"experiments:\n  - name: bad name!\n    salt: s\n",
       {"exp.yaml", "experiment #1", "field 'name'", "line 2", "[A-Za-z0-9_.-]"}},
      {"experiments:\n  - name: e\n    variants: [{name: a, allocation: 0.1}]\n",
       {"exp.yaml", "experiment 'e'", "field 'salt' is missing"}},
      {"experiments:\n  - name: e\n    salt: ''\n    variants: [{name: a, allocation: 0.1}]\n",
       {"experiment 'e'", "field 'salt'", "non-empty"}},
      {"experiments:\n  - name: e\n    salt: s\n",
       {"experiment 'e'", "field 'variants'", "non-empty list"}},
      {"experiments:\n  - name: e\n    salt: s\n    variants: []\n",
       {"experiment 'e'", "field 'variants'"}},
      {"experiments:\n  - name: e\n    salt: s\n    owner: me\n    variants: [{name: a, "
       "allocation: 0.1}]\n",
       {"experiment 'e'", "unknown key 'owner'", "line 4"}},
      {OneVariant(""), {"exp.yaml", "experiment 'exp_a' variant 'var_a'", "'allocation'"}},
      {"experiments:\n  - name: e\n    salt: s\n    variants:\n      - allocation: 0.1\n",
       {"experiment 'e' variant #1", "field 'name' is missing"}},
      {"experiments:\n  - name: e\n    salt: s\n    variants:\n      - name: control\n"
       "        allocation: 0.1\n",
       {"experiment 'e' variant 'control'", "reserved"}},
      {"experiments:\n  - name: e\n    salt: s\n    variants:\n"
       "      - {name: a, allocation: 0.1}\n      - {name: a, allocation: 0.1}\n",
       {"experiment 'e' variant 'a'", "field 'name'", "used twice"}},
      {OneVariant("        allocation: 1.5\n"),
       {"experiment 'exp_a' variant 'var_a'", "field 'allocation' (line 6)", "outside [0, 1]"}},
      {OneVariant("        allocation: -0.1\n"), {"field 'allocation'", "outside [0, 1]"}},
      {OneVariant("        allocation: lots\n"),
       {"variant 'var_a'", "field 'allocation'", "'lots' is not a finite number"}},
      {OneVariant("        allocation: .nan\n"), {"field 'allocation'", "not a finite number"}},
      {OneVariant("        allocation: [0.1]\n"), {"field 'allocation'", "a list"}},
      {"experiments:\n  - name: e\n    salt: s\n    variants:\n"
       "      - {name: a, allocation: 0.6}\n      - {name: b, allocation: 0.5}\n",
       {"experiment 'e' variant 'b'", "field 'allocation'", "at most 1"}},
      {OneVariant("        allocation: 0.1\n        weight: 2\n"),
       {"variant 'var_a'", "unknown key 'weight'", "line 7", "allocation, parameters"}},
      {OneVariant("        allocation: 0.1\n        parameters: 3\n"),
       {"variant 'var_a'", "field 'parameters'", "mapping"}},
      {OneVariant("        allocation: 0.1\n        parameters: {candidate: 3}\n"),
       {"variant 'var_a'", "unknown key 'candidate'", "candidates"}},
      {OneVariant("        allocation: 0.1\n        parameters: {candidates: 0}\n"),
       {"variant 'var_a'", "field 'candidates'", "outside 1..5000"}},
      {OneVariant("        allocation: 0.1\n        parameters: {candidates: 5001}\n"),
       {"field 'candidates'", "outside 1..5000"}},
      {OneVariant("        allocation: 0.1\n        parameters: {candidates: 2.5}\n"),
       {"field 'candidates'", "not an integer"}},
      {OneVariant("        allocation: 0.1\n        parameters: {ranker: maybe}\n"),
       {"variant 'var_a'", "field 'ranker'", "'maybe'", "on/off"}},
      {OneVariant("        allocation: 0.1\n        parameters: {channel_weights: [ials]}\n"),
       {"variant 'var_a'", "field 'channel_weights'", "mapping"}},
      {OneVariant("        allocation: 0.1\n        parameters:\n          channel_weights:\n"
                  "            als: 2\n"),
       {"variant 'var_a'", "field 'channel_weights' (line 9)", "unknown recall channel 'als'",
        "item_knn"}},
      {OneVariant("        allocation: 0.1\n        parameters: {channel_weights: {ials: -1}}\n"),
       {"variant 'var_a'", "field 'channel_weights.ials'", "outside [0, 100]"}},
      {OneVariant("        allocation: 0.1\n        parameters: {channel_weights: {ials: x}}\n"),
       {"field 'channel_weights.ials'", "not a finite number"}},
      {"experiments:\n  - {name: e, salt: s1, variants: [{name: a, allocation: 0.1}]}\n"
       "  - {name: e, salt: s2, variants: [{name: a, allocation: 0.1}]}\n",
       {"experiment 'e'", "field 'name'", "used twice"}},
      {"experiments:\n  - {name: e1, salt: s, variants: [{name: a, allocation: 0.1}]}\n"
       "  - {name: e2, salt: s, variants: [{name: a, allocation: 0.1}]}\n",
       {"experiment 'e2'", "field 'salt'", "already the salt"}},
  };
  for (const Case& c : cases) {
    const std::string message = ParseError(c.yaml);
    for (const std::string& part : c.expected) {
      EXPECT_THAT(message, HasSubstr(part)) << "file:\n" << c.yaml;
    }
  }
}

TEST(ExperimentsParse, ArbitraryBytesGiveAConfigOrAnErrorNeverACrash) {
  const std::string shipped =
      testing::ReadFile(std::string(RECSERVE_SOURCE_DIR) + "/config/experiments.yaml");
  std::mt19937_64 rng(2026);
  int refused = 0;
  for (int round = 0; round < 1000; ++round) {
    std::string text = shipped;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text[at] = static_cast<char>(rng() % 256);
          break;
        case 1:
          text.erase(at, 1 + rng() % 8);
          break;
        default:
          text.insert(at, 1, ":-[{&*!|>'\"#\n\t0"[rng() % 15]);
      }
    }
    Result<ExperimentsConfig> config = ParseExperiments(text, "mutated.yaml");
    if (!config.ok()) {
      ++refused;
      ASSERT_THAT(config.status().message(), HasSubstr("mutated.yaml")) << text;
      continue;
    }
    for (const Experiment& experiment : config->experiments()) {
      double sum = 0;
      for (const Variant& v : experiment.variants) sum += v.allocation;
      ASSERT_LE(sum, 1 + 1e-9) << text;
    }
  }
  EXPECT_GT(refused, 0);
  // Nesting deep enough to exhaust a naive recursive parser's stack.
  EXPECT_FALSE(ParseExperiments("experiments: " + std::string(100000, '['), "deep.yaml").ok());
}

TEST(ExperimentsParse, MissingFileIsNotFoundNamingThePath) {
  Result<ExperimentsConfig> config = LoadExperimentsFile("/nonexistent/experiments.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr("/nonexistent/experiments.yaml"));
}

TEST(ExperimentsParse, ErrorsFromAFileNameThatFile) {
  TempDir dir;
  WriteFile(dir.path() / "experiments.yaml", OneVariant("        allocation: 2\n"));
  Result<ExperimentsConfig> config = LoadExperimentsFile(dir.path() / "experiments.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(),
              AllOf(HasSubstr((dir.path() / "experiments.yaml").string()),
                    HasSubstr("variant 'var_a'"), HasSubstr("field 'allocation'")));
}

const char* const kTwoVariantFile =
    "experiments:\n"
    "  - name: weights\n"
    "    salt: weights-2026\n"
    "    variants:\n"
    "      - name: heavy_ials\n"
    "        allocation: 0.10\n"
    "        parameters: {channel_weights: {ials: 2}}\n"
    "      - name: no_ranker\n"
    "        allocation: 0.25\n"
    "        parameters: {ranker: off}\n";

TEST(ExperimentsAssignment, StableAcrossCallsAndAcrossIndependentLoads) {
  // Two separately parsed configs stand for two replicas or a restart.
  ExperimentsConfig first = MustParse(kTwoVariantFile);
  ExperimentsConfig second = MustParse(kTwoVariantFile);
  std::set<std::string> seen;
  for (int i = 0; i < 5000; ++i) {
    const std::string user = NumberedId("user-", i);
    const std::string variant(first.Assign(user)[0].variant_name());
    ASSERT_EQ(variant, first.Assign(user)[0].variant_name());
    ASSERT_EQ(variant, second.Assign(user)[0].variant_name());
    // The variant is the one whose slice holds the reference bucket.
    const double bucket = ReferenceBucket("weights-2026", user);
    const std::string expected = bucket < 0.10   ? "heavy_ials"
                                 : bucket < 0.35 ? "no_ranker"
                                                 : "control";
    ASSERT_EQ(variant, expected) << user;
    seen.insert(variant);
  }
  EXPECT_EQ(seen.size(), 3u);
}

TEST(ExperimentsAssignment, VariantSharesOn100kUsersMatchAllocationsWithinOnePercent) {
  ExperimentsConfig config = MustParse(kTwoVariantFile);
  const int users = 100000;
  int heavy = 0, no_ranker = 0, control = 0;
  for (int i = 0; i < users; ++i) {
    const std::string_view v = config.Assign(NumberedId("u", i))[0].variant_name();
    heavy += v == "heavy_ials";
    no_ranker += v == "no_ranker";
    control += v == kControlVariant;
  }
  EXPECT_NEAR(heavy / double(users), 0.10, 0.01);
  EXPECT_NEAR(no_ranker / double(users), 0.25, 0.01);
  EXPECT_NEAR(control / double(users), 0.65, 0.01);
}

TEST(ExperimentsAssignment, DifferentSaltsGiveIndependentAssignments) {
  // Sequential ids, the hard case for FNV-1a alone: the users in the first half under one salt
  // split about 50/50 under another, and a 5% shadow rollout takes about 5% of a 10% variant.
  int both = 0, first_only = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string user = NumberedId("u", i);
    const bool a = InRollout("salt-one", user, 0.5);
    const bool b = InRollout("salt-two", user, 0.5);
    both += a && b;
    first_only += a && !b;
  }
  EXPECT_NEAR(both / double(both + first_only), 0.5, 0.02);
  int in_variant = 0, in_variant_and_shadow = 0;
  for (int i = 0; i < 100000; ++i) {
    const std::string user = NumberedId("user", i);
    if (AssignmentBucket("weights-2026", user) < 0.10) {
      ++in_variant;
      in_variant_and_shadow += InRollout("shadow", user, 0.05);
    }
  }
  EXPECT_NEAR(in_variant_and_shadow / double(in_variant), 0.05, 0.01);
}

TEST(ExperimentsAssignment, ParametersMergeInFileOrderFirstSetterWins) {
  ExperimentsConfig config = MustParse(
      "experiments:\n"
      "  - name: first\n"
      "    salt: s1\n"
      "    variants:\n"
      "      - name: all\n"
      "        allocation: 1\n"
      "        parameters: {candidates: 300, channel_weights: {ials: 2}}\n"
      "  - name: second\n"
      "    salt: s2\n"
      "    variants:\n"
      "      - name: all\n"
      "        allocation: 1\n"
      "        parameters: {candidates: 50, ranker: false, channel_weights: {ials: 0, ease: 0}}\n"
      "  - name: third\n"
      "    salt: s3\n"
      "    variants: [{name: nobody, allocation: 0, parameters: {candidates: 7}}]\n");
  const VariantParameters p = config.ParametersFor("u42");
  EXPECT_EQ(p.candidates, 300u);
  EXPECT_EQ(p.ranker, false);
  EXPECT_EQ(p.channel_weights.at("ials"), 2.0);
  EXPECT_EQ(p.channel_weights.at("ease"), 0.0);
  std::vector<ExperimentAssignment> a = config.Assign("u42");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].experiment->name, "first");
  EXPECT_EQ(a[0].variant_name(), "all");
  EXPECT_EQ(a[2].variant_name(), kControlVariant);  // allocation 0: nobody is in the variant
  EXPECT_EQ(ReportedVariant(a), "first:all");
  EXPECT_EQ(ReportedVariant({a[2]}), "primary");
  EXPECT_EQ(ReportedVariant({}), "primary");

  EXPECT_TRUE(MustParse(kTwoVariantFile).ParametersFor("anyone").channel_weights.size() <= 1);
}

TEST(ExperimentsRollout, FivePercentOf100kUsersWithinOnePercentAndMonotonic) {
  const int users = 100000;
  int in_5 = 0;
  for (int i = 0; i < users; ++i) {
    const std::string user = NumberedId("user", i);
    const bool in = InRollout("shadow", user, 0.05);
    in_5 += in;
    // Raising the fraction only adds users; the bucket is the documented formula.
    if (in) {
      ASSERT_TRUE(InRollout("shadow", user, 0.10)) << user;
    }
    ASSERT_EQ(in, ReferenceBucket("shadow", user) < 0.05) << user;
  }
  EXPECT_NEAR(in_5 / double(users), 0.05, 0.01);
}

TEST(ExperimentsRollout, EdgeFractions) {
  for (int i = 0; i < 1000; ++i) {
    const std::string user = NumberedId("u", i);
    ASSERT_FALSE(InRollout("s", user, 0.0));
    ASSERT_FALSE(InRollout("s", user, -1.0));
    ASSERT_FALSE(InRollout("s", user, std::nan("")));
    ASSERT_TRUE(InRollout("s", user, 1.0));
    ASSERT_TRUE(InRollout("s", user, 2.0));
  }
}

TEST(ExperimentsHolderTest, ReloadSwapsAndABadFileKeepsTheOldSnapshot) {
  TempDir dir;
  const auto path = dir.path() / "experiments.yaml";
  WriteFile(path, kTwoVariantFile);
  Result<std::unique_ptr<ExperimentsHolder>> holder = OpenExperiments(path);
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  ExperimentsHolder& experiments = **holder;
  const ExperimentsHolder::Ptr before = experiments.Get();
  ASSERT_EQ(before->experiments()[0].variants.size(), 2u);

  // A bad edit is refused with the reason, and the old experiments keep serving.
  WriteFile(path, OneVariant("        allocation: 3\n"));
  Status bad = experiments.Reload();
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("field 'allocation'"));
  EXPECT_EQ(experiments.Get(), before);
  std::filesystem::remove(path);
  EXPECT_EQ(experiments.Reload().code(), StatusCode::kNotFound);
  EXPECT_EQ(experiments.Get(), before);

  // A good edit replaces the snapshot; a request holding the old one still sees the old one.
  WriteFile(path, OneVariant("        allocation: 0.5\n"));
  ASSERT_TRUE(experiments.Reload().ok());
  const ExperimentsHolder::Ptr after = experiments.Get();
  EXPECT_NE(after, before);
  EXPECT_EQ(after->experiments()[0].name, "exp_a");
  EXPECT_EQ(before->experiments()[0].name, "weights");
}

TEST(ExperimentsHolderTest, OpenFailsOnABadFile) {
  TempDir dir;
  WriteFile(dir.path() / "e.yaml", "experiments: {}\n");
  Result<std::unique_ptr<ExperimentsHolder>> holder = OpenExperiments(dir.path() / "e.yaml");
  ASSERT_FALSE(holder.ok());
  EXPECT_THAT(holder.status().message(), HasSubstr("must be a list"));
}

TEST(ExperimentsPath, DefaultAndEnv) {
  unsetenv("EXPERIMENTS_PATH");
  EXPECT_EQ(ExperimentsPathFromEnv(), "config/experiments.yaml");
  setenv("EXPERIMENTS_PATH", "/etc/recserve/exp.yaml", 1);
  EXPECT_EQ(ExperimentsPathFromEnv(), "/etc/recserve/exp.yaml");
  unsetenv("EXPERIMENTS_PATH");
}

// The channel names configuration accepts are exactly the channels a trained model has, so a
// renamed channel in models/ cannot silently escape experiments and feature flags.
TEST(RecallChannelNames, MatchTheChannelsOfATrainedModel) {
  const uint32_t users = 40, items = 30;
  std::mt19937_64 rng(7);
  std::vector<uint32_t> u, i;
  std::vector<int64_t> t;
  for (uint32_t user = 0; user < users; ++user) {
    for (int k = 0; k < 6; ++k) {
      u.push_back(user);
      i.push_back(static_cast<uint32_t>(rng() % items));
      t.push_back(1700000000 + static_cast<int64_t>(rng() % 100000));
    }
  }
  models::InteractionMatrix m = models::InteractionMatrix::Build(users, items, u, i, t);
  IdVocabulary user_ids, item_ids;
  for (uint32_t k = 0; k < users; ++k) user_ids.Intern(NumberedId("u", k));
  for (uint32_t k = 0; k < items; ++k) item_ids.Intern(NumberedId("i", k));
  models::ModelConfig config;
  config.ials.factors = 4;
  config.ials.iterations = 1;
  models::ItemSide side;
  side.tags.resize(items);
  auto model = models::RecommenderModel::TrainChannels(m, user_ids, item_ids, side, config);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  std::set<std::string> trained;
  for (const auto& channel : model->channels()) trained.insert(channel->name());
  std::set<std::string> configurable(kRecallChannelNames.begin(), kRecallChannelNames.end());
  EXPECT_EQ(trained, configurable);
}

}  // namespace
}  // namespace recserve::lifecycle
