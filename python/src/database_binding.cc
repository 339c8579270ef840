// open(), Database, CollectionInfo and TextModel.
#include <memory>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "python/src/bindings.h"
#include "python/src/convert.h"

namespace flashembed::python {

namespace {

// Deletes a Database without holding the GIL: closing snapshots every
// collection's index, which may take a while.
void DeleteDatabase(Database* db) {
  if (PyGILState_Check()) {
    py::gil_scoped_release release;
    delete db;
  } else {
    delete db;
  }
}

std::shared_ptr<Database> OpenDatabase(py::handle path_like, bool read_only,
                                       bool read_only_if_unwritable, bool create_if_missing,
                                       size_t block_cache_bytes, size_t text_cache_bytes,
                                       size_t snapshot_every_ops, size_t exact_search_below) {
  const std::string path = py::module_::import("os").attr("fspath")(path_like).cast<std::string>();
  Options options{.create_if_missing = create_if_missing,
                  .read_only = read_only,
                  .read_only_if_unwritable = read_only_if_unwritable,
                  .block_cache_bytes = block_cache_bytes,
                  .text_cache_bytes = text_cache_bytes,
                  .snapshot_every_ops = snapshot_every_ops,
                  .exact_search_below = exact_search_below};
  Result<std::unique_ptr<Database>> db = Status::Internal("not opened");
  {
    py::gil_scoped_release release;
    db = Database::Open(options, path);
  }
  return std::shared_ptr<Database>(Unwrap(std::move(db)).release(), DeleteDatabase);
}

// The schema from create_collection's keyword arguments (the CLI's create
// options, spelled as its flags: dim, metric, index, m, ...).
CollectionSchema SchemaFrom(const py::kwargs& kwargs) {
  CollectionSchema schema;
  std::string model;
  for (auto [key_handle, value] : kwargs) {
    const std::string key = key_handle.cast<std::string>();
    if (key == "dim") {
      schema.dim = value.cast<int>();
    } else if (key == "metric") {
      schema.metric = ToMetric(value.cast<std::string>());
    } else if (key == "index") {
      schema.index = ToIndexKind(value.cast<std::string>());
    } else if (key == "m") {
      schema.hnsw.m = value.cast<int>();
    } else if (key == "ef_construction") {
      schema.hnsw.ef_construction = value.cast<int>();
    } else if (key == "ef_search") {
      schema.hnsw.ef_search = value.cast<int>();
    } else if (key == "nlist") {
      schema.ivf.nlist = value.cast<int>();
    } else if (key == "nprobe") {
      schema.ivf.nprobe = value.cast<int>();
    } else if (key == "train_at") {
      schema.ivf.train_at = value.cast<int>();
    } else if (key == "pq_m") {
      schema.ivf.pq_m = value.cast<int>();
    } else if (key == "pq_nbits") {
      schema.ivf.pq_nbits = value.cast<int>();
    } else if (key == "encoder") {
      std::string encoder = value.is_none() ? "" : value.cast<std::string>();
      schema.encoder = encoder == "none" ? "" : encoder;
    } else if (key == "model") {
      if (!value.is_none()) model = py::str(value).cast<std::string>();
    } else if (key == "text_index") {
      schema.text_index = value.cast<bool>();
    } else if (key == "indexed_fields") {
      schema.indexed_fields = ToStrings(value, "indexed_fields");
    } else if (key == "query_prefix") {
      schema.query_prefix = value.cast<std::string>();
    } else if (key == "document_prefix") {
      schema.document_prefix = value.cast<std::string>();
    } else if (key == "reranker") {
      // A folder (str or path-like), or "model:DIR".
      const std::string r = value.is_none() ? "" : py::str(value).cast<std::string>();
      schema.reranker = r.empty() || r.starts_with("model:") ? r : "model:" + r;
    } else if (key == "properties") {
      schema.properties = value.is_none() ? "" : ToMetadataJson(value);
    } else {
      throw py::type_error("unexpected keyword argument '" + key + "'");
    }
  }
  if (!model.empty()) {
    if (kwargs.contains("encoder")) ThrowInvalid("give encoder or model, not both");
    schema.encoder = "model:" + model;
  }
  return schema;
}

py::object PropertiesOf(const CollectionSchema& schema) {
  if (schema.properties.empty()) return py::none();
  return FromJson(schema.properties);
}

void DefineInfo(py::module_& m) {
  py::class_<CollectionInfo>(m, "CollectionInfo",
                             "A collection's schema and counts (Database.list_collections, "
                             "Collection.info()).")
      .def_readonly("name", &CollectionInfo::name)
      .def_property_readonly(
          "dim", [](const CollectionInfo& i) { return i.schema.dim; }, "vector dimension")
      .def_property_readonly(
          "metric", [](const CollectionInfo& i) { return MetricName(i.schema.metric); },
          "\"cosine\", \"ip\" or \"l2\"")
      .def_property_readonly(
          "index", [](const CollectionInfo& i) { return IndexKindName(i.schema.index); },
          "\"hnsw\", \"flat\", \"ivf_flat\", \"ivf_sq8\" or \"ivf_pq\"")
      .def_property_readonly(
          "encoder", [](const CollectionInfo& i) { return i.schema.encoder; },
          "\"hash\", \"model:DIR\", or \"\" for a vector-only collection")
      .def_readonly("encoder_spec", &CollectionInfo::encoder_spec)
      .def_property_readonly(
          "hnsw",
          [](const CollectionInfo& i) {
            py::dict d;
            d["m"] = i.schema.hnsw.m;
            d["ef_construction"] = i.schema.hnsw.ef_construction;
            d["ef_search"] = i.schema.hnsw.ef_search;
            return d;
          },
          "HNSW parameters: m, ef_construction, ef_search")
      .def_property_readonly(
          "ivf",
          [](const CollectionInfo& i) {
            py::dict d;
            d["nlist"] = i.schema.ivf.nlist;
            d["nprobe"] = i.schema.ivf.nprobe;
            d["train_at"] = i.schema.ivf.train_at;
            d["pq_m"] = i.schema.ivf.pq_m;
            d["pq_nbits"] = i.schema.ivf.pq_nbits;
            return d;
          },
          "IVF parameters: nlist, nprobe, train_at, pq_m, pq_nbits")
      .def_property_readonly(
          "text_index", [](const CollectionInfo& i) { return i.schema.text_index; },
          "whether a BM25 full-text index is kept")
      .def_property_readonly(
          "indexed_fields", [](const CollectionInfo& i) { return i.schema.indexed_fields; },
          "metadata fields indexed in storage for filters")
      .def_property_readonly("query_prefix",
                             [](const CollectionInfo& i) { return i.schema.query_prefix; })
      .def_property_readonly("reranker", [](const CollectionInfo& i) { return i.schema.reranker; })
      .def_property_readonly("document_prefix",
                             [](const CollectionInfo& i) { return i.schema.document_prefix; })
      .def_property_readonly(
          "properties", [](const CollectionInfo& i) { return PropertiesOf(i.schema); },
          "the application's JSON object stored with the collection, or None")
      .def_readonly("count", &CollectionInfo::count, "live records (chunks count each)")
      .def_readonly("documents", &CollectionInfo::documents, "long documents stored")
      .def_readonly("created_unix_ms", &CollectionInfo::created_unix_ms)
      .def_readonly("text_cache_bytes", &CollectionInfo::text_cache_bytes)
      .def_readonly("disk_bytes", &CollectionInfo::disk_bytes,
                    "bytes of the collection's data in the database (estimated)")
      .def("__repr__", [](const CollectionInfo& i) {
        return "CollectionInfo(name='" + i.name + "', dim=" + std::to_string(i.schema.dim) +
               ", metric='" + MetricName(i.schema.metric) + "', index='" +
               IndexKindName(i.schema.index) + "', encoder='" + i.schema.encoder +
               "', count=" + std::to_string(i.count) + ")";
      });
}

// TextModel.embed and __call__: texts to a len(texts) x dim float32 array.
py::array_t<float> EmbedTexts(const TextModel& model, py::handle texts) {
  std::vector<std::string> list = ToStrings(texts, "texts");
  Result<std::vector<float>> rows = Status::Internal("not embedded");
  {
    py::gil_scoped_release release;
    rows = model.Embed(list);
  }
  return ToArray(Unwrap(std::move(rows)), list.size(), model.dim());
}

void DefineTextModel(py::module_& m) {
  py::class_<TextModel, std::shared_ptr<TextModel>>(
      m, "TextModel",
      "A built-in text encoder on its own, without a database: TextModel(\"hash\") or "
      "TextModel(\"model:DIR\"). Safe to use from many threads.")
      .def(py::init([](const std::string& encoder, int dim) {
             Result<std::unique_ptr<TextModel>> model = Status::Internal("not opened");
             {
               py::gil_scoped_release release;
               model = TextModel::Open(encoder, dim);
             }
             return std::shared_ptr<TextModel>(Unwrap(std::move(model)));
           }),
           py::arg("encoder") = "hash", py::arg("dim") = 0,
           "Opens an encoder as CollectionSchema names it (\"hash\" or \"model:DIR\"); dim 0 is "
           "its default.")
      .def_property_readonly("dim", &TextModel::dim)
      .def_property_readonly("spec", &TextModel::spec, "the identity stored with collections")
      .def("embed", &EmbedTexts, py::arg("texts"),
           "Embeds texts: a float32 array of len(texts) x dim rows.")
      .def("__call__", &EmbedTexts, py::arg("input"),
           "Same as embed(): an embedding function over a list of texts.")
      .def(
          "tokenize",
          [](const TextModel& model, const std::string& text, size_t max_tokens) {
            Result<TextModel::Tokens> tokens = Status::Internal("not tokenized");
            {
              py::gil_scoped_release release;
              tokens = model.Tokenize(text, max_tokens);
            }
            TextModel::Tokens t = Unwrap(std::move(tokens));
            return py::make_tuple(t.ids, t.tokens);
          },
          py::arg("text"), py::arg("max_tokens") = 0,
          "The model's (token ids, tokens) for text, with [CLS]/[SEP]; NotSupported for the "
          "hashing encoder.");
}

template <typename F>
auto Released(F&& f) {
  py::gil_scoped_release release;
  return f();
}

}  // namespace

void DefineDatabase(py::module_& m) {
  DefineInfo(m);
  DefineTextModel(m);
  py::class_<Database, std::shared_ptr<Database>>(
      m, "Database",
      "A flashembed folder holding collections; from flashembed.open(path). A context manager "
      "(closed on exit). Safe to use from many threads.")
      .def_property_readonly("path", &Database::path)
      .def_property_readonly("read_only", &Database::read_only)
      .def(
          "create_collection",
          [](Database& db, const std::string& name, const py::kwargs& kwargs) {
            CollectionSchema schema = SchemaFrom(kwargs);
            return Unwrap(Released([&] { return db.CreateCollection(name, schema); }));
          },
          py::arg("name"),
          "Creates a collection; keyword arguments give its schema (see the stubs). "
          "AlreadyExists if the name is taken.")
      .def(
          "get_collection",
          [](Database& db, const std::string& name) {
            return Unwrap(Released([&] { return db.GetCollection(name); }));
          },
          py::arg("name"), "The collection, or NotFound.")
      .def(
          "get_or_create_collection",
          [](Database& db, const std::string& name, const py::kwargs& kwargs) {
            CollectionSchema schema = SchemaFrom(kwargs);
            return Unwrap(Released([&] { return db.GetOrCreateCollection(name, schema); }));
          },
          py::arg("name"),
          "The collection if its schema equals the one given, created if missing; "
          "InvalidArgument naming both values if the stored schema differs.")
      .def(
          "list_collections",
          [](Database& db) { return Unwrap(Released([&] { return db.ListCollections(); })); },
          "Every collection's CollectionInfo.")
      .def(
          "drop_collection",
          [](Database& db, const std::string& name) {
            ThrowIfError(Released([&] { return db.DropCollection(name); }));
          },
          py::arg("name"), "Deletes the collection and all its data; NotFound if missing.")
      .def(
          "reembed",
          [](Database& db, const std::string& name, const std::string& encoder, int dim,
             std::optional<std::string> query_prefix, std::optional<std::string> document_prefix,
             size_t chunk_tokens, std::optional<size_t> overlap_tokens, py::object progress) {
            ReembedOptions options;
            options.encoder = encoder;
            options.dim = dim;
            options.query_prefix = std::move(query_prefix);
            options.document_prefix = std::move(document_prefix);
            options.chunking.chunk_tokens = chunk_tokens;
            options.chunking.overlap_tokens = overlap_tokens;
            // The callback runs on this thread with the GIL taken back; its
            // first exception is raised once the re-embedding returns (it
            // cannot unwind through the library).
            std::optional<py::error_already_set> raised;
            if (!progress.is_none()) {
              if (!PyCallable_Check(progress.ptr())) {
                throw py::type_error("progress must be callable");
              }
              options.progress = [&](const ReembedProgress& p) {
                py::gil_scoped_acquire gil;
                if (raised) return;
                try {
                  py::dict d;
                  d["round"] = p.round;
                  d["records"] = p.records;
                  d["records_done"] = p.records_done;
                  d["documents"] = p.documents;
                  d["documents_done"] = p.documents_done;
                  d["switching"] = p.switching;
                  d["training"] = p.training;
                  d["trained"] = p.trained;
                  progress(d);
                } catch (py::error_already_set& e) {
                  raised = std::move(e);
                }
              };
            }
            Result<ReembedSummary> summary = Released([&] { return db.Reembed(name, options); });
            if (raised) throw *raised;
            const ReembedSummary& s = Unwrap(std::move(summary));
            py::dict out;
            out["encoder"] = s.encoder_spec;
            out["rounds"] = s.rounds;
            out["records"] = s.records;
            out["documents"] = s.documents;
            out["removed"] = s.removed;
            out["resumed"] = s.resumed;
            out["seconds"] = s.seconds;
            return out;
          },
          py::arg("name"), py::arg("encoder"), py::kw_only(), py::arg("dim") = 0,
          py::arg("query_prefix") = py::none(), py::arg("document_prefix") = py::none(),
          py::arg("chunk_tokens") = 0, py::arg("overlap_tokens") = py::none(),
          py::arg("progress") = py::none(),
          "Embeds every record and long document of collection `name` again with `encoder` "
          "(\"hash\", \"model:DIR\", or \"learned\": trained on the collection's own texts "
          "first) while other threads keep searching and writing, then switches the collection "
          "to it in one atomic write (Database::Reembed). Interrupted, the same call resumes; "
          "abort_reembed deletes the partial copy. progress: a callable receiving a dict "
          "(round, records, records_done, documents, documents_done, switching, training, "
          "trained). Returns the summary as a dict.")
      .def(
          "abort_reembed",
          [](Database& db, const std::string& name) {
            ThrowIfError(Released([&] { return db.AbortReembed(name); }));
          },
          py::arg("name"),
          "Deletes the copy an interrupted re-embedding of `name` left; NotFound if none.")
      .def(
          "compact", [](Database& db) { ThrowIfError(Released([&] { return db.Compact(); })); },
          "Gives back now the disk space of deleted, replaced and dropped data "
          "(Database::Compact); it otherwise comes back in the background.")
      .def(
          "backup",
          [](Database& db, const std::string& dest) {
            ThrowIfError(Released([&] { return db.Backup(dest); }));
          },
          py::arg("dest"),
          "Writes a consistent point-in-time copy of the database to the new folder `dest` "
          "while reads and writes go on (Database::Backup); it opens with flashembed.open.")
      .def(
          "disk_bytes",
          [](const Database& db) { return Unwrap(Released([&] { return db.DiskBytes(); })); },
          "Bytes of every file under the database folder.")
      .def(
          "storage_health",
          [](Database& db) { ThrowIfError(Released([&] { return db.StorageHealth(); })); },
          "Returns if writes can succeed now; raises the error that stops them otherwise.")
      .def(
          "close", [](Database& db) { ThrowIfError(Released([&] { return db.Close(); })); },
          "Snapshots every collection and closes the folder; later calls raise Cancelled. "
          "Idempotent.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](Database& db, py::handle, py::handle,
                          py::handle) { ThrowIfError(Released([&] { return db.Close(); })); })
      .def("__repr__",
           [](const Database& db) { return "flashembed.Database('" + db.path() + "')"; });

  m.def("open", &OpenDatabase, py::arg("path"), py::kw_only(), py::arg("read_only") = false,
        py::arg("read_only_if_unwritable") = false, py::arg("create_if_missing") = true,
        py::arg("block_cache_bytes") = Options{}.block_cache_bytes,
        py::arg("text_cache_bytes") = Options{}.text_cache_bytes,
        py::arg("snapshot_every_ops") = Options{}.snapshot_every_ops,
        py::arg("exact_search_below") = Options{}.exact_search_below,
        "Opens (or creates) the database in folder `path`.");
}

}  // namespace flashembed::python
