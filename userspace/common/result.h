#pragma once
// Errors as values: a call that can fail returns Result<T>, never throws across layers.
#include <string>
#include <utility>
#include <variant>

namespace synfin {

struct Error {
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : storage_(std::move(value)) {}
  Result(Error error) : storage_(std::move(error)) {}

  bool ok() const { return std::holds_alternative<T>(storage_); }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<T>(storage_); }
  const T& value() const { return std::get<T>(storage_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<Error>(storage_); }

 private:
  std::variant<T, Error> storage_;
};

struct Ok {};
using Status = Result<Ok>;

}  // namespace synfin
