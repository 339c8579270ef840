// What every part of the Python binding shares: Status to exception,
// Python values to the public API's types and back, NumPy arrays.
//
// The GIL: functions here take Python objects and need it; the bindings
// convert their arguments first, release the GIL (py::gil_scoped_release)
// around the library call, and convert the results after.
#ifndef FLASHEMBED_PYTHON_SRC_CONVERT_H_
#define FLASHEMBED_PYTHON_SRC_CONVERT_H_

#include <cstddef>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "base/status.h"
#include "query/database.h"

namespace flashembed::python {

namespace py = pybind11;

// A non-OK Status on its way to Python: the translator RegisterErrors
// installs raises the flashembed.errors class of its code with its message.
class StatusError : public std::exception {
 public:
  explicit StatusError(Status status) : status_(std::move(status)) {}
  const char* what() const noexcept override { return status_.message().c_str(); }
  const Status& status() const { return status_; }

 private:
  Status status_;
};

inline void ThrowIfError(const Status& status) {
  if (!status.ok()) throw StatusError(status);
}
template <typename T>
T Unwrap(Result<T> result) {
  if (!result.ok()) throw StatusError(result.status());
  return std::move(result).value();
}
// Throws InvalidArgument with `message`.
[[noreturn]] void ThrowInvalid(const std::string& message);

// Installs the translator; the classes come from flashembed.errors.
void RegisterErrors();

// An id: a Python int (not bool) or str. TypeError otherwise.
Id ToId(py::handle value);
py::object FromId(const Id& id);
// One id, or a sequence (not a str) of them.
std::vector<Id> ToIds(py::handle value);
// A str, or a sequence of them ("what" names the argument in errors).
std::vector<std::string> ToStrings(py::handle value, const char* what);

// Metadata: a dict (or any JSON-serialisable mapping) to compact JSON text;
// None is "{}", a str is passed on as JSON text. JSON text to Python objects.
std::string ToMetadataJson(py::handle value);
// Filter parameters: None is "", a dict becomes JSON, a str is JSON text.
std::string ToParamsJson(py::handle value);
py::object FromJson(const std::string& json);

// Rows of float32 values taken from a NumPy array or nested sequences:
// float32 C-contiguous arrays are read in place, anything else is converted
// once. Holds the array while the data is in use.
struct Matrix {
  py::array_t<float> array;
  const float* data = nullptr;
  size_t rows = 0;
  size_t cols = 0;
  bool one_row = false;  // given as one 1-D vector

  std::vector<float> Row(size_t i) const {
    return std::vector<float>(data + i * cols, data + (i + 1) * cols);
  }
};
// `value`: a 1-D vector or a 2-D batch of real numbers. InvalidArgument
// naming `what` for other shapes and dtypes (complex, bool, objects, text).
Matrix ToMatrix(py::handle value, const char* what);
// True if `value` is a str or bytes (a text query, not numbers).
bool IsText(py::handle value);

// A 1-D / rows x cols float32 array owning `values` (moved, not copied).
py::array_t<float> ToArray(std::vector<float>&& values);
py::array_t<float> ToArray(std::vector<float>&& values, size_t rows, size_t cols);
// A read-only 1-D view of `values`, kept alive by `owner`; None when empty.
py::object ViewArray(const std::vector<float>& values, py::handle owner);

// Enums by their names ("cosine", "hnsw", "vector", "rrf", "auto"), as the
// CLI spells them; InvalidArgument listing the names otherwise.
Metric ToMetric(const std::string& name);
IndexKind ToIndexKind(const std::string& name);
Ranking ToRanking(const std::string& name);
Fusion ToFusion(const std::string& name);
SearchMode ToSearchMode(const std::string& name);
const char* RankingName(Ranking ranking);

}  // namespace flashembed::python

#endif  // FLASHEMBED_PYTHON_SRC_CONVERT_H_
