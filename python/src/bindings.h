// The parts of the flashembed._native module, each defined in its own file
// and called in this order from module.cc.
#ifndef FLASHEMBED_PYTHON_SRC_BINDINGS_H_
#define FLASHEMBED_PYTHON_SRC_BINDINGS_H_

#include <pybind11/pybind11.h>

namespace flashembed::python {

// open(), Database, CollectionInfo, TextModel (database_binding.cc).
void DefineDatabase(pybind11::module_& m);
// Collection: writes, reads, filters, long documents (collection_binding.cc).
void DefineCollection(pybind11::module_& m);
// Collection.search / search_documents and their result types (search_binding.cc).
void DefineSearch(pybind11::module_& m);
// Collection.ingest and its progress and summary types (ingest_binding.cc).
void DefineIngest(pybind11::module_& m);

}  // namespace flashembed::python

#endif  // FLASHEMBED_PYTHON_SRC_BINDINGS_H_
