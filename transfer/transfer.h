// Export of a collection as Milvus bulk-import files, and import of such
// files (ours, or pymilvus BulkWriter's) into a collection. The folder
// layout and the files are described in transfer/FORMAT.md; the Milvus side
// (what Milvus's bulk import accepts) there too.
//
//   transfer::ExportOptions options{.format = FileFormat::kMilvusJson, .out_dir = "out"};
//   auto summary = transfer::ExportCollection(*collection, options);
//   auto imported = transfer::ImportCollection(*db, "copy", {.dir = "out"});
//
// Both stream: memory stays within one batch of rows (plus, on import, 8
// bytes per row to find repeated ids, and one entry per long document).
//
// Thread-safety: the functions may run concurrently on different
// collections; the database's own guarantees apply.
#ifndef FLASHEMBED_TRANSFER_TRANSFER_H_
#define FLASHEMBED_TRANSFER_TRANSFER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "query/database.h"

namespace flashembed::transfer {

// The version of flashembed-collection.json and flashembed-documents.jsonl
// (transfer/FORMAT.md); an import refuses a newer one.
inline constexpr int kExportFormatVersion = 1;

enum class FileFormat {
  kMilvusJson,   // <uuid>/<n>.json files of {"rows": [...]}
  kMilvusNumpy,  // <uuid>/<n>/<field>.npy groups
};
// "milvus-json" / "milvus-numpy" (also "json" / "numpy") and back.
std::optional<FileFormat> ParseFileFormat(std::string_view name);
const char* FileFormatName(FileFormat format);

// Reported after every batch (and at the start and end of each phase).
struct Progress {
  const char* phase = "";   // "survey", "export", "documents", "validate", "write"
  uint64_t rows = 0;        // rows done in this phase
  uint64_t rows_total = 0;  // rows the phase will do; 0 = not known
  uint64_t bytes = 0;       // bytes written (export) or read (import) in this phase
};
using ProgressFn = std::function<void(const Progress&)>;

enum class PkType {
  kAuto,     // Int64 when every id is an integer, VarChar when every id is a string
  kInt64,    // every id must be an integer
  kVarChar,  // integer ids are written as their decimal text (they come back as string ids)
};

struct ExportOptions {
  FileFormat format = FileFormat::kMilvusJson;
  // The folder to write; created (with parents) when missing, and must be
  // empty when it exists.
  std::string out_dir;
  // A JSON file (or a NumPy group, all its files together) is closed once
  // it reaches this size; a single row larger than it gets a file alone.
  // 1 MiB .. 16 GiB (Milvus's limit per file or group). Default 256 MiB.
  uint64_t max_file_bytes = uint64_t{256} << 20;
  // Native collections only (a collection made through the Milvus API has
  // its declared pk type).
  PkType pk_type = PkType::kAuto;
  // The collection name written into collection.json / import.json; ""
  // = the collection's name made valid for Milvus ('-' becomes '_').
  std::string milvus_name;
  size_t batch = 1024;  // records read per scan batch
  ProgressFn progress;

  Status Validate() const;
};

struct ExportSummary {
  std::string milvus_name;
  std::string pk_type;     // "Int64" or "VarChar"
  uint64_t records = 0;    // rows written
  uint64_t documents = 0;  // long-document records written to flashembed-documents.jsonl
  // The file groups, relative to out_dir, as in import.json.
  std::vector<std::vector<std::string>> groups;
  uint64_t bytes = 0;  // bytes of the data files
  double seconds = 0;
};

// Writes `collection` to options.out_dir: collection.json, import.json,
// flashembed-collection.json, the data files and, when the collection holds
// long documents, flashembed-documents.jsonl. Two passes over the records
// (a survey without vectors fixing types and string widths, then the
// write), both at the point in time of their start; run it while nothing
// else writes to the collection. On error the files written so far are
// removed. Errors: InvalidArgument (bad options; a value Milvus cannot take:
// mixed integer and string ids without kVarChar, a text or string longer
// than 65535 bytes, a stored value that does not fit its declared field; a
// field type NumPy cannot carry), AlreadyExists (out_dir not empty),
// IOError, and the collection's read errors.
Result<ExportSummary> ExportCollection(const Collection& collection, const ExportOptions& options);

struct ImportOptions {
  FileFormat format = FileFormat::kMilvusJson;
  // An export folder, any folder of JSON row files / NumPy groups (searched
  // recursively; collection.json, import.json and flashembed-*.json at its
  // top are not data), or one JSON file.
  std::string dir;
  // Replace records whose id is already stored (and stored long documents
  // of the same id). Without it an existing id is AlreadyExists.
  bool upsert = false;
  // Field names when nothing declares them (no collection.json, a target
  // made without the Milvus API): the pk, the vector and the text.
  std::string pk_field = "id";
  std::string vector_field = "vector";
  std::string text_field = "text";
  // The metric of a collection created without collection.json.
  Metric metric = Metric::kCosine;
  size_t batch = 1000;  // records per atomic write
  ProgressFn progress;

  Status Validate() const;
};

struct ImportSummary {
  bool created = false;    // the collection was created by this import
  uint64_t rows = 0;       // records written (document chunks included)
  uint64_t documents = 0;  // long documents restored
  uint64_t files = 0;      // data files read
  uint64_t bytes = 0;      // bytes of the data files
  double validate_seconds = 0;
  double write_seconds = 0;
};

// Imports options.dir into the collection `name` of `db`: first every file
// is read and checked (Milvus's rules, §3.2-3.4; dimensions; ids not
// repeated and, without upsert, not stored; long documents complete),
// then the records are written in atomic batches. The first bad row fails
// the import with a message naming its file and row, before anything is
// written (a collection to create is created only after the check). A
// missing collection is created from flashembed-collection.json (our
// export: the exact schema), else collection.json (dim, metric, index;
// vector-only), else the data (dim of the first vector). Rows that are
// chunks of a document in flashembed-documents.jsonl are restored with the
// document (Collection::RestoreDocuments); others are added (or upserted).
// Errors: InvalidArgument (bad files, naming the first bad row), NotFound
// (no data files), AlreadyExists (an id stored, without upsert), IOError,
// and the collection's write errors. A write error in pass 2 (the disk
// failing, or another writer storing an id meanwhile) is undone: a
// collection the import created is dropped, rows and documents it added to
// an existing one are deleted again (the message says which); only rows an
// --upsert replaced cannot be brought back.
Result<ImportSummary> ImportCollection(Database& db, const std::string& name,
                                       const ImportOptions& options);

}  // namespace flashembed::transfer

#endif  // FLASHEMBED_TRANSFER_TRANSFER_H_
