#include "tools/cli_ingest.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

#include "tools/cli_common.h"

namespace flashembed::cli {
namespace {

// A map key that keeps integer id 7 and string id "7" apart.
std::string IdKey(const Id& id) {
  return id.is_int() ? fmt::format("i{}", id.as_int()) : "s" + id.as_string();
}

// Whether `id` is stored in `collection` (false when there is no collection).
Result<bool> IsStored(const Collection* collection, const Id& id) {
  if (collection == nullptr) return false;
  Result<Document> doc = collection->Get(id);
  if (doc.ok()) return true;
  if (doc.status().IsNotFound()) return false;
  return doc.status();
}

// Step 2 of Ingest: everything the library would refuse, with the record's
// position in the message. `schema` is the stored (or default) schema.
Status Validate(const std::vector<InputRecord>& records, const CollectionSchema& schema,
                bool embeds_images, const std::string& name, const Collection* collection,
                bool upsert) {
  std::unordered_map<std::string, const InputRecord*> seen;
  for (const InputRecord& record : records) {
    const auto fail = [&](const std::string& message) {
      return Status::InvalidArgument(record.where + ": " + message);
    };
    if (!record.image.empty()) {
      if (!embeds_images) {
        return fail("collection \"" + name + "\" cannot embed images: " +
                    (collection == nullptr
                         ? "it does not exist; create it with a CLIP model folder first: "
                           "flashembed create -c " +
                               name + " --model DIR"
                         : "its encoder (" + EncoderName(schema) +
                               ") embeds texts only; images need a collection created with a "
                               "CLIP model folder (create --model DIR)"));
      }
      FE_RETURN_IF_ERROR(CheckImageFile(record.image));
    } else if (record.vector.empty()) {
      if (schema.encoder.empty()) {
        return fail("collection \"" + name + "\" is vector-only (encoder none): give a \"vector\"");
      }
      if (IsBlankText(record.text)) {
        return fail("text is empty (or only whitespace / control characters)");
      }
    } else {
      if (collection != nullptr && record.vector.size() != static_cast<size_t>(schema.dim)) {
        return fail(fmt::format("dim mismatch: collection \"{}\" has {}, vector has {}", name,
                                schema.dim, record.vector.size()));
      }
      // The library's own rule (finite, scores that fit a float, a cosine
      // direction), checked here so a bad line writes no earlier batch.
      if (Status status = ValidateVector(record.vector, schema.metric); !status.ok()) {
        return fail(status.message());
      }
    }
    if (!record.id.has_value()) continue;
    const auto [it, inserted] = seen.emplace(IdKey(*record.id), &record);
    if (!inserted) {
      return fail("id " + QuoteId(*record.id) + " is given twice (first at " + it->second->where +
                  ")");
    }
    if (!upsert) {
      FE_ASSIGN_OR_RETURN(const bool stored, IsStored(collection, *record.id));
      if (stored) {
        return Status::AlreadyExists(record.where + ": id " + QuoteId(*record.id) +
                                     " already exists in collection \"" + name +
                                     "\" (use --upsert to replace it)");
      }
    }
  }
  return Status::OK();
}

// Step 3 of Ingest: gives the records without an id the first run of free
// consecutive integers at or after count + 1.
Status AssignIds(std::vector<InputRecord>& records, const Collection* collection,
                 IngestResult& result) {
  const size_t wanted = static_cast<size_t>(
      std::count_if(records.begin(), records.end(), [](const InputRecord& r) { return !r.id; }));
  if (wanted == 0) return Status::OK();
  std::unordered_set<int64_t> given;
  for (const InputRecord& record : records) {
    if (record.id && record.id->is_int()) given.insert(record.id->as_int());
  }
  uint64_t count = 0;
  if (collection != nullptr) {
    FE_ASSIGN_OR_RETURN(count, collection->Count());
  }
  // Each probe either extends the free run or moves past a taken id, so this
  // takes at most wanted + (taken ids met) probes.
  int64_t start = static_cast<int64_t>(count) + 1;
  size_t run = 0;
  while (run < wanted) {
    const int64_t candidate = start + static_cast<int64_t>(run);
    bool taken = given.count(candidate) > 0;
    if (!taken) {
      FE_ASSIGN_OR_RETURN(taken, IsStored(collection, Id(candidate)));
    }
    if (taken) {
      start = candidate + 1;
      run = 0;
    } else {
      ++run;
    }
  }
  int64_t next = start;
  for (InputRecord& record : records) {
    if (!record.id) record.id = Id(next++);
  }
  result.first_auto_id = start;
  result.last_auto_id = next - 1;
  return Status::OK();
}

}  // namespace

Result<IngestResult> Ingest(Database& db, const std::string& name, std::vector<InputRecord> records,
                            bool upsert) {
  IngestResult result;
  if (records.empty()) return result;

  // Step 1: the collection, or the schema it will be created with.
  std::shared_ptr<Collection> collection;
  CollectionSchema schema;
  bool embeds_images = false;
  Result<std::shared_ptr<Collection>> existing = db.GetCollection(name);
  if (existing.ok()) {
    collection = std::move(*existing);
    FE_ASSIGN_OR_RETURN(const CollectionInfo info, collection->Describe());
    schema = info.schema;
    embeds_images = info.embeds_images;
  } else if (existing.status().IsNotFound()) {
    const auto with_vector = std::find_if(records.begin(), records.end(),
                                          [](const InputRecord& r) { return !r.vector.empty(); });
    if (with_vector != records.end()) {
      return Status::InvalidArgument(fmt::format(
          "{}: the record has a vector but collection \"{}\" does not exist; create a vector-only "
          "collection first: flashembed create -c {} --encoder none --dim {}",
          with_vector->where, name, name, with_vector->vector.size()));
    }
  } else {
    return existing.status();
  }

  FE_RETURN_IF_ERROR(Validate(records, schema, embeds_images, name, collection.get(), upsert));
  FE_RETURN_IF_ERROR(AssignIds(records, collection.get(), result));

  if (collection == nullptr) {
    FE_ASSIGN_OR_RETURN(collection, db.CreateCollection(name, schema));
    result.created = true;
  }

  // Step 4: batches (of images, fewer: their files are read for the batch).
  const bool images = std::any_of(records.begin(), records.end(),
                                  [](const InputRecord& r) { return !r.image.empty(); });
  const size_t batch_size = images ? kImageBatchSize : kWriteBatchSize;
  std::vector<Document> batch;
  batch.reserve(std::min(records.size(), batch_size));
  for (size_t begin = 0; begin < records.size(); begin += batch_size) {
    const size_t end = std::min(records.size(), begin + batch_size);
    batch.clear();
    for (size_t i = begin; i < end; ++i) {
      InputRecord& record = records[i];
      batch.push_back(Document{.id = std::move(*record.id),
                               .text = std::move(record.text),
                               .metadata = std::move(record.metadata),
                               .vector = std::move(record.vector)});
      if (!record.image.empty()) {
        Result<ImageInput> image = ReadImageInput(record.image, record.apply_exif_orientation);
        if (!image.ok()) {
          if (begin == 0) return image.status();
          return Status(image.status().code(),
                        fmt::format("{} (the first {} documents were written; the rest were not)",
                                    image.status().message(), begin));
        }
        batch.back().image = std::move(*image);
      }
    }
    const std::span<const Document> docs(batch);
    const Status status = upsert ? collection->Upsert({}, docs) : collection->Add({}, docs);
    if (!status.ok()) {
      if (begin == 0) return status;
      return Status(status.code(),
                    fmt::format("{} (the first {} documents were written; the rest were not)",
                                status.message(), begin));
    }
    result.added = end;
  }
  return result;
}

}  // namespace flashembed::cli
