// Collection: writes (add, upsert, delete, delete_where), reads (get,
// get_many, find, count, scan, export_arrays), long documents
// (put_documents, get_document, delete_documents, count_documents) and the
// Record type.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "python/src/bindings.h"
#include "python/src/convert.h"
#include "python/src/records.h"

namespace flashembed::python {

namespace {

template <typename F>
auto Released(F&& f) {
  py::gil_scoped_release release;
  return f();
}

size_t LengthOf(py::handle value, const char* what) {
  if (!PySequence_Check(value.ptr()) || IsText(value)) {
    throw py::type_error(std::string(what) + " must be a sequence");
  }
  return py::len(value);
}

// The documents of add / upsert: ids with texts, vectors and metadatas
// (each None or one entry per id).
std::vector<Document> DocumentsFrom(py::handle ids, py::handle texts, py::handle vectors,
                                    py::handle metadatas) {
  std::vector<Id> id_list = ToIds(ids);
  const size_t n = id_list.size();
  std::vector<Document> docs(n);
  for (size_t i = 0; i < n; ++i) docs[i].id = std::move(id_list[i]);
  auto check_length = [n](size_t got, const char* what) {
    if (got != n) {
      ThrowInvalid(std::string(what) + " has " + std::to_string(got) + " entries for " +
                   std::to_string(n) + " ids");
    }
  };
  if (!texts.is_none()) {
    std::vector<std::string> list = ToStrings(texts, "texts");
    check_length(list.size(), "texts");
    for (size_t i = 0; i < n; ++i) docs[i].text = std::move(list[i]);
  }
  if (!metadatas.is_none()) {
    if (PyDict_Check(metadatas.ptr())) ThrowInvalid("metadatas must be a sequence of dicts");
    check_length(LengthOf(metadatas, "metadatas"), "metadatas");
    size_t i = 0;
    for (py::handle item : py::reinterpret_borrow<py::sequence>(metadatas)) {
      docs[i++].metadata = ToMetadataJson(item);
    }
  }
  if (!vectors.is_none()) {
    Matrix matrix = ToMatrix(vectors, "vectors");
    if (matrix.one_row && n != 1) ThrowInvalid("vectors must be a 2-D array (one row per id)");
    check_length(matrix.rows, "vectors");
    for (size_t i = 0; i < n; ++i) docs[i].vector = matrix.Row(i);
  }
  return docs;
}

// add and upsert.
template <Status (Collection::*kWrite)(const WriteOptions&, std::span<const Document>)>
void Write(Collection& coll, py::handle ids, py::handle texts, py::handle vectors,
           py::handle metadatas, bool sync) {
  std::vector<Document> docs = DocumentsFrom(ids, texts, vectors, metadatas);
  ThrowIfError(Released([&] { return (coll.*kWrite)({.sync = sync}, docs); }));
}

SourceDocument SourceFrom(py::handle item) {
  if (!PyDict_Check(item.ptr())) {
    throw py::type_error(
        "documents must be dicts with id, text, and optional source, title, "
        "metadata");
  }
  py::dict d = py::reinterpret_borrow<py::dict>(item);
  SourceDocument doc;
  for (auto [key_handle, value] : d) {
    const std::string key = key_handle.cast<std::string>();
    if (key == "id") {
      doc.id = value.cast<std::string>();
    } else if (key == "text") {
      doc.text = value.cast<std::string>();
    } else if (key == "source") {
      doc.source = value.cast<std::string>();
    } else if (key == "title") {
      doc.title = value.cast<std::string>();
    } else if (key == "metadata") {
      doc.metadata = ToMetadataJson(value);
    } else {
      ThrowInvalid("unknown document key \"" + key +
                   "\" (expected id, text, source, title, "
                   "metadata)");
    }
  }
  return doc;
}

const char* OutcomeName(PutDocumentResult::Outcome outcome) {
  switch (outcome) {
    case PutDocumentResult::Outcome::kAdded: return "added";
    case PutDocumentResult::Outcome::kReplaced: return "replaced";
    case PutDocumentResult::Outcome::kUnchanged: return "unchanged";
  }
  return "added";
}

py::object DocumentInfoDict(DocumentInfo&& info) {
  py::dict d;
  d["id"] = info.id;
  d["source"] = info.source;
  d["title"] = info.title;
  d["metadata"] = FromJson(info.metadata);
  d["content_hash"] = info.content_hash;
  d["bytes"] = info.bytes;
  d["tokens"] = info.tokens;
  d["chunk_tokens"] = info.chunk_tokens;
  d["overlap_tokens"] = info.overlap_tokens;
  py::list chunks;
  for (const ChunkInfo& c : info.chunks) {
    py::dict chunk;
    chunk["n"] = c.ordinal;
    chunk["begin"] = c.begin;
    chunk["end"] = c.end;
    chunk["tokens"] = c.tokens;
    chunks.append(chunk);
  }
  d["chunks"] = chunks;
  d["vector"] = info.vector.empty() ? py::object(py::none()) : ToArray(std::move(info.vector));
  d["updated_unix_ms"] = info.updated_unix_ms;
  return d;
}

void DefineRecord(py::module_& m) {
  py::class_<Record>(m, "Record",
                     "A stored document: id, text, metadata (dict) and vector (a read-only "
                     "float32 array, or None when not asked for).")
      .def_property_readonly("id", [](const Record& r) { return FromId(r.doc.id); })
      .def_property_readonly("text", [](const Record& r) { return r.doc.text; })
      .def_property_readonly("metadata",
                             [](Record& r) {
                               if (!r.metadata) r.metadata = FromJson(r.doc.metadata);
                               return r.metadata;
                             })
      .def_property_readonly(
          "vector",
          [](py::object self) { return ViewArray(self.cast<Record&>().doc.vector, self); })
      .def("__repr__", [](const Record& r) {
        return "Record(id=" + py::repr(FromId(r.doc.id)).cast<std::string>() +
               ", text=" + py::repr(py::str(r.doc.text)).cast<std::string>() + ")";
      });
}

}  // namespace

py::list ToRecords(std::vector<Document>&& docs) {
  py::list out(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) out[i] = py::cast(Record{std::move(docs[i]), {}});
  return out;
}

void DefineCollection(py::module_& m) {
  DefineRecord(m);
  py::class_<PutDocumentResult>(m, "PutDocumentResult", "What put_documents did with one document.")
      .def_property_readonly(
          "outcome", [](const PutDocumentResult& r) { return OutcomeName(r.outcome); },
          "\"added\", \"replaced\" or \"unchanged\"")
      .def_readonly("chunks", &PutDocumentResult::chunks)
      .def_readonly("chunks_encoded", &PutDocumentResult::chunks_encoded)
      .def_readonly("tokens", &PutDocumentResult::tokens);

  py::class_<Collection, std::shared_ptr<Collection>> c(
      m, "Collection",
      "A named set of documents with one schema and one index (Database.create_collection / "
      "get_collection). Safe to use from many threads; every call that encodes, searches, "
      "writes or reads releases the GIL.");
  c.def_property_readonly("name", &Collection::name)
      .def(
          "info",
          [](const Collection& coll) { return Unwrap(Released([&] { return coll.Describe(); })); },
          "The collection's CollectionInfo (schema and counts).")
      .def(
          "count",
          [](const Collection& coll, const std::string& filter, py::handle filter_params) {
            if (filter.empty()) return Unwrap(Released([&] { return coll.Count(); }));
            std::string params = ToParamsJson(filter_params);
            return Unwrap(Released([&] { return coll.CountWhere(filter, params); }));
          },
          py::arg("filter") = "", py::arg("filter_params") = py::none(),
          "Live records, or those a filter matches.")
      .def("__len__",
           [](const Collection& coll) { return Unwrap(Released([&] { return coll.Count(); })); })
      .def("add", &Write<&Collection::Add>, py::arg("ids"), py::arg("texts") = py::none(),
           py::kw_only(), py::arg("vectors") = py::none(), py::arg("metadatas") = py::none(),
           py::arg("sync") = true,
           "Inserts documents atomically (all or none). AlreadyExists for a stored id.")
      .def("upsert", &Write<&Collection::Upsert>, py::arg("ids"), py::arg("texts") = py::none(),
           py::kw_only(), py::arg("vectors") = py::none(), py::arg("metadatas") = py::none(),
           py::arg("sync") = true, "Like add, but documents whose id exists replace it.")
      .def(
          "delete",
          [](Collection& coll, py::handle ids, bool sync) {
            std::vector<Id> list = ToIds(ids);
            return Unwrap(Released([&] { return coll.Delete({.sync = sync}, list); }));
          },
          py::arg("ids"), py::kw_only(), py::arg("sync") = true,
          "Removes these ids (missing ones are ignored); returns how many were removed.")
      .def(
          "delete_where",
          [](Collection& coll, const std::string& filter, py::handle filter_params, bool sync) {
            std::string params = ToParamsJson(filter_params);
            return Unwrap(
                Released([&] { return coll.DeleteWhere({.sync = sync}, filter, params); }));
          },
          py::arg("filter"), py::arg("filter_params") = py::none(), py::kw_only(),
          py::arg("sync") = true,
          "Removes every document the filter matches, atomically; returns how many.")
      .def(
          "get",
          [](const Collection& coll, py::handle id) -> py::object {
            std::vector<Id> key{ToId(id)};
            std::vector<Document> docs =
                Unwrap(Released([&] { return coll.GetMany(key, /*with_vector=*/true); }));
            if (docs.empty()) return py::none();
            return py::cast(Record{std::move(docs[0]), {}});
          },
          py::arg("id"), "The stored document with its vector, or None.")
      .def(
          "get_many",
          [](const Collection& coll, py::handle ids, bool with_vector) {
            std::vector<Id> list = ToIds(ids);
            return ToRecords(Unwrap(Released([&] { return coll.GetMany(list, with_vector); })));
          },
          py::arg("ids"), py::kw_only(), py::arg("with_vector") = false,
          "The stored documents among ids, in their order (missing ones skipped).")
      .def(
          "find",
          [](const Collection& coll, const std::string& filter, py::handle filter_params,
             size_t offset, size_t limit, bool with_text, bool with_metadata, bool with_vector) {
            FindOptions options{.filter = filter,
                                .filter_params = ToParamsJson(filter_params),
                                .offset = offset,
                                .limit = limit,
                                .with_text = with_text,
                                .with_metadata = with_metadata,
                                .with_vector = with_vector};
            return ToRecords(Unwrap(Released([&] { return coll.Find(options); })));
          },
          py::arg("filter") = "", py::arg("filter_params") = py::none(), py::kw_only(),
          py::arg("offset") = 0, py::arg("limit") = 0, py::arg("with_text") = true,
          py::arg("with_metadata") = true, py::arg("with_vector") = false,
          "The documents a filter matches, oldest write first (limit 0: all).")
      .def(
          "scan",
          [](const Collection& coll, const py::function& visit, size_t batch, bool with_text,
             bool with_metadata, bool with_vector) {
            ScanOptions options{.with_text = with_text,
                                .with_metadata = with_metadata,
                                .with_vector = with_vector,
                                .batch = batch};
            std::optional<py::error_already_set> raised;
            Status status = Released([&] {
              return coll.ScanRecords(options, [&](std::span<const Document> docs) {
                py::gil_scoped_acquire acquire;
                try {
                  visit(ToRecords(std::vector<Document>(docs.begin(), docs.end())));
                } catch (py::error_already_set& e) {
                  raised.emplace(std::move(e));
                  return Status::Cancelled("scan stopped by an exception");
                }
                return Status::OK();
              });
            });
            if (raised) throw std::move(*raised);
            ThrowIfError(status);
          },
          py::arg("visit"), py::kw_only(), py::arg("batch") = 1024, py::arg("with_text") = true,
          py::arg("with_metadata") = true, py::arg("with_vector") = true,
          "Calls visit(list of Record) with every record, oldest first, batch at a time, all "
          "read at one point in time. An exception from visit stops the scan and is raised.")
      .def(
          "export_arrays",
          [](const Collection& coll, bool with_vector) {
            std::vector<Document> all;
            Status status = Released([&] {
              return coll.ScanRecords({.with_vector = with_vector},
                                      [&](std::span<const Document> docs) {
                                        all.insert(all.end(), docs.begin(), docs.end());
                                        return Status::OK();
                                      });
            });
            ThrowIfError(status);
            py::list ids, texts, metadatas;
            size_t dim = 0;
            for (const Document& d : all) {
              ids.append(FromId(d.id));
              texts.append(py::str(d.text));
              metadatas.append(FromJson(d.metadata));
              dim = std::max(dim, d.vector.size());
            }
            py::dict out;
            out["ids"] = ids;
            out["texts"] = texts;
            out["metadatas"] = metadatas;
            if (with_vector) {
              std::vector<float> rows;
              rows.reserve(all.size() * dim);
              for (const Document& d : all)
                rows.insert(rows.end(), d.vector.begin(), d.vector.end());
              out["vectors"] = ToArray(std::move(rows), all.size(), dim);
            }
            return out;
          },
          py::kw_only(), py::arg("with_vector") = true,
          "Every record as a dict of lists: ids, texts, metadatas, and vectors (an n x dim "
          "float32 array), in write order.")
      .def(
          "put_documents",
          [](Collection& coll, py::handle documents, size_t chunk_tokens,
             std::optional<size_t> overlap_tokens, bool sync) {
            std::vector<SourceDocument> docs;
            if (PyDict_Check(documents.ptr())) {
              docs.push_back(SourceFrom(documents));
            } else {
              for (py::handle item : py::reinterpret_borrow<py::sequence>(documents)) {
                docs.push_back(SourceFrom(item));
              }
            }
            ChunkingOptions chunking{.chunk_tokens = chunk_tokens,
                                     .overlap_tokens = overlap_tokens};
            return Unwrap(
                Released([&] { return coll.PutDocuments({.sync = sync}, chunking, docs); }));
          },
          py::arg("documents"), py::kw_only(), py::arg("chunk_tokens") = 0,
          py::arg("overlap_tokens") = py::none(), py::arg("sync") = true,
          "Stores long documents (dicts: id, text, source, title, metadata), chunked and "
          "embedded, in one atomic batch; unchanged ones are left alone.")
      .def(
          "get_document",
          [](const Collection& coll, const std::string& id, bool with_vector) -> py::object {
            Result<DocumentInfo> info = Released([&] { return coll.GetDocument(id, with_vector); });
            // "no document ..." is a missing document; a dropped collection is an error.
            if (!info.ok() && info.status().IsNotFound() &&
                info.status().message().rfind("no document", 0) == 0) {
              return py::none();
            }
            return DocumentInfoDict(Unwrap(std::move(info)));
          },
          py::arg("id"), py::kw_only(), py::arg("with_vector") = false,
          "A stored long document as a dict (source, title, metadata, chunks, ...), or None.")
      .def(
          "delete_documents",
          [](Collection& coll, py::handle ids, bool sync) {
            std::vector<std::string> list = ToStrings(ids, "ids");
            return Unwrap(Released([&] { return coll.DeleteDocuments({.sync = sync}, list); }));
          },
          py::arg("ids"), py::kw_only(), py::arg("sync") = true,
          "Removes long documents with their chunks; returns how many.")
      .def(
          "count_documents",
          [](const Collection& coll) {
            return Unwrap(Released([&] { return coll.CountDocuments(); }));
          },
          "Long documents stored.")
      .def(
          "snapshot",
          [](Collection& coll) { ThrowIfError(Released([&] { return coll.Snapshot(); })); },
          "Writes a snapshot of the in-memory index (done on close anyway).")
      .def("__repr__",
           [](const Collection& coll) { return "flashembed.Collection('" + coll.name() + "')"; });
}

}  // namespace flashembed::python
