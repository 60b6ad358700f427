#pragma once
// Hashes with fixed, documented definitions: they appear in data files, manifests and in the
// evaluation protocol, so they must never change between builds or machines.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace recserve {

// FNV-1a 64-bit over the bytes of `data` (offset basis 14695981039346656037, prime 1099511628211).
// Used by the random_hash split and for stable user bucketing.
constexpr uint64_t Fnv1a64(std::string_view data) {
  uint64_t h = 14695981039346656037ULL;
  for (char c : data) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// MurmurHash3's fmix64 finalizer: h ^= h >> 33; h *= 0xff51afd7ed558ccd; h ^= h >> 33;
// h *= 0xc4ceb9fe1a85ec53; h ^= h >> 33 (all mod 2^64). A bijection that spreads every input bit
// (experiment buckets, docs/EXPERIMENTS.md; live-state pair hashes).
constexpr uint64_t MixBits64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// Lower-case hex SHA-256 of a byte string (OpenSSL EVP).
std::string Sha256Hex(std::string_view data);

// Lower-case hex SHA-256 of a file's bytes, streamed. NotFound / DataLoss on I/O errors.
Result<std::string> Sha256File(const std::filesystem::path& path);

}  // namespace recserve
