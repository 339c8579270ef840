// The light result objects shared by the collection and search bindings:
// Record (a stored document) and Hit (a search result). Their metadata is
// parsed into a dict on first access, and their vector is a read-only NumPy
// view of the C++ vector, without a copy.
#ifndef FLASHEMBED_PYTHON_SRC_RECORDS_H_
#define FLASHEMBED_PYTHON_SRC_RECORDS_H_

#include <utility>
#include <vector>

#include <pybind11/pybind11.h>

#include "query/database.h"

namespace flashembed::python {

struct Record {
  Document doc;
  pybind11::object metadata;  // the parsed doc.metadata, once asked for
};

struct PyHit {
  Hit hit;
  pybind11::object metadata;
};

// Python lists of Record / Hit objects, moving the values.
pybind11::list ToRecords(std::vector<Document>&& docs);
pybind11::list ToHits(std::vector<Hit>&& hits);

}  // namespace flashembed::python

#endif  // FLASHEMBED_PYTHON_SRC_RECORDS_H_
