#include "index/snapshot_header.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/testing/test_util.h"

namespace flashembed::index::internal {
namespace {

// A kind's header as index/FORMAT.md lays them out: magic and version
// first, live count, payload size and hash last.
struct TestHeader {
  char magic[8];
  uint32_t version;
  uint32_t dim;
  uint64_t live_count;
  uint64_t payload_size;
  uint64_t payload_hash;
};
constexpr char kMagic[8] = {'F', 'E', 'T', 'E', 'S', 'T', '0', '1'};
constexpr SnapshotFormat kFormat{"test", "a test snapshot", kMagic, 3};

std::string Sealed(std::string_view payload) {
  std::string out(sizeof(TestHeader), '\0');
  out.append(payload);
  TestHeader h{};
  h.dim = 7;
  h.live_count = 2;
  SealSnapshot(kFormat, h, &out);
  return out;
}

TEST(SnapshotHeader, SealThenOpenGivesThePayloadAndTheKindsFields) {
  const std::string bytes = Sealed("payload bytes");
  EXPECT_EQ(bytes.substr(0, 8), std::string(kMagic, 8));
  TestHeader h;
  ASSERT_OK_AND_ASSIGN(std::string_view payload, OpenSnapshot(kFormat, bytes, &h));
  EXPECT_EQ(payload, "payload bytes");
  EXPECT_EQ(h.version, 3u);
  EXPECT_EQ(h.dim, 7u);
  EXPECT_EQ(h.live_count, 2u);
  EXPECT_EQ(h.payload_size, 13u);
  EXPECT_EQ(h.payload_hash, Hash64("payload bytes"));
}

TEST(SnapshotHeader, DamageIsCorruptionAndAnotherVersionNotSupported) {
  const std::string bytes = Sealed("payload bytes");
  TestHeader h;
  Status s = OpenSnapshot(kFormat, bytes.substr(0, 20), &h).status();
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_EQ(s.message(), "test snapshot truncated: 20 bytes, header needs 40");
  for (size_t cut = sizeof(TestHeader); cut < bytes.size(); ++cut) {
    s = OpenSnapshot(kFormat, bytes.substr(0, cut), &h).status();
    EXPECT_TRUE(s.IsCorruption()) << cut << ": " << s;
  }
  std::string flipped = bytes;
  flipped.back() ^= 1;
  s = OpenSnapshot(kFormat, flipped, &h).status();
  EXPECT_EQ(s.message(), "test snapshot checksum mismatch");
  std::string bad_magic = bytes;
  bad_magic[0] = 'X';
  s = OpenSnapshot(kFormat, bad_magic, &h).status();
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_EQ(s.message(), "not a test snapshot (bad magic)");
  std::string other_version = bytes;
  other_version[8] = 4;
  s = OpenSnapshot(kFormat, other_version, &h).status();
  EXPECT_EQ(s.code(), StatusCode::kNotSupported);
  EXPECT_EQ(s.message(), "test snapshot format version 4 is not supported (this build reads 3)");
}

}  // namespace
}  // namespace flashembed::index::internal
