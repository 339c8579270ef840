#include "storage/records.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "tests/testing/test_util.h"

namespace flashembed::storage {
namespace {

TEST(Records, CollectionRoundTrip) {
  CollectionRecord r;
  r.cid = 42;
  r.name = "notes";
  r.dim = 384;
  r.metric = 2;
  r.m = 24;
  r.ef_construction = 300;
  r.ef_search = 77;
  r.encoder_spec = "hash/v1;dim=384";
  r.created_unix_ms = 1764300000000;
  r.index_kind = 4;
  r.nlist = 1024;
  r.nprobe = 32;
  r.train_at = 50000;
  r.pq_m = 48;
  r.pq_nbits = 6;
  r.properties = R"({"milvus":{"fields":[]}})";
  r.text_index = true;
  r.indexed_fields = {"lang", "meta[\"year\"]"};
  ASSERT_OK_AND_ASSIGN(CollectionRecord back, DecodeCollection(EncodeCollection(r)));
  EXPECT_EQ(back.cid, 42u);
  EXPECT_EQ(back.name, "notes");
  EXPECT_EQ(back.dim, 384u);
  EXPECT_EQ(back.metric, 2);
  EXPECT_EQ(back.m, 24u);
  EXPECT_EQ(back.ef_construction, 300u);
  EXPECT_EQ(back.ef_search, 77u);
  EXPECT_EQ(back.encoder_spec, "hash/v1;dim=384");
  EXPECT_EQ(back.created_unix_ms, 1764300000000);
  EXPECT_EQ(back.index_kind, 4);
  EXPECT_EQ(back.nlist, 1024u);
  EXPECT_EQ(back.nprobe, 32u);
  EXPECT_EQ(back.train_at, 50000u);
  EXPECT_EQ(back.pq_m, 48u);
  EXPECT_EQ(back.pq_nbits, 6u);
  EXPECT_EQ(back.properties, R"({"milvus":{"fields":[]}})");
  EXPECT_TRUE(back.text_index);
  EXPECT_EQ(back.indexed_fields, (std::vector<std::string>{"lang", "meta[\"year\"]"}));
}

// Version 1 (before query/document prefixes) and version 2 (before IVF
// parameters and properties) collection records still read.
TEST(Records, ReadsVersion1And2CollectionRecords) {
  CollectionRecord r;
  r.cid = 3;
  r.name = "old";
  r.dim = 8;
  r.encoder_spec = "hash/v1;dim=8";
  std::string v3 = EncodeCollection(r);
  ASSERT_EQ(v3[0], 3);
  // Five zero varints, an empty properties string, no flags and no indexed
  // fields end a version 3 record.
  ASSERT_EQ(v3.substr(v3.size() - 8), std::string(8, '\0'));
  std::string v2 = v3.substr(0, v3.size() - 8);
  v2[0] = 2;
  ASSERT_OK_AND_ASSIGN(CollectionRecord back2, DecodeCollection(v2));
  EXPECT_EQ(back2.name, "old");
  EXPECT_EQ(back2.nlist, 0u);
  EXPECT_EQ(back2.properties, "");
  ASSERT_EQ(v2.substr(v2.size() - 2), std::string(2, '\0'));  // two empty prefixes
  std::string v1 = v2.substr(0, v2.size() - 2);
  v1[0] = 1;
  ASSERT_OK_AND_ASSIGN(CollectionRecord back, DecodeCollection(v1));
  EXPECT_EQ(back.name, "old");
  EXPECT_EQ(back.encoder_spec, "hash/v1;dim=8");
  EXPECT_EQ(back.query_prefix, "");
  r.query_prefix = "query: ";
  r.document_prefix = "passage: ";
  ASSERT_OK_AND_ASSIGN(back, DecodeCollection(EncodeCollection(r)));
  EXPECT_EQ(back.query_prefix, "query: ");
  EXPECT_EQ(back.document_prefix, "passage: ");
  std::string future = v3;
  future[0] = 5;
  EXPECT_EQ(DecodeCollection(future).status().code(), StatusCode::kNotSupported);
}

// A default reranker makes a version 4 record; without one the record stays
// version 3, which builds before version 4 read.
TEST(Records, DefaultRerankerIsVersion4Only) {
  CollectionRecord r;
  r.cid = 9;
  r.name = "ranked";
  r.encoder_spec = "hash/v1;dim=8";
  EXPECT_EQ(EncodeCollection(r)[0], 3);
  r.reranker_spec = "rerank/v1;id=0123456789abcdef;dir=/models/ms-marco";
  const std::string v4 = EncodeCollection(r);
  ASSERT_EQ(v4[0], 4);
  ASSERT_OK_AND_ASSIGN(CollectionRecord back, DecodeCollection(v4));
  EXPECT_EQ(back.reranker_spec, r.reranker_spec);
  EXPECT_EQ(back.name, "ranked");
  // A version 4 record must carry a spec, and nothing after it.
  std::string empty_spec = EncodeCollection(CollectionRecord{});
  empty_spec[0] = 4;
  empty_spec.push_back('\0');
  EXPECT_TRUE(DecodeCollection(empty_spec).status().IsCorruption());
  EXPECT_TRUE(DecodeCollection(v4 + "x").status().IsCorruption());
  EXPECT_TRUE(DecodeCollection(v4.substr(0, v4.size() - 1)).status().IsCorruption());
}

TEST(Records, TruncatedRecordsAreCorruption) {
  DocumentRecord d{"s" + std::string("doc-1"), "some text", R"({"a":1})"};
  std::string bytes = EncodeDocument(d);
  ASSERT_OK_AND_ASSIGN(DocumentRecord back, DecodeDocument(bytes));
  EXPECT_EQ(back.id_key, d.id_key);
  EXPECT_EQ(back.text, d.text);
  EXPECT_EQ(back.metadata, d.metadata);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    auto r = DecodeDocument(std::string_view(bytes).substr(0, cut));
    ASSERT_FALSE(r.ok()) << "cut at " << cut;
    EXPECT_TRUE(r.status().IsCorruption());
  }
  EXPECT_FALSE(DecodeDocument(bytes + "x").ok());  // trailing garbage

  std::string c = EncodeCollection(CollectionRecord{});
  EXPECT_FALSE(DecodeCollection(c.substr(0, c.size() - 1)).ok());
  EXPECT_FALSE(DecodeState("").ok());
  EXPECT_FALSE(DecodeOplog("A123").ok());
  EXPECT_FALSE(DecodeSnapshotHeader("\x01").ok());
  EXPECT_TRUE(DecodeVector("abc", 1).status().IsCorruption());
}

TEST(Records, IntIdKeysSortNumerically) {
  std::vector<int64_t> ids = {INT64_MIN, -1000, -1, 0, 1, 255, 256, INT64_MAX};
  for (size_t i = 0; i + 1 < ids.size(); ++i) {
    EXPECT_LT(IdKey(1, IntIdPart(ids[i])), IdKey(1, IntIdPart(ids[i + 1]))) << ids[i];
  }
  for (int64_t id : ids) {
    ASSERT_OK_AND_ASSIGN(ParsedId p, DecodeIdPart(IntIdPart(id)));
    EXPECT_TRUE(p.is_int);
    EXPECT_EQ(p.int_value, id);
  }
  ASSERT_OK_AND_ASSIGN(ParsedId s, DecodeIdPart(StringIdPart("12345678")));
  EXPECT_FALSE(s.is_int);
  EXPECT_EQ(s.string_value, "12345678");
  EXPECT_NE(IntIdPart(7), StringIdPart("7"));
  EXPECT_FALSE(DecodeIdPart("x").ok());
  EXPECT_FALSE(DecodeIdPart("s").ok());
}

TEST(Records, KeysOfOneCollectionStayInItsRange) {
  for (uint64_t slot : {uint64_t{0}, uint64_t{1} << 40, ~uint64_t{0}}) {
    std::string k = SlotKey(5, slot);
    EXPECT_GE(k, CollectionPrefix(5));
    EXPECT_LT(k, CollectionEnd(5));
    EXPECT_EQ(SlotFromKey(k), slot);
  }
  EXPECT_LT(SnapshotHeaderKey(5), CollectionEnd(5));
  EXPECT_LT(SnapshotPartKey(5, 0xffffffff), CollectionEnd(5));
  ASSERT_OK_AND_ASSIGN(uint64_t slot, DecodeSlot(EncodeSlot(123456789)));
  EXPECT_EQ(slot, 123456789u);
}

TEST(Records, StateOplogSnapshotAndVectorRoundTrip) {
  ASSERT_OK_AND_ASSIGN(CollectionState s, DecodeState(EncodeState({10, 20, 5})));
  EXPECT_EQ(s.next_slot, 10u);
  EXPECT_EQ(s.next_seq, 20u);
  EXPECT_EQ(s.live_count, 5u);
  ASSERT_OK_AND_ASSIGN(OplogEntry e, DecodeOplog(EncodeOplog({OpKind::kRemove, 99})));
  EXPECT_EQ(e.kind, OpKind::kRemove);
  EXPECT_EQ(e.slot, 99u);
  ASSERT_OK_AND_ASSIGN(SnapshotHeader h,
                       DecodeSnapshotHeader(EncodeSnapshotHeader({7, 100, 2, 0xabcdef})));
  EXPECT_EQ(h.next_seq, 7u);
  EXPECT_EQ(h.total_bytes, 100u);
  EXPECT_EQ(h.parts, 2u);
  EXPECT_EQ(h.hash, 0xabcdefu);
  std::vector<float> v = {1.5f, -2.0f, 0.0f};
  ASSERT_OK_AND_ASSIGN(std::vector<float> back, DecodeVector(EncodeVector(v), 3));
  EXPECT_EQ(back, v);
  EXPECT_FALSE(DecodeVector(EncodeVector(v), 4).ok());
}

// The bytes below are those query/ wrote before the layouts moved here
// (storage/FORMAT.md); they must not change.
TEST(Records, PostingKeysAndValuesKeepTheirBytes) {
  using std::string_literals::operator""s;
  EXPECT_EQ(PostingKey(1, "ab", 2), "\0\0\0\1Tab\0\0\0\0\0\0\0\0\2"s);
  EXPECT_EQ(PostingsBegin(1, "ab"), "\0\0\0\1Tab\0"s);
  EXPECT_EQ(PostingsEnd(1, "ab"), "\0\0\0\1Tab\1"s);
  EXPECT_EQ(TextStatsKey(1), "\0\0\0\1S"s);
  EXPECT_EQ(EncodePosting(300, 5), "\xac\x02\x05");
  EXPECT_EQ(EncodeTextStats({1, 128}), "\x01\x80\x01");
}

TEST(Records, PostingsRoundTripAndStayInTheirRanges) {
  for (uint64_t slot : {uint64_t{0}, uint64_t{255}, ~uint64_t{0}}) {
    const std::string key = PostingKey(7, "river", slot);
    EXPECT_GE(key, PostingsBegin(7, "river"));
    EXPECT_LT(key, PostingsEnd(7, "river"));
    EXPECT_LT(key, CollectionEnd(7));
    ASSERT_OK_AND_ASSIGN(Posting p, DecodePosting("river", key, EncodePosting(3, 1u << 20)));
    EXPECT_EQ(p.slot, slot);
    EXPECT_EQ(p.tf, 3u);
    EXPECT_EQ(p.length, 1u << 20);
  }
  // A term that extends another lies outside the shorter term's range.
  EXPECT_GE(PostingKey(7, "rivers", 0), PostingsEnd(7, "river"));
  EXPECT_LT(TextStatsKey(7), CollectionEnd(7));
  ASSERT_OK_AND_ASSIGN(TextStats s, DecodeTextStats(EncodeTextStats({12, 3456})));
  EXPECT_EQ(s.documents, 12u);
  EXPECT_EQ(s.terms, 3456u);
}

TEST(Records, DamagedPostingsAndStatsAreCorruption) {
  const std::string key = PostingKey(7, "river", 9);
  const std::string value = EncodePosting(300, 5);
  for (size_t cut = 0; cut < value.size(); ++cut) {
    Status s = DecodePosting("river", key, value.substr(0, cut)).status();
    EXPECT_TRUE(s.IsCorruption()) << cut;
    EXPECT_EQ(s.message(), "full-text posting of term \"river\" is malformed");
  }
  EXPECT_TRUE(DecodePosting("river", key, value + "x").status().IsCorruption());
  EXPECT_TRUE(DecodePosting("river", key.substr(0, key.size() - 1), value).status().IsCorruption());
  EXPECT_TRUE(DecodePosting("river", key + "x", value).status().IsCorruption());
  // A varint that never ends.
  EXPECT_TRUE(DecodePosting("river", key, std::string(11, '\x80')).status().IsCorruption());
  const std::string stats = EncodeTextStats({300, 70000});
  for (size_t cut = 0; cut < stats.size(); ++cut) {
    Status s = DecodeTextStats(stats.substr(0, cut)).status();
    EXPECT_TRUE(s.IsCorruption()) << cut;
    EXPECT_EQ(s.message(), "full-text statistics record is malformed");
  }
  EXPECT_TRUE(DecodeTextStats(stats + "x").status().IsCorruption());
}

TEST(Records, FieldKeysKeepTheirBytes) {
  using std::string_literals::operator""s;
  EXPECT_EQ(FieldRankPrefix(1, 2, FieldRank::kString), "\0\0\0\1\2\1"s);
  EXPECT_EQ(FieldNumberPrefix(1, 2, 1.0), "\0\0\0\1\2\0\xbf\xf0\0\0\0\0\0\0"s);
  EXPECT_EQ(FieldNumberPrefix(1, 2, -1.0), "\0\0\0\1\2\0\x40\x0f\xff\xff\xff\xff\xff\xff"s);
  EXPECT_EQ(FieldNumberPrefix(1, 2, -0.0), FieldNumberPrefix(1, 2, 0.0));
  EXPECT_EQ(FieldStringPrefix(1, 2, "a\0b"s), "\0\0\0\1\2\1a\0\1b\0\0"s);
  EXPECT_EQ(FieldBoolPrefix(1, 2, true), "\0\0\0\1\2\2\1"s);
  EXPECT_EQ(FieldKey(FieldBoolPrefix(1, 2, false), 258), "\0\0\0\1\2\2\0\0\0\0\0\0\0\1\2"s);
}

TEST(Records, FieldValuesSortAsTheyCompare) {
  using std::string_literals::operator""s;
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> numbers = {-inf,   -1e300, -2.5, -1,    -1e-300, 0,
                                       1e-300, 1,      2.5,  1e300, inf};
  for (size_t i = 0; i + 1 < numbers.size(); ++i) {
    EXPECT_LT(FieldNumberPrefix(3, 0, numbers[i]), FieldNumberPrefix(3, 0, numbers[i + 1]))
        << numbers[i];
  }
  const std::vector<std::string> strings = {""s,     "\0"s,  "\0\0"s, "\1"s, "a"s,    "a\0"s,
                                            "a\0b"s, "a\1"s, "ab"s,   "b"s,  "\xff"s, "\xff\xff"s};
  for (size_t i = 0; i + 1 < strings.size(); ++i) {
    EXPECT_LT(FieldStringPrefix(3, 0, strings[i]), FieldStringPrefix(3, 0, strings[i + 1])) << i;
    // No longer string falls in the range of one value's keys.
    const std::string p = FieldStringPrefix(3, 0, strings[i]);
    EXPECT_GE(FieldStringPrefix(3, 0, strings[i + 1]), PrefixEnd(p)) << i;
  }
  EXPECT_LT(FieldBoolPrefix(3, 0, false), FieldBoolPrefix(3, 0, true));
  // Ranks, then fields, then collections, each in their own range.
  EXPECT_LT(FieldNumberPrefix(3, 0, inf), FieldRankPrefix(3, 0, FieldRank::kString));
  EXPECT_LT(FieldStringPrefix(3, 0, "\xff\xff"s), FieldRankPrefix(3, 0, FieldRank::kBool));
  EXPECT_LT(FieldKey(FieldBoolPrefix(3, 0, true), ~uint64_t{0}),
            FieldRankPrefix(3, 1, FieldRank::kNumber));
  EXPECT_LT(FieldKey(FieldBoolPrefix(3, 255, true), ~uint64_t{0}), CollectionEnd(3));
  const std::string value = FieldStringPrefix(3, 0, "en");
  for (uint64_t slot : {uint64_t{0}, uint64_t{1} << 40, ~uint64_t{0}}) {
    const std::string key = FieldKey(value, slot);
    EXPECT_GE(key, value);
    EXPECT_LT(key, PrefixEnd(value));
    ASSERT_OK_AND_ASSIGN(uint64_t back, SlotFromFieldKey(key));
    EXPECT_EQ(back, slot);
  }
  EXPECT_TRUE(SlotFromFieldKey(FieldBoolPrefix(3, 0, true)).status().IsCorruption());
  EXPECT_TRUE(SlotFromFieldKey("").status().IsCorruption());
}

TEST(Records, NextCollectionIdAndIdPartOfAKey) {
  EXPECT_EQ(EncodeNextCollectionId(0x01020304), "\x04\x03\x02\x01");  // u32 LE
  ASSERT_OK_AND_ASSIGN(uint32_t cid, DecodeNextCollectionId(EncodeNextCollectionId(4000000000u)));
  EXPECT_EQ(cid, 4000000000u);
  for (std::string_view bad : {"", "abc", "abcde"}) {
    Status s = DecodeNextCollectionId(bad).status();
    EXPECT_TRUE(s.IsCorruption()) << bad;
    EXPECT_EQ(s.message(), "malformed next collection id");
  }
  EXPECT_EQ(IdPartFromKey(IdKey(9, StringIdPart("doc"))), "sdoc");
  EXPECT_EQ(IdPartFromKey(IdKey(9, IntIdPart(-3))), IntIdPart(-3));
  EXPECT_LT(PrefixEnd(kCollectionKeyPrefix), CollectionStateKey(0));
  EXPECT_GE(CollectionKey("\xff"), std::string(kCollectionKeyPrefix));
  EXPECT_LT(CollectionKey("\xff\xff"), PrefixEnd(kCollectionKeyPrefix));
}

TEST(Records, PrefixEndSkipsTrailingFfBytes) {
  using std::string_literals::operator""s;
  EXPECT_EQ(PrefixEnd("ab"), "ac");
  EXPECT_EQ(PrefixEnd("a\xff\xff"s), "b");
  EXPECT_EQ(PrefixEnd("\xff"s), "");
  EXPECT_EQ(PrefixEnd(""), "");
}

}  // namespace
}  // namespace flashembed::storage
