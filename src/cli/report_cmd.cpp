// `mpheap report [TRACE] [--heap DUMPS ...] -o report.html`: one self-contained HTML file with
// the heap over time (block map, scrubber, memory-over-time chart, lifespans, flame graph) and
// the snapshots' census, retainers and fragmentation.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/target_options.h"
#include "mpheap/heap/functions.h"
#include "mpheap/heap/objects.h"
#include "mpheap/heap/snapshot.h"
#include "mpheap/io/snapshot_sequence.h"
#include "mpheap/report/html_report.h"
#include "mpheap/report/output.h"
#include "mpheap/report/report_heap.h"
#include "mpheap/report/report_trace.h"
#include "mpheap/session/heap_session.h"
#include "mpheap/session/trace_session.h"

namespace mpheap::cli {
namespace {

struct ReportArgs {
  std::string trace;
  std::vector<std::string> heap;  // FILE@ADDR, each one dump or a sequence of dumps
  std::vector<std::string> mem;   // more FILE@ADDR, in every snapshot
  std::uint64_t dump_size = 0;
  std::size_t max_snapshots = 5000;
  std::optional<std::uint64_t> heap_blocks;
  std::string output;
  std::string title;
  std::string hook = "gc_log_change";
  bool python_only = false;  // trace::FrameView::python_only
  std::string regs, stack;   // roots beyond what the snapshots' headers carry, as mpheap heap
  session::TargetSource target;
};

int fail(const Error& e) {
  fmt::print(stderr, "mpheap report: {}\n", e.message());
  return exit_status(e);
}

// Decodes every dump of every --heap file, one at a time, into the report's summaries.
Expected<std::vector<report::SnapshotSummary>> read_snapshots(const ReportArgs& a,
                                                              session::HeapSession& session) {
  std::vector<report::SnapshotSummary> out;
  const target::Target& t = session.target();
  for (std::size_t file = 0; file < session.file_count(); ++file) {
    const session::DumpFile& d = session.file(file);
    std::string name = std::filesystem::path(d.path()).filename().string();
    for (std::uint64_t index = 0; index < d.count(); ++index) {
      if (out.size() >= a.max_snapshots)
        return Error{d.path(), 0, 0,
                     fmt::format("more than {} snapshots (--max-snapshots)", a.max_snapshots)};
      auto analyzed = session.analyze(file, index);
      if (!analyzed) return analyzed.error();
      const session::AnalyzedSnapshot& s = **analyzed;
      for (const std::string& m : s.messages(out.empty()))
        fmt::print(stderr, "mpheap report: {}\n", m);
      std::string label = d.count() > 1 ? fmt::format("{} #{}", name, index) : name;
      std::optional<double> time_ms;
      if (d.sequence() != nullptr) {
        const io::SnapshotHeader& h = d.sequence()->entries[index].header;
        if (!h.label.empty()) label += fmt::format(" '{}'", h.label);
        label += fmt::format(" ({:.0f} ms, {})", h.time_ms, h.trigger);
        time_ms = h.time_ms;
      }
      out.push_back(session::summarize(s, std::move(label), t));
      out.back().time_ms = time_ms;
    }
  }
  return out;
}

int run_report(const ReportArgs& a) {
  if (a.trace.empty() && a.heap.empty()) {
    fmt::print(stderr,
               "mpheap report: nothing to show: give a trace LOG and/or --heap DUMP@ADDR\n");
    return 2;
  }
  // The snapshots' pipeline is the one `mpheap heap` runs; without dumps, only the target.
  std::optional<session::HeapSession> heap_session;
  std::optional<session::LoadedTarget> target_only;
  const session::LoadedTarget* loaded = nullptr;
  if (!a.heap.empty()) {
    session::HeapRequest request;
    request.target = a.target;
    request.dumps = a.heap;
    request.memory = a.mem;
    request.dump_size = a.dump_size;
    request.registers = a.regs;
    request.stack = a.stack;
    auto opened = session::HeapSession::open(request);
    if (!opened) return fail(opened.error());
    heap_session = std::move(*opened);
    for (const std::string& n : heap_session->notes()) fmt::print(stderr, "mpheap report: {}\n", n);
    loaded = &heap_session->loaded();
  } else if (a.target.given()) {
    session::TargetSource ta = a.target;
    for (const std::string& m : a.mem) ta.ram.push_back(m);
    auto l = session::load_target(ta);
    if (!l) return fail(l.error());
    for (const std::string& n : l->notes) fmt::print(stderr, "mpheap report: note: {}\n", n);
    target_only = std::move(*l);
    loaded = &*target_only;
  }

  report::HtmlReportInput input;
  if (heap_session) {
    auto s = read_snapshots(a, *heap_session);
    if (!s) return fail(s.error());
    input.snapshots = std::move(*s);
  }

  std::optional<report::TraceReportData> trace;
  if (!a.trace.empty()) {
    report::TraceReportOptions to;
    to.hook = a.hook;
    to.frame_view = a.python_only ? trace::FrameView::python_only : trace::FrameView::mixed;
    if (a.target.block_size)
      to.block_size = *a.target.block_size;
    else if (loaded)
      to.block_size = loaded->target.block_size;
    // The heap's size in blocks: given, else the one heap area the dumps show.
    to.heap_blocks = a.heap_blocks;
    if (!to.heap_blocks && loaded && loaded->findings && loaded->findings->areas.size() == 1)
      to.heap_blocks = loaded->findings->areas.front().blocks();
    if (!to.heap_blocks && !input.snapshots.empty() && input.snapshots.front().areas.size() == 1)
      to.heap_blocks = input.snapshots.front().areas.front().blocks;
    auto log = io::LineReader::open(a.trace);
    if (!log) return fail(log.error());
    auto d = session::trace_report(**log, to);
    if (!d) return fail(d.error());
    trace = std::move(*d);
    input.trace = &*trace;
    input.trace_file = a.trace;
    input.block_size = trace->result.summary.block_size;
  } else {
    input.block_size = loaded->target.block_size;
  }
  input.title = !a.title.empty() ? a.title
                : !a.trace.empty()
                    ? std::filesystem::path(a.trace).filename().string()
                    : std::filesystem::path(heap_session->file(0).path()).filename().string();
  std::string page = report::html_report(input);
  auto written = report::write_text_file(a.output, page);
  if (!written) return fail(written.error());
  if (a.output != "-")
    fmt::print(stderr, "mpheap report: {} written ({:.1f} kB{}{})\n", a.output,
               static_cast<double>(page.size()) / 1000.0,
               trace ? fmt::format(", {} events", trace->result.summary.events) : "",
               input.snapshots.empty() ? ""
                                       : fmt::format(", {} snapshot{}", input.snapshots.size(),
                                                     input.snapshots.size() == 1 ? "" : "s"));
  return 0;
}

}  // namespace

void add_report_command(CLI::App& app, int* status) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "report", "Write one self-contained HTML file showing the heap over time and its snapshots.");
  cmd->add_option("TRACE", args->trace, "gdb log of GC activity (mpheap trace's input)");
  cmd->add_option("-o,--output", args->output, "the HTML file to write")->required();
  cmd->add_option("--heap", args->heap,
                  "RAM dumps FILE@ADDR (one dump or a sequence of dumps; repeatable): snapshots "
                  "with census, retainers and fragmentation");
  cmd->add_option("--mem", args->mem, "more memory in every snapshot: FILE@ADDR (repeatable)");
  cmd->add_option("--regs", args->regs,
                  "the registers when the dumps were taken (gdb's `info registers`): roots, and "
                  "the stack from SP to its top is scanned, as in mpheap heap --regs");
  cmd->add_option("--stack", args->stack,
                  "START:END of the C stack in the dumps, scanned as roots (as mpheap heap "
                  "--stack)");
  cmd->add_option("--dump-size", args->dump_size,
                  "bytes per dump in a sequence (default: the RAM region's size)");
  cmd->add_option("--max-snapshots", args->max_snapshots, "refuse more snapshots than this")
      ->capture_default_str();
  cmd->add_option("--heap-blocks", args->heap_blocks,
                  "the heap's size in blocks, for free blocks and free runs over the trace "
                  "(default: from the dumps)");
  cmd->add_option("--title", args->title, "the page's title (default: the input's file name)");
  cmd->add_option("--hook", args->hook, "the hook's function name in the log")
      ->capture_default_str();
  cmd->add_flag("--python-only", args->python_only, kPythonOnlyHelp);
  add_target_options(cmd, args->target);
  cmd->footer(
      "Examples:\n"
      "  mpheap report gc_log.txt -o report.html\n"
      "  mpheap report gc_log.txt --heap ram_seq.bin@0x20000000 --map firmware.map --nm "
      "firmware.nm -o report.html\n"
      "See docs/report.md.");
  cmd->callback([args, status] { *status = run_report(*args); });
}

}  // namespace mpheap::cli
