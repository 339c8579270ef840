// flashembed: an embedded vector database with built-in text encoders.
//
// This is the one header an application includes (installed as
// <flashembed/database.h>). It pulls in only the standard library and
// base/status.h.
//
//   auto db = flashembed::Database::Open({}, "./kb").value();
//   auto docs = db->CreateCollection("notes", {}).value();   // hashing encoder, cosine, HNSW
//   FE_RETURN_IF_ERROR(docs->Add({}, {{.id = 1, .text = "the quick brown fox"}}));
//   auto hits = docs->Search({.k = 5}, flashembed::Query::Text("fast fox")).value();
//
// Durability: every call that writes applies one atomic RocksDB WriteBatch and,
// with WriteOptions::sync (the default), returns only after the batch is in
// the fsync'ed write-ahead log. A crash, even kill -9, loses nothing that was
// acknowledged; a call that fails before its batch is written changes nothing.
// (If the in-memory index fails after the batch is durable, e.g. out of
// memory, the index is rebuilt from storage; if that fails too the call
// returns Internal and searches report it until the database is reopened.)
//
// Thread-safety: Database and Collection are safe for concurrent use. Searches,
// gets and counts run in parallel with each other. Writes to one collection
// are serialised; a write's disk I/O runs beside searches, and only its
// in-memory index update (one vector at a time, microseconds each) excludes
// them, so a search may wait for one vector's update and a write for the
// searches in progress. Gets read one consistent point in time. Opening a
// collection for the first time (loading its index) holds the catalog, so
// other catalog calls wait meanwhile; otherwise collections are independent.
//
// Vectors are passed as std::span<const float> of exactly `dim` values.
#ifndef FLASHEMBED_QUERY_DATABASE_H_
#define FLASHEMBED_QUERY_DATABASE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"

namespace flashembed {

// The external id of a document: a 64-bit signed integer or a non-empty
// string (at most 65535 bytes). Ids 7 and "7" are different ids.
class Id {
 public:
  Id() : value_(int64_t{0}) {}
  Id(int64_t v) : value_(v) {}                        // NOLINT: implicit by design
  Id(int v) : value_(int64_t{v}) {}                   // NOLINT
  Id(std::string v) : value_(std::move(v)) {}         // NOLINT
  Id(const char* v) : value_(std::string(v)) {}       // NOLINT
  Id(std::string_view v) : value_(std::string(v)) {}  // NOLINT

  bool is_int() const { return std::holds_alternative<int64_t>(value_); }
  bool is_string() const { return !is_int(); }
  // REQUIRES: is_int() / is_string().
  int64_t as_int() const { return std::get<int64_t>(value_); }
  const std::string& as_string() const { return std::get<std::string>(value_); }

  // Decimal for integers, the string itself otherwise.
  std::string ToString() const;

  friend bool operator==(const Id& a, const Id& b) { return a.value_ == b.value_; }

 private:
  std::variant<int64_t, std::string> value_;
};

// Writes ToString(), with a string id in double quotes: 7 or "7".
std::ostream& operator<<(std::ostream& os, const Id& id);

// The values are the codes stored with a collection (storage/FORMAT.md).
enum class Metric { kCosine = 0, kInnerProduct = 1, kL2 = 2 };
//   kHnsw     graph (hnswlib); the default.
//   kFlat     no index: every search is an exact scan.
//   kIvfFlat  FAISS inverted lists of full vectors;
//   kIvfSq8   ... of 8-bit scalar-quantised vectors (4x smaller);
//   kIvfPq    ... of product-quantised codes (IvfParams::pq_m bytes each).
// IVF kinds are trained on the collection's vectors once it holds
// IvfParams::train_at of them; until then searches are exact scans.
enum class IndexKind { kHnsw = 0, kFlat = 1, kIvfFlat = 2, kIvfSq8 = 3, kIvfPq = 4 };

// "cosine", "ip", "l2" and back; nullopt for an unknown name.
const char* MetricName(Metric metric);
std::optional<Metric> ParseMetric(std::string_view name);
// "hnsw", "flat", "ivf_flat", "ivf_sq8", "ivf_pq" and back (case-insensitive);
// nullopt for an unknown name.
const char* IndexKindName(IndexKind kind);
std::optional<IndexKind> ParseIndexKind(std::string_view name);

// HNSW graph parameters. All persisted with the collection.
struct HnswParams {
  int m = 16;                 // graph degree; 2..100
  int ef_construction = 200;  // candidate list while inserting; 1..10000
  int ef_search = 100;        // default candidate list while searching; 1..10000
};

// IVF parameters (IndexKind kIvf*). All persisted with the collection.
struct IvfParams {
  // Inverted lists (k-means centroids); 0 = chosen at training time as
  // 4 * sqrt(vectors), clamped to 16..65536. Explicit: 1..65536.
  int nlist = 0;
  // Lists searched per query by default (SearchOptions::nprobe overrides);
  // 1..65536, capped at nlist.
  int nprobe = 16;
  // Train (and switch from exact scans to the IVF index) once the
  // collection holds this many vectors; 0 = max(1000, 39 * nlist). The
  // index is trained once; later vectors are assigned to the lists. Must be
  // >= nlist, >= 16 with nlist 0, and >= 2^pq_nbits for IVF-PQ (creating
  // the collection fails with InvalidArgument otherwise).
  int train_at = 0;
  // IVF-PQ: sub-quantizers (bytes per code at 8 bits); must divide dim.
  // 0 = dim / 4 rounded down to a divisor of dim (at least 1).
  int pq_m = 0;
  // IVF-PQ: bits per sub-quantizer code, 4..8 (FAISS IVF-PQ's range here).
  int pq_nbits = 8;
};

// What a collection stores. Fixed at creation and persisted; reopening checks
// it against what this build can serve.
struct CollectionSchema {
  // Vector dimension. 0 means "the encoder's default" (384 for "hash");
  // required (1..65536) for a vector-only collection.
  int dim = 0;
  Metric metric = Metric::kCosine;
  IndexKind index = IndexKind::kHnsw;
  HnswParams hnsw;
  IvfParams ivf;
  // Built-in encoder that embeds texts: "hash" (the default hashing encoder,
  // no model files needed), or "" for a vector-only collection that takes
  // vectors of `dim` values and no text queries.
  std::string encoder = "hash";
  // Prepended by the database to every query text / document text before it
  // is embedded (not to the stored text), as some models expect: e5's
  // "query: " and "passage: ", bge's query instruction. At most 1024 bytes.
  std::string query_prefix;
  std::string document_prefix;
  // Keep a BM25 full-text index of the documents' texts (postings in
  // RocksDB, updated in the same atomic batch as each write), for
  // SearchOptions::ranking kText and kHybrid. Costs write time and space in
  // proportion to the text.
  bool text_index = false;
  // Metadata keys (or paths in filter syntax: `a["b"]`) indexed in RocksDB
  // for filters: `==`, `in` and range conjuncts on them find their
  // candidates without loading every document's metadata, from the first
  // search on. Values that are numbers, strings or booleans are indexed.
  // At most 32, distinct; fixed at creation.
  std::vector<std::string> indexed_fields;
  // Free-form JSON object stored verbatim with the collection, for the
  // application (the HTTP server keeps a Milvus schema here). At most
  // 65536 bytes; "" means none. Not interpreted by the database.
  std::string properties;
  // A default reranker, "model:DIR" (see SearchOptions::reranker): searches
  // that name none rerank with it. Its identity (a fingerprint of the
  // folder's files) is stored; a search refuses a folder that changed
  // since. "" means none.
  std::string reranker;

  Status Validate() const;
};

struct CollectionInfo {
  std::string name;
  CollectionSchema schema;    // dim resolved to the actual dimension
  std::string encoder_spec;   // full identity of the encoder, "" if none
  std::string reranker_spec;  // identity of the default reranker, "" if none
  uint64_t count = 0;         // live documents (records; a long document's chunks count each)
  uint64_t documents = 0;     // long documents stored with PutDocuments / an ingest
  int64_t created_unix_ms = 0;
  // Bytes of the collection's BM25 posting lists held in memory (see
  // Options::text_cache_bytes); 0 without a text index or before a search.
  uint64_t text_cache_bytes = 0;
  // The encoder embeds images into the same space as texts (a CLIP model):
  // Document::image and Query::image are accepted.
  bool embeds_images = false;
  // Bytes the collection's data takes in the database (RocksDB's estimate
  // over its keys: files on disk and data not yet flushed). Space of
  // deleted documents counts until a compaction gives it back.
  uint64_t disk_bytes = 0;
};

// ---- Limits on input, the same at every entry point ------------------------
//
// The library checks them on every write and search; the CLI, both HTTP APIs
// and import check them too, before writing anything, with the same
// messages.
//
// Metadata (Document::metadata, SourceDocument::metadata) nests at most
// kMaxMetadataDepth levels of objects and arrays, the metadata object itself
// being level 1 ({"a": {"b": [1]}} has 3). Deeper metadata is InvalidArgument
// "metadata nests deeper than 64 levels", found before parsing and without
// recursion, so no input is too deep to be refused safely. (The HTTP server
// refuses request bodies nested deeper than 256 levels before this applies.)
inline constexpr int kMaxMetadataDepth = 64;
// A vector's squared length (the sum of its squared values) is at most this,
// so that no inner product and no squared L2 distance between two vectors
// exceeds the largest float (3.4e38): every score is a finite number.
// Larger vectors, stored or queried, are InvalidArgument for every metric.
inline constexpr double kMaxVectorSquaredLength = 1e37;

// OK if `metadata` is acceptable as a document's metadata: "" or a JSON
// object within kMaxMetadataDepth. InvalidArgument saying what is wrong
// otherwise ("metadata nests deeper than 64 levels", "metadata is not valid
// JSON", "metadata must be a JSON object, got array").
Status ValidateMetadata(std::string_view metadata);
// OK if `vector` may be stored in or searched with in a collection of this
// metric (its dim aside): finite values, a squared length within
// kMaxVectorSquaredLength, and for cosine a direction (not zero, and not so
// short, below about 3e-39, that scaling it to length 1 overflows).
// InvalidArgument saying what is wrong otherwise.
Status ValidateVector(std::span<const float> vector, Metric metric);
// True if `text` has nothing to embed: empty, or only whitespace (Unicode
// Zs / Zl / Zp), control and format characters (U+200B, U+FEFF, ...). Such a
// text is refused as a document or a query without a vector.
bool IsBlankText(std::string_view text);

// An image to embed, for collections whose encoder embeds images (a CLIP
// model folder: CollectionInfo::embeds_images). Decoded, embedded and
// dropped: the pixels are never stored.
struct ImageInput {
  // The encoded file: JPEG (baseline, progressive, grayscale, CMYK/YCCK),
  // PNG (every colour type and depth), WebP (not animated) or GIF (its first
  // frame); not BMP.
  // Converted to RGB as Pillow's convert("RGB") does (alpha dropped).
  // InvalidArgument naming `source` (or "image") and the problem for an
  // empty, truncated, corrupt or unsupported file, or one of more than
  // kMaxImagePixels pixels (judged from its header, before decoding).
  std::string bytes;
  // Where it came from (a path, a URL), kept in the record's metadata; at
  // most 4096 bytes; may be empty.
  std::string source;
  // Rotate / mirror as the file's EXIF Orientation tag says. Off by default,
  // as transformers' CLIPImageProcessor does not apply it either (vectors
  // then equal the reference's).
  bool apply_exif_orientation = false;
};

// Images with more pixels are refused before decoding (a decompression bomb
// guard; Pillow's limit).
inline constexpr int64_t kMaxImagePixels = 178'956'970;

// One record. `text` is embedded by the collection's encoder when `vector` is
// empty; a non-empty `vector` is stored as given (and `text` kept as payload).
// With `image` set, the image is embedded instead (text and vector must be
// empty) and the record's metadata gains the keys
//   "kind": "image", "source": ImageInput::source, "content_hash": 32 hex
//   digits (a 128-bit hash of the file's bytes), "width", "height" (as
//   stored in the file) and "format" ("jpeg", "png", "webp" or "gif"),
// so filters such as `kind == "image"` work; metadata given with the
// document may not use those keys.
struct Document {
  Id id;
  std::string text;
  // A JSON object as text ("{}" when empty), nested at most
  // kMaxMetadataDepth levels. Stored compactly re-serialised.
  std::string metadata = "{}";
  // See ValidateVector.
  std::vector<float> vector;
  std::optional<ImageInput> image;
};

struct WriteOptions {
  // fsync the write-ahead log before returning (survives power loss). With
  // false the write still survives a process crash. Default true.
  bool sync = true;
};

struct Query {
  std::string text;           // embedded by the collection's encoder, or
  std::vector<float> vector;  // used as is, or
  // embedded by an encoder that embeds images (CLIP); exactly one of the
  // three is set.
  std::optional<ImageInput> image;

  static Query Text(std::string t) { return Query{std::move(t), {}, {}}; }
  static Query Vector(std::vector<float> v) { return Query{{}, std::move(v), {}}; }
  static Query Image(ImageInput image) { return Query{{}, {}, std::move(image)}; }
};

enum class SearchMode {
  kAuto,         // exact scan for small collections (Options::exact_search_below), else the index
  kExact,        // always a full scan: exact results, cost grows with the collection
  kApproximate,  // always the ANN index
};

// How a search ran (see SearchOptions::stats).
struct SearchStats {
  // "graph": HNSW search; "exact": a full scan; "exact-matches": an exact
  // scan of just the documents the filter matched (selective filters);
  // "filtered-graph": an HNSW walk that admits only matching documents;
  // "none": the filter matched no document.
  std::string strategy;
  // Documents the filter matched (every live document without a filter).
  // For a broad filter answered by "filtered-graph" without testing every
  // document, an estimate from a sample of 512.
  uint64_t filter_matches = 0;
  // The filter was tested on the few candidates an index of one of its
  // conjuncts (`k == v`, `k in [..]`, a range on k) gave, not on every
  // document: CollectionSchema::indexed_fields, or an in-memory index.
  bool narrowed = false;
  // ... through the stored index of a declared field (indexed_fields),
  // before any document's metadata was loaded into memory.
  bool stored_index = false;
  // The filter's matches came from a cache: the same filter text and params
  // were used since the collection last changed (16 filters are kept).
  bool cached = false;
};

// What ranks search results (SearchOptions::ranking).
enum class Ranking {
  kVector,  // similarity of the query vector (or embedded query text)
  kText,    // BM25 over the documents' texts (needs CollectionSchema::text_index)
  kHybrid,  // both, fused (SearchOptions::fusion)
  // The collection's best: for SearchDocuments (where it is the default),
  // kHybrid when the collection keeps a text index and there are words for
  // BM25 to match (in the keywords, else the query text), not pooled and no
  // min/max_score; else kVector. Search ranks by vector.
  kAuto,
};
enum class Fusion {
  // Reciprocal rank fusion: sum over the two lists of 1 / (rrf_k + rank),
  // rank counted from 1. Scale-free; the usual default.
  kRrf,
  // text_weight * norm(BM25) + (1 - text_weight) * norm(vector score), each
  // normalised to [0, 1] as Milvus's WeightedRanker does: BM25 and inner
  // product by arctan (2/pi * atan(s), 0.5 + atan(s)/pi), cosine as
  // (1 + s) / 2, L2 distance d as 1 - 2/pi * atan(d).
  kWeighted,
  // text_weight * norm(BM25) + (1 - text_weight) * norm(vector score), each
  // min-max normalised over its side's results for this query (the side's
  // best 1, its worst 0): scale-free like kRrf, but a clear winner of one
  // side keeps its margin.
  kNormalized,
};

struct SearchOptions {
  size_t k = 10;         // results wanted (groups with group_by); 1..16384
  size_t ef_search = 0;  // HNSW candidate list; 0 = the collection's default
  size_t nprobe = 0;     // IVF lists searched; 0 = the collection's default
  SearchMode mode = SearchMode::kAuto;
  bool with_text = true;      // fill Hit::text
  bool with_metadata = true;  // fill Hit::metadata
  bool with_vector = false;   // fill Hit::vector
  // A Milvus filter expression (docs/FILTERS.md) over the document's
  // metadata keys (`lang == "en"`, `meta["a"]["b"] > 2`, `$meta["k"]`) and
  // `id`; empty: every document. Whenever at least k documents match, k come
  // back. A malformed expression is InvalidArgument naming the column.
  std::string filter;
  // JSON object binding the filter's {name} templates (Milvus "exprParams"),
  // e.g. {"langs": ["en", "de"]} for `lang in {langs}`; empty: none.
  std::string filter_params;
  // Range search (Milvus "radius" / "range_filter"): only hits whose score
  // is >= min_score (and <= max_score), still at most k, best first. The
  // search widens until it has k such hits or none are left, so every
  // document within the range comes back when fewer than k are. Scores are
  // Hit::score (higher is better). min_score > max_score is InvalidArgument.
  std::optional<float> min_score;
  std::optional<float> max_score;
  // Grouping (Milvus "groupingField"): the k best *groups* of documents that
  // share the value of this metadata key (a top-level key, or a JSON path
  // as in filters: `meta["a"]["b"]`), each with its best group_size hits,
  // groups ordered by their best hit and hits within a group best first.
  // Documents without the key form one group (value null). Hit::group holds
  // the value as compact JSON. Empty: no grouping.
  std::string group_by;
  size_t group_size = 1;  // 1..1024
  // Ranking (see Ranking). For kText and kHybrid the full-text query is
  // `keywords`, or the query's text when empty; kHybrid also needs a query
  // vector or text for the vector side. Each side contributes its best
  // max(2k, 100) matches (the filter applies to both); a hit found by one
  // side only gets nothing from the other. group_by and min/max_score work
  // with kVector (and kAuto) only.
  Ranking ranking = Ranking::kVector;
  std::string keywords;
  Fusion fusion = Fusion::kRrf;
  int rrf_k = 60;            // kRrf; 1..16384
  float text_weight = 0.5f;  // kWeighted, kNormalized; 0..1
  // Reranking with a cross-encoder: "model:DIR" names a local Hugging Face
  // sequence-classification folder of one label (a BERT or XLM-RoBERTa
  // reranker such as ms-marco-MiniLM or bge-reranker). The first
  // rerank_depth hits of the ranking above are scored against the query's
  // text and reordered by that score (Hit::rerank_score; Hit::score keeps the
  // first stage's), then the best k are returned. Needs a query text; not
  // with group_by. A reranker is loaded once per process. Empty: the
  // collection's default reranker (CollectionSchema::reranker), if any, for
  // searches with a query text (or keywords) and no group_by; "none": no
  // reranking even then.
  std::string reranker;
  size_t rerank_depth = 0;  // 0 = max(k, 20); at most 1000
  // If set, receives how the search ran.
  SearchStats* stats = nullptr;

  Status Validate() const;
};

// A search without a query vector (Milvus "query"): the documents a filter
// matches, in the order they were last written (oldest first).
struct FindOptions {
  // Milvus filter expression as in SearchOptions::filter; empty: every
  // document.
  std::string filter;
  std::string filter_params;
  size_t offset = 0;  // skip this many matches
  size_t limit = 0;   // at most this many; 0 = all
  bool with_text = true;
  bool with_metadata = true;
  bool with_vector = false;

  Status Validate() const;
};

struct Hit {
  Id id;
  // Higher is better: cosine similarity, inner product, or minus the squared
  // L2 distance, by the collection's metric.
  float score = 0;
  std::string text;
  std::string metadata;
  std::vector<float> vector;
  // With SearchOptions::group_by: the group's value as compact JSON
  // ("\"en\"", "3", "null"); empty otherwise.
  std::string group;
  // With Ranking kText / kHybrid: the components of `score` (which is then
  // the BM25 score, or the fused score): the vector side's score and the
  // BM25 score, when that side found the document.
  std::optional<float> vector_score;
  std::optional<float> text_score;
  // With SearchOptions::reranker: the cross-encoder's score (its activation
  // of the relevance logit, e.g. a sigmoid), by which the hits are ordered.
  std::optional<float> rerank_score;
};

// ---- Long documents ---------------------------------------------------------
//
// A collection with an encoder also takes long documents: PutDocuments cuts
// each text into overlapping windows of model tokens that end at sentence
// ends where possible (encoders/chunker.h), embeds every chunk and stores it
// as an ordinary record, plus one document record (source, title, content
// hash, metadata, the chunks' offsets, a pooled document vector).
//
// A chunk is the record with string id "<document id>#<ordinal>" (ordinal
// from 0), its text exactly the document's bytes [begin, end), and metadata
// = the document's metadata plus two reserved keys:
//   "doc":   {"id": "<document id>", "source": "...", "title": "..."}
//   "chunk": {"n": ordinal, "begin": byte offset, "end": byte offset,
//             "tokens": model tokens}
// so filters reach both (`doc["source"] like "%.pdf" and year > 2020`), and
// Search returns chunks ("chunk mode"). Records whose ids end in "#<digits>"
// after a stored document's id belong to that document: Add, Upsert and
// Delete of them are refused (use PutDocuments / DeleteDocuments), and
// DeleteWhere refuses a filter that matches chunks.

// A long text to store as a document.
struct SourceDocument {
  // 1..4096 bytes; any bytes except NUL.
  std::string id;
  // Valid UTF-8 (InvalidArgument naming the first bad byte otherwise). A
  // text without any token (empty, only whitespace) is InvalidArgument.
  std::string text;
  std::string source;  // where it came from (a path, a URL); at most 4096 bytes
  std::string title;   // at most 4096 bytes
  // JSON object copied into every chunk's metadata (see ValidateMetadata);
  // may not use the reserved keys "doc" and "chunk".
  std::string metadata = "{}";
};

// How documents are cut (encoders/chunker.h has the details).
struct ChunkingOptions {
  // Most model tokens per chunk, special tokens excluded. 0 = the encoder's
  // maximum minus its special tokens, capped at 256 for models of at most
  // 512 tokens (256 for the hashing encoder).
  size_t chunk_tokens = 0;
  // Tokens consecutive chunks share, at most (at least half as many); unset
  // = 15% of chunk_tokens. At most chunk_tokens / 2.
  std::optional<size_t> overlap_tokens;
};

struct ChunkInfo {
  uint32_t ordinal = 0;
  uint64_t begin = 0;  // byte offsets into the document's text
  uint64_t end = 0;
  uint32_t tokens = 0;  // model tokens, special tokens excluded
};

// A stored document (GetDocument).
struct DocumentInfo {
  std::string id;
  std::string source;
  std::string title;
  std::string metadata;       // the document's own metadata (compact JSON)
  std::string content_hash;   // 32 hex digits: a 128-bit hash of the text
  uint64_t bytes = 0;         // length of the text
  uint64_t tokens = 0;        // sum of the chunks' tokens
  uint32_t chunk_tokens = 0;  // the resolved chunking it was cut with
  uint32_t overlap_tokens = 0;
  std::vector<ChunkInfo> chunks;
  // Token-weighted mean of the chunk vectors, re-normalised to length 1
  // (see DocumentSearchOptions::pooled). Filled on request.
  std::vector<float> vector;
  int64_t updated_unix_ms = 0;
};

// What PutDocuments did with one document.
struct PutDocumentResult {
  enum class Outcome {
    kAdded,      // new document
    kReplaced,   // text, title, source, metadata or chunking changed
    kUnchanged,  // everything equal to the stored document: nothing written
  };
  Outcome outcome = Outcome::kAdded;
  size_t chunks = 0;          // chunks the document has now
  size_t chunks_encoded = 0;  // chunks embedded by this call (a replaced
                              // document re-uses the vectors of chunks whose
                              // text did not change)
  size_t tokens = 0;          // model tokens of its chunks
};

// One chunk in a search result.
struct Passage {
  uint32_t ordinal = 0;
  uint64_t begin = 0;  // byte offsets into the document's text
  uint64_t end = 0;
  // Similarity to the query (collection metric, higher is better); with
  // kText its BM25 score, with kHybrid its fused score.
  float score = 0;
  // With a reranker: the cross-encoder's score of this passage.
  std::optional<float> rerank_score;
  std::string text;
  // With DocumentSearchOptions::neighbors: up to that many chunks just
  // before and after this one, nearest last / first (their scores are 0).
  std::vector<Passage> before;
  std::vector<Passage> after;
};

struct DocumentHit {
  std::string id;
  // kVector: the best passage's similarity, or the pooled vector's; kText:
  // the best passage's BM25; kHybrid: the fusion of the document's places in
  // the two document rankings (each by its best passage).
  float score = 0;
  // kText / kHybrid: the document's best passage similarity and best BM25
  // score, when that side found it.
  std::optional<float> vector_score;
  std::optional<float> text_score;
  // With a reranker: the best reranked passage's score, by which the
  // documents are ordered.
  std::optional<float> rerank_score;
  std::string source;
  std::string title;
  std::string metadata;           // the document's own metadata
  std::vector<Passage> passages;  // best first
};

struct DocumentSearchOptions {
  // k = documents wanted; filter, filter_params, ef_search, nprobe, mode,
  // min_score / max_score (kVector only) and with_text apply to the chunks
  // (group_by is set by the search). The filter sees the chunk metadata
  // described above.
  // Ranking (default kAuto: hybrid on a collection with a text index): each
  // ranking orders the chunks, and documents by their best chunk. kHybrid
  // fuses the two document orders (SearchOptions::fusion; each side reads
  // max(2k, 100) documents), and orders a document's passages by the same
  // fusion of the two chunk orders; Passage::score is then the fused score.
  // search.reranker: the passages found (search.rerank_depth of them, in
  // the documents' order) are scored by the cross-encoder, each document's
  // passages ordered by that score and the documents by their best one.
  // Document search's fusion defaults to kNormalized with text_weight 0.8,
  // the best of the fusions measured on our evaluation sets (docs/
  // BENCHMARKS.md, "Document search quality"): never below BM25 alone by
  // more than noise, while RRF fell 5-11 points below it.
  SearchOptions search{
      .ranking = Ranking::kAuto, .fusion = Fusion::kNormalized, .text_weight = 0.8f};
  // Best passages returned per document (1..64).
  size_t passages = 1;
  // Neighbouring chunks returned before and after each passage (0..8).
  size_t neighbors = 0;
  // Rank documents by their pooled vector (exact scan over documents)
  // instead of by their best chunk; passages are then the document's chunks
  // most similar to the query. The filter then sees the document's
  // metadata plus "doc" (no "chunk"); min/max_score are not supported.
  bool pooled = false;
};

// Streaming reads of a whole collection (export, copies): Collection::ScanRecords.
struct ScanOptions {
  bool with_text = true;
  bool with_metadata = true;
  bool with_vector = true;
  size_t batch = 1024;  // documents per visit; 1..65536

  Status Validate() const;
};

// Progress of an ingest (Collection::StartIngest); every field only grows.
struct IngestProgress {
  uint64_t documents = 0;  // documents finished (written, unchanged or failed)
  uint64_t added = 0;
  uint64_t replaced = 0;
  uint64_t unchanged = 0;
  uint64_t failed = 0;
  uint64_t chunks = 0;  // chunks written
  uint64_t chunks_encoded = 0;
  uint64_t tokens_encoded = 0;
  uint64_t bytes = 0;  // text bytes of finished documents
};

struct DocumentError {
  std::string id;
  std::string source;
  Status status;
};

struct IngestSummary {
  IngestProgress totals;
  std::vector<DocumentError> errors;  // documents refused, in finishing order
  double seconds = 0;                 // from StartIngest to Finish
  // Seconds the encoder stage spent embedding (the rest of its time it
  // waited for chunks or for the writer).
  double encode_seconds = 0;
};

struct IngestOptions {
  ChunkingOptions chunking;
  WriteOptions write{.sync = false};  // each write is atomic either way; Finish() syncs
  // Documents waiting between the caller and the chunking stage, and
  // prepared documents waiting for the writer (bounded queues).
  size_t queue_documents = 64;
  // Chunks per encoder call (across documents). 1..4096.
  size_t encode_batch = 32;
  // Documents per atomic write. 1..4096.
  size_t write_batch = 16;

  Status Validate() const;
};

// A running ingest: Push documents from any number of threads; three
// stages run meanwhile, connected by bounded queues: chunk (tokenize, skip
// unchanged documents, find re-usable chunk vectors) → encode (batches of
// chunks across documents) → write (atomic batches of whole documents). A
// document that fails (bad text, bad metadata) is reported in the summary
// and the others continue. Resuming an interrupted ingest = pushing the
// same documents again: finished ones come back kUnchanged without being
// embedded.
class DocumentIngest {
 public:
  virtual ~DocumentIngest() = default;  // finishes if Finish() was not called
  DocumentIngest(const DocumentIngest&) = delete;
  DocumentIngest& operator=(const DocumentIngest&) = delete;

  // Queues one document; blocks while the queue is full. Cancelled after
  // Finish(); the error of a stage that failed as a whole (say, the
  // disk is full), after which nothing more is written.
  virtual Status Push(SourceDocument doc) = 0;
  // A document that could not be read, to be reported with the others.
  virtual void ReportError(DocumentError error) = 0;
  // Safe from any thread at any time.
  virtual IngestProgress Progress() const = 0;
  // Waits for every queued document, syncs the write-ahead log, stops the
  // stages. Errors: a stage's failure (documents written before it stay
  // written). Call once.
  virtual Result<IngestSummary> Finish() = 0;

 protected:
  DocumentIngest() = default;
};

class TextModel;  // below

// A named set of documents with one schema and one index. Obtained from
// Database; stays valid after the collection is dropped (calls then return
// NotFound) and after the Database is destroyed (calls then return Cancelled).
class Collection {
 public:
  virtual ~Collection() = default;
  Collection(const Collection&) = delete;
  Collection& operator=(const Collection&) = delete;

  virtual const std::string& name() const = 0;
  virtual Result<CollectionInfo> Describe() const = 0;
  virtual Result<uint64_t> Count() const = 0;

  // Inserts documents atomically: all of them or, on any error, none.
  // Errors: InvalidArgument naming the document (empty id, empty text
  // without a vector, a vector of the wrong dim or that ValidateVector
  // refuses, metadata that ValidateMetadata refuses, text on a vector-only
  // collection without a vector, an id twice in the batch),
  // AlreadyExists (an id already stored; use Upsert to replace).
  virtual Status Add(const WriteOptions& options, std::span<const Document> docs) = 0;

  // Like Add, but documents whose id exists replace the stored one.
  virtual Status Upsert(const WriteOptions& options, std::span<const Document> docs) = 0;

  // Removes the documents with these ids; ids not stored are ignored.
  // Returns how many were removed. Atomic.
  virtual Result<size_t> Delete(const WriteOptions& options, std::span<const Id> ids) = 0;

  // The stored document (with its vector), or NotFound.
  virtual Result<Document> Get(const Id& id) const = 0;

  // The stored documents among `ids`, in the order of `ids`; ids not stored
  // are skipped (so are repeats). All read at one point in time.
  virtual Result<std::vector<Document>> GetMany(std::span<const Id> ids,
                                                bool with_vector) const = 0;

  // The documents options.filter matches (see FindOptions), with the
  // fields asked for. InvalidArgument for a bad filter.
  virtual Result<std::vector<Document>> Find(const FindOptions& options) const = 0;

  // How many documents `filter` matches (empty: all, as Count()).
  virtual Result<uint64_t> CountWhere(std::string_view filter,
                                      std::string_view filter_params) const = 0;

  // Removes every document `filter` matches, atomically, and returns how
  // many. An empty filter is InvalidArgument (use DropCollection, or a
  // filter such as `id >= 0`, to remove everything).
  virtual Result<size_t> DeleteWhere(const WriteOptions& options, std::string_view filter,
                                     std::string_view filter_params) = 0;

  // The k most similar documents (among those options.filter matches), best
  // first. Fewer than k only when fewer documents exist or match. The first
  // filtered search of a collection loads every document's metadata into
  // memory (kept current by writes). InvalidArgument for a text query on a
  // vector-only collection, an empty query, a vector of the wrong dim or
  // that ValidateVector refuses, or a bad filter. Every Hit::score is a
  // finite number.
  virtual Result<std::vector<Hit>> Search(const SearchOptions& options,
                                          const Query& query) const = 0;

  // ---- long documents (see SourceDocument) ----

  // Stores documents: each new one is chunked, embedded and written; a
  // stored one with equal text, title, source, metadata and chunking is
  // left alone (kUnchanged); a changed one has its chunks replaced (chunks
  // whose text did not change keep their vectors) and surplus chunks
  // removed. All of the call's documents are written in one atomic batch.
  // Errors (nothing written): InvalidArgument naming the document (bad id,
  // text, metadata, chunking; an id twice), AlreadyExists when a chunk id is
  // held by a record that is not this document's chunk; NotSupported for a
  // vector-only collection.
  virtual Result<std::vector<PutDocumentResult>> PutDocuments(
      const WriteOptions& options, const ChunkingOptions& chunking,
      std::span<const SourceDocument> docs) = 0;

  // The stored document, or NotFound.
  virtual Result<DocumentInfo> GetDocument(std::string_view id, bool with_vector) const = 0;

  // Removes documents with all their chunks, atomically; ids not stored are
  // ignored. Returns how many documents were removed.
  virtual Result<size_t> DeleteDocuments(const WriteOptions& options,
                                         std::span<const std::string> ids) = 0;

  // Documents stored (chunks are counted by Count()).
  virtual Result<uint64_t> CountDocuments() const = 0;

  // The k best documents for the query, each with its best passages (see
  // DocumentSearchOptions). InvalidArgument as for Search, and for
  // ranking other than kVector or a group_by.
  virtual Result<std::vector<DocumentHit>> SearchDocuments(const DocumentSearchOptions& options,
                                                           const Query& query) const = 0;

  // ---- whole-collection streaming (export / import) ----

  // Calls `visit` with every live record (chunks included) in write order,
  // oldest first, `options.batch` at a time; everything is read at the point
  // in time of the call (later writes are not seen), and memory stays within
  // one batch. Stops at the first error `visit` returns and returns it.
  virtual Status ScanRecords(
      const ScanOptions& options,
      const std::function<Status(std::span<const Document>)>& visit) const = 0;

  // Calls `visit` with every long document's record (as GetDocument gives
  // it) in id byte order, all read at the point in time of the call.
  virtual Status ScanDocuments(bool with_vector,
                               const std::function<Status(const DocumentInfo&)>& visit) const = 0;

  // Restores long documents as ScanRecords / ScanDocuments gave them (an
  // import of an export), in one atomic batch: `chunks` are written like
  // Upsert (vectors required), `documents` become the document records
  // (content_hash, chunks, vector (dim values; see ValidateVector) and the
  // chunking sizes as given; updated_unix_ms 0 = now). Every chunk "<id>#<n>" of each document
  // must be in `chunks`, with the metadata "doc"/"chunk" positions matching
  // the document's, and every record in `chunks` must be such a chunk;
  // InvalidArgument naming the first mismatch otherwise, and nothing is
  // written. A stored document of the same id is replaced.
  virtual Status RestoreDocuments(const WriteOptions& options, std::span<const Document> chunks,
                                  std::span<const DocumentInfo> documents) = 0;

  // Starts a pipelined ingest into this collection (see DocumentIngest).
  // InvalidArgument for bad options; NotSupported for a vector-only
  // collection.
  virtual Result<std::unique_ptr<DocumentIngest>> StartIngest(const IngestOptions& options) = 0;

  // Writes a snapshot of the in-memory index so the next open need not
  // replay writes. Done automatically on close and after many writes.
  virtual Status Snapshot() = 0;

  // The collection's encoder as a TextModel (a corpus-trained "learned" one
  // too): embeds texts as the collection does, storing nothing; its
  // query_prefix / document_prefix are not added (prepend the one you mean).
  // The model stays usable after a re-embedding switched the collection to a
  // new encoder (it is then the old one). NotSupported for a vector-only
  // collection.
  virtual Result<std::shared_ptr<const TextModel>> Model() const = 0;

 protected:
  Collection() = default;
};

// A built-in text encoder on its own, without a database: to embed texts
// or inspect tokenization (the `flashembed embed` and `tokenize` verbs).
// Thread-safety: const methods are safe to call from many threads.
class TextModel {
 public:
  // `encoder` as in CollectionSchema::encoder: "hash" or "model:DIR".
  // `dim` as in CollectionSchema::dim (0 = the encoder's default). The
  // encoder's own errors otherwise (e.g. NotFound for a missing model folder).
  static Result<std::unique_ptr<TextModel>> Open(const std::string& encoder, int dim = 0);

  virtual ~TextModel() = default;
  TextModel(const TextModel&) = delete;
  TextModel& operator=(const TextModel&) = delete;

  virtual int dim() const = 0;
  // The identity stored with collections that use this encoder.
  virtual std::string spec() const = 0;

  // Row-major texts.size() x dim() floats. InvalidArgument naming the text
  // that is empty or not valid UTF-8.
  virtual Result<std::vector<float>> Embed(const std::vector<std::string>& texts) const = 0;

  struct Tokens {
    std::vector<int32_t> ids;
    std::vector<std::string> tokens;
    std::vector<int32_t> type_ids;  // TokenizePair only
  };
  // The model's tokens for `text`, with [CLS]/[SEP]; `max_tokens` > 0
  // truncates as Hugging Face's max_length does (special tokens included).
  // NotSupported for the hashing encoder, which has no vocabulary.
  virtual Result<Tokens> Tokenize(std::string_view text, size_t max_tokens) const = 0;
  // A pair as the tokenizer's pair template has it ([CLS] a [SEP] b [SEP] with
  // token types 0 / 1 for BERT, <s> a </s> </s> b </s> for XLM-R), truncated
  // longest_first to `max_tokens` (0: no limit). NotSupported for encoders
  // without a pair template (hash, CLIP, model2vec).
  virtual Result<Tokens> TokenizePair(std::string_view first, std::string_view second,
                                      size_t max_tokens) const;

  // Embeds sequences of the model's own token ids (its vocabulary's ids, as
  // Tokenize returns them but without special tokens: the model adds those
  // and truncates as it does for a text). Row-major ids.size() x dim()
  // floats. InvalidArgument naming the sequence and position of an id
  // outside the vocabulary; NotSupported for models without a vocabulary of
  // their own (hash, learned) and for CLIP.
  virtual Result<std::vector<float>> EmbedTokenIds(
      const std::vector<std::vector<int32_t>>& ids) const;

  // How many tokens the model reads of `text`: its tokens with the special
  // ones, up to the model's maximum (longer texts are truncated); for
  // encoders without a vocabulary (hash, learned), the words they hash.
  // InvalidArgument for invalid UTF-8.
  virtual Result<size_t> CountTokens(std::string_view text) const;

  // True for a model that embeds images into the same space as texts (CLIP).
  virtual bool embeds_images() const = 0;
  // Row-major images.size() x dim() floats. InvalidArgument naming the image
  // (its source, else its index) that cannot be decoded (see ImageInput);
  // NotSupported for a text-only model.
  virtual Result<std::vector<float>> EmbedImages(std::span<const ImageInput> images) const = 0;

 protected:
  TextModel() = default;
};

// A cross-encoder (reranker) on its own: scores (query, passage) pairs with
// a local Hugging Face sequence-classification folder of one label (BERT or
// XLM-RoBERTa: ms-marco-MiniLM, bge-reranker-base / -v2-m3, ...), as
// sentence-transformers' CrossEncoder.predict does (texts stripped, the pair
// template, truncation to the folder's max length, the model's activation on
// the logit: Sigmoid unless its config names Identity). What
// SearchOptions::reranker runs; `flashembed rerank`.
//
// Thread-safety: Score is const and safe to call from many threads.
class Reranker {
 public:
  // `name`: "model:DIR" or DIR. NotFound for a missing folder; InvalidArgument
  // for a folder that is not a one-label sequence classifier (naming what).
  // Folders are loaded once per process and shared.
  static Result<std::unique_ptr<Reranker>> Open(std::string_view name);

  virtual ~Reranker() = default;
  Reranker(const Reranker&) = delete;
  Reranker& operator=(const Reranker&) = delete;

  // "rerank/v1;id=<fingerprint of the folder's files>;dir=DIR".
  virtual std::string spec() const = 0;
  struct Score {
    float score = 0;  // the activation of the logit; higher is more relevant
    float logit = 0;
  };
  // queries[i] against passages[i]. InvalidArgument naming the pair for
  // invalid UTF-8 or different lengths.
  virtual Result<std::vector<Score>> ScorePairs(const std::vector<std::string>& queries,
                                                const std::vector<std::string>& passages) const = 0;
  // The pair's tokens as the model reads them (max_tokens 0: the model's
  // own limit).
  virtual Result<TextModel::Tokens> TokenizePair(std::string_view query, std::string_view passage,
                                                 size_t max_tokens) const = 0;

 protected:
  Reranker() = default;
};

struct Options {
  // Create the folder and an empty database when missing. Not persisted.
  // Ignored by read-only opens, which never create anything.
  bool create_if_missing = true;
  // Open for reading only, writing nothing to the folder: no lock file, no
  // log, no index snapshot (indexes are loaded from the stored snapshot and
  // the writes logged since, in memory only). Works on a read-only or full
  // filesystem. Reads see every acknowledged write; every call that writes
  // (collections, documents, Snapshot()) fails with NotSupported
  // ("database ... is open read-only: ..."). Another process may write the
  // folder meanwhile: reads catch up with it at most every 100 ms, and see
  // whole batches only, a prefix of its acknowledged writes. Not persisted.
  bool read_only = false;
  // Without read_only: if the folder cannot be opened for writing because
  // its filesystem is read-only or full, open it as with read_only instead
  // of failing (Database::read_only() and StorageHealth() say so). For
  // tools that only read. A folder held by another process is still
  // refused (IOError naming that process: "... is held by another process
  // (pid 1234: flashembed serve --db kb)"). Not persisted.
  bool read_only_if_unwritable = false;
  // RocksDB block cache in bytes. Not persisted.
  size_t block_cache_bytes = 128u << 20;
  // Memory for BM25 posting lists decoded from storage, in bytes, shared by
  // every collection with a text index (CollectionSchema::text_index):
  // full-text and hybrid searches read a query term's postings from storage
  // once and then from memory until a write changes that term (results are
  // the same either way). Least recently used terms go first; a term's list
  // costs about 20 bytes per document holding it (CollectionInfo::
  // text_cache_bytes says what a collection holds). 0 = no cache: every
  // search reads its terms' postings from storage. Not persisted.
  size_t text_cache_bytes = 64u << 20;
  // Write an index snapshot once this many index operations (an add or a
  // delete is one, an upsert of an existing id two) were logged since the
  // last one and they are at least a quarter of the collection's size (so a
  // big index is not re-serialised for small changes); when a collection
  // removed as many vectors as it holds (at least 4096) since it last did
  // (its index is then rebuilt without them first, and its keys compacted);
  // and at close. 0 = only at close / Snapshot() / Database::Compact(). Fewer operations since the
  // snapshot means less replay at the next open. Not persisted.
  size_t snapshot_every_ops = 50000;
  // SearchMode::kAuto scans exactly while a collection holds at most this
  // many documents: at that size a scan is about as fast as the graph and
  // its results are exact. Not persisted.
  size_t exact_search_below = 2048;

  Status Validate() const;
};

// ---- Re-embedding (Database::Reembed) ---------------------------------------

// Progress of a re-embedding. The first round copies everything; later
// rounds carry over the writes made while the previous one ran; the last
// round runs with writes held back, just before the switch.
struct ReembedProgress {
  uint32_t round = 1;
  // Records this round has to embed again (long documents' chunks apart).
  uint64_t records = 0;
  uint64_t records_done = 0;
  // Long documents this round has to cut and embed again.
  uint64_t documents = 0;
  uint64_t documents_done = 0;
  // The last round: writes wait until the switch.
  bool switching = false;
  // Encoder "learned": training on the collection's texts comes first
  // (round 0); `trained` is the fraction of it done.
  bool training = false;
  double trained = 0;
};

// What a re-embedding changes: the encoder, and with it the dimension and
// prefixes. Everything else of the schema (metric, index kind and
// parameters, text index, indexed fields, properties) is kept.
struct ReembedOptions {
  // The new encoder, as CollectionSchema::encoder names it ("hash",
  // "model:DIR"), or "learned": an encoder trained first on the collection's
  // own texts (records and chunks): fastText word vectors beside hashed
  // words, pairs and character n-grams, weighted by the corpus' document
  // frequencies (encoders/learned_encoder.h; docs/BENCHMARKS.md, "Corpus-
  // trained encoder"). Its model is stored with the collection, and its spec
  // names the model's fingerprint. Training reads about a million words in
  // 30 s on two cores and needs at least 1000 words. A resumed "learned" run
  // keeps the model the interrupted one trained. Required.
  std::string encoder;
  // Its dimension; 0 = the encoder's default ("learned": 448, not settable).
  int dim = 0;
  // New prefixes (CollectionSchema::query_prefix / document_prefix); unset
  // keeps the collection's.
  std::optional<std::string> query_prefix;
  std::optional<std::string> document_prefix;
  // How long documents are cut again for the new encoder (its defaults when
  // zero, as for an ingest).
  ChunkingOptions chunking;
  // Records embedded per encoder call and write batch.
  size_t batch = 64;
  // Called on the re-embedding thread after each batch and round.
  std::function<void(const ReembedProgress&)> progress;
};

struct ReembedSummary {
  std::string encoder_spec;  // the collection's encoder now
  uint32_t rounds = 0;       // copy rounds run, the last one included
  uint64_t records = 0;      // records embedded again (chunks apart), over all rounds
  uint64_t documents = 0;    // long documents cut and embedded again, over all rounds
  uint64_t removed =
      0;  // copies removed again because the record or document was deleted meanwhile
  uint64_t resumed = 0;  // records and documents an interrupted run had copied already
  double seconds = 0;
};

// A flashembed folder: a RocksDB database holding any number of collections.
// Only one process may open a folder at a time (IOError naming the lock);
// read-only opens (Options::read_only) are not counted.
//
// Full and read-only disks: a write that finds no space fails with IOError
// ("no space left on device: ...") and changes nothing; later writes fail
// the same way until space is freed, then succeed again (StorageHealth()).
// Closing, and opening again, work on a full disk; a folder that cannot be
// opened for writing there (or on a read-only filesystem) can be opened
// read-only.
class Database {
 public:
  // Opens (or creates) the database in folder `path`. Collections load
  // lazily, on first use. Errors: NotFound (missing and !create_if_missing,
  // or missing and read-only), InvalidArgument (not a flashembed folder; a
  // foreign RocksDB folder is left unchanged), NotSupported (unknown format
  // version), Corruption, IOError (unreadable, held by another process, or
  // not writable: "no space left on device: ..." or "... is on a read-only
  // filesystem ..."; see Options::read_only_if_unwritable).
  static Result<std::unique_ptr<Database>> Open(const Options& options, const std::string& path);

  // Snapshots every collection's index and closes the folder.
  virtual ~Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Creates a collection. Names are 1..255 characters of [A-Za-z0-9_-].
  // AlreadyExists if the name is taken (even with the same schema);
  // InvalidArgument for a bad name or schema.
  virtual Result<std::shared_ptr<Collection>> CreateCollection(const std::string& name,
                                                               const CollectionSchema& schema) = 0;

  // The collection, or NotFound. The first call after Open loads its index.
  // NotSupported if the collection's encoder (its spec, e.g. "hash/v2;...")
  // is unknown to this build: stored vectors would not match new queries.
  virtual Result<std::shared_ptr<Collection>> GetCollection(const std::string& name) = 0;

  // Returns the existing collection if its schema equals `schema` (dim 0
  // matches the encoder's default), creates it if missing, and fails with
  // InvalidArgument naming both values if the stored schema differs.
  virtual Result<std::shared_ptr<Collection>> GetOrCreateCollection(
      const std::string& name, const CollectionSchema& schema) = 0;

  virtual Result<std::vector<CollectionInfo>> ListCollections() = 0;

  // Deletes the collection and all its data (a re-embedding's copy
  // included). NotFound if missing.
  virtual Status DropCollection(const std::string& name) = 0;

  // Embeds every record and long document of a collection again with a new
  // encoder, while searches and writes go on against the old vectors, then
  // switches the collection to the new encoder and index in one atomic write.
  //
  // How: a hidden copy of the collection (its own collection id, the new
  // encoder) is filled in rounds on the calling thread: the first round
  // embeds every record's text again (long documents are cut again for the
  // new encoder, at the offsets of their original text); each later round
  // carries over what was written or deleted while the previous round ran.
  // When a round finds little left, writes are held back for one last round
  // (searches go on), then one write switches the catalog to the copy and
  // deletes the old data. Handles to the collection (GetCollection) stay
  // valid and use the new encoder from then on; a call that raced with the
  // switch runs again on the new data. A running DocumentIngest fails with
  // Cancelled at the switch (ingesting again skips the stored documents).
  //
  // Interrupted (a crash, kill -9, Close), the collection is unchanged and
  // the copy is kept: calling Reembed again with the same options resumes it
  // (records copied already are not embedded again: ReembedSummary::
  // resumed); AbortReembed deletes it. The old vectors are deleted only by the
  // switch.
  //
  // Errors, each leaving the collection as it was and no copy behind:
  // NotFound (no such collection), InvalidArgument (no encoder given; an
  // encoder or dimension the schema cannot take; a record without text,
  // named, since only texts can be embedded again; another re-embedding of
  // the collection running; an interrupted one with other options: call
  // AbortReembed first), the
  // new encoder's errors for a text it refuses (the record named), NotFound
  // if the collection is dropped meanwhile, Cancelled if the database is
  // closed meanwhile (the copy is kept), NotSupported on a read-only database.
  virtual Result<ReembedSummary> Reembed(const std::string& name,
                                         const ReembedOptions& options) = 0;

  // Deletes the copy an interrupted re-embedding left; the collection is
  // untouched. NotFound if there is none; InvalidArgument while one runs.
  virtual Status AbortReembed(const std::string& name) = 0;

  // Whether writes can succeed now: OK; NotSupported on a read-only
  // database (naming why it was opened read-only); or IOError naming the
  // storage error that stopped writes. After a write fails for lack of space
  // ("no space left on device: ..."), RocksDB refuses every write until it
  // is resumed: each write, and each call of this, tries that (at most once
  // a second), so writes work again as soon as space is freed, without
  // reopening. Reads work in every state.
  virtual Status StorageHealth() = 0;

  // Opened read-only (Options::read_only, or read_only_if_unwritable found
  // the folder unwritable).
  virtual bool read_only() const = 0;

  // Gives back now the disk space of deleted, replaced and dropped data,
  // which otherwise comes back in the background (after a drop, after a
  // collection removed as many documents as it holds, and as RocksDB finds
  // files dense with deletions): rebuilds every collection's index that
  // still holds removed vectors (opening the collections), snapshots it,
  // then compacts the whole database. Blocks until done while reads and writes go on; Close() waits
  // for it. NotSupported on a read-only database.
  virtual Status Compact() = 0;

  // Writes a consistent point-in-time copy of the database to the folder
  // `dest` (which must not exist; its parent must) while reads and writes go
  // on: it holds every write acknowledged before the call, none begun after
  // it returned, and each racing write whole or not at all, so the writes it
  // holds are always a prefix of the acknowledged ones. The copy includes
  // the index snapshots and opens with Database::Open like any database.
  // Files are hard links when `dest` is on the same filesystem (the copy
  // then costs space only as the database changes), copies otherwise.
  // Errors: AlreadyExists for an existing `dest`; NotSupported on a
  // read-only database (the process that holds the folder must take it);
  // IOError from the filesystem (no partial copy is left).
  virtual Status Backup(const std::string& dest) = 0;

  // Bytes of every file under the database folder.
  virtual Result<uint64_t> DiskBytes() const = 0;

  // Snapshots every collection and closes. Further calls return Cancelled.
  // Idempotent; also done by the destructor. On a read-only database no
  // snapshot is written and OK is returned; while a writable database's
  // storage refuses writes (StorageHealth()), snapshots are not written (the
  // next open replays the writes since the last one) and the storage error is
  // returned; nothing acknowledged is lost either way.
  virtual Status Close() = 0;

  virtual const std::string& path() const = 0;

 protected:
  Database() = default;
};

}  // namespace flashembed

#endif  // FLASHEMBED_QUERY_DATABASE_H_
