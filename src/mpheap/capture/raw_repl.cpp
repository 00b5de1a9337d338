// The raw REPL protocol (MicroPython's pyexec.c: raw REPL since 1.0, raw-paste since 1.14).
#include "mpheap/capture/raw_repl.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

namespace mpheap::capture {
namespace {

constexpr std::string_view kBanner = "raw REPL; CTRL-B to exit\r\n>";
constexpr int kTries = 4;

bool damaged_code(std::string_view errors) {
  return errors.find("SyntaxError") != std::string_view::npos ||
         errors.find("IndentationError") != std::string_view::npos;
}

}  // namespace

Error RawRepl::error(std::string what, ErrorKind kind) const {
  return Error{link_.name(), 0, 0, std::move(what), kind};
}

Expected<bool> RawRepl::read_until(std::string_view marker, int timeout_ms, std::string* before) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (auto at = pending_.find(marker); at != std::string::npos) {
      if (before != nullptr) before->append(pending_, 0, at);
      pending_.erase(0, at + marker.size());
      return true;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    auto got = link_.read_some(pending_, static_cast<int>(left));
    if (!got) return got.error();
  }
}

Expected<bool> RawRepl::enter(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string seen;
  int attempt = 0;
  do {
    // Ctrl-C twice stops a running program (once may land in a `try`); the friendly REPL's
    // answer is dropped, Ctrl-A then gives the raw REPL's banner.
    // After a first try, also "q": a reader of an earlier capture that was cut off may still
    // wait for requests where Ctrl-C cannot reach it (harmless elsewhere: a line with a name).
    if (auto w = link_.write(attempt++ == 0 ? "\r\x03\x03" : "\nq\n\r\x03\x03"); !w)
      return w.error();
    for (auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
         std::chrono::steady_clock::now() < until;) {
      auto got = link_.read_some(pending_, 50);
      if (!got) return got.error();
    }
    seen += pending_;
    pending_.clear();
    if (auto w = link_.write("\x01"); !w) return w.error();
    auto banner = read_until(kBanner, 1500);
    if (!banner) return banner.error();
    if (*banner) {
      pending_.clear();
      return true;
    }
    seen += pending_;
    pending_.clear();
  } while (std::chrono::steady_clock::now() < deadline);
  if (link_.bytes_received() == 0)
    return error(fmt::format("nothing answered within {:.1f} s: is a MicroPython board on this "
                             "port (its REPL, not a second USB interface), and does no other "
                             "program (mpremote, screen, Thonny) hold it?",
                             timeout_ms / 1000.0),
                 ErrorKind::timeout);
  return error(fmt::format("answered, but not as MicroPython's raw REPL (no '{}' after Ctrl-A); "
                           "it printed: '{}'",
                           printable_excerpt(kBanner.substr(0, 24)), printable_excerpt(seen)),
               ErrorKind::bad_input);
}

Expected<bool> RawRepl::resync() {
  if (auto w = link_.write("\x03\x03"); !w) return w.error();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  link_.drain(100);
  pending_.clear();
  for (int attempt = 0; attempt < kTries; ++attempt) {
    if (auto w = link_.write("\x01"); !w) return w.error();
    auto banner = read_until(kBanner, 2000);
    if (!banner) return banner.error();
    if (*banner) {
      pending_.clear();
      return true;
    }
  }
  return error("lost the raw REPL: no banner after Ctrl-C, Ctrl-A", ErrorKind::timeout);
}

Expected<bool> RawRepl::send_plain(std::string_view code) {
  for (int attempt = 0; attempt < kTries; ++attempt) {
    // Small pieces with pauses: a board reading its UART byte by byte into a small buffer
    // drops what overflows it.
    for (std::size_t at = 0; at < code.size(); at += 32) {
      if (auto w = link_.write(code.substr(at, 32)); !w) return w.error();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (auto w = link_.write("\x04"); !w) return w.error();
    auto ok = read_until("OK", 3000);
    if (!ok) return ok.error();
    if (*ok) return true;
    // Something came, but no OK: the OK itself was damaged and the code runs (the raw REPL
    // prints nothing else before it). Its output follows.
    if (!pending_.empty()) return true;
    // Nothing: the Ctrl-D (or a byte before it) was lost and the firmware still collects the
    // line. Ctrl-C clears it.
    ++stats_.resent;
    if (auto w = link_.write("\x03"); !w) return w.error();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    link_.drain(100);
    pending_.clear();
  }
  return error(fmt::format("the board never acknowledged {} bytes of code (no OK after {} tries)",
                           code.size(), kTries),
               ErrorKind::timeout);
}

Expected<std::optional<bool>> RawRepl::send_paste(std::string_view code) {
  if (auto w = link_.write("\x05"
                           "A\x01");
      !w)
    return w.error();
  const auto answered = [&]() -> Expected<bool> {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1000);
    while (pending_.size() < 2 || (pending_.starts_with("R\x01") && pending_.size() < 4)) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      auto got = link_.read_some(pending_, 100);
      if (!got) return got.error();
    }
    return true;
  }();
  if (!answered) return answered.error();
  if (*answered && pending_.starts_with(std::string_view("R\x00", 2))) {
    pending_.erase(0, 2);  // understood, not offered: still in the raw REPL
    paste_ = false;
    return std::optional<bool>();
  }
  if (!*answered || !pending_.starts_with("R\x01")) {
    // A firmware before raw-paste took \x05 and 'A' as code and \x01 as "raw REPL again".
    if (!paste_) paste_ = false;
    auto banner = read_until(kBanner, 1500);
    if (!banner) return banner.error();
    if (!*banner) {
      auto again = resync();
      if (!again) return again.error();
    }
    pending_.clear();
    return std::optional<bool>();
  }
  paste_ = true;
  const std::uint32_t increment = static_cast<std::uint8_t>(pending_[2]) |
                                  static_cast<std::uint32_t>(static_cast<std::uint8_t>(pending_[3]))
                                      << 8;
  pending_.erase(0, 4);
  std::uint64_t window = increment;
  std::size_t sent = 0;
  while (sent < code.size()) {
    // Flow control: \x01 widens the window, \x04 means the firmware wants no more (out of
    // memory for the code; or a damaged byte): the input ends here, and what the firmware says
    // about it follows as the command's errors.
    bool refused = false;
    for (char c : pending_) {
      if (c == '\x01') window += increment;
      refused |= c == '\x04';
    }
    pending_.clear();
    if (refused) break;
    if (window == 0) {
      auto got = link_.read_some(pending_, 2000);
      if (!got) return got.error();
      if (!*got) break;  // a lost \x01: end the input; the damaged code is sent again
      continue;
    }
    const std::size_t n = std::min<std::uint64_t>(window, code.size() - sent);
    if (auto w = link_.write(code.substr(sent, n)); !w) return w.error();
    sent += n;
    window -= n;
  }
  if (auto w = link_.write("\x04"); !w) return w.error();
  // The firmware acknowledges the end of the code with \x04 (after any \x01 still on the
  // way), then compiles and runs it. Other bytes first: the acknowledgement was damaged, and
  // they are the code's output.
  bool acked = false;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(5000);
       !acked && std::chrono::steady_clock::now() < until;) {
    while (!pending_.empty() && pending_.front() == '\x01') pending_.erase(0, 1);
    if (!pending_.empty()) {
      if (pending_.front() == '\x04') pending_.erase(0, 1);
      acked = true;
      break;
    }
    auto got = link_.read_some(pending_, 100);
    if (!got) return got.error();
  }
  if (!acked) {
    // No acknowledgement: find the raw REPL again and send the code again.
    auto again = resync();
    if (!again) return again.error();
    return std::optional<bool>(false);
  }
  // A short copy (a lost \x01 ended it early) fails to compile and is run again by exec().
  return std::optional<bool>(true);
}

Expected<bool> RawRepl::start(std::string_view code) {
  for (int attempt = 0; attempt < kTries && paste_ != false; ++attempt) {
    auto pasted = send_paste(code);
    if (!pasted) return pasted.error();
    if (!pasted->has_value()) break;  // no raw-paste mode: the plain raw REPL
    if (**pasted) return true;
    ++stats_.resent;
  }
  return send_plain(code);
}

Expected<bool> RawRepl::read_output(std::string& out, int timeout_ms) {
  if (pending_.empty()) {
    auto got = link_.read_some(pending_, timeout_ms);
    if (!got) return got.error();
  }
  if (auto end = pending_.find('\x04'); end != std::string::npos) {
    out.append(pending_, 0, end);
    pending_.erase(0, end + 1);
    return true;
  }
  out += pending_;
  pending_.clear();
  return false;
}

Expected<std::string> RawRepl::finish(int timeout_ms) {
  // The errors follow the output at once: a few seconds at most, whatever ran before.
  std::string errors;
  auto end = read_until("\x04", std::min(timeout_ms, 5000), &errors);
  if (!end) return end.error();
  if (!*end) {
    // An end marker was lost. Only the prompt came: the lost one ended the output, and the
    // marker read as that end was the errors' (empty: no error has only a prompt). Else what
    // came is the errors text. The raw REPL is found again either way.
    errors += pending_;
    pending_.clear();
    auto again = resync();
    if (!again) return again.error();
    if (errors == ">") errors.clear();
    return errors;
  }
  // The prompt; a lost one does no harm (the next command looks for its own answer).
  auto prompt = read_until(">", 500);
  if (!prompt) return prompt.error();
  return errors;
}

Expected<RawRepl::Result> RawRepl::exec(std::string_view code, int timeout_ms) {
  Result r;
  for (int attempt = 0; attempt < kTries; ++attempt) {
    auto started = start(code);
    if (!started) return started.error();
    r.output.clear();
    for (;;) {
      const std::size_t before = r.output.size();
      auto done = read_output(r.output, timeout_ms);
      if (!done) return done.error();
      if (*done) break;
      if (r.output.size() == before) {
        // Nothing within the timeout: the end marker was lost or the code hangs.
        auto again = resync();
        if (!again) return again.error();
        return error(fmt::format("no end of output within {} ms; it printed: '{}'", timeout_ms,
                                 printable_excerpt(r.output)),
                     ErrorKind::timeout);
      }
    }
    auto errors = finish(timeout_ms);
    if (!errors) return errors.error();
    r.errors = std::move(*errors);
    if (!damaged_code(r.errors) || attempt + 1 == kTries) return r;
    ++stats_.resent;
  }
  return r;
}

void RawRepl::leave() {
  (void)link_.write("\x02");
  link_.drain(100);
}

}  // namespace mpheap::capture
