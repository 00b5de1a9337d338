// `mpheap capture snapshots|trace`: record RAM snapshots over the GDB remote protocol, or run
// gdb with a generated command file that logs every GC hook call.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "cli/commands.h"
#include "mpheap/capture/elf_check.h"
#include "mpheap/capture/gdb_run.h"
#include "mpheap/capture/gdb_script.h"
#include "mpheap/capture/link.h"
#include "mpheap/capture/repl_reader.h"
#include "mpheap/capture/rsp_client.h"
#include "mpheap/capture/snapshots.h"
#include "mpheap/io/file.h"
#include "mpheap/io/line_reader.h"
#include "mpheap/io/snapshot_sequence.h"
#include "mpheap/report/output.h"
#include "mpheap/session/native_capture.h"
#include "mpheap/session/target_source.h"
#include "mpheap/target/elf_image.h"
#include "mpheap/trace/trace_analysis.h"
#include "mpheap/util/number.h"

namespace mpheap::cli {
namespace {

// Set by SIGINT / SIGTERM; the capture loops look at it and end with a complete file.
std::atomic<bool> g_interrupted{false};  // NOLINT: a signal handler needs a global

extern "C" void on_interrupt(int /*signal*/) {
  g_interrupted.store(true);
}

// Installs the handler for the lifetime of a capture (no SA_RESTART: blocking waits wake up).
class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupted.store(false);
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

int fail(const char* cmd, const Error& e) {
  fmt::print(stderr, "mpheap capture {}: {}\n", cmd, e.message());
  return exit_status(e);
}

const char* kRemoteHelp =
    "the gdb server, HOST:PORT: OpenOCD localhost:3333, J-Link GDB server localhost:2331, "
    "pyOCD localhost:3333, QEMU -gdb tcp::1234 localhost:1234, gdbserver";

// ---------------------------------------------------------------------------------------------
// snapshots

struct SnapshotArgs {
  std::string remote;
  std::string ram;
  std::optional<std::uint64_t> every_ms;
  std::optional<std::uint64_t> count;
  std::string on;
  std::string elf;
  int breakpoint_kind = 0;
  std::string out;
  int timeout_ms = 3000;
  bool no_registers = false;
};

// The ELF given with --elf, and the address of `loc` (an address, or with the ELF a function or
// object name).
struct Location {
  std::uint64_t address = 0;
  std::unique_ptr<target::elf::ElfImage> elf;  // null without --elf
};
Expected<Location> resolve_location(const std::string& loc, const std::string& elf_path) {
  Location out;
  if (!elf_path.empty()) {
    auto bytes = io::read_whole_file(elf_path);
    if (!bytes) return bytes.error();
    auto image = target::elf::ElfImage::open(*bytes, elf_path);
    if (!image) return image.error();
    out.elf = std::move(*image);
  }
  if (auto v = parse_uint(loc)) {
    out.address = *v;
    return out;
  }
  if (!out.elf)
    return Error{
        "--on", 0, 0,
        fmt::format("expected an address (0x...), found '{}'; a symbol name needs --elf", loc)};
  auto symbols = out.elf->symbols();
  if (!symbols) return symbols.error();
  for (const target::elf::ElfSymbol& s : *symbols)
    if (s.symbol.name == loc) {
      out.address = s.symbol.address;
      return out;
    }
  return Error{elf_path, 0, 0, fmt::format("no symbol '{}' for --on", loc)};
}

int run_snapshots(const SnapshotArgs& a) {
  constexpr const char* cmd = "snapshots";
  auto range = capture::parse_range(a.ram, "--ram");
  if (!range) return fail(cmd, range.error());
  auto remote = capture::parse_remote(a.remote);
  if (!remote) return fail(cmd, remote.error());
  capture::SnapshotPlan plan;
  Location location;
  plan.start = range->first;
  plan.end = range->second;
  plan.count = a.count;
  plan.registers = !a.no_registers;
  if (!a.on.empty()) {
    if (a.every_ms) return fail(cmd, Error{"--on", 0, 0, "give --every or --on, not both"});
    auto at = resolve_location(a.on, a.elf);
    if (!at) return fail(cmd, at.error());
    plan.on_address = at->address;
    plan.on_label = a.on;
    location = std::move(*at);
  } else {
    plan.every_ms = a.every_ms.value_or(1000);
  }
  if (a.breakpoint_kind != 0) plan.breakpoint_kind = a.breakpoint_kind;
  if (a.count && *a.count == 0) return fail(cmd, Error{"--count", 0, 0, "expected at least 1"});

  InterruptGuard guard;
  auto client = capture::RspClient::connect(*remote, a.timeout_ms);
  if (!client) return fail(cmd, client.error());
  // Before the first breakpoint: the code where it goes must be the ELF's, or the stops would
  // be somewhere else in another firmware.
  if (location.elf && plan.on_address) {
    const capture::CodeProbe probe{a.on, *plan.on_address};
    if (auto same = capture::check_running_code(**client, *location.elf, {&probe, 1}); !same) {
      (*client)->detach();
      return fail(cmd, same.error());
    }
  }

  // OUT.part, renamed at the end: OUT is never half a snapshot.
  auto writer = io::SnapshotSequenceWriter::create(a.out);
  if (!writer) {
    (*client)->detach();
    return fail(cmd, writer.error());
  }
  const bool tty = isatty(STDERR_FILENO) != 0;
  auto last_line = std::chrono::steady_clock::now();
  auto sink = [&](const io::SnapshotHeader& h,
                  std::span<const std::uint8_t> bytes) -> Expected<bool> {
    return writer->append(
        h, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  };
  auto progress = [&](const capture::SnapshotStats& s) {
    auto now = std::chrono::steady_clock::now();
    if (tty) {
      fmt::print(stderr, "\rmpheap capture snapshots: {} snapshots, {:.1f} ms per read   ",
                 s.snapshots, s.read_ms_total / static_cast<double>(s.snapshots));
    } else if (s.snapshots == 1 || now - last_line > std::chrono::seconds(5)) {
      last_line = now;
      fmt::print(stderr, "mpheap capture snapshots: {} snapshots, {:.1f} ms per read\n",
                 s.snapshots, s.read_ms_total / static_cast<double>(s.snapshots));
    }
  };
  auto stats = capture::capture_snapshots(**client, plan, sink, &g_interrupted, progress);
  (*client)->detach();
  if (tty) fmt::print(stderr, "\n");
  const std::uint64_t kept = writer->count();
  if (!stats) {
    if (kept > 0 && writer->commit())
      fmt::print(stderr, "mpheap capture snapshots: {} complete snapshots kept in {}\n", kept,
                 a.out);
    return fail(cmd, stats.error());
  }
  if (auto committed = writer->commit(); !committed) {
    if (kept == 0)
      return fail(cmd, Error{a.out, 0, 0,
                             "no snapshot was taken (interrupted before the first); nothing "
                             "written"});
    return fail(cmd, committed.error());
  }
  const char* why = stats->end == capture::CaptureEnd::interrupted ? "interrupted"
                    : stats->end == capture::CaptureEnd::target_exited
                        ? "the target's program ended"
                        : "count reached";
  fmt::print(stderr,
             "mpheap capture snapshots: {} snapshots of {:#x}..{:#x} written to {} ({}); read "
             "{:.2f} ms per snapshot on average, {:.2f} ms at most\n",
             stats->snapshots, plan.start, plan.end, a.out, why,
             stats->read_ms_total / static_cast<double>(stats->snapshots), stats->read_ms_max);
  fmt::print(stderr, "  read them with: mpheap heap {} --snapshot all ...\n", a.out);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// repl

struct ReplArgs {
  std::string connect;
  std::uint32_t baud = 115200;
  std::vector<std::string> ram;
  bool unchecked_ram = false;
  session::TargetSource target;
  std::uint64_t count = 1;
  std::optional<std::uint64_t> every_ms;
  std::string before;
  std::string run;
  std::string out;
  bool count_given = false;
};

int run_repl(const ReplArgs& a) {
  constexpr const char* cmd = "repl";
  if (a.count == 0)
    return fail(cmd, Error{"--count", 0, 0, "expected at least 1", ErrorKind::usage});
  if (!a.run.empty() && (a.count_given || a.every_ms || !a.before.empty()))
    return fail(cmd, Error{"--run", 0, 0,
                           "takes its snapshots where the program calls mpheap_snap(), and one "
                           "after it ends: --count, --every and --before do not apply",
                           ErrorKind::usage});
  capture::ReplPlan plan;
  for (const std::string& text : a.ram) {
    auto range = capture::parse_range(text, "--ram");
    if (!range) return fail(cmd, range.error());
    plan.ram.push_back({range->first, range->second});
  }
  plan.unchecked_ram = a.unchecked_ram;
  if (a.target.given()) {
    auto loaded = session::load_target(a.target);
    if (!loaded) return fail(cmd, loaded.error());
    plan.known_ram = capture::ram_of(loaded->target);
    plan.known_from = !a.target.elf.empty()        ? "the ELF"
                      : !a.target.map.empty()      ? "the linker map"
                      : !a.target.firmware.empty() ? "the firmware image"
                                                   : "the firmware's description";
  }
  plan.count = a.count;
  plan.every_ms = a.every_ms.value_or(1000);
  plan.before = a.before;
  if (!a.run.empty()) {
    auto source = io::read_whole_file(a.run);
    if (!source) return fail(cmd, source.error());
    plan.program = std::move(*source);
    plan.program_name = std::filesystem::path(a.run).filename().string();
  }
  // Before connecting: a range the reader cannot take needs no board to be refused.
  for (const capture::RamRange& g : plan.ram)
    if (auto fits = capture::check_reader_range(g.start, g.end); !fits)
      return fail(cmd, fits.error());
  auto writer = io::SnapshotSequenceWriter::create(a.out);
  if (!writer) return fail(cmd, writer.error());
  InterruptGuard guard;
  auto link = capture::Link::open(a.connect, a.baud);
  if (!link) return fail(cmd, link.error());
  auto sink = [&](std::span<const io::SnapshotRecord> parts,
                  const capture::ReplRead& read) -> Expected<bool> {
    if (!read.before_output.empty()) fmt::print("{}", read.before_output);
    std::fflush(stdout);
    const io::SnapshotHeader& h = parts.front().header;
    std::uint64_t bytes = 0;
    for (const io::SnapshotRecord& r : parts) bytes += r.bytes.size();
    fmt::print(stderr,
               "mpheap capture repl: snapshot {}{}: {} bytes{} in {:.2f} s ({:.1f} KiB/s, {:.2f} "
               "bytes on the wire per byte), {} chunks asked again\n",
               h.index, h.label.empty() ? "" : fmt::format(" '{}'", h.label), bytes,
               parts.size() > 1 ? fmt::format(" of {} ranges", parts.size()) : "", read.ms / 1000,
               static_cast<double>(bytes) / 1.024 / read.ms,
               static_cast<double>(read.wire_bytes) / static_cast<double>(bytes), read.requests);
    return writer->append(parts);
  };
  const bool tty = isatty(STDERR_FILENO) != 0;
  auto last_line = std::chrono::steady_clock::now();
  auto progress = [&](std::uint64_t done, std::uint64_t chunks, std::uint64_t asked) {
    const auto now = std::chrono::steady_clock::now();
    const std::string text =
        fmt::format("mpheap capture repl: snapshot {}: {} of {} KiB read, {} chunks asked again",
                    writer->count(), done * capture::kReplChunkBytes / 1024,
                    chunks * capture::kReplChunkBytes / 1024, asked);
    if (tty) {
      fmt::print(stderr, "\r{}   ", text);
    } else if (now - last_line > std::chrono::seconds(5)) {
      last_line = now;
      fmt::print(stderr, "{}\n", text);
    }
  };
  auto output = [&](std::string_view text) {
    if (tty) fmt::print(stderr, "\r");
    fmt::print("{}", text);
    std::fflush(stdout);
  };
  auto stats = capture::capture_repl(**link, plan, sink, &g_interrupted, progress, output);
  if (tty) fmt::print(stderr, "\r");
  if (!stats) {
    if (writer->count() > 0 && writer->commit())
      fmt::print(stderr, "mpheap capture repl: {} complete snapshots kept in {}\n", writer->count(),
                 a.out);
    return fail(cmd, stats.error());
  }
  if (auto committed = writer->commit(); !committed) return fail(cmd, committed.error());
  std::string ranges;
  for (const capture::RamRange& g : stats->ranges)
    ranges += fmt::format("{}{:#x}..{:#x}", ranges.empty() ? "" : " and ", g.start, g.end);
  fmt::print(stderr,
             "mpheap capture repl: {} snapshots of {} ({}) from a {} board written to "
             "{}{}; {:.1f} KiB/s, {} chunks asked again, {} lines damaged\n",
             stats->snapshots, ranges, stats->rule,
             stats->machine == "-" ? stats->platform : stats->machine, a.out,
             stats->interrupted ? " (interrupted)" : "",
             static_cast<double>(stats->ram_bytes) / 1.024 / stats->read_ms, stats->requests,
             stats->damaged);
  if (!stats->program_errors.empty())
    fmt::print(stderr, "  {} {}:\n{}", plan.program_name,
               stats->interrupted ? "was interrupted (Ctrl-C; no snapshot after it)"
                                  : "ended with an error (the last snapshot is the heap it left)",
               stats->program_errors);
  if (stats->collected)
    fmt::print(stderr,
               "  note: the board's heap had no room for the reader until gc.collect() ran: the "
               "garbage the program left is not in these snapshots\n");
  fmt::print(stderr, "  read them with: mpheap heap {} --snapshot all ...\n", a.out);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// trace

struct TraceArgs {
  std::string elf;
  std::string remote;
  std::string style = "backtrace";
  std::string until;
  bool no_until = false;
  std::string ram;
  std::string ram_out;
  std::optional<std::uint64_t> max_events;
  std::string out;
  bool print_script = false;
  std::string gdb;
  std::string hook = "gc_log_change";
  int timeout_ms = 3000;
  std::string engine = "native";
  bool engine_given = false;
  bool no_hook = false;
  bool no_python = false;
  std::vector<std::string> heap_at;
  std::string heap_out;
  std::string load_bias;
  std::optional<double> idle_seconds;
};

const char* end_text(capture::NativeEnd end) {
  switch (end) {
    case capture::NativeEnd::program_exited:
      return "the program ended";
    case capture::NativeEnd::until_reached:
      return "--until reached";
    case capture::NativeEnd::max_events:
      return "--max-events reached";
    case capture::NativeEnd::interrupted:
      return "interrupted (Ctrl-C): the log ends at the last whole stop";
  }
  return "";
}

int run_native(const TraceArgs& a) {
  constexpr const char* cmd = "trace";
  if (a.out.empty()) return fail(cmd, Error{"-o", 0, 0, "the log file is required"});
  session::NativeCaptureOptions o;
  o.elf = a.elf;
  auto remote = capture::parse_remote(a.remote);
  if (!remote) return fail(cmd, remote.error());
  o.remote = *remote;
  o.out = a.out;
  o.hook = a.hook;
  o.no_hook = a.no_hook;
  o.python_frames = !a.no_python;
  o.max_events = a.max_events;
  o.heap_at = a.heap_at;
  o.heap_out = a.heap_out;
  o.idle_seconds = a.idle_seconds;
  o.timeout_ms = a.timeout_ms;
  o.ram_out = a.ram_out;
  if (!a.ram.empty()) {
    auto range = capture::parse_range(a.ram, "--ram");
    if (!range) return fail(cmd, range.error());
    o.ram = *range;
  }
  if (!a.load_bias.empty()) {
    auto bias = parse_uint(a.load_bias);
    if (!bias)
      return fail(
          cmd, Error{"--load-bias", 0, 0,
                     fmt::format("expected a number (0x... or decimal), found '{}'", a.load_bias),
                     ErrorKind::usage});
    o.load_bias = *bias;
  }
  if (!a.no_until) {
    if (!a.until.empty()) {
      o.until = a.until;
    } else {
      // The same default as the gdb engine: the friendly REPL, when the ELF has it.
      auto hook = capture::find_hook(a.elf, a.hook);
      if (hook) o.until = hook->default_until;
    }
  }
  InterruptGuard guard;
  const bool tty = isatty(STDERR_FILENO) != 0;
  auto last_line = std::chrono::steady_clock::now();
  auto progress = [&](const capture::NativeTraceStats& s) {
    const double rate = s.seconds > 0 ? static_cast<double>(s.events) / s.seconds : 0;
    const std::string text = fmt::format(
        "mpheap capture trace: {} events, {:.0f} events/s, {:.1f} round trips/event", s.events,
        rate,
        s.events > 0 ? static_cast<double>(s.round_trips) / static_cast<double>(s.events) : 0.0);
    if (tty) {
      fmt::print(stderr, "\r{}   ", text);
    } else if (std::chrono::steady_clock::now() - last_line > std::chrono::seconds(5)) {
      last_line = std::chrono::steady_clock::now();
      fmt::print(stderr, "{}\n", text);
    }
  };
  auto note = [&](std::string_view text) {
    fmt::print(stderr, "mpheap capture trace: {}\n", text);
  };
  auto result = session::run_native_capture(o, &g_interrupted, note, progress);
  if (tty) fmt::print(stderr, "\n");
  if (!result) return fail(cmd, result.error());
  const capture::NativeTraceStats& s = result->stats;
  const double rate = s.seconds > 0 ? static_cast<double>(s.events) / s.seconds : 0;
  fmt::print(stderr, "mpheap capture trace: {} events logged to {} ({:.2f} s, {:.0f} events/s)\n",
             s.events, a.out, s.seconds, rate);
  if (!result->lost)
    fmt::print(stderr, "  ended: {}{}\n", end_text(s.end),
               s.exit_text.empty() ? "" : fmt::format(" ({})", s.exit_text));
  fmt::print(
      stderr,
      "  {} stops ({} repeated by the stub, dropped); per event {:.2f} round trips, {:.2f} "
      "packets; {} reads past the stack window (up to {} bytes per stop)\n",
      s.stops, s.repeated_stops,
      s.events > 0 ? static_cast<double>(s.round_trips) / static_cast<double>(s.events) : 0.0,
      s.events > 0 ? static_cast<double>(s.packets) / static_cast<double>(s.events) : 0.0,
      s.extra_reads, s.stack_window);
  if (s.python_frames > 0)
    fmt::print(
        stderr,
        "  Python frames: {} ({:.2f} per event), {} not resolved (the reason is in the "
        "frame); {} reads for them over the link ({:.3f} per event)\n",
        s.python_frames,
        s.events > 0 ? static_cast<double>(s.python_frames) / static_cast<double>(s.events) : 0.0,
        s.python_unresolved, s.python_reads,
        s.events > 0 ? static_cast<double>(s.python_reads) / static_cast<double>(s.events) : 0.0);
  if (s.preexisting > 0)
    fmt::print(stderr,
               "  note: {} allocation(s) were live before the capture started: their frees and "
               "sweeps are in the log, their allocations are not\n",
               s.preexisting);
  if (s.outside_first_area > 0)
    fmt::print(stderr,
               "  warning: {} change(s) of blocks outside the first heap area (a split heap's "
               "other areas) are not in the log: it numbers blocks in the first area only\n",
               s.outside_first_area);
  if (s.unseen_heads > 0)
    fmt::print(stderr,
               "  warning: at the last collection {} live block(s) of the allocation table had "
               "never been seen allocated: events were missed (a soft reset clears the heap "
               "without one)\n",
               s.unseen_heads);
  if (!result->heap_out.empty() && s.checkpoints > 0)
    fmt::print(stderr, "  heap at {}: {} snapshot(s) in {}\n", fmt::join(a.heap_at, ", "),
               s.checkpoints, result->heap_out);
  else if (!result->heap_out.empty())
    fmt::print(stderr, "  heap at {}: never reached, so no snapshot (and no {})\n",
               fmt::join(a.heap_at, ", "), result->heap_out);
  if (!result->ram_out.empty()) fmt::print(stderr, "  RAM at every event: {}\n", result->ram_out);
  fmt::print(stderr, "  read it with: mpheap trace {}\n", a.out);
  if (result->lost) {
    fmt::print(stderr, "mpheap capture {}: {} (the log keeps the {} events before it)\n", cmd,
               result->lost->message(), s.events);
    return 1;
  }
  return 0;
}

int run_trace(const TraceArgs& a) {
  constexpr const char* cmd = "trace";
  if (a.engine != "native" && a.engine != "gdb")
    return fail(cmd,
                Error{"--engine", 0, 0, fmt::format("expected native or gdb, found '{}'", a.engine),
                      ErrorKind::usage});
  const bool gdb_only = a.print_script || !a.gdb.empty() || a.style != "backtrace";
  if (a.engine == "native" && a.engine_given && gdb_only)
    return fail(
        cmd, Error{"--engine", 0, 0, "--print-script, --gdb and --style pup are for --engine gdb",
                   ErrorKind::usage});
  if (a.engine == "native" && !gdb_only) return run_native(a);
  if (a.no_hook || a.no_python || !a.heap_at.empty() || !a.load_bias.empty())
    return fail(cmd, Error{"--engine", 0, 0,
                           "--no-hook, --no-python-frames, --heap-at and --load-bias are for the "
                           "native engine (gdb's logs have no Python frames)",
                           ErrorKind::usage});
  if (a.style != "backtrace" && a.style != "pup")
    return fail(
        cmd, Error{"--style", 0, 0, fmt::format("expected backtrace or pup, found '{}'", a.style)});
  if (a.out.empty() && !a.print_script)
    return fail(cmd, Error{"-o", 0, 0, "the log file is required (or --print-script)"});
  auto remote = capture::parse_remote(a.remote);
  if (!remote) return fail(cmd, remote.error());
  auto hook = capture::find_hook(a.elf, a.hook);
  if (!hook) return fail(cmd, hook.error());

  std::error_code ec;
  capture::ScriptOptions o;
  o.elf = std::filesystem::absolute(a.elf, ec).string();
  o.remote = remote->text();
  o.style = a.style == "pup" ? capture::LogStyle::pup : capture::LogStyle::backtrace;
  const std::string log = a.out.empty() ? std::string("gc_log.txt") : a.out;
  o.log = std::filesystem::absolute(log, ec).string();
  o.until = a.no_until ? "" : (a.until.empty() ? hook->default_until : a.until);
  o.max_events = a.max_events;
  if (!a.ram.empty()) {
    auto range = capture::parse_range(a.ram, "--ram");
    if (!range) return fail(cmd, range.error());
    o.ram = *range;
    o.ram_file =
        std::filesystem::absolute(a.ram_out.empty() ? log + ".ram" : a.ram_out, ec).string();
  }
  const std::string script = capture::gdb_script(*hook, o);
  if (a.print_script) {
    fmt::print("{}", script);
    return 0;
  }

  // Checks before starting: gdb, then the remote.
  auto gdb = capture::find_gdb(a.gdb);
  if (!gdb) return fail(cmd, gdb.error());
  {
    auto probe = capture::RspClient::connect(*remote, a.timeout_ms);
    if (!probe) return fail(cmd, probe.error());
    // The code at the hook must be the ELF's: a wrong ELF would log nonsense.
    auto bytes = io::read_whole_file(a.elf);
    if (!bytes) return fail(cmd, bytes.error());
    auto image = target::elf::ElfImage::open(*bytes, a.elf);
    if (!image) return fail(cmd, image.error());
    auto bias = capture::running_load_bias(**probe, **image);
    if (!bias) return fail(cmd, bias.error());
    const capture::CodeProbe at_hook{hook->function, hook->function_address};
    if (auto same = capture::check_running_code(**probe, **image, {&at_hook, 1}, *bias); !same)
      return fail(cmd, same.error());
    // Closed without `D`: the target stays as it is for gdb.
  }
  auto tmp = std::filesystem::temp_directory_path(ec) /
             fmt::format("mpheap-capture-{}.gdb", static_cast<long>(getpid()));
  if (auto w = report::write_text_file(tmp.string(), script); !w) return fail(cmd, w.error());

  InterruptGuard guard;
  const bool tty = isatty(STDERR_FILENO) != 0;
  auto last_line = std::chrono::steady_clock::now();
  std::uint64_t last_events = 0;
  auto progress = [&](std::uint64_t events, double seconds) {
    auto now = std::chrono::steady_clock::now();
    double rate = seconds > 0 ? static_cast<double>(events) / seconds : 0;
    if (tty) {
      fmt::print(stderr, "\rmpheap capture trace: {} events, {:.0f} events/s   ", events, rate);
    } else if (events != last_events && now - last_line > std::chrono::seconds(5)) {
      last_line = now;
      last_events = events;
      fmt::print(stderr, "mpheap capture trace: {} events, {:.0f} events/s\n", events, rate);
    }
  };
  fmt::print(stderr, "mpheap capture trace: {} {}:{} at {:#x}; gdb {} -> {}{}\n", hook->function,
             hook->file, hook->line, hook->address, *gdb, a.out,
             o.until.empty() ? "" : fmt::format(" until {}", o.until));
  auto ran = capture::run_gdb(*gdb, tmp.string(), o.log, &g_interrupted, progress);
  std::filesystem::remove(tmp, ec);
  if (tty) fmt::print(stderr, "\n");
  auto remove_outputs = [&] {
    std::filesystem::remove(o.log, ec);
    if (o.ram) std::filesystem::remove(o.ram_file, ec);
  };
  if (!ran) {
    remove_outputs();
    return fail(cmd, ran.error());
  }
  // Did gdb log anything `mpheap trace` can read?
  auto reader = io::LineReader::open(o.log);
  Expected<trace::TraceResult> result =
      reader ? trace::analyze_trace(**reader, trace::TraceOptions{}, nullptr)
             : Expected<trace::TraceResult>(reader.error());
  // An interrupt that came while gdb was printing a stop leaves that stop cut short: drop it.
  if (result && ran->interrupted && result->summary.incomplete_last_event) {
    auto dropped = capture::drop_last_stop(o.log);
    if (dropped && *dropped) {
      auto again = io::LineReader::open(o.log);
      if (again) result = trace::analyze_trace(**again, trace::TraceOptions{}, nullptr);
    }
  }
  if (!result || ran->events == 0) {
    std::string gdb_said = ran->output;
    // gdb's own errors after `set logging redirect on` went into the log.
    if (std::filesystem::exists(o.log)) {
      std::ifstream log_in(o.log, std::ios::binary);
      std::string logged((std::istreambuf_iterator<char>(log_in)),
                         std::istreambuf_iterator<char>());
      gdb_said += logged.size() > 4096 ? logged.substr(logged.size() - 4096) : logged;
    }
    // The last few lines of what gdb printed say why.
    std::size_t cut = gdb_said.size();
    for (int lines = 0; lines < 6 && cut > 0; ++lines) cut = gdb_said.rfind('\n', cut - 1);
    if (cut == std::string::npos) cut = 0;
    remove_outputs();
    return fail(cmd, Error{a.out, 0, 0,
                           fmt::format("no hook stop was logged{} (gdb exit status {}); nothing "
                                       "kept. gdb said:\n{}",
                                       ran->interrupted ? " before the interrupt" : "",
                                       ran->exit_status, gdb_said.substr(cut))});
  }
  const trace::TraceSummary& s = result->summary;
  fmt::print(stderr, "mpheap capture trace: {} events logged to {}{}\n", s.events, a.out,
             ran->interrupted ? " (interrupted: the log ends at the last complete stop)" : "");
  if (o.ram)
    fmt::print(stderr,
               "  RAM at every event: {} (read with: mpheap heap {}@{:#x} --dump-size {})\n",
               o.ram_file, o.ram_file, o.ram->first, o.ram->second - o.ram->first);
  fmt::print(stderr, "  read it with: mpheap trace {}\n", a.out);
  return 0;
}

}  // namespace

void add_capture_command(CLI::App& app, int* status) {
  CLI::App* capture = app.add_subcommand(
      "capture",
      "Record from a live firmware: RAM snapshots over the GDB remote protocol, or a GC "
      "activity log through gdb.");
  capture->require_subcommand(1);

  auto s = std::make_shared<SnapshotArgs>();
  CLI::App* snaps = capture->add_subcommand(
      "snapshots", "Halt the target, read a RAM range, let it run; one dump per snapshot.");
  snaps->add_option("--remote", s->remote, kRemoteHelp)->required();
  snaps
      ->add_option("--ram", s->ram,
                   "RAM range START:END or START+SIZE (micro:bit: 0x20000000:0x20004000)")
      ->required();
  snaps->add_option("--every", s->every_ms,
                    "a snapshot every MS milliseconds (default 1000; the first at once)");
  snaps->add_option("--count", s->count,
                    "stop after N snapshots (default: until Ctrl-C or the program ends)");
  snaps->add_option(
      "--on", s->on,
      "a snapshot at every stop at this LOCATION: an address, or a symbol with --elf");
  snaps->add_option("--elf", s->elf, "the firmware ELF, for symbol names in --on");
  snaps->add_option(
      "--breakpoint-kind", s->breakpoint_kind,
      "the Z0 packet's kind for --on (bytes of the breakpoint instruction; default 2, "
      "Thumb)");
  snaps->add_option("-o,--output", s->out, "the snapshot sequence file to write")->required();
  snaps->add_option("--timeout", s->timeout_ms, "ms to wait for the gdb server's replies")
      ->capture_default_str();
  snaps->add_flag("--no-registers", s->no_registers,
                  "do not record the registers (`g`) per snapshot");
  snaps->footer(
      "The target is halted only while its RAM is read (milliseconds per 16 KiB). Ctrl-C ends the "
      "capture; the file then holds every complete snapshot. Read it with `mpheap heap SEQ` "
      "(docs/capture.md, docs/formats/snapshot-sequence.md).\n"
      "Example: mpheap capture snapshots --remote localhost:1234 --ram 0x20000000:0x20004000 "
      "--every 500 --count 20 -o ram.seq");
  snaps->callback([s, status] { *status = run_snapshots(*s); });

  auto r = std::make_shared<ReplArgs>();
  CLI::App* repl = capture->add_subcommand(
      "repl",
      "Snapshots through the board's REPL, with no probe: a board on a USB cable, or an "
      "emulator's serial port.");
  repl->add_option("--connect", r->connect,
                   "the board's REPL: a serial device (ttyACM0, /dev/ttyUSB0), tcp:HOST:PORT "
                   "(QEMU -serial tcp:..., ser2net) or unix:PATH (QEMU -chardev socket)")
      ->required();
  repl->add_option("--baud", r->baud, "serial devices: the baud rate")->capture_default_str();
  repl->add_option("--ram", r->ram,
                   "RAM range START:END or START+SIZE, below 0x40000000; repeat it for RAM in "
                   "several places (internal SRAM and PSRAM): each snapshot reads them all in "
                   "one command (default: all the RAM the firmware's description names, or the "
                   "chip table's RAM for the board)");
  repl->add_flag("--unchecked-ram", r->unchecked_ram,
                 "read --ram even where neither the description nor the chip table says it is "
                 "RAM (reading what is not RAM resets most chips)");
  repl->add_option("--elf", r->target.elf,
                   "the firmware's ELF: its RAM regions bound what is read");
  repl->add_option("--map", r->target.map, "the firmware's linker map (its RAM regions)");
  repl->add_option("--nm", r->target.nm, "the firmware's nm output, with --map");
  repl->add_option("--firmware", r->target.firmware, "the firmware image (HEX, UF2, .bin)");
  repl->add_option("--base", r->target.base, "the load address of a raw .bin --firmware");
  repl->add_option("--count", r->count, "snapshots to take")
      ->capture_default_str()
      ->each([r](const std::string&) { r->count_given = true; });
  repl->add_option("--every", r->every_ms,
                   "milliseconds between the starts of two snapshots (default 1000)");
  repl->add_option("--before", r->before,
                   "Python run right before each read, in the same command (e.g. "
                   "'import micropython; micropython.mem_info(1)'); its output goes to stdout");
  repl->add_option("--run", r->run,
                   "a program (app.py) to run on the board: it calls mpheap_snap('label') where "
                   "it wants a snapshot (streamed before the call returns); one more is taken "
                   "after it ends. Its output goes to stdout");
  repl->add_option("-o,--output", r->out, "the snapshot sequence file to write")->required();
  repl->footer(
      "Stops what runs (Ctrl-C), enters the raw REPL, installs a small reader (a generator using "
      "machine.mem8: nothing is allocated while it reads) and streams RAM as checksummed base64 "
      "lines; damaged lines are asked for again. Afterwards the reader is deleted and the board "
      "is at its friendly REPL. The reader's own heap objects are named in each header "
      "(reader=). Read the file with `mpheap heap SEQ` (docs/capture.md).\n"
      "Example: mpheap capture repl --connect ttyACM0 -o ram.seq (an RP2040, nRF52, STM32, SAMD "
      "or ESP32 board: its RAM from mpheap's chip table), or with --elf firmware.elf");
  repl->callback([r, status] { *status = run_repl(*r); });

  auto t = std::make_shared<TraceArgs>();
  CLI::App* tr = capture->add_subcommand(
      "trace",
      "Log every change of the GC heap with its call stack (the log mpheap trace reads), over "
      "the GDB remote protocol: natively, or by running gdb.");
  tr->add_option("--elf", t->elf,
                 "the firmware ELF with debug information (-g): with the gc_log_change hook, or "
                 "a stock build (traced through gc_alloc, gc_free, gc_realloc, gc_collect_end)")
      ->required();
  tr->add_option("--engine", t->engine,
                 "native (default: mpheap talks to the gdb server itself and unwinds the stack "
                 "offline from the ELF's call frame information) or gdb (runs gdb with a command "
                 "file)")
      ->each([t](const std::string&) { t->engine_given = true; });
  tr->add_flag("--no-hook", t->no_hook,
               "native: break on the collector's functions even when the ELF has the hook "
               "(chosen by itself when it has none)");
  tr->add_flag("--no-python-frames", t->no_python,
               "native: leave out the Python frames. By default each frame of the bytecode VM "
               "(mp_execute_bytecode) is preceded by a `[py] FUNCTION at FILE:LINE` frame naming "
               "the Python function it runs and the line, read from the VM's code_state at that "
               "frame (`mpheap trace --python-only` shows only them)");
  tr->add_option("--heap-at", t->heap_at,
                 "native: at every call of this FUNCTION copy the heap (allocation table and "
                 "pool) into a snapshot sequence, e.g. gc_dump_alloc_table "
                 "(micropython.mem_info(1)); repeatable");
  tr->add_option("--heap-output", t->heap_out, "where --heap-at copies go (default: LOG.heaps)");
  tr->add_option("--load-bias", t->load_bias,
                 "native: run-time minus link-time addresses of a position-independent ELF "
                 "(default: from the gdb server's auxiliary vector; 0 for firmware)");
  tr->add_option("--idle-timeout", t->idle_seconds,
                 "native: give up (exit 1, the log kept) when the target does not stop for this "
                 "many seconds");
  tr->add_option("--remote", t->remote, kRemoteHelp)->required();
  tr->add_option("--style", t->style,
                 "gdb engine: backtrace (default) or pup (CircuitPython's p/x start_block, p/x "
                 "length, up x4)")
      ->capture_default_str();
  tr->add_option("--until", t->until,
                 "end at this function (gdb engine: any gdb location). Default: "
                 "pyexec_friendly_repl when the ELF has it, with the hook (both engines); the "
                 "native engine without the hook has no default end, so what runs at the REPL "
                 "is traced too");
  tr->add_flag("--no-until", t->no_until, "no end location: run until Ctrl-C or the program ends");
  tr->add_option("--max-events", t->max_events, "stop after N events");
  tr->add_option("--ram", t->ram, "also append RAM START:END to a dump file at every event");
  tr->add_option("--ram-output", t->ram_out, "where --ram dumps go (default: LOG.ram)");
  tr->add_option("-o,--output", t->out, "the log file (what mpheap trace reads)");
  tr->add_flag("--print-script", t->print_script,
               "gdb engine: print the gdb command file instead of running gdb (run it with gdb "
               "-nx -batch -x FILE)");
  tr->add_option("--gdb", t->gdb, "gdb engine: the gdb to run (default: gdb-multiarch, else gdb)");
  tr->add_option("--hook", t->hook, "the hook's function name")->capture_default_str();
  tr->add_option("--timeout", t->timeout_ms, "ms to wait for each answer of the gdb server")
      ->capture_default_str();
  tr->footer(
      "With the hook, breaks on its first statement (from the ELF's line table) and reads its "
      "arguments from their DWARF locations; without it, breaks on the collector's functions "
      "and on each call's return, and reads the allocation table after every collection, so "
      "the log holds the same events. Each stop costs a register read, one stack read and the "
      "step off the breakpoint. Ctrl-C stops the target and ends the log at a complete stop; a "
      "lost connection keeps what was logged (exit 1).\n"
      "Examples: mpheap capture trace --elf firmware.elf --remote localhost:3333 -o gc_log.txt && "
      "mpheap trace gc_log.txt\n"
      "  a stock build in QEMU from reset, with the heap at every mem_info(1): mpheap capture "
      "trace --elf firmware.elf --remote localhost:1234 --no-until --heap-at "
      "gc_dump_alloc_table -o gc_log.txt\n"
      "  docs/capture.md");
  tr->callback([t, status] { *status = run_trace(*t); });
}

}  // namespace mpheap::cli
