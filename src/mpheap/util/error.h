// Errors as values: where a problem was found in outside data and what it was.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace mpheap {

// One diagnostic about outside data. `source` names the file (or "<memory>"),
// `line` is 1-based when the input is text (0 when unknown), `offset` is a byte offset.
struct Error {
  std::string source;
  std::uint64_t line = 0;
  std::uint64_t offset = 0;
  std::string what;

  // "file:12: what" or "file: byte 345: what", the single line the CLI prints.
  [[nodiscard]] std::string message() const;
};

// A value or the error that prevented it (a small stand-in for C++23 std::expected).
template <typename T>
class Expected {
 public:
  Expected(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Expected(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() { return std::get<0>(state_); }
  const T& value() const { return std::get<0>(state_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  [[nodiscard]] const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

}  // namespace mpheap
