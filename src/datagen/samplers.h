#pragma once
// Random sampling with fixed, portable definitions. The standard library's distributions
// (std::uniform_int_distribution, std::discrete_distribution, ...) may produce different
// sequences on different library versions; datagen promises byte-identical output for the same
// flags everywhere, so it draws only raw 64-bit words from std::mt19937_64 (whose output is fixed
// by the C++ standard) and turns them into values with the functions below.

#include <cstdint>
#include <random>
#include <vector>

namespace recserve::datagen {

using Rng = std::mt19937_64;

// Uniform double in [0, 1) from the top 53 bits of one draw.
double UniformUnit(Rng& rng);

// Uniform integer in [0, n). REQUIRES: n > 0. Unbiased (rejection on the 64-bit range).
uint64_t UniformBelow(Rng& rng, uint64_t n);

// True with probability p (p <= 0 never, p >= 1 always).
bool Bernoulli(Rng& rng, double p);

// Number of failures before the first success of a Bernoulli(1 / (mean + 1)) trial, so the mean
// is `mean`; capped at `cap`. Used for session lengths. REQUIRES: mean >= 0.
uint32_t Geometric(Rng& rng, double mean, uint32_t cap);

// SplitMix64 finaliser: a fixed bijective mix of 64 bits. Used to derive per-entity attributes
// (a user's tastes, an item's tags) from (seed, id) without storing them.
uint64_t Mix64(uint64_t x);

// Zipf-like weights w[r] = 1 / (r + 1)^exponent for ranks r = 0..n-1 (rank 0 most popular).
std::vector<double> ZipfWeights(uint32_t n, double exponent);

// Samples index i with probability weights[i] / sum(weights) in O(1) per draw (Vose's alias
// method). Memory: 12 bytes per entry. Immutable after construction; Sample() is const and
// thread-safe given a per-thread Rng.
class AliasTable {
 public:
  AliasTable() = default;
  // REQUIRES: weights non-empty, every weight >= 0 and finite, sum > 0.
  explicit AliasTable(const std::vector<double>& weights);

  uint32_t Sample(Rng& rng) const;
  uint32_t size() const { return static_cast<uint32_t>(probability_.size()); }
  bool empty() const { return probability_.empty(); }

 private:
  std::vector<double> probability_;  // chance to keep column i rather than take alias_[i]
  std::vector<uint32_t> alias_;
};

// A uniformly random permutation of 0..n-1 (Fisher-Yates with UniformBelow).
std::vector<uint32_t> RandomPermutation(Rng& rng, uint32_t n);

}  // namespace recserve::datagen
