#include "python/src/convert.h"

#include <array>
#include <cstring>

namespace flashembed::python {

namespace {

// Python objects the module keeps for its lifetime (never destroyed: they
// would outlive the interpreter at exit).
struct Globals {
  std::array<PyObject*, 10> errors{};  // by StatusCode
  PyObject* dumps = nullptr;           // flashembed._convert.dumps
  PyObject* loads = nullptr;           // json.loads
};
Globals& G() {
  static Globals globals;
  return globals;
}

template <typename E>
E ParseName(const std::string& name, std::initializer_list<std::pair<const char*, E>> names,
            const char* what) {
  std::string known;
  for (const auto& [spelling, value] : names) {
    if (name == spelling) return value;
    known += known.empty() ? "" : ", ";
    known += spelling;
  }
  ThrowInvalid(std::string("unknown ") + what + " \"" + name + "\" (expected " + known + ")");
}

}  // namespace

void ThrowInvalid(const std::string& message) {
  throw StatusError(Status::InvalidArgument(message));
}

void RegisterErrors() {
  py::module_ errors = py::module_::import("flashembed.errors");
  const std::pair<StatusCode, const char*> classes[] = {
      {StatusCode::kNotFound, "NotFound"},
      {StatusCode::kInvalidArgument, "InvalidArgument"},
      {StatusCode::kAlreadyExists, "AlreadyExists"},
      {StatusCode::kCorruption, "Corruption"},
      {StatusCode::kIOError, "IOError"},
      {StatusCode::kNotSupported, "NotSupported"},
      {StatusCode::kResourceExhausted, "ResourceExhausted"},
      {StatusCode::kCancelled, "Cancelled"},
      {StatusCode::kInternal, "InternalError"},
  };
  G().errors[0] = py::object(errors.attr("Error")).release().ptr();
  for (const auto& [code, name] : classes) {
    G().errors[static_cast<size_t>(code)] = py::object(errors.attr(name)).release().ptr();
  }
  G().dumps = py::object(py::module_::import("flashembed._convert").attr("dumps")).release().ptr();
  G().loads = py::object(py::module_::import("json").attr("loads")).release().ptr();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      auto code = static_cast<size_t>(e.status().code());
      PyObject* type =
          code < G().errors.size() && G().errors[code] ? G().errors[code] : G().errors[0];
      PyErr_SetString(type, e.what());
    }
  });
}

Id ToId(py::handle value) {
  if (PyBool_Check(value.ptr())) throw py::type_error("an id is an int or a str, got bool");
  if (PyLong_Check(value.ptr()) || PyIndex_Check(value.ptr())) {
    int overflow = 0;
    py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(value.ptr()));
    if (!index) throw py::error_already_set();
    long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
    if (overflow != 0) {
      ThrowInvalid("id " + py::str(value).cast<std::string>() + " is out of the 64-bit range");
    }
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    return Id(static_cast<int64_t>(v));
  }
  if (PyUnicode_Check(value.ptr())) return Id(value.cast<std::string>());
  throw py::type_error(std::string("an id is an int or a str, got ") +
                       Py_TYPE(value.ptr())->tp_name);
}

py::object FromId(const Id& id) {
  if (id.is_int()) return py::int_(id.as_int());
  return py::str(id.as_string());
}

std::vector<Id> ToIds(py::handle value) {
  std::vector<Id> ids;
  if (!PySequence_Check(value.ptr()) || PyUnicode_Check(value.ptr())) {
    if (!PyUnicode_Check(value.ptr()) && !PyIndex_Check(value.ptr())) {
      throw py::type_error("ids must be an id or a sequence of ids (int or str)");
    }
    ids.push_back(ToId(value));
    return ids;
  }
  // A NumPy array of integers: its items as Python ints.
  py::object items = py::isinstance<py::array>(value) ? value.attr("tolist")()
                                                      : py::reinterpret_borrow<py::object>(value);
  py::sequence seq = py::reinterpret_borrow<py::sequence>(items);
  ids.reserve(seq.size());
  for (py::handle item : seq) ids.push_back(ToId(item));
  return ids;
}

std::vector<std::string> ToStrings(py::handle value, const char* what) {
  std::vector<std::string> out;
  if (value.is_none()) return out;
  if (PyUnicode_Check(value.ptr()) || PyObject_HasAttrString(value.ptr(), "__fspath__")) {
    out.push_back(py::module_::import("os").attr("fspath")(value).cast<std::string>());
    return out;
  }
  if (!PySequence_Check(value.ptr())) {
    throw py::type_error(std::string(what) + " must be a str or a sequence of str");
  }
  for (py::handle item : py::reinterpret_borrow<py::sequence>(value)) {
    if (PyUnicode_Check(item.ptr())) {
      out.push_back(item.cast<std::string>());
    } else if (PyObject_HasAttrString(item.ptr(), "__fspath__")) {
      out.push_back(py::module_::import("os").attr("fspath")(item).cast<std::string>());
    } else {
      throw py::type_error(std::string(what) + " must hold str, got " +
                           Py_TYPE(item.ptr())->tp_name);
    }
  }
  return out;
}

std::string ToMetadataJson(py::handle value) {
  if (value.is_none()) return "{}";
  if (PyUnicode_Check(value.ptr())) return value.cast<std::string>();
  return py::reinterpret_borrow<py::object>(G().dumps)(value).cast<std::string>();
}

std::string ToParamsJson(py::handle value) {
  if (value.is_none()) return "";
  if (PyUnicode_Check(value.ptr())) return value.cast<std::string>();
  return py::reinterpret_borrow<py::object>(G().dumps)(value).cast<std::string>();
}

py::object FromJson(const std::string& json) {
  if (json.empty()) return py::dict();
  return py::reinterpret_borrow<py::object>(G().loads)(py::str(json));
}

bool IsText(py::handle value) { return PyUnicode_Check(value.ptr()) || PyBytes_Check(value.ptr()); }

Matrix ToMatrix(py::handle value, const char* what) {
  Matrix m;
  if (py::isinstance<py::array>(value)) {
    char kind = py::reinterpret_borrow<py::array>(value).dtype().kind();
    if (kind != 'f' && kind != 'i' && kind != 'u') {
      ThrowInvalid(std::string(what) + " must hold real numbers, got dtype " +
                   py::str(value.attr("dtype")).cast<std::string>());
    }
  } else if (IsText(value)) {
    ThrowInvalid(std::string(what) + " must hold numbers, got a str");
  }
  try {
    // float32 C-contiguous arrays pass through unchanged; the rest is
    // converted here, once.
    m.array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(value);
  } catch (py::error_already_set&) {
    m.array = {};
  }
  if (!m.array) {
    PyErr_Clear();
    ThrowInvalid(std::string(what) + " must be a vector or a 2-D array of numbers");
  }
  if (m.array.ndim() == 1) {
    m.rows = 1;
    m.cols = m.array.shape(0);
    m.one_row = true;
  } else if (m.array.ndim() == 2) {
    m.rows = m.array.shape(0);
    m.cols = m.array.shape(1);
  } else {
    ThrowInvalid(std::string(what) + " must be a vector or a 2-D array (rows of vectors), got " +
                 std::to_string(m.array.ndim()) + " dimensions");
  }
  m.data = m.array.data();
  return m;
}

py::array_t<float> ToArray(std::vector<float>&& values) { return ToArray(std::move(values), 0, 0); }

py::array_t<float> ToArray(std::vector<float>&& values, size_t rows, size_t cols) {
  auto* owned = new std::vector<float>(std::move(values));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  if (rows == 0 && cols == 0) {
    return py::array_t<float>({owned->size()}, {sizeof(float)}, owned->data(), owner);
  }
  return py::array_t<float>({rows, cols}, {cols * sizeof(float), sizeof(float)}, owned->data(),
                            owner);
}

py::object ViewArray(const std::vector<float>& values, py::handle owner) {
  if (values.empty()) return py::none();
  py::array_t<float> view({values.size()}, {sizeof(float)}, values.data(), owner);
  py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return view;
}

Metric ToMetric(const std::string& name) {
  return ParseName<Metric>(
      name, {{"cosine", Metric::kCosine}, {"ip", Metric::kInnerProduct}, {"l2", Metric::kL2}},
      "metric");
}

IndexKind ToIndexKind(const std::string& name) {
  return ParseName<IndexKind>(name,
                              {{"hnsw", IndexKind::kHnsw},
                               {"flat", IndexKind::kFlat},
                               {"ivf_flat", IndexKind::kIvfFlat},
                               {"ivf_sq8", IndexKind::kIvfSq8},
                               {"ivf_pq", IndexKind::kIvfPq}},
                              "index kind");
}

Ranking ToRanking(const std::string& name) {
  return ParseName<Ranking>(name,
                            {{"vector", Ranking::kVector},
                             {"text", Ranking::kText},
                             {"hybrid", Ranking::kHybrid},
                             {"auto", Ranking::kAuto}},
                            "ranking");
}

Fusion ToFusion(const std::string& name) {
  return ParseName<Fusion>(
      name,
      {{"rrf", Fusion::kRrf}, {"weighted", Fusion::kWeighted}, {"normalized", Fusion::kNormalized}},
      "fusion");
}

SearchMode ToSearchMode(const std::string& name) {
  return ParseName<SearchMode>(name,
                               {{"auto", SearchMode::kAuto},
                                {"exact", SearchMode::kExact},
                                {"approximate", SearchMode::kApproximate}},
                               "search mode");
}

const char* RankingName(Ranking ranking) {
  switch (ranking) {
    case Ranking::kVector: return "vector";
    case Ranking::kText: return "text";
    case Ranking::kHybrid: return "hybrid";
    case Ranking::kAuto: return "auto";
  }
  return "vector";
}

}  // namespace flashembed::python
