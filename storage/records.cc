#include "storage/records.h"

#include <bit>
#include <cstring>

#include <fmt/format.h>

namespace flashembed::storage {
namespace {

static_assert(std::endian::native == std::endian::little,
              "record codecs assume a little-endian machine");

// Version 2 appended query_prefix and document_prefix; version 1 records
// (without them) are still read.
// Version 4 appended reranker_spec; a record without one is still written
// as version 3.
constexpr uint8_t kCollectionVersion = 4;
constexpr uint8_t kStateVersion = 1;
constexpr uint8_t kDocumentVersion = 1;
constexpr uint8_t kSourceVersion = 1;
constexpr uint8_t kSnapshotVersion = 1;

void PutBE32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutBE64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t GetBE64(std::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void PutBytes(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

// Reads a record front to back; any overrun makes ok() false.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool ok() const { return ok_; }
  bool done() const { return s_.empty(); }
  uint8_t Byte() {
    if (s_.empty()) return Fail(), 0;
    uint8_t b = static_cast<uint8_t>(s_[0]);
    s_.remove_prefix(1);
    return b;
  }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = Byte();
      if (!ok_) return 0;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    Fail();
    return 0;
  }
  std::string Raw(size_t n) {
    if (!ok_ || n > s_.size()) return Fail(), std::string();
    std::string out(s_.substr(0, n));
    s_.remove_prefix(n);
    return out;
  }
  std::string Bytes() {
    uint64_t n = Varint();
    if (!ok_ || n > s_.size()) return Fail(), std::string();
    std::string out(s_.substr(0, n));
    s_.remove_prefix(n);
    return out;
  }

 private:
  void Fail() { ok_ = false; }
  std::string_view s_;
  bool ok_ = true;
};

Status Malformed(const char* what) {
  return Status::Corruption(std::string(what) + " record is truncated or malformed");
}

}  // namespace

std::string CollectionKey(std::string_view name) {
  std::string k(kCollectionKeyPrefix);
  k.append(name);
  return k;
}

std::string ReembedKey(std::string_view name) {
  std::string k("r/");
  k.append(name);
  return k;
}

std::string EncodeNextCollectionId(uint32_t cid) {
  std::string out(4, '\0');
  std::memcpy(out.data(), &cid, 4);  // little-endian (asserted above)
  return out;
}

Result<uint32_t> DecodeNextCollectionId(std::string_view bytes) {
  if (bytes.size() != 4) return Status::Corruption("malformed next collection id");
  uint32_t cid = 0;
  std::memcpy(&cid, bytes.data(), 4);
  return cid;
}

std::string CollectionStateKey(uint32_t cid) {
  std::string k = "s/";
  PutBE32(&k, cid);
  return k;
}

std::string CollectionPrefix(uint32_t cid) {
  std::string k;
  PutBE32(&k, cid);
  return k;
}

std::string CollectionEnd(uint32_t cid) {
  // cid is at most 2^32-2 (see the catalog), so +1 does not wrap.
  std::string k;
  PutBE32(&k, cid + 1);
  return k;
}

std::string SlotKey(uint32_t cid, uint64_t slot) {
  std::string k;
  k.reserve(12);
  PutBE32(&k, cid);
  PutBE64(&k, slot);
  return k;
}

uint64_t SlotFromKey(std::string_view key) { return GetBE64(key.substr(4)); }

std::string EncodeSlot(uint64_t slot) {
  std::string out;
  PutBE64(&out, slot);
  return out;
}

Result<uint64_t> DecodeSlot(std::string_view bytes) {
  if (bytes.size() != 8) return Malformed("id");
  return GetBE64(bytes);
}

std::string IntIdPart(int64_t id) {
  std::string k = "i";
  PutBE64(&k, static_cast<uint64_t>(id) ^ (uint64_t{1} << 63));
  return k;
}

std::string StringIdPart(std::string_view id) {
  std::string k = "s";
  k.append(id);
  return k;
}

std::string IdKey(uint32_t cid, std::string_view id_part) {
  std::string k;
  k.reserve(4 + id_part.size());
  PutBE32(&k, cid);
  k.append(id_part);
  return k;
}

std::string_view IdPartFromKey(std::string_view key) { return key.substr(4); }

Result<ParsedId> DecodeIdPart(std::string_view id_part) {
  ParsedId id;
  if (id_part.size() == 9 && id_part[0] == 'i') {
    id.is_int = true;
    id.int_value = static_cast<int64_t>(GetBE64(id_part.substr(1)) ^ (uint64_t{1} << 63));
    return id;
  }
  if (id_part.size() >= 2 && id_part[0] == 's') {
    id.string_value = std::string(id_part.substr(1));
    return id;
  }
  return Status::Corruption("malformed document id record");
}

std::string OplogKey(uint32_t cid, uint64_t seq) { return SlotKey(cid, seq); }

std::string SnapshotHeaderKey(uint32_t cid) {
  std::string k;
  PutBE32(&k, cid);
  k.push_back('h');
  return k;
}

std::string EncoderModelHeaderKey(uint32_t cid) {
  std::string k;
  PutBE32(&k, cid);
  k.push_back('M');
  return k;
}

std::string EncoderModelPartKey(uint32_t cid, uint32_t part) {
  std::string k;
  PutBE32(&k, cid);
  k.push_back('m');
  PutBE32(&k, part);
  return k;
}

std::string SnapshotPartKey(uint32_t cid, uint32_t part) {
  std::string k;
  PutBE32(&k, cid);
  k.push_back('p');
  PutBE32(&k, part);
  return k;
}

std::string EncodeCollection(const CollectionRecord& r) {
  std::string out;
  out.push_back(static_cast<char>(r.reranker_spec.empty() ? 3 : kCollectionVersion));
  PutVarint(&out, r.cid);
  PutBytes(&out, r.name);
  PutVarint(&out, r.dim);
  out.push_back(static_cast<char>(r.metric));
  out.push_back(static_cast<char>(r.index_kind));
  PutVarint(&out, r.m);
  PutVarint(&out, r.ef_construction);
  PutVarint(&out, r.ef_search);
  PutBytes(&out, r.encoder_spec);
  PutVarint(&out, static_cast<uint64_t>(r.created_unix_ms));
  PutBytes(&out, r.query_prefix);
  PutBytes(&out, r.document_prefix);
  PutVarint(&out, r.nlist);
  PutVarint(&out, r.nprobe);
  PutVarint(&out, r.train_at);
  PutVarint(&out, r.pq_m);
  PutVarint(&out, r.pq_nbits);
  PutBytes(&out, r.properties);
  out.push_back(static_cast<char>(r.text_index ? 1 : 0));
  PutVarint(&out, r.indexed_fields.size());
  for (const std::string& f : r.indexed_fields) PutBytes(&out, f);
  if (!r.reranker_spec.empty()) PutBytes(&out, r.reranker_spec);
  return out;
}

Result<CollectionRecord> DecodeCollection(std::string_view bytes) {
  Reader in(bytes);
  const uint8_t version = in.Byte();
  if (!in.ok() || version < 1 || version > kCollectionVersion) {
    return Status::NotSupported(fmt::format(
        "collection record has version {}; this build reads 1..{}", version, kCollectionVersion));
  }
  CollectionRecord r;
  r.cid = static_cast<uint32_t>(in.Varint());
  r.name = in.Bytes();
  r.dim = static_cast<uint32_t>(in.Varint());
  r.metric = in.Byte();
  r.index_kind = in.Byte();
  r.m = static_cast<uint32_t>(in.Varint());
  r.ef_construction = static_cast<uint32_t>(in.Varint());
  r.ef_search = static_cast<uint32_t>(in.Varint());
  r.encoder_spec = in.Bytes();
  r.created_unix_ms = static_cast<int64_t>(in.Varint());
  if (version >= 2) {
    r.query_prefix = in.Bytes();
    r.document_prefix = in.Bytes();
  }
  if (version >= 3) {
    r.nlist = static_cast<uint32_t>(in.Varint());
    r.nprobe = static_cast<uint32_t>(in.Varint());
    r.train_at = static_cast<uint32_t>(in.Varint());
    r.pq_m = static_cast<uint32_t>(in.Varint());
    r.pq_nbits = static_cast<uint32_t>(in.Varint());
    r.properties = in.Bytes();
    const uint8_t flags = in.Byte();
    if (flags > 1) return Malformed("collection");
    r.text_index = flags == 1;
    const uint64_t fields = in.Varint();
    if (fields > 255) return Malformed("collection");
    for (uint64_t i = 0; i < fields && in.ok(); ++i) r.indexed_fields.push_back(in.Bytes());
  }
  if (version >= 4) {
    r.reranker_spec = in.Bytes();
    if (r.reranker_spec.empty()) return Malformed("collection");
  }
  if (!in.ok() || !in.done()) return Malformed("collection");
  return r;
}

std::string EncodeState(const CollectionState& s) {
  std::string out;
  out.push_back(static_cast<char>(kStateVersion));
  PutVarint(&out, s.next_slot);
  PutVarint(&out, s.next_seq);
  PutVarint(&out, s.live_count);
  return out;
}

Result<CollectionState> DecodeState(std::string_view bytes) {
  Reader in(bytes);
  if (in.Byte() != kStateVersion || !in.ok()) return Malformed("collection state");
  CollectionState s;
  s.next_slot = in.Varint();
  s.next_seq = in.Varint();
  s.live_count = in.Varint();
  if (!in.ok() || !in.done()) return Malformed("collection state");
  return s;
}

std::string EncodeDocument(const DocumentRecord& r) {
  std::string out;
  out.reserve(8 + r.id_key.size() + r.text.size() + r.metadata.size());
  out.push_back(static_cast<char>(kDocumentVersion));
  PutBytes(&out, r.id_key);
  PutBytes(&out, r.text);
  PutBytes(&out, r.metadata);
  return out;
}

Result<DocumentRecord> DecodeDocument(std::string_view bytes) {
  Reader in(bytes);
  if (in.Byte() != kDocumentVersion || !in.ok()) return Malformed("document");
  DocumentRecord r;
  r.id_key = in.Bytes();
  r.text = in.Bytes();
  r.metadata = in.Bytes();
  if (!in.ok() || !in.done()) return Malformed("document");
  return r;
}

std::string SourceKey(uint32_t cid, std::string_view doc_id) {
  std::string k = CollectionPrefix(cid);
  k.append(doc_id);
  return k;
}

std::string_view SourceIdFromKey(std::string_view key) { return key.substr(4); }

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last != 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return end;
}

// ---- postings ----------------------------------------------------------------

std::string PostingsBegin(uint32_t cid, std::string_view term) {
  std::string k = CollectionPrefix(cid);
  k.reserve(4 + 1 + term.size() + 1 + 8);
  k.push_back('T');
  k.append(term);
  k.push_back('\0');
  return k;
}

// The 0x00 ending PostingsBegin becomes 0x01.
std::string PostingsEnd(uint32_t cid, std::string_view term) {
  return PrefixEnd(PostingsBegin(cid, term));
}

std::string PostingKey(uint32_t cid, std::string_view term, uint64_t slot) {
  std::string k = PostingsBegin(cid, term);
  PutBE64(&k, slot);
  return k;
}

std::string TextStatsKey(uint32_t cid) {
  std::string k = CollectionPrefix(cid);
  k.push_back('S');
  return k;
}

std::string EncodePosting(uint64_t tf, uint64_t length) {
  std::string out;
  PutVarint(&out, tf);
  PutVarint(&out, length);
  return out;
}

Result<Posting> DecodePosting(std::string_view term, std::string_view key, std::string_view value) {
  Reader in(value);
  Posting p;
  p.tf = in.Varint();
  p.length = in.Varint();
  if (key.size() != 4 + 1 + term.size() + 1 + 8 || !in.ok() || !in.done()) {
    return Status::Corruption("full-text posting of term \"" + std::string(term) +
                              "\" is malformed");
  }
  p.slot = GetBE64(key.substr(key.size() - 8));
  return p;
}

std::string EncodeTextStats(const TextStats& s) {
  std::string out;
  PutVarint(&out, s.documents);
  PutVarint(&out, s.terms);
  return out;
}

Result<TextStats> DecodeTextStats(std::string_view bytes) {
  Reader in(bytes);
  TextStats s;
  s.documents = in.Varint();
  s.terms = in.Varint();
  if (!in.ok() || !in.done()) {
    return Status::Corruption("full-text statistics record is malformed");
  }
  return s;
}

// ---- fields --------------------------------------------------------------------

std::string FieldRankPrefix(uint32_t cid, uint8_t field, FieldRank rank) {
  std::string k = CollectionPrefix(cid);
  k.push_back(static_cast<char>(field));
  k.push_back(static_cast<char>(rank));
  return k;
}

// A double as 8 bytes that sort as the numbers do: the sign bit flipped for
// positive numbers, every bit flipped for negative ones, big-endian.
std::string FieldNumberPrefix(uint32_t cid, uint8_t field, double value) {
  if (value == 0) value = 0;  // -0.0 and 0.0 are one value
  uint64_t bits = std::bit_cast<uint64_t>(value);
  bits = (bits >> 63) != 0 ? ~bits : bits ^ (uint64_t{1} << 63);
  std::string k = FieldRankPrefix(cid, field, FieldRank::kNumber);
  PutBE64(&k, bits);
  return k;
}

// 0x00 is written 0x00 0x01 and the string ends with 0x00 0x00, so a string
// sorts before every longer string it starts.
std::string FieldStringPrefix(uint32_t cid, uint8_t field, std::string_view value) {
  std::string k = FieldRankPrefix(cid, field, FieldRank::kString);
  k.reserve(k.size() + value.size() + 2 + 8);
  for (char c : value) {
    k.push_back(c);
    if (c == '\0') k.push_back('\1');
  }
  k.push_back('\0');
  k.push_back('\0');
  return k;
}

std::string FieldBoolPrefix(uint32_t cid, uint8_t field, bool value) {
  std::string k = FieldRankPrefix(cid, field, FieldRank::kBool);
  k.push_back(value ? '\1' : '\0');
  return k;
}

std::string FieldKey(std::string_view value_prefix, uint64_t slot) {
  std::string k(value_prefix);
  PutBE64(&k, slot);
  return k;
}

Result<uint64_t> SlotFromFieldKey(std::string_view key) {
  // cid, field, rank, the shortest value (a boolean's byte), slot.
  constexpr size_t kShortest = 4 + 1 + 1 + 1 + 8;
  if (key.size() < kShortest) {
    return Status::Corruption(fmt::format("field index key is too short: {} bytes", key.size()));
  }
  return GetBE64(key.substr(key.size() - 8));
}

std::string EncodeSource(const SourceRecord& r) {
  std::string out;
  out.reserve(64 + r.source.size() + r.title.size() + r.metadata.size() + 24 * r.chunks.size() +
              4 * r.vector.size());
  out.push_back(static_cast<char>(kSourceVersion));
  PutBytes(&out, r.source);
  PutBytes(&out, r.title);
  PutBytes(&out, r.metadata);
  PutBytes(&out, r.content_hash);
  PutBytes(&out, r.version_hash);
  PutVarint(&out, r.bytes);
  PutVarint(&out, r.chunk_tokens);
  PutVarint(&out, r.overlap_tokens);
  PutVarint(&out, static_cast<uint64_t>(r.updated_unix_ms));
  PutVarint(&out, r.chunks.size());
  for (const SourceChunk& c : r.chunks) {
    PutVarint(&out, c.begin);
    PutVarint(&out, c.end - c.begin);
    PutVarint(&out, c.tokens);
    PutBE64(&out, c.text_hash);
  }
  PutBytes(&out, EncodeVector(r.vector));
  return out;
}

Result<SourceRecord> DecodeSource(std::string_view bytes) {
  Reader in(bytes);
  if (in.Byte() != kSourceVersion || !in.ok()) return Malformed("source document");
  SourceRecord r;
  r.source = in.Bytes();
  r.title = in.Bytes();
  r.metadata = in.Bytes();
  r.content_hash = in.Bytes();
  r.version_hash = in.Bytes();
  r.bytes = in.Varint();
  r.chunk_tokens = static_cast<uint32_t>(in.Varint());
  r.overlap_tokens = static_cast<uint32_t>(in.Varint());
  r.updated_unix_ms = static_cast<int64_t>(in.Varint());
  const uint64_t n = in.Varint();
  // Each chunk takes at least 11 bytes, so a corrupt count cannot make us
  // reserve more than the record could hold.
  if (!in.ok() || n > bytes.size() / 11) return Malformed("source document");
  r.chunks.resize(n);
  for (SourceChunk& c : r.chunks) {
    c.begin = in.Varint();
    c.end = c.begin + in.Varint();
    c.tokens = static_cast<uint32_t>(in.Varint());
    std::string h = in.Raw(8);
    if (!in.ok()) return Malformed("source document");
    c.text_hash = GetBE64(h);
  }
  std::string v = in.Bytes();
  if (!in.ok() || !in.done() || v.size() % 4 != 0) return Malformed("source document");
  FE_ASSIGN_OR_RETURN(r.vector, DecodeVector(v, static_cast<uint32_t>(v.size() / 4)));
  return r;
}

std::string EncodeOplog(const OplogEntry& e) {
  std::string out;
  out.push_back(static_cast<char>(e.kind));
  PutBE64(&out, e.slot);
  return out;
}

Result<OplogEntry> DecodeOplog(std::string_view bytes) {
  if (bytes.size() != 9 || (bytes[0] != 'A' && bytes[0] != 'R')) return Malformed("oplog");
  return OplogEntry{static_cast<OpKind>(bytes[0]), GetBE64(bytes.substr(1))};
}

std::string EncodeSnapshotHeader(const SnapshotHeader& h) {
  std::string out;
  out.push_back(static_cast<char>(kSnapshotVersion));
  PutVarint(&out, h.next_seq);
  PutVarint(&out, h.total_bytes);
  PutVarint(&out, h.parts);
  PutBE64(&out, h.hash);
  return out;
}

Result<SnapshotHeader> DecodeSnapshotHeader(std::string_view bytes) {
  Reader in(bytes);
  if (in.Byte() != kSnapshotVersion || !in.ok()) return Malformed("snapshot header");
  SnapshotHeader h;
  h.next_seq = in.Varint();
  h.total_bytes = in.Varint();
  h.parts = static_cast<uint32_t>(in.Varint());
  std::string rest;
  for (int i = 0; i < 8; ++i) rest.push_back(static_cast<char>(in.Byte()));
  if (!in.ok() || !in.done()) return Malformed("snapshot header");
  h.hash = GetBE64(rest);
  return h;
}

std::string EncodeVector(std::span<const float> v) {
  std::string out(v.size() * sizeof(float), '\0');
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

Result<std::vector<float>> DecodeVector(std::string_view bytes, uint32_t dim) {
  if (bytes.size() != size_t{dim} * sizeof(float)) {
    return Status::Corruption(fmt::format("vector record has {} bytes, expected {}", bytes.size(),
                                          size_t{dim} * sizeof(float)));
  }
  std::vector<float> v(dim);
  std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

}  // namespace flashembed::storage
