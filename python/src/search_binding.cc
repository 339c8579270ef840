// Collection.search and Collection.search_documents, and their results: Hit,
// DocumentHit, Passage.
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

struct PyDocumentHit {
  DocumentHit hit;
  py::object metadata;
};

// The queries of one call: a str, a vector, a list of str or a 2-D array of
// vectors (batch); None for a full-text search by keywords alone.
struct Queries {
  std::vector<Query> queries;
  bool batch = false;
};

Queries QueriesFrom(py::handle query) {
  Queries q;
  if (query.is_none()) {
    q.queries.emplace_back();
  } else if (IsText(query)) {
    q.queries.push_back(Query::Text(query.cast<std::string>()));
  } else if (PyList_Check(query.ptr()) || PyTuple_Check(query.ptr())) {
    py::sequence seq = py::reinterpret_borrow<py::sequence>(query);
    if (seq.size() > 0 && IsText(seq[0])) {
      q.batch = true;
      for (std::string& text : ToStrings(query, "query")) {
        q.queries.push_back(Query::Text(std::move(text)));
      }
      return q;
    }
  }
  if (q.queries.empty()) {
    Matrix m = ToMatrix(query, "query");
    q.batch = !m.one_row;
    for (size_t i = 0; i < m.rows; ++i) q.queries.push_back(Query::Vector(m.Row(i)));
  }
  return q;
}

void FillStats(py::handle stats, const SearchStats& s) {
  if (stats.is_none()) return;
  py::dict d = py::reinterpret_borrow<py::dict>(stats);
  d["strategy"] = s.strategy;
  d["filter_matches"] = s.filter_matches;
  d["narrowed"] = s.narrowed;
  d["stored_index"] = s.stored_index;
  d["cached"] = s.cached;
}

py::object Search(const Collection& coll, py::handle query, size_t k, const std::string& filter,
                  py::handle filter_params, size_t ef, size_t nprobe, const std::string& mode,
                  const std::string& ranking, const std::string& keywords,
                  const std::string& fusion, int rrf_k, float text_weight,
                  const std::string& group_by, size_t group_size, std::optional<float> min_score,
                  std::optional<float> max_score, bool with_text, bool with_metadata,
                  bool with_vector, const std::string& reranker, size_t rerank_depth,
                  py::handle stats) {
  if (!stats.is_none() && !PyDict_Check(stats.ptr())) throw py::type_error("stats must be a dict");
  SearchStats search_stats;
  SearchOptions options{.k = k,
                        .ef_search = ef,
                        .nprobe = nprobe,
                        .mode = ToSearchMode(mode),
                        .with_text = with_text,
                        .with_metadata = with_metadata,
                        .with_vector = with_vector,
                        .filter = filter,
                        .filter_params = ToParamsJson(filter_params),
                        .min_score = min_score,
                        .max_score = max_score,
                        .group_by = group_by,
                        .group_size = group_size,
                        .ranking = ToRanking(ranking),
                        .keywords = keywords,
                        .fusion = ToFusion(fusion),
                        .rrf_k = rrf_k,
                        .text_weight = text_weight,
                        .reranker = reranker,
                        .rerank_depth = rerank_depth,
                        .stats = stats.is_none() ? nullptr : &search_stats};
  Queries queries = QueriesFrom(query);
  std::vector<std::vector<Hit>> results(queries.queries.size());
  Status status;
  {
    py::gil_scoped_release release;
    for (size_t i = 0; i < queries.queries.size() && status.ok(); ++i) {
      Result<std::vector<Hit>> hits = coll.Search(options, queries.queries[i]);
      if (hits.ok()) {
        results[i] = std::move(hits).value();
      } else {
        status = hits.status();
      }
    }
  }
  ThrowIfError(status);
  FillStats(stats, search_stats);
  if (!queries.batch) return ToHits(std::move(results[0]));
  py::list out(results.size());
  for (size_t i = 0; i < results.size(); ++i) out[i] = ToHits(std::move(results[i]));
  return out;
}

py::object SearchDocuments(const Collection& coll, py::handle query, size_t k, size_t passages,
                           size_t neighbors, bool pooled, const std::string& ranking,
                           const std::string& keywords, const std::string& fusion, int rrf_k,
                           float text_weight, const std::string& filter, py::handle filter_params,
                           size_t ef, size_t nprobe, const std::string& mode,
                           std::optional<float> min_score, std::optional<float> max_score,
                           bool with_text, const std::string& reranker, size_t rerank_depth) {
  DocumentSearchOptions options;
  options.search.reranker = reranker;
  options.search.rerank_depth = rerank_depth;
  options.search.k = k;
  options.search.ef_search = ef;
  options.search.nprobe = nprobe;
  options.search.mode = ToSearchMode(mode);
  options.search.with_text = with_text;
  options.search.filter = filter;
  options.search.filter_params = ToParamsJson(filter_params);
  options.search.min_score = min_score;
  options.search.max_score = max_score;
  options.search.ranking = ToRanking(ranking);
  options.search.keywords = keywords;
  options.search.fusion = ToFusion(fusion);
  options.search.rrf_k = rrf_k;
  options.search.text_weight = text_weight;
  options.passages = passages;
  options.neighbors = neighbors;
  options.pooled = pooled;
  Queries queries = QueriesFrom(query);
  std::vector<std::vector<DocumentHit>> results(queries.queries.size());
  Status status;
  {
    py::gil_scoped_release release;
    for (size_t i = 0; i < queries.queries.size() && status.ok(); ++i) {
      auto hits = coll.SearchDocuments(options, queries.queries[i]);
      if (hits.ok()) {
        results[i] = std::move(hits).value();
      } else {
        status = hits.status();
      }
    }
  }
  ThrowIfError(status);
  auto to_list = [](std::vector<DocumentHit>&& hits) {
    py::list out(hits.size());
    for (size_t i = 0; i < hits.size(); ++i) {
      out[i] = py::cast(PyDocumentHit{std::move(hits[i]), {}});
    }
    return out;
  };
  if (!queries.batch) return to_list(std::move(results[0]));
  py::list out(results.size());
  for (size_t i = 0; i < results.size(); ++i) out[i] = to_list(std::move(results[i]));
  return out;
}

py::object OptionalScore(const std::optional<float>& score) {
  if (!score) return py::none();
  return py::float_(*score);
}

void DefineResults(py::module_& m) {
  py::class_<PyHit>(m, "Hit",
                    "A search result: id, score (higher is better), text, metadata (dict), "
                    "vector (read-only float32 array or None), group, vector_score, "
                    "text_score.")
      .def_property_readonly("id", [](const PyHit& h) { return FromId(h.hit.id); })
      .def_property_readonly(
          "score", [](const PyHit& h) { return h.hit.score; },
          "cosine similarity, inner product, or minus the squared L2 distance (by the "
          "collection's metric); BM25 or the fused score for text and hybrid rankings")
      .def_property_readonly("text", [](const PyHit& h) { return h.hit.text; })
      .def_property_readonly("metadata",
                             [](PyHit& h) {
                               if (!h.metadata) h.metadata = FromJson(h.hit.metadata);
                               return h.metadata;
                             })
      .def_property_readonly(
          "vector", [](py::object self) { return ViewArray(self.cast<PyHit&>().hit.vector, self); })
      .def_property_readonly(
          "group",
          [](const PyHit& h) -> py::object {
            if (h.hit.group.empty()) return py::none();
            return FromJson(h.hit.group);
          },
          "with group_by: the group's value; None otherwise")
      .def_property_readonly("vector_score",
                             [](const PyHit& h) { return OptionalScore(h.hit.vector_score); })
      .def_property_readonly("text_score",
                             [](const PyHit& h) { return OptionalScore(h.hit.text_score); })
      .def_property_readonly(
          "rerank_score", [](const PyHit& h) { return OptionalScore(h.hit.rerank_score); },
          "with reranker=: the cross-encoder's score, by which the hits are ordered")
      .def("__repr__", [](const PyHit& h) {
        return "Hit(id=" + py::repr(FromId(h.hit.id)).cast<std::string>() +
               ", score=" + py::repr(py::float_(h.hit.score)).cast<std::string>() +
               ", text=" + py::repr(py::str(h.hit.text)).cast<std::string>() + ")";
      });

  py::class_<Passage>(m, "Passage",
                      "A chunk of a long document in a search result: n (ordinal), begin and "
                      "end (byte offsets), score, text, and neighbouring chunks before/after.")
      .def_readonly("n", &Passage::ordinal)
      .def_readonly("begin", &Passage::begin)
      .def_readonly("end", &Passage::end)
      .def_readonly("score", &Passage::score)
      .def_property_readonly("rerank_score",
                             [](const Passage& p) { return OptionalScore(p.rerank_score); })
      .def_readonly("text", &Passage::text)
      .def_readonly("before", &Passage::before)
      .def_readonly("after", &Passage::after);

  py::class_<PyDocumentHit>(m, "DocumentHit",
                            "A long document in a search result, with its best passages.")
      .def_property_readonly("id", [](const PyDocumentHit& h) { return h.hit.id; })
      .def_property_readonly("score", [](const PyDocumentHit& h) { return h.hit.score; })
      .def_property_readonly(
          "vector_score", [](const PyDocumentHit& h) { return OptionalScore(h.hit.vector_score); })
      .def_property_readonly("text_score",
                             [](const PyDocumentHit& h) { return OptionalScore(h.hit.text_score); })
      .def_property_readonly(
          "rerank_score", [](const PyDocumentHit& h) { return OptionalScore(h.hit.rerank_score); })
      .def_property_readonly("source", [](const PyDocumentHit& h) { return h.hit.source; })
      .def_property_readonly("title", [](const PyDocumentHit& h) { return h.hit.title; })
      .def_property_readonly("metadata",
                             [](PyDocumentHit& h) {
                               if (!h.metadata) h.metadata = FromJson(h.hit.metadata);
                               return h.metadata;
                             })
      .def_property_readonly("passages",
                             [](const PyDocumentHit& h) { return py::cast(h.hit.passages); })
      .def("__repr__", [](const PyDocumentHit& h) {
        return "DocumentHit(id=" + py::repr(py::str(h.hit.id)).cast<std::string>() +
               ", score=" + py::repr(py::float_(h.hit.score)).cast<std::string>() + ")";
      });
}

}  // namespace

py::list ToHits(std::vector<Hit>&& hits) {
  py::list out(hits.size());
  for (size_t i = 0; i < hits.size(); ++i) out[i] = py::cast(PyHit{std::move(hits[i]), {}});
  return out;
}

void DefineSearch(py::module_& m) {
  DefineResults(m);
  py::class_<Collection, std::shared_ptr<Collection>> c =
      py::reinterpret_borrow<py::class_<Collection, std::shared_ptr<Collection>>>(
          m.attr("Collection"));
  c.def("search", &Search, py::arg("query") = py::none(), py::arg("k") = 10, py::kw_only(),
        py::arg("filter") = "", py::arg("filter_params") = py::none(), py::arg("ef") = 0,
        py::arg("nprobe") = 0, py::arg("mode") = "auto", py::arg("ranking") = "vector",
        py::arg("keywords") = "", py::arg("fusion") = "rrf", py::arg("rrf_k") = 60,
        py::arg("text_weight") = 0.5f, py::arg("group_by") = "", py::arg("group_size") = 1,
        py::arg("min_score") = py::none(), py::arg("max_score") = py::none(),
        py::arg("with_text") = true, py::arg("with_metadata") = true,
        py::arg("with_vector") = false, py::arg("reranker") = "", py::arg("rerank_depth") = 0,
        py::arg("stats") = py::none(),
        "The k most similar documents, best first, as Hit objects. query: a text, a vector, "
        "or a batch (a list of texts or a 2-D array of vectors: a list of lists of hits). "
        "reranker=\"model:DIR\" reorders the first rerank_depth (default max(k, 20)) with a "
        "cross-encoder; Hit.rerank_score holds its score.");
  c.def("search_documents", &SearchDocuments, py::arg("query") = py::none(), py::arg("k") = 10,
        py::kw_only(), py::arg("passages") = 1, py::arg("neighbors") = 0, py::arg("pooled") = false,
        py::arg("ranking") = "auto", py::arg("keywords") = "", py::arg("fusion") = "normalized",
        py::arg("rrf_k") = 60, py::arg("text_weight") = 0.8f, py::arg("filter") = "",
        py::arg("filter_params") = py::none(), py::arg("ef") = 0, py::arg("nprobe") = 0,
        py::arg("mode") = "auto", py::arg("min_score") = py::none(),
        py::arg("max_score") = py::none(), py::arg("with_text") = true, py::arg("reranker") = "",
        py::arg("rerank_depth") = 0,
        "The k best long documents for the query, each with its best passages (DocumentHit); "
        "with reranker=\"model:DIR\" the passages are reranked by a cross-encoder and the "
        "documents ordered by their best.");
}

}  // namespace flashembed::python
