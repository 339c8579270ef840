// The passes of ExportCollection (export.cc): the survey, the row files
// (JSON or NumPy) and flashembed-documents.jsonl.
#ifndef FLASHEMBED_TRANSFER_EXPORT_FILES_H_
#define FLASHEMBED_TRANSFER_EXPORT_FILES_H_

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "transfer/row_schema.h"
#include "transfer/transfer.h"

namespace flashembed::transfer {

// The string columns whose widths a NumPy group records, by index in
// GroupPlan::widths: the pk, the text, each scalar field, then $meta.
inline constexpr size_t kIdWidth = 0;
inline constexpr size_t kTextWidth = 1;
inline constexpr size_t kFirstScalarWidth = 2;

// One NumPy group: its rows and the widest value (in code points) of each
// string column.
struct GroupPlan {
  uint64_t rows = 0;
  std::vector<size_t> widths;
};

struct ExportPlan {
  FileFormat format = FileFormat::kMilvusJson;
  uint64_t max_file_bytes = 0;
  // After the survey: pk type and VarChar max_lengths resolved, the text
  // field present when the collection has an encoder or any text, dynamic
  // on when any record has metadata beyond the declared fields.
  RowSchema schema;
  bool ids_as_strings = false;  // PkType::kVarChar on integer ids
  uint64_t records = 0;
  std::vector<GroupPlan> groups;  // NumPy only
};

// One record as the values of a row.
struct PreparedRow {
  Id id;
  std::string_view text;       // into the Document, or into text_owned
  std::string text_owned;      // the text when it came from the metadata
  std::vector<Json> scalars;   // aligned with schema.scalars
  Json meta = Json::object();  // the dynamic keys
  std::string meta_text;       // `meta` as JSON text
};

// The values of `doc` as a row of `schema` (ids as their decimal text when
// `ids_as_strings`). InvalidArgument for a value Milvus cannot take (text
// not UTF-8 or longer than the field, a scalar that does not fit its type).
Status PrepareRow(const RowSchema& schema, bool ids_as_strings, const Document& doc,
                  PreparedRow* row);

// Appends `row` as one JSON row object: pk, vector, text, scalar fields,
// then the dynamic keys in "$meta", or with `flat_meta` as top-level keys
// (REST insert's form, which refuses a "$meta" key; InvalidArgument when a
// key is also a field's name).
Status AppendJsonRow(const RowSchema& schema, const PreparedRow& row, std::span<const float> vector,
                     bool flat_meta, std::string* out);

// The survey: every record without its vector. Fills plan->schema (see
// ExportPlan), records and groups; fails on a value Milvus cannot take
// (see ExportCollection).
Status SurveyRecords(const Collection& collection, const CollectionInfo& info,
                     const ExportOptions& options, ExportPlan* plan);

// Writes the rows as planned under out/<uuid>/ and records the groups,
// records and bytes in `summary`. Internal if the records differ from the
// survey's (the collection changed meanwhile).
Status WriteRecords(const Collection& collection, const ExportOptions& options,
                    const ExportPlan& plan, const std::filesystem::path& out,
                    const std::string& uuid, ExportSummary* summary);

// flashembed-documents.jsonl: one long document per line with its pooled
// vector (FORMAT.md); counts them in summary->documents.
Status WriteDocuments(const Collection& collection, const ExportOptions& options,
                      const std::filesystem::path& out, ExportSummary* summary);

// A DocumentInfo as one JSON line (without the newline) and back.
std::string DocumentToLine(const DocumentInfo& doc);
Result<DocumentInfo> DocumentFromLine(std::string_view line);

// Writes `text` to `path` (created or truncated). IOError naming the path.
Status WriteTextFile(const std::filesystem::path& path, std::string_view text);

}  // namespace flashembed::transfer

#endif  // FLASHEMBED_TRANSFER_EXPORT_FILES_H_
