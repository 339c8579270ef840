// Copying a collection to and from a running Milvus over its REST API v2
// (docs/API.md): `flashembed push` and `flashembed pull`.
//
//   transfer::RemoteOptions remote{.url = "http://milvus:19530", .token = "root:Milvus"};
//   auto pushed = transfer::PushCollection(*collection, remote, {.milvus_name = "docs"});
//   auto pulled = transfer::PullCollection(*db, "copy", remote, {.milvus_name = "docs"});
//
// Push creates the Milvus collection (collections/create with the same body
// export writes to collection.json) and sends the records in batches
// (entities/insert). Pull reads a Milvus collection in pages ordered by
// primary key (entities/query, `pk > last`) into a local collection,
// created from the remote's description when missing.
//
// Both resume: pushing into a Milvus collection that already exists (a push
// that was interrupted, or one that was stopped with `cancel`) first asks
// which ids of each batch it holds and sends only the others; pulling into a
// local collection that exists first reads the remote ids of each page and
// fetches only the rows missing locally. Run them while nothing else writes
// to either side.
//
// Thread-safety: the functions may run concurrently; each uses its own
// connection.
#ifndef FLASHEMBED_TRANSFER_REMOTE_H_
#define FLASHEMBED_TRANSFER_REMOTE_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "base/status.h"
#include "query/database.h"
#include "transfer/transfer.h"

namespace flashembed::transfer {

// Where the Milvus is, and how to talk to it.
struct RemoteOptions {
  // http://host[:port][/prefix]; port 19530 when not given. https is not
  // supported (put a TLS-terminating proxy on the same machine in front).
  std::string url;
  // Sent as "Authorization: Bearer <token>" ("user:password" or an API
  // key); "" = no header.
  std::string token;
  std::string db_name;  // "" = Milvus's "default" database; letters, digits, '_'
  // Per request, in ms (1 .. 86400000): connecting has this long, and so
  // has sending the request and receiving the answer.
  int timeout_ms = 60000;
  // A request that fails in transport (connection refused or reset, a
  // timeout, HTTP 5xx, 408 or 429, Milvus code 1807 "rate limited") is
  // retried this many times, after 0.5 s, 1 s, 2 s, ... (and one lost on a
  // kept-alive connection the server had closed is sent again at once). A
  // retried insert becomes an upsert, so a batch that landed before its
  // answer was lost is not stored twice.
  int retries = 5;

  // InvalidArgument naming a bad URL, timeout, retry count or token.
  Status Validate() const;
};

struct PushOptions {
  // The Milvus collection; "" = the local name made valid for Milvus
  // ('-' becomes '_').
  std::string milvus_name;
  PkType pk_type = PkType::kAuto;  // as ExportOptions::pk_type
  // Records per entities/insert request, and the most bytes of JSON a
  // request may carry (a batch is cut at whichever comes first; a single
  // larger row goes alone). Milvus's default limit per request is 64 MiB.
  size_t batch = 1000;                    // 1 .. 16384
  uint64_t max_request_bytes = 16 << 20;  // 64 KiB .. 1 GiB
  // Send every record with entities/upsert (replacing rows of the same id)
  // instead of skipping ids the target already holds.
  bool upsert = false;
  // Polled between batches; true stops the push with Cancelled (what was
  // sent stays; pushing again resumes).
  const std::atomic<bool>* cancel = nullptr;
  // Phases "survey" (rows counted), "push" (rows sent or skipped; bytes
  // sent).
  ProgressFn progress;

  Status Validate() const;
};

struct PushSummary {
  std::string milvus_name;
  std::string pk_type;       // "Int64" or "VarChar"
  bool created = false;      // the Milvus collection was created by this push
  uint64_t records = 0;      // records of the local collection
  uint64_t sent = 0;         // rows inserted (or upserted)
  uint64_t skipped = 0;      // rows the target already held
  uint64_t remote_rows = 0;  // count(*) of the target at the end
  uint64_t requests = 0;     // HTTP requests made, retries included
  uint64_t bytes = 0;        // request bytes of the inserts
  double seconds = 0;
};

// Copies `collection` into the Milvus at `remote`. The local collection's
// records become rows as in an export (transfer/FORMAT.md): pk, vector,
// text, declared scalar fields, and every other metadata key as a dynamic
// field (the rows carry them as top-level keys, which REST insert puts in
// $meta). Long documents' chunks go as rows with their "doc" and "chunk"
// keys; the document records themselves have no place in Milvus and stay
// behind (export keeps them). An existing target must have the same pk
// name and type, vector field name and dimension, and text field, and
// dynamic fields on when the records need them. Afterwards count(*) of the
// target is checked: a target this push created must hold exactly the
// records.
// Errors: InvalidArgument (bad options; a record Milvus cannot take, as for
// an export; a metadata key that is also a field name of the target; an
// incompatible target, naming the difference), IOError (the Milvus cannot
// be reached or its answers are not Milvus's, after the retries), the Milvus's own refusals as
// Internal with its code and message ("collections/create: Milvus code 1100: ..."), Cancelled, and
// the collection's read errors. Rows sent before an error stay in Milvus.
Result<PushSummary> PushCollection(const Collection& collection, const RemoteOptions& remote,
                                   const PushOptions& options);

struct PullOptions {
  std::string milvus_name;  // required
  // The remote VarChar field that becomes the records' text ("" = none).
  std::string text_field = "text";
  size_t batch = 1000;  // rows per page, 1 .. 16384
  // Replace local records of the same id instead of skipping ids the local
  // collection already holds.
  bool upsert = false;
  // The encoder of a collection the pull creates, as CollectionSchema::
  // encoder ("hash", "model:DIR"; "" = vector-only): the one that made the
  // vectors, so that text queries embed alike. Its dimension must be the
  // remote's. Ignored for an existing collection.
  std::string encoder;
  const std::atomic<bool>* cancel = nullptr;  // as PushOptions::cancel
  // Phases "pull" (rows received or skipped, of count(*) at the start;
  // bytes received).
  ProgressFn progress;

  Status Validate() const;
};

struct PullSummary {
  bool created = false;      // the local collection was created by this pull
  uint64_t remote_rows = 0;  // count(*) of the source at the start
  uint64_t received = 0;     // rows written locally
  uint64_t skipped = 0;      // rows the local collection already held
  uint64_t requests = 0;
  uint64_t bytes = 0;  // response bytes of the pages
  double seconds = 0;
  // Set when received + skipped differs from remote_rows: Milvus keeps
  // repeated primary keys (count(*) counts each copy, pages return one), or
  // the collection changed during the pull.
  std::string warning;
};

// Copies the Milvus collection options.milvus_name into the local
// collection `name` (created when missing: with options.encoder, the
// remote's dimension, metric and index; the remote's fields are kept in each
// record's metadata, as an import of collection.json does). Every row is
// checked with the same rules as an import; each page is written
// atomically, so an interrupted pull leaves whole pages and pulling again
// resumes. Int64 values come as JSON numbers (the request asks for them
// with Accept-Type-Allow-Int64), JSON fields as objects or JSON text,
// arrays also in Milvus 2.5's protobuf shape.
// Errors: InvalidArgument (bad options; a row that breaks the rules,
// naming the page and the row; an existing local collection with another
// dimension), NotFound (no such Milvus collection), IOError / Internal as for
// push, Cancelled, and the collection's write errors.
Result<PullSummary> PullCollection(Database& db, const std::string& name,
                                   const RemoteOptions& remote, const PullOptions& options);

}  // namespace flashembed::transfer

#endif  // FLASHEMBED_TRANSFER_REMOTE_H_
