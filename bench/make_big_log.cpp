// make_big_log: builds a large, consistent gdb GC log from a small real one, for benchmarks.
//
// The input is a log gdb wrote while it stopped at the gc_log_change hook (any style that
// prints the `$N = start_block` and `$N = length` values: backtrace, CircuitPython's `up`
// style). The output is the input's preamble, then the input's stop records repeated until
// the output reaches the requested size, then the input's ending (from the first stop at
// another breakpoint, e.g. `Breakpoint 2, mp_deinit ...`, on).
//
// Block numbers stay consistent: the allocations still live at the end of the input are
// freed by synthesized `gc_free` stops (clones of a real free record from the input, with
// the block rewritten) before the next repetition starts, so each repetition starts from an
// empty heap and no block is allocated twice. gdb's value numbers (`$N`) run on through the
// whole output. By default the last repetition keeps its live allocations, so the output
// ends with the same live heap as the input (--free-at-end frees them too).
#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

constexpr double kBytesPerMb = 1e6;

struct Options {
  std::string input;
  std::string output;
  double min_mb = 0;
  std::string hook = "gc_log_change";
  bool free_at_end = false;
};

// Some lines of the log with gdb's `$N` value numbers taken out: each `$N = ` that starts a
// line is stored as `$ = `, and `numbers` holds the offsets just after those `$`s.
struct Record {
  std::string text;
  std::vector<std::size_t> numbers;
  std::uint64_t line = 0;  // the record's first line in the input (1-based)
  std::uint64_t start_block = 0;
  std::uint64_t length = 0;
  std::string caller;  // function of frame #1, "" when the record has none
};

struct InputLog {
  Record preamble;
  std::vector<Record> events;
  Record ending;
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The line without its terminator ("\n" or "\r\n").
std::string_view line_body(std::string_view line) {
  if (line.ends_with('\n')) line.remove_suffix(1);
  if (line.ends_with('\r')) line.remove_suffix(1);
  return line;
}

// Splits `text` into lines, each with its terminator; the last may have none.
template <typename F>
void for_each_line(std::string_view text, F&& f) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const void* nl = std::memchr(text.data() + pos, '\n', text.size() - pos);
    std::size_t end = nl != nullptr
                          ? static_cast<std::size_t>(static_cast<const char*>(nl) - text.data()) + 1
                          : text.size();
    f(text.substr(pos, end - pos));
    pos = end;
  }
}

// The function of a stop line, `[Thread N "x" hit ]Breakpoint N, FUNC (...) ...` (or
// `Temporary breakpoint N, ...`, `Hardware assisted breakpoint N, ...`);
// nullopt for other lines (including `Breakpoint N at 0x...: file ...` definitions).
std::optional<std::string_view> stop_function(std::string_view line) {
  if (line.starts_with("Thread ")) {
    std::size_t hit = line.find(" hit ");
    if (hit == std::string_view::npos) return std::nullopt;
    line.remove_prefix(hit + 5);
  }
  bool found = false;
  for (std::string_view prefix :
       {std::string_view("Breakpoint "), std::string_view("Temporary breakpoint "),
        std::string_view("Hardware assisted breakpoint ")}) {
    if (line.starts_with(prefix)) {
      line.remove_prefix(prefix.size());
      found = true;
      break;
    }
  }
  if (!found) return std::nullopt;
  std::size_t digits = 0;
  while (digits < line.size() && is_digit(line[digits])) ++digits;
  if (digits == 0) return std::nullopt;
  line.remove_prefix(digits);
  if (!line.starts_with(", ")) return std::nullopt;
  line.remove_prefix(2);
  std::size_t end = line.find_first_of(" (");
  return line.substr(0, end);
}

// The function of a frame line `#N  [0xADDR in ]FUNC (...)`.
std::string_view frame_function(std::string_view line) {
  std::size_t i = line.find_first_not_of("0123456789", 1);  // after `#N`
  i = line.find_first_not_of(" \t", i == std::string_view::npos ? line.size() : i);
  if (i == std::string_view::npos) return {};
  line.remove_prefix(i);
  if (line.starts_with("0x")) {
    std::size_t in = line.find(" in ");
    if (in == std::string_view::npos) return {};
    line.remove_prefix(in + 4);
  }
  return line.substr(0, line.find_first_of(" ("));
}

// A value as gdb prints it: 0x-hex or decimal, maybe followed by more text.
std::optional<std::uint64_t> parse_value(std::string_view s) {
  int base = 10;
  if (s.starts_with("0x")) {
    base = 16;
    s.remove_prefix(2);
  }
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || ptr == s.data()) return std::nullopt;
  return v;
}

// The `start_block=` argument of a stop or `#0` line: [offset, offset + size) of its digits.
std::optional<std::pair<std::size_t, std::size_t>> start_block_digits(std::string_view line) {
  std::size_t at = line.find("(start_block=");
  if (at == std::string_view::npos) return std::nullopt;
  at += 13;
  if (line.substr(at).starts_with("start_block@entry=")) at += 18;
  std::size_t end = at;
  while (end < line.size() && is_digit(line[end])) ++end;
  if (end == at) return std::nullopt;
  return std::pair{at, end - at};
}

std::optional<std::uint64_t> argument_after(std::string_view line, std::string_view key) {
  std::size_t at = line.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  return parse_value(line.substr(at + key.size()));
}

// Appends `line` to `r`, taking out the number of a `$N = ` line.
void append_line(Record& r, std::string_view line) {
  if (line.starts_with('$')) {
    std::size_t digits = 1;
    while (digits < line.size() && is_digit(line[digits])) ++digits;
    if (line.substr(digits).starts_with(" = ")) {
      r.text += '$';
      r.numbers.push_back(r.text.size());
      r.text.append(line.substr(digits));
      return;
    }
  }
  r.text.append(line);
}

// Fills in start_block, length and caller of a stop record from its lines.
bool describe_event(Record& r) {
  std::optional<std::uint64_t> values[2];
  int value_count = 0;
  std::string_view stop;
  bool first = true;
  for_each_line(r.text, [&](std::string_view raw) {
    std::string_view line = line_body(raw);
    if (first) stop = line;
    first = false;
    if (line.starts_with("$ = ") && value_count < 2)
      values[value_count++] = parse_value(line.substr(4));
    if (line.starts_with("#1 ") && r.caller.empty()) r.caller = frame_function(line);
  });
  if (values[0] && values[1]) {
    r.start_block = *values[0];
    r.length = *values[1];
    return true;
  }
  // No printed values: fall back to the stop line's argument list.
  auto start = argument_after(stop, "start_block=");
  auto length = argument_after(stop, "length=");
  if (!start || !length) return false;
  r.start_block = *start;
  r.length = *length;
  return true;
}

std::optional<std::string> read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return std::nullopt;
  std::string data;
  char chunk[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) data.append(chunk, n);
  bool ok = std::ferror(f) == 0;
  std::fclose(f);
  if (!ok) return std::nullopt;
  return data;
}

std::optional<InputLog> split_log(std::string_view data, const std::string& hook,
                                  std::string& error) {
  InputLog log;
  enum class Part { preamble, events, ending } part = Part::preamble;
  std::uint64_t number = 0;
  for_each_line(data, [&](std::string_view line) {
    ++number;
    if (part != Part::ending) {
      if (auto fn = stop_function(line_body(line))) {
        if (*fn == hook) {
          part = Part::events;
          log.events.emplace_back();
          log.events.back().line = number;
        } else if (part == Part::events) {
          part = Part::ending;
          log.ending.line = number;
        }
      }
    }
    switch (part) {
      case Part::preamble:
        append_line(log.preamble, line);
        break;
      case Part::events:
        append_line(log.events.back(), line);
        break;
      case Part::ending:
        append_line(log.ending, line);
        break;
    }
  });
  if (log.events.empty()) {
    error = fmt::format("no stop at the hook '{}' in the input", hook);
    return std::nullopt;
  }
  for (Record& r : log.events) {
    if (!describe_event(r)) {
      error = fmt::format("line {}: no start_block and length in this stop", r.line);
      return std::nullopt;
    }
  }
  return log;
}

// Whether mpheap could take `b` for a repeated report of `a` (it drops a stop whose values and
// call stack equal the one before): the same text apart from `$N`, or the same block, length
// and caller (frame arguments, which may differ, are not part of mpheap's stacks).
bool may_repeat(const Record& a, const Record& b) {
  return a.text == b.text ||
         (a.start_block == b.start_block && a.length == b.length && a.caller == b.caller);
}

// Blocks still allocated after the input's events: alloc and realloc (length > 0) start or
// resize the allocation at start_block, length 0 frees it. An allocation that covers blocks of
// other live ones ends them (the collector freed them without a log entry). Repeated reports
// of a stop are skipped, as mpheap drops them.
std::map<std::uint64_t, std::uint64_t> live_after(const std::vector<Record>& events,
                                                  std::uint64_t& unmatched_frees,
                                                  std::uint64_t& covered) {
  std::map<std::uint64_t, std::uint64_t> live;  // start block -> blocks
  for (std::size_t i = 0; i < events.size(); ++i) {
    const Record& e = events[i];
    if (i > 0 && may_repeat(events[i - 1], e)) continue;
    if (e.length == 0) {
      if (live.erase(e.start_block) == 0) ++unmatched_frees;
      continue;
    }
    std::uint64_t end = e.start_block + e.length;
    auto it = live.lower_bound(e.start_block);
    if (it != live.begin()) {
      auto before = std::prev(it);
      if (before->first + before->second > e.start_block) {
        live.erase(before);
        ++covered;
      }
    }
    while (it != live.end() && it->first < end) {
      if (it->first != e.start_block || e.caller.starts_with("gc_alloc")) ++covered;
      it = live.erase(it);
    }
    live[e.start_block] = e.length;
  }
  return live;
}

// A real free record to clone: a gc_free stop, else any stop of length 0.
const Record* free_template(const std::vector<Record>& events) {
  const Record* any = nullptr;
  for (const Record& e : events) {
    if (e.length != 0) continue;
    if (e.caller == "gc_free") return &e;
    if (any == nullptr) any = &e;
  }
  return any;
}

// `tmpl` with its block rewritten in the stop line, the `#0` line and the first `$` value.
Record synthesize_free(const Record& tmpl, std::uint64_t block) {
  Record r;
  r.line = tmpl.line;
  r.start_block = block;
  r.length = 0;
  r.caller = tmpl.caller;
  bool first = true;
  bool value_done = false;
  for_each_line(tmpl.text, [&](std::string_view line) {
    std::string_view body = line_body(line);
    std::string_view terminator = line.substr(body.size());
    if (first || body.starts_with("#0 ")) {
      if (auto digits = start_block_digits(body)) {
        r.text.append(body.substr(0, digits->first));
        r.text.append(fmt::format("{}", block));
        r.text.append(body.substr(digits->first + digits->second));
        r.text.append(terminator);
        first = false;
        return;
      }
    }
    first = false;
    if (!value_done && body.starts_with("$ = ")) {
      value_done = true;
      bool hex = body.substr(4).starts_with("0x");
      r.text += '$';
      r.numbers.push_back(r.text.size());
      r.text.append(hex ? fmt::format(" = {:#x}", block) : fmt::format(" = {}", block));
      r.text.append(terminator);
      return;
    }
    append_line(r, line);
  });
  // The Python tool and mpheap end a stop's output at a blank line.
  if (!r.text.ends_with("\n\n") && !r.text.ends_with("\r\n\r\n")) r.text += '\n';
  return r;
}

// Writes records through a large buffer, numbering gdb's `$N` values from 1 on.
class Writer {
 public:
  explicit Writer(std::FILE* f) : file_(f) { buffer_.reserve(kBufferBytes + (1 << 16)); }

  void write(const Record& r) {
    std::size_t from = 0;
    for (std::size_t at : r.numbers) {
      buffer_.append(r.text, from, at - from);
      char digits[24];
      auto [end, ec] = std::to_chars(digits, digits + sizeof digits, next_value_++);
      buffer_.append(digits, static_cast<std::size_t>(end - digits));
      from = at;
    }
    buffer_.append(r.text, from);
    if (buffer_.size() >= kBufferBytes) flush();
  }

  bool flush() {
    if (!buffer_.empty() && std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size())
      failed_ = true;
    written_ += buffer_.size();
    buffer_.clear();
    return !failed_;
  }

  [[nodiscard]] std::uint64_t bytes() const { return written_ + buffer_.size(); }
  [[nodiscard]] bool failed() const { return failed_; }
  [[nodiscard]] std::uint64_t values() const { return next_value_ - 1; }

 private:
  static constexpr std::size_t kBufferBytes = 8 << 20;
  std::FILE* file_;
  std::string buffer_;
  std::uint64_t written_ = 0;
  std::uint64_t next_value_ = 1;
  bool failed_ = false;
};

void usage(std::FILE* to) {
  fmt::print(to,
             "usage: make_big_log INPUT OUTPUT --min-mb N [--hook NAME] [--free-at-end]\n"
             "  Repeats the stop records of the gdb GC log INPUT until OUTPUT holds at least N MB\n"
             "  (10^6 bytes), freeing the allocations still live between repetitions.\n"
             "  --hook NAME     function gdb stops in (default gc_log_change)\n"
             "  --free-at-end   free the live allocations after the last repetition too\n");
}

std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  std::vector<std::string_view> positional;
  bool have_size = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-h" || a == "--help") {
      usage(stdout);
      std::exit(0);
    } else if (a == "--min-mb" && i + 1 < argc) {
      char* end = nullptr;
      o.min_mb = std::strtod(argv[++i], &end);
      if (end == argv[i] || *end != '\0' || !(o.min_mb >= 0)) return std::nullopt;
      have_size = true;
    } else if (a == "--hook" && i + 1 < argc) {
      o.hook = argv[++i];
    } else if (a == "--free-at-end") {
      o.free_at_end = true;
    } else if (a.starts_with("-") && a != "-") {
      return std::nullopt;
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2 || !have_size) return std::nullopt;
  o.input = positional[0];
  o.output = positional[1];
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  auto options = parse_args(argc, argv);
  if (!options) {
    usage(stderr);
    return 2;
  }
  const Options& o = *options;

  auto data = read_file(o.input);
  if (!data) {
    fmt::print(stderr, "make_big_log: cannot read {}: {}\n", o.input, std::strerror(errno));
    return 1;
  }
  std::string error;
  auto log = split_log(*data, o.hook, error);
  if (!log) {
    fmt::print(stderr, "make_big_log: {}: {}\n", o.input, error);
    return 1;
  }
  const std::vector<Record>& events = log->events;

  std::uint64_t unmatched = 0, covered = 0;
  auto live = live_after(events, unmatched, covered);
  std::vector<Record> frees;
  const Record* tmpl = nullptr;
  if (!live.empty()) {
    tmpl = free_template(events);
    if (tmpl == nullptr) {
      fmt::print(stderr,
                 "make_big_log: {}: {} allocations stay live and the log has no free to clone\n",
                 o.input, live.size());
      return 1;
    }
    for (const auto& [block, blocks] : live) frees.push_back(synthesize_free(*tmpl, block));
  }

  // mpheap drops a stop that repeats the one before; keep the seams between repetitions distinct.
  std::uint64_t input_repeats = 0;
  for (std::size_t i = 1; i < events.size(); ++i)
    if (may_repeat(events[i - 1], events[i])) ++input_repeats;
  if (frees.size() >= 2 && may_repeat(frees.back(), events.front()))
    std::swap(frees[frees.size() - 1], frees[frees.size() - 2]);
  if (frees.size() >= 2 && may_repeat(events.back(), frees.front())) std::swap(frees[0], frees[1]);
  if (!frees.empty() && may_repeat(events.back(), frees.front())) {
    fmt::print(stderr, "make_big_log: the synthesized free repeats the last stop (line {})\n",
               events.back().line);
    return 1;
  }
  const Record& before_next = frees.empty() ? events.back() : frees.back();
  if (may_repeat(before_next, events.front())) {
    fmt::print(stderr,
               "make_big_log: the stop that ends a repetition (line {}) repeats the first stop\n",
               before_next.line);
    return 1;
  }

  std::FILE* out = std::fopen(o.output.c_str(), "wb");
  if (out == nullptr) {
    fmt::print(stderr, "make_big_log: cannot create {}: {}\n", o.output, std::strerror(errno));
    return 1;
  }
  std::setvbuf(out, nullptr, _IONBF, 0);  // Writer buffers
  Writer w(out);
  const auto target = static_cast<std::uint64_t>(o.min_mb * kBytesPerMb);
  std::uint64_t repetitions = 0, written_events = 0;

  w.write(log->preamble);
  do {
    if (repetitions > 0) {
      for (const Record& r : frees) w.write(r);
      written_events += frees.size();
    }
    for (const Record& r : events) w.write(r);
    written_events += events.size();
    ++repetitions;
  } while (w.bytes() < target && !w.failed());
  if (o.free_at_end) {
    for (const Record& r : frees) w.write(r);
    written_events += frees.size();
  }
  w.write(log->ending);
  bool ok = w.flush();
  ok = std::fclose(out) == 0 && ok;
  if (!ok) {
    fmt::print(stderr, "make_big_log: writing {} failed: {}\n", o.output, std::strerror(errno));
    return 1;
  }

  fmt::print(
      "input   {}: {} bytes, {} stops at {} ({} repeated, {} unmatched frees, {} ended unlogged by "
      "a later allocation), "
      "{} allocations live at its end\n",
      o.input, data->size(), events.size(), o.hook, input_repeats, unmatched, covered, live.size());
  fmt::print("output  {}: {} bytes ({:.1f} MB)\n", o.output, w.bytes(),
             static_cast<double>(w.bytes()) / kBytesPerMb);
  fmt::print(
      "events  {} in {} repetitions ({} per repetition + {} synthesized frees between "
      "repetitions{}), $ values 1..{}\n",
      written_events, repetitions, events.size(), frees.size(),
      o.free_at_end ? " and at the end" : "", w.values());
  if (tmpl != nullptr)
    fmt::print("frees   cloned from the stop at input line {} (caller {})\n", tmpl->line,
               tmpl->caller.empty() ? "unknown" : tmpl->caller);
  return 0;
}
