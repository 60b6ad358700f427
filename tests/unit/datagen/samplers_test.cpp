#include "datagen/samplers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

namespace recserve::datagen {
namespace {

TEST(UniformUnit, StaysInHalfOpenUnitIntervalWithMeanNearHalf) {
  Rng rng(1);
  double sum = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double u = UniformUnit(rng);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / n, 0.5, 0.005);
}

TEST(UniformBelow, CoversEveryValueEvenly) {
  Rng rng(2);
  std::vector<int> counts(7);
  const int n = 70000;
  for (int i = 0; i < n; ++i) ++counts[UniformBelow(rng, 7)];
  for (int c : counts) EXPECT_NEAR(c, n / 7, 400);
  EXPECT_EQ(UniformBelow(rng, 1), 0u);
}

TEST(Samplers, SameSeedSameSequenceOtherSeedOther) {
  Rng a(7), b(7), c(8);
  int differences = 0;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = UniformBelow(a, 1000);
    ASSERT_EQ(x, UniformBelow(b, 1000));
    differences += x != UniformBelow(c, 1000);
  }
  EXPECT_GT(differences, 90);
}

TEST(Samplers, EngineOutputIsTheStandardsFixedSequence) {
  // The C++ standard fixes mt19937_64's 10000th output for the default seed; datagen's
  // byte-identical promise rests on it.
  Rng rng(5489);
  rng.discard(9999);
  EXPECT_EQ(rng(), 9981545732273789042ULL);
}

TEST(Bernoulli, EdgesAreExactAndMiddleMatchesRate) {
  Rng rng(3);
  int hits = 0;
  for (int i = 0; i < 100000; ++i) {
    ASSERT_FALSE(Bernoulli(rng, 0.0));
    ASSERT_TRUE(Bernoulli(rng, 1.0));
    hits += Bernoulli(rng, 0.2);
  }
  EXPECT_NEAR(hits / 100000.0, 0.2, 0.005);
}

TEST(Geometric, MeanMatchesAndCapHolds) {
  Rng rng(4);
  double sum = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    uint32_t g = Geometric(rng, 3.0, 1000);
    sum += g;
  }
  EXPECT_NEAR(sum / n, 3.0, 0.1);
  for (int i = 0; i < 1000; ++i) ASSERT_LE(Geometric(rng, 50.0, 5), 5u);
}

TEST(ZipfWeights, DecreaseAsPowerOfRank) {
  std::vector<double> w = ZipfWeights(100, 1.0);
  ASSERT_EQ(w.size(), 100u);
  EXPECT_DOUBLE_EQ(w[0], 1.0);
  EXPECT_DOUBLE_EQ(w[9], 0.1);
  EXPECT_TRUE(std::is_sorted(w.rbegin(), w.rend()));
}

TEST(AliasTable, SamplesInProportionToWeights) {
  const std::vector<double> weights = {5, 0, 1, 3, 1};
  AliasTable table(weights);
  ASSERT_EQ(table.size(), 5u);
  Rng rng(5);
  std::vector<int> counts(5);
  const int n = 200000;
  for (int i = 0; i < n; ++i) ++counts[table.Sample(rng)];
  EXPECT_EQ(counts[1], 0) << "a zero weight is never drawn";
  for (size_t i = 0; i < weights.size(); ++i) {
    EXPECT_NEAR(counts[i] / double(n), weights[i] / 10.0, 0.005) << "index " << i;
  }
}

TEST(AliasTable, ZipfHeadDominates) {
  AliasTable table(ZipfWeights(1000, 1.0));
  Rng rng(6);
  int head = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) head += table.Sample(rng) < 10;
  // Harmonic numbers: H(10) / H(1000) = 2.929 / 7.485 = 0.391.
  EXPECT_NEAR(head / double(n), 0.391, 0.01);
}

TEST(AliasTable, SingleEntryAlwaysDrawn) {
  AliasTable table({0.25});
  Rng rng(8);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(table.Sample(rng), 0u);
}

TEST(RandomPermutation, IsAPermutation) {
  Rng rng(9);
  std::vector<uint32_t> p = RandomPermutation(rng, 1000);
  std::set<uint32_t> distinct(p.begin(), p.end());
  EXPECT_EQ(distinct.size(), 1000u);
  EXPECT_EQ(*distinct.rbegin(), 999u);
  EXPECT_FALSE(std::is_sorted(p.begin(), p.end()));
}

TEST(Mix64, IsFixedAndSpreadsNeighbours) {
  EXPECT_EQ(Mix64(0), 0xe220a8397b1dcdafULL);  // SplitMix64's first output for state 0
  EXPECT_NE(Mix64(1), Mix64(2));
}

}  // namespace
}  // namespace recserve::datagen
