// flashembed._native: the pybind11 module behind `import flashembed`. The
// pure-Python package (python/flashembed/) imports it and re-exports its
// names; python/README.md describes the layout.
#include <pybind11/pybind11.h>

#include "python/src/bindings.h"
#include "python/src/convert.h"

PYBIND11_MODULE(_native, m) {
  m.doc() = "flashembed's native module; use the flashembed package instead.";
  flashembed::python::RegisterErrors();
  flashembed::python::DefineDatabase(m);
  flashembed::python::DefineCollection(m);
  flashembed::python::DefineSearch(m);
  flashembed::python::DefineIngest(m);
}
