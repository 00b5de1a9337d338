// `mpheap trace LOG`: reads a gdb GC log and prints or writes the trace analyses.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/target_options.h"
#include "mpheap/io/line_reader.h"
#include "mpheap/report/collections_text.h"
#include "mpheap/report/history_json.h"
#include "mpheap/report/output.h"
#include "mpheap/report/perfetto.h"
#include "mpheap/report/speedscope.h"
#include "mpheap/report/trace_report.h"
#include "mpheap/trace/call_tree.h"
#include "mpheap/trace/trace_analysis.h"

namespace mpheap::cli {
namespace {

struct TraceArgs {
  std::string log;
  std::string history;
  std::string summary_json;
  std::string folded;
  std::string folded_weight = "live";
  bool json = false;
  bool collections = false;
  std::size_t sites = 0;
  bool no_tree = false;
  bool quiet = false;
  std::optional<std::uint64_t> at;
  session::TargetSource target;  // optional: the build's block size comes from it
  std::size_t top = 5;
  std::string hook = "gc_log_change";
  std::string speedscope;                    // speedscope JSON file
  std::string speedscope_weight = "live";    // live | allocated
  std::string perfetto;                      // Chrome trace-event JSON file
  bool perfetto_slices = false;              // one slice per allocation lifespan
  std::optional<std::uint64_t> heap_blocks;  // the heap's size in blocks
  bool python_only = false;                  // trace::FrameView::python_only
};

// The heap's size in blocks for the free-space figures: --heap-blocks, else the one heap area
// the firmware description and RAM dumps show. A split heap's block numbers in the log are not
// known to be global, so its size is not guessed.
Expected<std::optional<std::uint64_t>> heap_blocks_for(
    const TraceArgs& a, const std::optional<session::LoadedTarget>& loaded) {
  if (a.heap_blocks) return a.heap_blocks;
  if (!loaded || !loaded->findings || loaded->findings->areas.empty())
    return std::optional<std::uint64_t>{};
  if (loaded->findings->areas.size() > 1)
    return Error{"--perfetto", 0, 0,
                 fmt::format("the firmware has a split heap ({} areas): give its size in the "
                             "log's block numbers with --heap-blocks N",
                             loaded->findings->areas.size())};
  return std::optional<std::uint64_t>{loaded->findings->areas[0].blocks()};
}

// Progress on stderr for long inputs, only when stderr is a terminal.
class Progress {
 public:
  explicit Progress(std::uint64_t total) : total_(total), enabled_(isatty(STDERR_FILENO) != 0) {}
  void update(std::uint64_t bytes, std::uint64_t events) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - start_).count();
    if (elapsed < 1.0 || now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    shown_ = true;
    std::string pct = total_ ? fmt::format(" ({:.0f}%)", 100.0 * static_cast<double>(bytes) /
                                                             static_cast<double>(total_))
                             : "";
    fmt::print(stderr, "\rread {:.1f} MB{}, {} events, {:.0f} MB/s, {:.0f} events/s   ",
               static_cast<double>(bytes) / 1e6, pct, events,
               static_cast<double>(bytes) / 1e6 / elapsed, static_cast<double>(events) / elapsed);
  }
  ~Progress() {
    if (shown_) fmt::print(stderr, "\n");
  }

 private:
  std::uint64_t total_;
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = start_;
};

int fail(const Error& e) {
  fmt::print(stderr, "mpheap trace: {}\n", e.message());
  return exit_status(e);
}

// Closes an output that failed half-way and removes its file (standard output is left alone).
void discard(const std::unique_ptr<report::Output>& out, const std::string& path) {
  if (!out) return;
  (void)out->close();
  if (path != "-") std::remove(path.c_str());
}

int run_trace(const TraceArgs& a) {
  auto input = io::LineReader::open(a.log);
  if (!input) return fail(input.error());
  Progress progress((*input)->size_hint());

  trace::TraceOptions options;
  options.hook = a.hook;
  options.frame_view = a.python_only ? trace::FrameView::python_only : trace::FrameView::mixed;
  options.at_event = a.at;
  // Block size: --block-size, else the firmware description's when one is given, else guessed
  // from the log's address width.
  std::optional<session::LoadedTarget> loaded_target;  // also the heap's size for --perfetto
  if (a.target.block_size) {
    options.block_size = *a.target.block_size;
  } else if (a.target.given()) {
    auto loaded = session::load_target(a.target);
    if (!loaded) return fail(loaded.error());
    options.block_size = loaded->target.block_size;
    options.block_size_source = "from the firmware description";
    loaded_target = std::move(*loaded);
  }
  if (a.heap_blocks && *a.heap_blocks == 0)
    return fail(Error{"--heap-blocks", 0, 0, "the heap has at least one block"});
  options.progress = [&](std::uint64_t bytes, std::uint64_t events) {
    progress.update(bytes, events);
  };

  // --perfetto rides along on the same replay.
  report::PerfettoOptions po;
  std::unique_ptr<report::Output> perfetto_out;
  std::optional<report::PerfettoExport> perfetto;
  if (!a.perfetto.empty()) {
    po.block_size = options.block_size;
    po.slices = a.perfetto_slices;
    auto heap_blocks = heap_blocks_for(a, loaded_target);
    if (!heap_blocks) return fail(heap_blocks.error());
    po.heap_blocks = *heap_blocks;
    if (!po.heap_blocks)
      fmt::print(stderr,
                 "mpheap trace: the heap's size is not known (--heap-blocks N, or --ram dumps "
                 "with the firmware description): no free-space counters in {}\n",
                 a.perfetto);
    auto out = report::Output::open(a.perfetto);
    if (!out) return fail(out.error());
    perfetto_out = std::move(*out);
    perfetto.emplace(po, *perfetto_out, (*input)->name());
    options.observers.push_back(&*perfetto);
  }

  // --collections: rendered as each collection ends, printed after the summary. Not gathered when
  // nothing will print it.
  bool stdout_taken = a.history == "-" || a.summary_json == "-" || a.folded == "-" ||
                      a.speedscope == "-" || a.perfetto == "-";
  std::optional<report::CollectionsText> collections_text;
  if (a.collections && !stdout_taken && !a.quiet && !a.json) {
    collections_text.emplace(a.top);
    options.collection_sink = &*collections_text;
  }

  std::unique_ptr<report::Output> history_out;
  std::optional<report::HistoryJsonWriter> history;
  if (!a.history.empty()) {
    auto out = report::Output::open(a.history);
    if (!out) return fail(out.error());
    history_out = std::move(*out);
    history.emplace(*history_out);
  }
  auto result = trace::analyze_trace(**input, options, history ? &*history : nullptr);
  if (!result) {
    // No half-written history or trace is left behind for a viewer to choke on.
    discard(history_out, a.history);
    discard(perfetto_out, a.perfetto);
    return fail(result.error());
  }
  if (perfetto_out) {
    if (auto closed = perfetto_out->close(); !closed) {
      discard(perfetto_out, a.perfetto);
      return fail(closed.error());
    }
  }
  if (history) {
    history->finish();
    if (auto closed = history_out->close(); !closed) return fail(closed.error());
  }
  const trace::TraceResult& r = *result;
  fmt::print(stderr, "{}", report::summary_warnings(r.summary));

  trace::CallTree tree = build_call_tree(r.stacks, std::span<const std::int64_t>(r.live_by_stack));
  if (!a.summary_json.empty())
    if (auto w = report::write_text_file(a.summary_json, report::summary_json(r)); !w)
      return fail(w.error());
  if (!a.folded.empty()) {
    trace::CallTree weights =
        a.folded_weight == "allocated"
            ? build_call_tree(r.stacks, std::span<const std::uint64_t>(r.allocated_by_stack))
            : tree;
    if (auto w = report::write_text_file(a.folded, report::folded_stacks(weights)); !w)
      return fail(w.error());
  }
  if (!a.speedscope.empty()) {
    bool allocated = a.speedscope_weight == "allocated";
    trace::CallTree weights =
        allocated ? build_call_tree(r.stacks, std::span<const std::uint64_t>(r.allocated_by_stack))
                  : tree;
    report::SpeedscopeOptions so;
    so.name = allocated
                  ? fmt::format("{}: blocks allocated by call stack", r.summary.file)
                  : fmt::format("{}: live blocks after event {}", r.summary.file, r.tree_event);
    so.block_size = options.block_size;  // bytes only when the block size is known
    if (auto w = report::write_text_file(a.speedscope, report::speedscope_json(weights, so)); !w)
      return fail(w.error());
  }
  if (stdout_taken || a.quiet) return 0;
  if (a.json) {
    fmt::print("{}", report::call_tree_json(tree, r.tree_event, r.summary.block_size));
    return 0;
  }
  fmt::print("{}", report::summary_text(r.summary, r.collections));
  if (collections_text) {
    fmt::print("\n");
    if (!r.summary.sweeps_logged) {
      fmt::print("{}", report::kCollectionsNotVisible);
    } else if (auto w = collections_text->write_to(
                   [](std::string_view s) { std::fwrite(s.data(), 1, s.size(), stdout); });
               !w) {
      return fail(w.error());
    }
  }
  if (a.sites > 0)
    fmt::print("\n{}",
               report::allocation_sites_text(trace::allocation_sites(r), r.stacks, a.sites));
  if (!a.no_tree) {
    fmt::print(
        "\nlive blocks by call site after event {} (frames in py/gc.c and py/malloc.c left out):\n",
        r.tree_event);
    fmt::print("{}", report::call_tree_text(tree));
  }
  return 0;
}

}  // namespace

void add_trace_command(CLI::App& app, int* status) {
  auto args = std::make_shared<TraceArgs>();
  CLI::App* cmd = app.add_subcommand(
      "trace",
      "Analyse a gdb log of the firmware's gc_log_change(start_block, length) hook: event counts "
      "by kind, allocation lifespans, the live blocks by call site, collections, flame graphs.");
  cmd->footer(
      "The log is what gdb printed while it stopped at the hook: per stop a 'backtrace' (or "
      "CircuitPython's 'p/x' values followed by 'up' commands) and '$N = value' lines for "
      "start_block, length and optionally ticks_ms. Repeated reports of one stop (seen with "
      "QEMU's gdbstub) are dropped. Events are classified by the hook's caller (gc_alloc, "
      "gc_free, gc_sweep*, gc_realloc), else by the block state. See docs/trace.md.\n\n"
      "Examples:\n"
      "  mpheap trace gc_log.txt\n"
      "  mpheap trace gc_log.txt --history allocation_history.json --summary-json summary.json\n"
      "  mpheap trace gc_log.txt --at 500 --json > tree.json\n"
      "  mpheap trace gc_log.txt --folded live.folded && flamegraph.pl live.folded > live.svg");
  cmd->add_option("LOG", args->log, "gdb log file ('-' reads standard input)")->required();
  cmd->add_option("--history", args->history,
                  "write allocation lifespans as allocation_history.json (the schema of "
                  "CircuitPython's gc_activity.html), streamed while reading");
  cmd->add_flag("--json", args->json, "print the live call tree as JSON instead of text");
  cmd->add_option("--at", args->at,
                  "show the live call tree as it stood after this event (0-based)");
  cmd->add_option("--summary-json", args->summary_json,
                  "write the summary (counts by kind, live and peak blocks, sizes) as JSON");
  cmd->add_option("--sites", args->sites,
                  "print the N sites that allocated most over the whole run (allocations, blocks; "
                  "the site is the innermost frame outside py/gc.c and py/malloc.c, with "
                  "--python-only the innermost Python line)");
  cmd->add_flag("--collections", args->collections,
                "print statistics between collections (runs of sweep events)");
  cmd->add_option("--top", args->top, "allocation sites listed per collection")
      ->capture_default_str();
  cmd->add_option("--folded", args->folded,
                  "write folded stacks (frame;frame;frame weight) for flamegraph.pl or speedscope");
  cmd->add_option(
         "--folded-weight", args->folded_weight,
         "weight folded stacks by 'live' blocks (at the end or --at) or by all 'allocated' blocks")
      ->check(CLI::IsMember({"live", "allocated"}))
      ->capture_default_str();
  cmd->add_option("--speedscope", args->speedscope,
                  "write live (or --speedscope-weight allocated) blocks by call stack in "
                  "speedscope's JSON format (weights in bytes when the block size is given)");
  cmd->add_option("--speedscope-weight", args->speedscope_weight,
                  "weight the speedscope profile by 'live' blocks (at the end or --at) or by all "
                  "'allocated' blocks")
      ->check(CLI::IsMember({"live", "allocated"}))
      ->capture_default_str();
  cmd->add_option("--perfetto", args->perfetto,
                  "write Chrome trace-event JSON for ui.perfetto.dev / chrome://tracing: heap "
                  "used, free and largest free run counters, collections; time = event index in "
                  "microseconds");
  cmd->add_flag("--perfetto-slices", args->perfetto_slices,
                "add one slice per allocation lifespan to the --perfetto output");
  cmd->add_option("--heap-blocks", args->heap_blocks,
                  "the heap's size in blocks, for the free-space counters (else from --ram dumps "
                  "with the firmware description)");
  // --elf/--map/--nm/--target/--block-size: the block size for the byte figures (default: 32
  // when the log shows 64-bit addresses, else 16).
  add_target_options(cmd, args->target);
  cmd->add_option("--hook", args->hook, "name of the hook function gdb stops in")
      ->capture_default_str();
  cmd->add_flag("--python-only", args->python_only, kPythonOnlyHelp);
  cmd->add_flag("--no-tree", args->no_tree, "print the summary only");
  cmd->add_flag("-q,--quiet", args->quiet, "print nothing on stdout (files and warnings only)");
  cmd->callback([args, status] { *status = run_trace(*args); });
}

}  // namespace mpheap::cli
