// Errors as values. No exceptions cross the netlink layer or the policy library's public API.
#pragma once

#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace bulkhead {

struct Error {
  int code = 0;            // errno (positive) where the cause is a system or kernel error, else 0
  std::string op;          // the failing operation, e.g. "nft add rule inet bulkhead ingress"
  std::string message;     // human text
  std::string ext_ack;     // the kernel's extended-ack text, when it sent one

  std::string to_string() const {
    std::string s = op.empty() ? message : op + ": " + message;
    if (code != 0) s += std::string(s.empty() ? "" : ": ") + std::strerror(code);
    if (!ext_ack.empty()) s += " (kernel: " + ext_ack + ")";
    return s;
  }
};

inline Error make_error(std::string op, std::string message, int code = 0) {
  return Error{code, std::move(op), std::move(message), {}};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error e) : v_(std::move(e)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : err_(std::move(e)), failed_(true) {}

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace bulkhead
