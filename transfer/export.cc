// ExportCollection: a survey pass over the records (no vectors) fixes the
// pk type, the VarChar lengths of collection.json and, for NumPy, how rows
// fall into groups and each string column's width; a second pass writes the
// rows; then the long documents and the three JSON files.
#include <chrono>
#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "transfer/export_files.h"
#include "transfer/npy.h"
#include "transfer/rows.h"
#include "transfer/transfer.h"

namespace flashembed::transfer {
namespace {

namespace fs = std::filesystem;

std::string NewUuid() {
  std::random_device rd;
  std::mt19937_64 gen(
      (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  const uint64_t a = gen();
  const uint64_t b = gen();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffULL);
}

// Removes what the export wrote (out_dir was empty or missing before).
void Cleanup(const fs::path& dir, bool created) {
  std::error_code ec;
  if (created) {
    fs::remove_all(dir, ec);
    return;
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) fs::remove_all(entry.path(), ec);
}

Status PrepareOutDir(const fs::path& dir, bool* created) {
  std::error_code ec;
  *created = false;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) {
      return Status::AlreadyExists(dir.string() + " exists and is not a folder");
    }
    if (!fs::is_empty(dir, ec)) {
      return Status::AlreadyExists("output folder " + dir.string() +
                                   " is not empty; export into a new or empty folder");
    }
    return Status::OK();
  }
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir.string() + ": " + ec.message());
  *created = true;
  return Status::OK();
}

Result<ExportSummary> Run(const Collection& collection, const ExportOptions& options,
                          const fs::path& out) {
  const auto t0 = std::chrono::steady_clock::now();
  FE_ASSIGN_OR_RETURN(CollectionInfo info, collection.Describe());
  FE_ASSIGN_OR_RETURN(RowSchema schema, SchemaOfCollection(info, "id", "vector", "text",
                                                           /*with_text=*/false));
  ExportPlan plan;
  plan.format = options.format;
  plan.max_file_bytes = options.max_file_bytes;
  plan.schema = std::move(schema);
  FE_RETURN_IF_ERROR(SurveyRecords(collection, info, options, &plan));

  ExportSummary summary;
  summary.milvus_name = options.milvus_name.empty() ? MilvusName(info.name) : options.milvus_name;
  summary.pk_type = plan.schema.pk.type;
  const std::string uuid = NewUuid();
  FE_RETURN_IF_ERROR(WriteRecords(collection, options, plan, out, uuid, &summary));
  if (info.documents > 0) {
    FE_RETURN_IF_ERROR(WriteDocuments(collection, options, out, &summary));
  }

  const OrderedJson create = CreateBody(summary.milvus_name, plan.schema, info);
  OrderedJson import_body = {{"collectionName", summary.milvus_name}, {"files", summary.groups}};
  OrderedJson ours = {
      {"format", "flashembed-export"},
      {"version", kExportFormatVersion},
      {"collection", info.name},
      {"milvus_name", summary.milvus_name},
      {"data_format", FileFormatName(options.format)},
      {"schema", CollectionSchemaToJson(info.schema)},
      {"encoder_spec", info.encoder_spec},
      {"fields",
       {{"pk", plan.schema.pk.name},
        {"pk_type", plan.schema.pk.type},
        {"vector", plan.schema.vector.name},
        {"text", plan.schema.text.has_value() ? Json(plan.schema.text->name) : Json(nullptr)}}},
      {"records", summary.records},
      {"documents", summary.documents},
      {"created_unix_ms", info.created_unix_ms},
      {"exported_unix_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count()}};
  FE_RETURN_IF_ERROR(WriteTextFile(out / "collection.json", create.dump(2) + "\n"));
  FE_RETURN_IF_ERROR(WriteTextFile(out / "import.json", import_body.dump(2) + "\n"));
  FE_RETURN_IF_ERROR(WriteTextFile(out / "flashembed-collection.json", ours.dump(2) + "\n"));
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

}  // namespace

std::optional<FileFormat> ParseFileFormat(std::string_view name) {
  if (name == "milvus-json" || name == "json") return FileFormat::kMilvusJson;
  if (name == "milvus-numpy" || name == "numpy") return FileFormat::kMilvusNumpy;
  return std::nullopt;
}

const char* FileFormatName(FileFormat format) {
  return format == FileFormat::kMilvusJson ? "milvus-json" : "milvus-numpy";
}

Status ExportOptions::Validate() const {
  if (out_dir.empty()) return Status::InvalidArgument("no output folder given");
  if (max_file_bytes < (uint64_t{1} << 20) || max_file_bytes > (uint64_t{16} << 30)) {
    return Status::InvalidArgument(
        fmt::format("max file size must be 1 MiB .. 16 GiB, got {} bytes", max_file_bytes));
  }
  if (batch == 0 || batch > 65536) return Status::InvalidArgument("batch must be 1..65536");
  return Status::OK();
}

Result<ExportSummary> ExportCollection(const Collection& collection, const ExportOptions& options) {
  FE_RETURN_IF_ERROR(options.Validate());
  const fs::path out(options.out_dir);
  bool created = false;
  FE_RETURN_IF_ERROR(PrepareOutDir(out, &created));
  Result<ExportSummary> result = Run(collection, options, out);
  if (!result.ok()) Cleanup(out, created);
  return result;
}

}  // namespace flashembed::transfer
