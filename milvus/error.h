// Error and Expected<T>: how milvus/ refuses a request, in Milvus's terms.
//
// A Milvus REST v2 client keys on the envelope code ({"code": 1100,
// "message": ...}), so a refusal carries that code beside the message, and
// the server answers with both unchanged. Expected<T> is Result<T>
// (base/status.h) with such an Error in place of a Status: a T, or the Error
// saying why there is none. Readers of stored data and files report Status.
//
// Thread-safety: plain values.
#ifndef FLASHEMBED_MILVUS_ERROR_H_
#define FLASHEMBED_MILVUS_ERROR_H_

#include <optional>
#include <string>
#include <utility>

#include "base/status.h"

namespace flashembed::milvus {

// The envelope codes of this library's refusals (Milvus's own codes).
inline constexpr int kInvalidParameter = 1100;  // "invalid parameter..."
inline constexpr int kMalformedRequest = 1801;  // "can only accept json format request..."
inline constexpr int kMissingParameter = 1802;  // "missing required parameters..."

// A refused request: the envelope code and the message, as Milvus words it.
struct Error {
  int code = 0;
  std::string message;
};

// A T, or the Error explaining why there is none.
template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : value_(std::move(value)) {}      // NOLINT: implicit by design
  Expected(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  // REQUIRES: !ok().
  const Error& error() const { return error_; }
  // OK, or the error as InvalidArgument with its message (the code dropped),
  // for callers that report Status (FE_ASSIGN_OR_RETURN works on Expected).
  Status status() const { return ok() ? Status::OK() : Status::InvalidArgument(error_.message); }

  // REQUIRES: ok().
  T& value() & {
    CheckOk();
    return *value_;
  }
  const T& value() const& {
    CheckOk();
    return *value_;
  }
  T&& value() && {
    CheckOk();
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void CheckOk() const {
    FE_CHECK(ok()) << "Expected::value() on error " << error_.code << ": " << error_.message;
  }

  std::optional<T> value_;
  Error error_;
};

}  // namespace flashembed::milvus

#endif  // FLASHEMBED_MILVUS_ERROR_H_
