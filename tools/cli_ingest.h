// Writing records into a collection for `flashembed add` and `flashembed demo`:
// validate everything, assign automatic ids, then write in batches.
#ifndef FLASHEMBED_TOOLS_CLI_INGEST_H_
#define FLASHEMBED_TOOLS_CLI_INGEST_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "query/database.h"
#include "tools/cli_input.h"

namespace flashembed::cli {

// Documents per Collection::Add / Upsert call.
inline constexpr size_t kWriteBatchSize = 1000;
// Image records per call: their files are read for the batch only.
inline constexpr size_t kImageBatchSize = 32;

struct IngestResult {
  size_t added = 0;      // documents written (inserted, or replaced with upsert)
  bool created = false;  // the collection did not exist and was created
  // The range of ids given to records without an id; unset if there were none.
  std::optional<int64_t> first_auto_id;
  std::optional<int64_t> last_auto_id;
};

// Writes `records` into collection `name` of `db`, in four steps:
//  1. A missing collection is created with the default schema (hash encoder,
//     cosine, HNSW defaults), but only in step 4; if a record carries a vector
//     the call fails instead and tells to `flashembed create --encoder none
//     --dim N`, because the default schema takes texts.
//  2. Every record is checked before anything is written: text or vector
//     given, text records on a vector-only collection, image records on a
//     collection whose encoder embeds no images, image files that do not
//     exist (their contents are read and decoded when written), vector dim, the
//     values ValidateVector (query/database.h) refuses, an id given twice,
//     and (without `upsert`) an id already stored.
//     Messages start with the record's `where` ("file.jsonl:7: ...").
//  3. Automatic ids: records without an id get consecutive integer ids, the
//     first run of free integers at or after count + 1 (count = documents in
//     the collection), where "free" means neither stored nor given to another
//     record. They never collide; an id freed by `delete` may be reused.
//  4. Writes in batches of kWriteBatchSize, Add (or Upsert with `upsert`); each
//     batch is atomic. Steps 1-3 rule out the usual errors, so a failure here
//     is rare (I/O); its message says how many documents were already written.
// Errors: those of Database / Collection, and InvalidArgument / AlreadyExists
// from step 2.
Result<IngestResult> Ingest(Database& db, const std::string& name, std::vector<InputRecord> records,
                            bool upsert);

// What IngestImages did.
struct ImageIngestCounts {
  size_t added = 0;      // new records
  size_t replaced = 0;   // records whose file changed
  size_t unchanged = 0;  // the stored record has the file's content hash: nothing done
  size_t failed = 0;     // unreadable or undecodable files (see `errors`)
  uint64_t bytes = 0;    // of the files read
};
struct ImageIngestError {
  std::string id, path, message;
};

// `flashembed ingest` of image files into `collection` (whose encoder embeds
// images): one record per file, with the file's id (its path relative to
// its root), upserted in batches of kImageBatchSize. A file whose stored
// record has its content hash is skipped, so ingesting again after a change
// or a kill resumes. The next batch's files are read while one is embedded.
// A file that cannot be read or decoded is an error of its own (`errors`)
// and the others go on. `progress` (may be null) is called after each batch.
// `apply_exif_orientation` applies to the images embedded by this call
// (unchanged files keep their vectors). Fails only for errors of the
// collection itself (I/O, closed).
Status IngestImages(Collection& collection, const std::vector<std::string>& ids,
                    const std::vector<std::string>& paths, ImageIngestCounts* counts,
                    bool apply_exif_orientation, std::vector<ImageIngestError>* errors,
                    const std::function<void(const ImageIngestCounts&)>& progress);

}  // namespace flashembed::cli

#endif  // FLASHEMBED_TOOLS_CLI_INGEST_H_
