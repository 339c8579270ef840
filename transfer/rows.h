// Rows of Milvus bulk-import files, read one at a time: a RowSource per JSON
// file (§3.3) or NumPy group (§3.4), each row checked against a RowSchema
// with Milvus's strict typing and turned into a flashembed record. Also the
// JSON text helpers the exporter writes rows with.
//
// Thread-safety: a RowSource is used from one thread.
#ifndef FLASHEMBED_TRANSFER_ROWS_H_
#define FLASHEMBED_TRANSFER_ROWS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "transfer/row_schema.h"

namespace flashembed::transfer {

// The values of one row, each already checked against its field.
struct RowValues {
  std::optional<Id> pk;
  bool has_vector = false;
  std::vector<float> vector;
  std::optional<std::string> text;
  Json fields = Json::object();   // scalar field name -> value to store
  Json dynamic = Json::object();  // extra keys given flat in the row
  std::optional<Json> meta;       // the "$meta" object, when given

  void Clear();
};

// A row as a flashembed record; `metadata` is Document::metadata parsed.
struct ImportRecord {
  Document doc;  // metadata left "{}": dump `metadata` to write it
  Json metadata = Json::object();
};

// InvalidArgument "field \"<field>\": metadata nests deeper than 64 levels"
// unless the JSON text of `field`'s value keeps the record's metadata within
// kMaxMetadataDepth (query/database.h): a field's value sits one level
// inside the metadata object, $meta's keys (`is_meta`) are the metadata's
// own. Checked before the text is parsed: nlohmann copies and dumps
// recursively, so a value nested tens of thousands of levels deep would
// overflow the stack.
Status CheckValueDepth(std::string_view text, const std::string& field, bool is_meta);

// Completes a row: required fields present (nullable ones become null,
// default values fill in), $meta merged with the flat dynamic keys (a key in
// both is InvalidArgument, as in Milvus), the metadata built for the
// schema's layout. InvalidArgument naming the field otherwise.
Status AssembleRecord(const RowSchema& schema, RowValues&& values, ImportRecord* out);

// Rows of one JSON file or NumPy group, in order.
class RowSource {
 public:
  virtual ~RowSource() = default;
  // Reads the next row into `*values` (cleared first); false at the end.
  // Errors name the file and the row: "g/1.json: row 17 (byte 5012):
  // field \"vector\": expected 384 numbers, got 383". Rows count from 1.
  virtual Result<bool> Next(RowValues* values) = 0;
  // "g/1.json: row 17": where the row last returned came from.
  virtual std::string Where() const = 0;
  // Bytes of the files read so far.
  virtual uint64_t bytes() const = 0;
};

// A JSON row file: an array of row objects, or an object whose first key is
// "rows" (any case) holding that array. `display` names the file in
// messages. The file is read in blocks, one row in memory at a time.
// `schema.dim` 0 accepts any vector length.
Result<std::unique_ptr<RowSource>> OpenJsonRows(const std::string& path, const std::string& display,
                                                const RowSchema* schema);

// One row object held whole in `row`, checked as a row of a JSON file;
// with `milvus_output` Array values may also come in the protobuf shape of
// Milvus 2.5's REST output. InvalidArgument naming the byte in `row`.
Status ParseJsonRow(std::string_view row, const RowSchema& schema, bool milvus_output,
                    RowValues* values);

// A NumPy group: one "<field>.npy" per field (and "$meta.npy"), all with the
// same number of rows. Checks every file's dtype and shape against the
// schema and its size against its header before returning. `display` is
// the group's folder in messages.
Result<std::unique_ptr<RowSource>> OpenNumpyGroup(const std::vector<std::string>& paths,
                                                  const std::string& display,
                                                  const RowSchema* schema);

// ---- JSON text helpers ----

// `text` as a JSON string with quotes; control characters, '"' and '\'
// escaped, other bytes (UTF-8) as they are.
void AppendJsonString(std::string_view text, std::string* out);
// The shortest decimal that reads back as the same float32 (valid JSON).
void AppendFloat(float value, std::string* out);
// [v0,v1,...] with AppendFloat.
void AppendFloatArray(std::span<const float> values, std::string* out);

// A float32 from a JSON number token, rounded correctly (as Go's
// ParseFloat(s, 32) in Milvus). nullopt when the token is not a JSON number
// or is outside the float32 range; underflow gives 0.
std::optional<float> ParseFloatToken(std::string_view token);

}  // namespace flashembed::transfer

#endif  // FLASHEMBED_TRANSFER_ROWS_H_
