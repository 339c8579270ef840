// Status and Result<T>: how every flashembed module reports errors.
//
// A Status is a code plus a message. Missing keys, bad filters and dimension
// mismatches are ordinary outcomes in a database, so they travel as values,
// never as exceptions across module boundaries. Result<T> holds either a T or
// a non-OK Status; its surface follows std::expected so it can become an alias.
//
// Thread-safety: Status and Result are plain values; distinct objects may be
// used from different threads freely.
#ifndef FLASHEMBED_BASE_STATUS_H_
#define FLASHEMBED_BASE_STATUS_H_

#include <cstdlib>
#include <iosfwd>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

namespace flashembed {

enum class StatusCode {
  kOk = 0,
  kNotFound,
  kInvalidArgument,
  kAlreadyExists,
  kCorruption,
  kIOError,
  kNotSupported,
  kResourceExhausted,
  kCancelled,
  kInternal,
};

// Returns a stable, lowercase name for `code` ("not_found", ...).
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status AlreadyExists(std::string msg) {
    return {StatusCode::kAlreadyExists, std::move(msg)};
  }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status NotSupported(std::string msg) {
    return {StatusCode::kNotSupported, std::move(msg)};
  }
  static Status ResourceExhausted(std::string msg) {
    return {StatusCode::kResourceExhausted, std::move(msg)};
  }
  static Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsInvalidArgument() const { return code_ == StatusCode::kInvalidArgument; }
  bool IsAlreadyExists() const { return code_ == StatusCode::kAlreadyExists; }
  bool IsCorruption() const { return code_ == StatusCode::kCorruption; }

  // "OK" or "<code name>: <message>".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status WithContext(const std::string& context) const;

  // Marks an error as intentionally ignored; greppable.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);

// Result<T>: a T, or a non-OK Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = Status::Internal("Result constructed from OK status");
  }

  bool ok() const { return value_.has_value(); }
  bool has_value() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Status& status() const { return status_; }
  const Status& error() const { return status_; }

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
  void CheckOk() const;

  std::optional<T> value_;
  Status status_;  // OK iff value_ is set
};

namespace internal {
// Aborts the process with `message`; for programmer errors only.
[[noreturn]] void CheckFailed(const char* file, int line, const std::string& message);

// Collects the streamed context of a failing FE_CHECK and aborts on destruction.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* cond) : file_(file), line_(line) {
    stream_ << "check failed: " << cond << " ";
  }
  [[noreturn]] ~CheckFailure() { CheckFailed(file_, line_, stream_.str()); }
  template <typename V>
  CheckFailure& operator<<(const V& v) {
    stream_ << v;
    return *this;
  }

 private:
  const char* file_;
  int line_;
  std::ostringstream stream_;
};
}  // namespace internal

template <typename T>
void Result<T>::CheckOk() const {
  if (!value_.has_value()) {
    internal::CheckFailed(__FILE__, __LINE__, "Result::value() on error: " + status_.ToString());
  }
}

}  // namespace flashembed

#define FE_CONCAT_INNER_(a, b) a##b
#define FE_CONCAT_(a, b) FE_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function if it is not OK.
#define FE_RETURN_IF_ERROR(expr)              \
  do {                                        \
    ::flashembed::Status fe_status_ = (expr); \
    if (!fe_status_.ok()) return fe_status_;  \
  } while (0)

// Evaluates `rexpr` (a Result<T>); on error returns its Status, else moves the
// value into `lhs` (which may be a declaration: `auto x`).
#define FE_ASSIGN_OR_RETURN(lhs, rexpr) \
  FE_ASSIGN_OR_RETURN_IMPL_(FE_CONCAT_(fe_result_, __LINE__), lhs, rexpr)
#define FE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                              \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

// Aborts with a message when `cond` is false. Programmer errors only: never
// reachable from user input.
#define FE_CHECK(cond) \
  if (cond) {          \
  } else               \
    ::flashembed::internal::CheckFailure(__FILE__, __LINE__, #cond)

#endif  // FLASHEMBED_BASE_STATUS_H_
