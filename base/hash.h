// Hash64: a fast, deterministic 64-bit hash for checksums and feature hashing.
// Not cryptographic. Stable across runs, builds and platforms (little-endian
// reads), so values may be persisted.
#ifndef FLASHEMBED_BASE_HASH_H_
#define FLASHEMBED_BASE_HASH_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace flashembed {

inline uint64_t Mix64(uint64_t x) {
  // Finaliser with good avalanche (xor-shift-multiply rounds).
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  x ^= x >> 32;
  return x;
}

inline uint64_t Hash64(const void* data, size_t n, uint64_t seed = 0) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = seed ^ (0x9e3779b97f4a7c15ULL * (n + 1));
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ Mix64(w)) * 0xff51afd7ed558ccdULL;
    h = (h << 27) | (h >> 37);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p + i, n - i);
  h ^= Mix64(tail ^ (n - i));
  return Mix64(h);
}

inline uint64_t Hash64(std::string_view s, uint64_t seed = 0) {
  return Hash64(s.data(), s.size(), seed);
}

}  // namespace flashembed

#endif  // FLASHEMBED_BASE_HASH_H_
