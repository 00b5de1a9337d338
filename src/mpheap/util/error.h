// Errors as values: where a problem was found in outside data and what it was.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace mpheap {

// What kind of failure an Error is; code branches on this, never on the message text.
enum class ErrorKind : std::uint8_t {
  bad_input,    // outside data that is malformed, or inputs that do not fit together
  not_found,    // a file, symbol or structure that is not there
  unsupported,  // understood, but not something mpheap handles
  io,           // the system refused: permissions, a read that failed, a connection lost
  timeout,      // a peer did not answer in time
  cancelled,    // the user interrupted
  usage,        // options that contradict each other or are out of range
};

// "bad input", "not found", ...: for messages and tests.
const char* kind_name(ErrorKind kind);

// One diagnostic about outside data. `source` names the file (or "<memory>", or an option),
// `line` is 1-based when the input is text (0 when unknown), `offset` is a byte offset.
struct Error {
  std::string source;
  std::uint64_t line = 0;
  std::uint64_t offset = 0;
  std::string what;
  ErrorKind kind = ErrorKind::bad_input;

  // "file:12: what" or "file: byte 345: what" (just "what" without a source), the single line
  // the CLI prints after its one prefix.
  [[nodiscard]] std::string message() const;
};

// The process exit status for a failure of this kind: 2 for usage errors, else 1.
[[nodiscard]] inline int exit_status(const Error& e) {
  return e.kind == ErrorKind::usage ? 2 : 1;
}

// An error of a given kind (for the kinds that are not bad input).
[[nodiscard]] inline Error error_of(ErrorKind kind, std::string source, std::string what) {
  return Error{std::move(source), 0, 0, std::move(what), kind};
}

// A value or the error that prevented it (a small stand-in for C++23 std::expected).
template <typename T>
class [[nodiscard]] Expected {
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
