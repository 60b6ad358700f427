#include "datagen/samplers.h"

#include <cmath>
#include <numeric>

namespace recserve::datagen {

double UniformUnit(Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

uint64_t UniformBelow(Rng& rng, uint64_t n) {
  // Reject draws from the incomplete last block of size (2^64 mod n) so every residue is equally
  // likely. (2^64 - n) % n == 2^64 % n in unsigned arithmetic.
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    uint64_t x = rng();
    if (x >= threshold) return x % n;
  }
}

bool Bernoulli(Rng& rng, double p) {
  if (p <= 0.0) return false;
  if (p >= 1.0) return true;
  return UniformUnit(rng) < p;
}

uint32_t Geometric(Rng& rng, double mean, uint32_t cap) {
  const double success = 1.0 / (mean + 1.0);
  uint32_t failures = 0;
  while (failures < cap && UniformUnit(rng) >= success) ++failures;
  return failures;
}

uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::vector<double> ZipfWeights(uint32_t n, double exponent) {
  std::vector<double> weights(n);
  for (uint32_t r = 0; r < n; ++r)
    weights[r] = 1.0 / std::pow(static_cast<double>(r) + 1.0, exponent);
  return weights;
}

AliasTable::AliasTable(const std::vector<double>& weights)
    : probability_(weights.size()), alias_(weights.size()) {
  const size_t n = weights.size();
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<double> scaled(n);
  std::vector<uint32_t> small;
  std::vector<uint32_t> large;
  for (size_t i = 0; i < n; ++i) {
    scaled[i] = weights[i] * static_cast<double>(n) / total;
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<uint32_t>(i));
  }
  while (!small.empty() && !large.empty()) {
    uint32_t s = small.back();
    small.pop_back();
    uint32_t l = large.back();
    probability_[s] = scaled[s];
    alias_[s] = l;
    scaled[l] = (scaled[l] + scaled[s]) - 1.0;
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Leftovers are 1 up to rounding error.
  for (uint32_t i : large) {
    probability_[i] = 1.0;
    alias_[i] = i;
  }
  for (uint32_t i : small) {
    probability_[i] = 1.0;
    alias_[i] = i;
  }
}

uint32_t AliasTable::Sample(Rng& rng) const {
  const uint32_t column = static_cast<uint32_t>(UniformBelow(rng, probability_.size()));
  return UniformUnit(rng) < probability_[column] ? column : alias_[column];
}

std::vector<uint32_t> RandomPermutation(Rng& rng, uint32_t n) {
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0U);
  for (uint32_t i = n; i > 1; --i) {
    uint32_t j = static_cast<uint32_t>(UniformBelow(rng, i));
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

}  // namespace recserve::datagen
