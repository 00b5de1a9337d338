// MicroPython's raw REPL over a Link: interrupt what runs, enter the raw REPL (Ctrl-A), run code
// (raw-paste mode with its flow control where the firmware offers it, else code + Ctrl-D) and
// read its output, errors and prompt. Links lose bytes (QEMU's UART under load, USB serial
// adapters): every step is checked by the firmware's answer and repeated when an answer is
// missing; a step that never succeeds is one error naming what was sent and what came back.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mpheap/capture/link.h"
#include "mpheap/util/error.h"

namespace mpheap::capture {

struct ReplStats {
  std::uint64_t resent = 0;  // code sent again (no acknowledgement, or a damaged copy)
};

class RawRepl {
 public:
  explicit RawRepl(Link& link) : link_(link) {}

  // Ctrl-C (twice) to stop a running program, then Ctrl-A until the raw REPL's banner. Errors:
  // nothing answered (timeout), an answer that is not MicroPython's (bad_input).
  Expected<bool> enter(int timeout_ms = 8000);
  // Sends `code` and waits until the firmware has all of it (its OK, or raw-paste's end
  // acknowledgement); the code then runs and its output follows (read_output).
  Expected<bool> start(std::string_view code);
  // Output of the running code: appends what arrives within `timeout_ms` to `out`. Returns true
  // once the end of the output (\x04) was read; the errors part is left for finish().
  Expected<bool> read_output(std::string& out, int timeout_ms);
  // After read_output returned true: the errors text (empty when the code raised nothing), up to
  // the next prompt.
  Expected<std::string> finish(int timeout_ms);
  // start + read_output until the end + finish. Code that did not compile (a damaged copy: a
  // SyntaxError) is sent again, so `code` must be harmless to run twice.
  struct Result {
    std::string output, errors;
  };
  Expected<Result> exec(std::string_view code, int timeout_ms);
  // Ctrl-C, Ctrl-A until the raw REPL's banner: after an answer was lost.
  Expected<bool> recover() { return resync(); }
  // Back to the friendly REPL (Ctrl-B), as the board was found.
  void leave();

  Expected<bool> write(std::string_view bytes) { return link_.write(bytes); }
  [[nodiscard]] Link& link() { return link_; }
  [[nodiscard]] const std::string& name() const { return link_.name(); }
  [[nodiscard]] const ReplStats& stats() const { return stats_; }
  [[nodiscard]] std::optional<bool> raw_paste() const { return paste_; }

 private:
  // Reads until `marker` is in pending_ (true) or `timeout_ms` passed (false); what precedes
  // the marker and the marker itself are removed from pending_ into `*before` when given.
  Expected<bool> read_until(std::string_view marker, int timeout_ms, std::string* before = nullptr);
  Expected<bool> send_plain(std::string_view code);
  // Raw-paste: nullopt when the firmware has no raw-paste mode (then the raw REPL is ready for
  // plain code), true when the code was sent and acknowledged, false when the acknowledgement
  // never came (the raw REPL was found again; send it again).
  Expected<std::optional<bool>> send_paste(std::string_view code);
  Expected<bool> resync();
  [[nodiscard]] Error error(std::string what, ErrorKind kind) const;

  Link& link_;
  std::string pending_;
  std::optional<bool> paste_;  // raw-paste mode offered, once known
  ReplStats stats_;
};

}  // namespace mpheap::capture
