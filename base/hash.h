// Hash64: a fast, deterministic 64-bit hash for checksums and feature hashing.
// Not cryptographic. Stable across runs, builds and platforms (little-endian
// reads), so values may be persisted.
#ifndef FLASHEMBED_BASE_HASH_H_
#define FLASHEMBED_BASE_HASH_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "base/status.h"

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

// 128 bits as 16 bytes: two independent 64-bit hashes (content hashes of
// documents and images; persisted, so never change it).
inline std::string Hash128(std::string_view bytes, uint64_t seed = 0) {
  std::string out(16, '\0');
  const uint64_t a = Hash64(bytes, seed ^ 0x5eed0001);
  const uint64_t b = Hash64(bytes, seed ^ 0x5eed0002);
  std::memcpy(out.data(), &a, 8);
  std::memcpy(out.data() + 8, &b, 8);
  return out;
}

// Lower-case hex digits of `bytes`, two per byte.
inline std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// The check of a checksummed payload (index snapshots, the parts of a
// stored snapshot): OK when `payload` has `size` bytes and Hash64 `hash`, as
// its header says. Corruption otherwise, the message starting with `what`
// ("HNSW snapshot truncated: payload has 10 bytes, header says 12", "HNSW
// snapshot checksum mismatch").
inline Status CheckHash64(std::string_view what, std::string_view payload, uint64_t size,
                          uint64_t hash) {
  if (payload.size() != size) {
    return Status::Corruption(std::string(what) + " truncated: payload has " +
                              std::to_string(payload.size()) + " bytes, header says " +
                              std::to_string(size));
  }
  if (Hash64(payload) != hash) return Status::Corruption(std::string(what) + " checksum mismatch");
  return Status::OK();
}

}  // namespace flashembed

#endif  // FLASHEMBED_BASE_HASH_H_
