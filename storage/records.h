// Key layouts and record codecs of the flashembed folder (storage/FORMAT.md).
//
// Keys sort as bytes, so every integer in a key is big-endian. Values begin
// with a one-byte record version so a record can evolve without a folder-wide
// format bump. Decoders return Corruption for truncated or malformed bytes.
#ifndef FLASHEMBED_STORAGE_RECORDS_H_
#define FLASHEMBED_STORAGE_RECORDS_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace flashembed::storage {

// ---- keys ----------------------------------------------------------------

// catalog: "c/" + name -> CollectionRecord
std::string CollectionKey(std::string_view name);
inline constexpr std::string_view kCollectionKeyPrefix = "c/";
// catalog: "r/" + name -> CollectionRecord of the hidden copy a running or
// interrupted re-embedding of collection `name` is filling (its own cid).
std::string ReembedKey(std::string_view name);
// catalog: "n" -> next collection id (fixed32 LE)
inline constexpr std::string_view kNextCollectionIdKey = "n";
std::string EncodeNextCollectionId(uint32_t cid);
Result<uint32_t> DecodeNextCollectionId(std::string_view bytes);
// catalog: "s/" + cid -> CollectionState
std::string CollectionStateKey(uint32_t cid);

// Prefix shared by all keys of collection `cid` in the per-collection families.
std::string CollectionPrefix(uint32_t cid);
// The first key after every key with CollectionPrefix(cid).
std::string CollectionEnd(uint32_t cid);

// documents / vectors: cid + slot
std::string SlotKey(uint32_t cid, uint64_t slot);
// Slot of a key made by SlotKey; REQUIRES: key.size() == 12.
uint64_t SlotFromKey(std::string_view key);
// ids values: the slot as 8 bytes big-endian.
std::string EncodeSlot(uint64_t slot);
Result<uint64_t> DecodeSlot(std::string_view bytes);

// ids: cid + id part. The id part of an integer id is 'i' + 8 bytes (sign
// bit flipped, big-endian, so keys sort numerically); of a string id it is
// 's' + the string's bytes.
std::string IntIdPart(int64_t id);
std::string StringIdPart(std::string_view id);
std::string IdKey(uint32_t cid, std::string_view id_part);
// The id part of a key made by IdKey; REQUIRES: key.size() > 4.
std::string_view IdPartFromKey(std::string_view key);
struct ParsedId {
  bool is_int = false;
  int64_t int_value = 0;
  std::string string_value;
};
Result<ParsedId> DecodeIdPart(std::string_view id_part);

// oplog: cid + seq
std::string OplogKey(uint32_t cid, uint64_t seq);

// snapshots: cid + 'h' -> SnapshotHeader; cid + 'p' + part (fixed32 BE) -> bytes
std::string SnapshotHeaderKey(uint32_t cid);
std::string SnapshotPartKey(uint32_t cid, uint32_t part);
// snapshots: cid + 'M' -> SnapshotHeader of a trained encoder's model (next_seq
// 0), cid + 'm' + part -> its parts (query/: collections whose encoder is
// "learned"). Both sort before the index snapshot's parts ('p').
std::string EncoderModelHeaderKey(uint32_t cid);
std::string EncoderModelPartKey(uint32_t cid, uint32_t part);

// sources: cid + document id bytes -> SourceRecord
std::string SourceKey(uint32_t cid, std::string_view doc_id);
// The document id of a key made by SourceKey; REQUIRES: key.size() > 4.
std::string_view SourceIdFromKey(std::string_view key);

// The first key after every key that starts with `prefix` (empty when
// `prefix` is all 0xff bytes, which Store::Scan reads as "to the end").
std::string PrefixEnd(std::string_view prefix);

// postings (BM25): cid + 'T' + term + 0x00 + slot -> varint tf, varint
// document length; cid + 'S' -> TextStats. Terms hold no 0x00 byte.
std::string PostingKey(uint32_t cid, std::string_view term, uint64_t slot);
// Every posting of `term` lies in [PostingsBegin, PostingsEnd).
std::string PostingsBegin(uint32_t cid, std::string_view term);
std::string PostingsEnd(uint32_t cid, std::string_view term);
std::string TextStatsKey(uint32_t cid);

// fields (declared metadata fields): cid + u8 field + u8 rank + value + slot
// -> empty. Values of one rank sort in key order: numbers numerically,
// strings bytewise, false before true.
enum class FieldRank : uint8_t { kNumber = 0, kString = 1, kBool = 2 };
// The key prefix of every value of `rank` of field `field`.
std::string FieldRankPrefix(uint32_t cid, uint8_t field, FieldRank rank);
// The key prefix of one value of field `field` (every key but the slot).
// -0.0 is 0.0; integers beyond 2^53 round as doubles do.
std::string FieldNumberPrefix(uint32_t cid, uint8_t field, double value);
std::string FieldStringPrefix(uint32_t cid, uint8_t field, std::string_view value);
std::string FieldBoolPrefix(uint32_t cid, uint8_t field, bool value);
// The key of `slot` under a value prefix made above.
std::string FieldKey(std::string_view value_prefix, uint64_t slot);
// The slot of a fields key; Corruption when the key is too short to be one.
Result<uint64_t> SlotFromFieldKey(std::string_view key);

// ---- records ---------------------------------------------------------------

struct CollectionRecord {
  uint32_t cid = 0;
  std::string name;
  uint32_t dim = 0;
  uint8_t metric = 0;      // index::Metric value
  uint8_t index_kind = 0;  // IndexKind code: 0 HNSW, 1 flat, 2 IVF-Flat, 3 IVF-SQ8, 4 IVF-PQ
  uint32_t m = 0;
  uint32_t ef_construction = 0;
  uint32_t ef_search = 0;
  std::string encoder_spec;  // empty: vector-only collection
  int64_t created_unix_ms = 0;
  // Prepended to texts before embedding (record version 2; empty in v1).
  std::string query_prefix;
  std::string document_prefix;
  // IVF parameters and the application's properties (record version 3;
  // zero / empty in older records).
  uint32_t nlist = 0;
  uint32_t nprobe = 0;
  uint32_t train_at = 0;
  uint32_t pq_m = 0;
  uint32_t pq_nbits = 0;
  std::string properties;
  bool text_index = false;  // keeps BM25 postings (family `postings`)
  // Metadata key paths (filter syntax) indexed in family `fields`, in the
  // order that numbers them.
  std::vector<std::string> indexed_fields;
  // The default reranker's identity ("rerank/v1;id=...;dir=..."; record
  // version 4, written only when set so older builds read the rest).
  std::string reranker_spec;
};
std::string EncodeCollection(const CollectionRecord& r);
Result<CollectionRecord> DecodeCollection(std::string_view bytes);

// Counters of a collection, rewritten in every write batch that changes them.
struct CollectionState {
  uint64_t next_slot = 0;
  uint64_t next_seq = 0;
  uint64_t live_count = 0;
};
std::string EncodeState(const CollectionState& s);
Result<CollectionState> DecodeState(std::string_view bytes);

struct DocumentRecord {
  std::string id_key;    // the id part of the ids-family key: tag + bytes
  std::string text;      // may be empty for vector-only documents
  std::string metadata;  // a JSON object, serialised compactly
};
std::string EncodeDocument(const DocumentRecord& r);
Result<DocumentRecord> DecodeDocument(std::string_view bytes);

// A long document. Its chunks are ordinary documents with ids
// "<id>#<ordinal>"; this record lists them and keeps what the document has
// beyond them.
struct SourceChunk {
  uint64_t begin = 0;  // byte offsets into the document's text
  uint64_t end = 0;
  uint32_t tokens = 0;
  uint64_t text_hash = 0;  // Hash64 of the chunk's text
};
struct SourceRecord {
  std::string source;
  std::string title;
  std::string metadata;      // the document's own metadata, compact JSON
  std::string content_hash;  // 16 bytes: 128-bit hash of the text
  std::string version_hash;  // 16 bytes: of everything that shapes the chunks
  uint64_t bytes = 0;        // length of the text
  uint32_t chunk_tokens = 0;
  uint32_t overlap_tokens = 0;
  int64_t updated_unix_ms = 0;
  std::vector<SourceChunk> chunks;
  std::vector<float> vector;  // pooled document vector (dim values)
};
std::string EncodeSource(const SourceRecord& r);
Result<SourceRecord> DecodeSource(std::string_view bytes);

enum class OpKind : uint8_t { kAdd = 'A', kRemove = 'R' };
struct OplogEntry {
  OpKind kind = OpKind::kAdd;
  uint64_t slot = 0;
};
std::string EncodeOplog(const OplogEntry& e);
Result<OplogEntry> DecodeOplog(std::string_view bytes);

struct SnapshotHeader {
  uint64_t next_seq = 0;     // the snapshot holds every oplog entry with seq < next_seq
  uint64_t total_bytes = 0;  // sum of part sizes
  uint32_t parts = 0;
  uint64_t hash = 0;  // Hash64 of the concatenated parts
};
std::string EncodeSnapshotHeader(const SnapshotHeader& h);
Result<SnapshotHeader> DecodeSnapshotHeader(std::string_view bytes);

// One document's entry in the posting list of a term.
struct Posting {
  uint64_t slot = 0;    // from the key
  uint64_t tf = 0;      // occurrences of the term in the document
  uint64_t length = 0;  // the document's length in terms
};
// The value of a posting.
std::string EncodePosting(uint64_t tf, uint64_t length);
// A posting found in [PostingsBegin(cid, term), PostingsEnd(cid, term)):
// Corruption when its key is not PostingKey(cid, term, slot)'s length or
// its value is not two varints.
Result<Posting> DecodePosting(std::string_view term, std::string_view key, std::string_view value);

// Live documents of a collection's full-text index and their summed length
// in terms (stored with the postings, key TextStatsKey).
struct TextStats {
  uint64_t documents = 0;
  uint64_t terms = 0;
};
std::string EncodeTextStats(const TextStats& s);
Result<TextStats> DecodeTextStats(std::string_view bytes);

// Vectors are stored as little-endian float32, dim * 4 bytes.
std::string EncodeVector(std::span<const float> v);
Result<std::vector<float>> DecodeVector(std::string_view bytes, uint32_t dim);

}  // namespace flashembed::storage

#endif  // FLASHEMBED_STORAGE_RECORDS_H_
