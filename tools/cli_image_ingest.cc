// `flashembed ingest` of image files (tools/cli_ingest.h): one record per
// file, skipped when unchanged, the next batch read while one is embedded.
#include <algorithm>
#include <future>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/hash.h"
#include "tools/cli_ingest.h"

namespace flashembed::cli {
namespace {

// One batch of files, read.
struct ReadBatch {
  size_t first = 0;  // index of its first file
  std::vector<Result<ImageInput>> images;
};

ReadBatch ReadFiles(const std::vector<std::string>& paths, size_t first, size_t end, bool exif) {
  ReadBatch batch;
  batch.first = first;
  for (size_t i = first; i < end; ++i) batch.images.push_back(ReadImageInput(paths[i], exif));
  return batch;
}

// The content hash an image record's metadata holds ("" if none).
std::string StoredHash(const Document& doc) {
  const auto meta = nlohmann::json::parse(doc.metadata, nullptr, /*allow_exceptions=*/false);
  if (!meta.is_object() || meta.value("kind", "") != "image") return "";
  return meta.value("content_hash", "");
}

}  // namespace

Status IngestImages(Collection& collection, const std::vector<std::string>& ids,
                    const std::vector<std::string>& paths, ImageIngestCounts* counts,
                    bool apply_exif_orientation, std::vector<ImageIngestError>* errors,
                    const std::function<void(const ImageIngestCounts&)>& progress) {
  auto read_from = [&](size_t first) {
    return std::async(std::launch::async, ReadFiles, std::cref(paths), first,
                      std::min(paths.size(), first + kImageBatchSize), apply_exif_orientation);
  };
  std::future<ReadBatch> next;
  if (!paths.empty()) next = read_from(0);
  while (next.valid()) {
    ReadBatch batch = next.get();
    const size_t end = batch.first + batch.images.size();
    if (end < paths.size()) next = read_from(end);  // read ahead while this one embeds

    // The files that read, and whether their record is stored unchanged.
    std::vector<Id> batch_ids;
    std::vector<size_t> files;  // index into paths of each of batch_ids
    for (size_t j = 0; j < batch.images.size(); ++j) {
      const size_t i = batch.first + j;
      if (!batch.images[j].ok()) {
        errors->push_back({ids[i], paths[i], batch.images[j].status().message()});
        ++counts->failed;
        continue;
      }
      counts->bytes += batch.images[j]->bytes.size();
      batch_ids.push_back(Id(ids[i]));
      files.push_back(i);
    }
    FE_ASSIGN_OR_RETURN(const std::vector<Document> stored,
                        collection.GetMany(batch_ids, /*with_vector=*/false));
    std::unordered_map<std::string, std::string> stored_hash;
    for (const Document& doc : stored) stored_hash[doc.id.as_string()] = StoredHash(doc);
    std::vector<Document> docs;
    std::vector<bool> replaces;
    for (size_t k = 0; k < files.size(); ++k) {
      const size_t i = files[k];
      ImageInput& image = *batch.images[i - batch.first];
      const auto it = stored_hash.find(ids[i]);
      if (it != stored_hash.end() && it->second == Hex(Hash128(image.bytes))) {
        ++counts->unchanged;
        continue;
      }
      Document doc;
      doc.id = Id(ids[i]);
      doc.image = std::move(image);
      docs.push_back(std::move(doc));
      replaces.push_back(it != stored_hash.end());
    }
    // One atomic write for the batch; if an image in it is refused, each
    // document alone, so that only the bad files fail.
    Status written = docs.empty() ? Status::OK() : collection.Upsert({}, docs);
    for (size_t k = 0; k < docs.size(); ++k) {
      Status s = written;
      if (!written.ok() && written.IsInvalidArgument()) {
        s = collection.Upsert({}, std::span<const Document>(&docs[k], 1));
      }
      if (s.IsInvalidArgument()) {
        // "document 0 (id "x"): image "/abs/path": <problem>": keep the problem.
        std::string message = s.message();
        const size_t at = message.find("\": ");
        if (message.rfind("document ", 0) == 0 && at != std::string::npos) message.erase(0, at + 3);
        errors->push_back({docs[k].id.as_string(), docs[k].image->source, message});
        ++counts->failed;
        continue;
      }
      FE_RETURN_IF_ERROR(s);
      ++(replaces[k] ? counts->replaced : counts->added);
    }
    if (progress) progress(*counts);
  }
  return Status::OK();
}

}  // namespace flashembed::cli
