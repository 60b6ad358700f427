#pragma once
// Status and Result<T>: errors as values. Exceptions do not cross room boundaries; a function
// that can fail on the request path or on bad input returns one of these instead.
//
// Each StatusCode maps to exactly one HTTP status in src/http/ and one metric label; keep the
// list short and meaningful to an operator.

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace recserve {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,       // caller's input is malformed (HTTP 400)
  kNotFound,              // a named thing does not exist (HTTP 404)
  kAlreadyExists,         // creating something that exists (HTTP 409)
  kFailedPrecondition,    // system not in a state to do it, e.g. no shadow to promote (HTTP 409)
  kUnauthenticated,       // credentials missing (HTTP 401)
  kPermissionDenied,      // credentials present but wrong (HTTP 403)
  kResourceExhausted,     // a size limit was hit: body or line too large (HTTP 413)
  kUnsupportedMediaType,  // the body's Content-Type is not the one the route takes (HTTP 415)
  kRateLimited,           // too many calls in a window; retry later (HTTP 429)
  kDeadlineExceeded,      // a deadline passed before the work finished (HTTP 504)
  kUnavailable,           // a dependency is down or its breaker is open (HTTP 503)
  kDataLoss,              // stored bytes are corrupt: checksum mismatch, truncated file
  kInternal,              // a bug or an unexpected library failure (HTTP 500)
};

// Stable lower-case name, used in logs, JSON error bodies and metric labels.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_argument: k must be within 1..200"
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status Unauthenticated(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}
inline Status RateLimited(std::string m) { return {StatusCode::kRateLimited, std::move(m)}; }

// Result<T>: a value or a non-OK Status.
// REQUIRES: value() only when ok(); status() is OK exactly when a value is held.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status carries no value");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace recserve

// Propagates a non-OK Status from an expression returning Status.
#define RECSERVE_RETURN_IF_ERROR(expr) \
  do {                                 \
    ::recserve::Status _st = (expr);   \
    if (!_st.ok()) return _st;         \
  } while (0)
