// Error and Expected<T>: how milvus/ refuses a request, in Milvus's terms.
//
// A Milvus REST v2 client keys on the envelope code ({"code": 1100,
// "message": ...}), so a refusal carries that code beside the message, and
// the server answers with both unchanged. Expected<T> is a Result<T>
// (base/status.h) whose error is such an Error. Readers of stored data and
// files report plain Status.
//
// Thread-safety: plain values.
#ifndef FLASHEMBED_MILVUS_ERROR_H_
#define FLASHEMBED_MILVUS_ERROR_H_

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

// A Result<T> whose error also carries the envelope code: a T, or the Error
// explaining why there is none. status() is the error as InvalidArgument
// with the same message (the code dropped), for callers that report Status
// (FE_ASSIGN_OR_RETURN works on it).
template <typename T>
class [[nodiscard]] Expected : public Result<T> {
 public:
  Expected(T value) : Result<T>(std::move(value)) {}  // NOLINT: implicit by design
  Expected(Error error)                               // NOLINT: implicit by design
      : Result<T>(Status::InvalidArgument(std::move(error.message))), code_(error.code) {}

  // REQUIRES: !ok().
  Error error() const { return Error{code_, this->status().message()}; }

 private:
  int code_ = 0;
};

}  // namespace flashembed::milvus

#endif  // FLASHEMBED_MILVUS_ERROR_H_
