// `mpheap heap DUMP@ADDR ...`: decode RAM dumps (one snapshot, or a file of several dumps of
// the same region) into the heap's blocks and objects; print a summary, the mem_info(1) block
// map, or JSON.
#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <fstream>

#include "cli/commands.h"
#include "cli/target_options.h"
#include "mpheap/heap/diff.h"
#include "mpheap/heap/dominators.h"
#include "mpheap/heap/fragmentation.h"
#include "mpheap/heap/functions.h"
#include "mpheap/heap/graph.h"
#include "mpheap/heap/objects.h"
#include "mpheap/heap/python_path.h"
#include "mpheap/heap/snapshot.h"
#include "mpheap/heap/stack.h"
#include "mpheap/io/file.h"
#include "mpheap/io/registers.h"
#include "mpheap/io/snapshot_sequence.h"
#include "mpheap/report/heap_diff.h"
#include "mpheap/report/heap_dot.h"
#include "mpheap/report/heap_report.h"
#include "mpheap/report/heap_svg.h"
#include "mpheap/report/output.h"
#include "mpheap/session/heap_session.h"
#include "mpheap/trace/live_at.h"
#include "mpheap/trace/trace_analysis.h"
#include "mpheap/util/number.h"

namespace mpheap::cli {
namespace {

struct HeapArgs {
  session::TargetSource target;
  std::string dump;               // FILE@ADDR, maybe a sequence of dumps
  std::vector<std::string> mem;   // more FILE@ADDR
  std::string snapshot = "last";  // last | all | N (0-based)
  std::uint64_t dump_size = 0;    // bytes per dump in a sequence; 0 = the RAM region's size
  bool blockmap = false;
  bool json = false;
  std::string stack;                       // START:END, scanned as roots
  std::string regs;                        // gdb `info registers` output at the dump
  std::string why;                         // an address: its retainer path
  std::optional<std::uint64_t> can_alloc;  // bytes
  std::size_t top = 10;
  std::string trace;                         // a gdb log of the same run: allocation sites
  std::optional<std::uint64_t> trace_event;  // the snapshot was taken after this event
  bool python_only = false;                  // --trace's stacks: trace::FrameView::python_only
  std::string dot;                           // write the ownership graph here
  std::size_t dot_max_nodes = 200;
  std::string svg;                // write the block map as an SVG image here
  std::string diff_with;          // FILE@ADDR: compare against this dump
  std::vector<std::string> diff;  // A B: two snapshots of the sequence (index, last) or FILE@ADDR
};

Expected<std::uint64_t> parse_address(std::string_view s, const char* option) {
  if (auto v = parse_uint(s)) return *v;
  return Error{option, 0, 0, fmt::format("expected an address (0x... or decimal), found '{}'", s)};
}

int fail(const Error& e) {
  fmt::print(stderr, "mpheap heap: {}\n", e.message());
  return exit_status(e);
}

// Which dumps of the file --snapshot selects.
Expected<std::vector<std::uint64_t>> selected_snapshots(const HeapArgs& a,
                                                        const session::DumpFile& dumps) {
  const std::uint64_t count = dumps.count();
  std::vector<std::uint64_t> which;
  if (a.snapshot == "all") {
    for (std::uint64_t i = 0; i < count; ++i) which.push_back(i);
    return which;
  }
  if (a.snapshot == "last") return std::vector<std::uint64_t>{count - 1};
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(a.snapshot.data(), a.snapshot.data() + a.snapshot.size(), n);
  if (ec != std::errc() || p != a.snapshot.data() + a.snapshot.size())
    return Error{"--snapshot", 0, 0,
                 fmt::format("expected last, all or a number, found '{}'", a.snapshot)};
  if (n >= count)
    return Error{
        dumps.path(), 0, 0,
        fmt::format(
            "--snapshot {} is past the last dump: the file holds {} dumps of {} bytes (0..{})", n,
            count, dumps.size(), count - 1)};
  return std::vector<std::uint64_t>{n};
}

// --diff A B / --diff-with B: two snapshots, each a dump of the sequence (an index or "last")
// or another dump file placed at its address.
int run_diff(const HeapArgs& a, session::HeapSession& session, std::uint64_t selected) {
  const std::uint64_t count = session.file(0).count();
  std::vector<std::string> sides = a.diff;
  if (sides.empty()) sides = {std::to_string(selected), a.diff_with};
  std::vector<std::unique_ptr<session::AnalyzedSnapshot>> snaps;
  for (const std::string& side : sides) {
    Expected<std::unique_ptr<session::AnalyzedSnapshot>> snap = Error{};
    if (side.find('@') != std::string::npos) {
      snap = session.decode_other(side);
    } else {
      std::uint64_t n = count - 1;
      if (side != "last") {
        auto [p, ec] = std::from_chars(side.data(), side.data() + side.size(), n);
        if (ec != std::errc() || p != side.data() + side.size() || n >= count)
          return fail(
              Error{"--diff", 0, 0,
                    fmt::format("expected a snapshot index 0..{}, 'last' or FILE@ADDR, found '{}'",
                                count - 1, side)});
      }
      snap = session.decode(n);
    }
    if (!snap) return fail(snap.error());
    snaps.push_back(std::move(*snap));
  }
  const target::Target& t = session.target();
  fmt::print("{}", report::diff_text(
                       heap::diff_snapshots(snaps[0]->snapshot, snaps[1]->snapshot, t.block_size),
                       t.block_size));
  return 0;
}

// Analyses of one decoded snapshot: reachability from the roots, dominators, free runs.
void print_analyses(const HeapArgs& a, const session::AnalyzedSnapshot& s,
                    const target::Target& t) {
  const heap::Snapshot& snap = s.snapshot;
  const heap::SnapshotAnalysis& an = s.analysis;
  const std::optional<heap::AddressRange>& py = an.graph.pystack;
  fmt::print(
      "reachable: {} bytes from {} roots; garbage awaiting collection: {} objects, {} bytes{}{}\n",
      an.dominators.total_reachable_bytes, an.graph.roots.size(), an.reach.garbage_objects,
      an.reach.garbage_bytes,
      py ? fmt::format(" (pystack 0x{:x}..0x{:x} scanned, {} bytes in use)", py->start, py->end,
                       py->end - py->start)
         : std::string(),
      s.stack_scanned() ? ""
                        : " (stack not scanned: give --regs or --stack; objects only the stack "
                          "holds count as garbage)");
  heap::FreeRuns runs = heap::free_runs(snap);
  fmt::print("largest free run: {} blocks = {} bytes\n", runs.largest, runs.largest * t.block_size);
  auto top = heap::top_retainers(snap, an.dominators, a.top);
  if (!top.empty()) fmt::print("top retainers (retained / own bytes):\n");
  for (const heap::Retainer& x : top) {
    const heap::HeapObject& o = snap.objects[x.object];
    fmt::print("  {:>8} {:>6}  {:#x} {}\n", x.retained_bytes, x.own_bytes, o.address,
               heap::object_type_label(snap, o));
  }
}

// The area a heap that grows (MICROPY_GC_SPLIT_HEAP_AUTO) adds for the request; true when that
// settles the answer (it fits in the new area, or the port's limit refuses the area).
bool print_heap_growth(const heap::CanAllocResult& c, const target::Target& t,
                       std::uint64_t bytes) {
  const target::HeapGrowth& g = *c.growth;
  const std::uint64_t bs = t.block_size, now = c.blocks_now * bs;
  if (g.over_limit) {
    fmt::print(
        "  the heap grows (MICROPY_GC_SPLIT_HEAP_AUTO) only by an area the port can give: this "
        "request needs {} bytes with table overhead, the port's limit (`max new split`) is {} "
        "bytes, so no area is added and the allocation fails\n",
        g.needed, t.gc_max_new_split.value_or(0));
    return true;
  }
  fmt::print(
      "  the heap grows (MICROPY_GC_SPLIT_HEAP_AUTO): with no free run large enough {}, the "
      "collector (gc_try_add_heap) asks the system for a new area of {} bytes (the larger of the "
      "heap's {} blocks with their tables and record, and the {} bytes this request needs with "
      "table overhead)\n",
      t.gc_collect_deferred ? "now" : "after the collection", g.requested, c.blocks_now, g.needed);
  if (g.min_blocks == g.max_blocks)
    fmt::print("  the new area holds {} blocks ({} bytes): the heap grows from {} to {} bytes\n",
               g.min_blocks, g.min_blocks * bs, now, now + g.min_blocks * bs);
  else
    fmt::print(
        "  the new area holds {} blocks ({} bytes; {} when the system returns a {}-byte aligned "
        "address): the heap grows from {} to {} bytes (or {})\n",
        g.min_blocks, g.min_blocks * bs, g.max_blocks, bs, now, now + g.min_blocks * bs,
        now + g.max_blocks * bs);
  fmt::print("  {} needs {} blocks: {}\n", bytes, c.blocks,
             c.grows_fits      ? "it fits in the new area"
             : c.grows_may_fit ? "it fits only if the system's address is aligned"
                               : "more than the new area holds");
  if (t.gc_max_new_split)
    fmt::print(
        "  within the port's limit for a new area (`max new split`: {} bytes), provided the "
        "system's allocator has that much\n",
        *t.gc_max_new_split);
  else
    fmt::print(
        "  provided the system heap can give {} bytes (the port's limit, gc_get_max_new_split(), "
        "is what mem_info prints as `max new split`; it is not in the dump)\n",
        g.requested);
  return c.grows_fits || c.grows_may_fit;
}

// --can-alloc N: would it fit, and if not, which live objects keep the free space apart.
Expected<int> print_can_alloc(const HeapArgs& a, const session::AnalyzedSnapshot& s,
                              const target::Target& t) {
  const heap::Snapshot& snap = s.snapshot;
  const heap::SnapshotAnalysis& an = s.analysis;
  heap::CanAllocOptions options;
  options.heap_grows = t.gc_split_heap_auto;
  options.area_record_size = t.state.area.size;
  options.finaliser = t.state.area.gc_finaliser_table_start.has_value();
  options.max_new_split = t.gc_max_new_split;
  options.collect_deferred = t.gc_collect_deferred;
  heap::CanAllocResult c = heap::can_alloc(snap, an.graph, an.reach, *a.can_alloc, options);
  const bool grows = !c.fits_after_collect && c.growth.has_value();
  fmt::print("can allocate {} bytes: {}\n", *a.can_alloc,
             c.fits_after_collect ? "yes"
             : c.grows_fits
                 ? fmt::format("yes, by adding a heap area of {} bytes", c.growth->requested)
             : c.grows_may_fit
                 ? fmt::format("maybe, by adding a heap area of {} bytes", c.growth->requested)
                 : std::string("no"));
  if (t.gc_collect_deferred)
    fmt::print(
        "  {} blocks needed; largest free run {} blocks (this port's gc_collect() only schedules "
        "a collection, run when control returns to JS: the {} objects, {} bytes of garbage are "
        "not freed before the heap grows)\n",
        c.blocks, c.largest_free_now, c.garbage_objects, c.garbage_bytes);
  else
    fmt::print(
        "  {} blocks needed; largest free run {} blocks now, {} after a collection (which would "
        "free {} objects, {} bytes)\n",
        c.blocks, c.largest_free_now, c.largest_free_after_collect, c.garbage_objects,
        c.garbage_bytes);
  if (grows && print_heap_growth(c, t, *a.can_alloc)) return 0;
  if (c.larger_than_any_area()) {
    fmt::print(
        "  {} blocks needed, but the heap{} {} blocks = {} bytes: no arrangement of it can hold "
        "the request\n",
        c.blocks, snap.areas.size() > 1 ? "'s largest area has" : " has", c.largest_area_blocks,
        c.largest_area_blocks * t.block_size);
    return 0;
  }
  if (c.fits_now)
    fmt::print("  fits without collecting\n");
  else if (c.fits_after_collect)
    fmt::print("  fits only after the collection the allocator runs first\n");
  if (!c.pinning.empty())
    fmt::print("  live objects that keep the free space apart (freeing one alone would leave):\n");
  // Allocation sites from the trace of the same run, matched by start block (first area).
  std::optional<trace::LiveAllocations> live;
  if (!a.trace.empty()) {
    auto log = io::LineReader::open(a.trace);
    if (!log) return log.error();
    auto l = trace::live_allocations_at(
        **log, a.trace_event, "gc_log_change",
        a.python_only ? trace::FrameView::python_only : trace::FrameView::mixed);
    if (!l) return l.error();
    live = std::move(*l);
  }
  for (const heap::PinningObject& p : c.pinning) {
    auto py = heap::python_path(snap, an.graph, an.reach, *s.reader, t, p.object);
    std::string site;
    if (live && snap.objects[p.object].area == 0) {
      auto it = live->live.find(snap.objects[p.object].block);
      if (it == live->live.end()) {
        site = "; not live in the trace at that event";
      } else if (auto f = trace::allocation_site(live->stacks, it->second.start_stack)) {
        const trace::Frame& fr = live->stacks.frame(*f);
        site = fmt::format("; allocated at {} {} (event {})", fr.location, fr.function,
                           it->second.start_time);
      }
    }
    fmt::print("    {:#x} {} ({} blocks): a run of {} blocks{}; held by {}\n", p.address,
               p.type.empty() ? "unknown" : p.type, p.blocks, p.run_if_freed,
               p.allows_alloc ? ", enough" : "", py.value_or(p.retainer_path));
    if (!site.empty()) fmt::print("      {}\n", site.substr(2));
  }
  return 0;
}

// --why ADDR: the shortest path from a root, in Python terms and as addresses.
Expected<int> print_why(const HeapArgs& a, const session::AnalyzedSnapshot& s,
                        const target::Target& t) {
  const heap::Snapshot& snap = s.snapshot;
  const heap::SnapshotAnalysis& an = s.analysis;
  auto addr = parse_address(a.why, "--why");
  if (!addr) return addr.error();
  auto path = heap::retainer_path(snap, an.graph, an.reach, *addr);
  auto held = heap::object_containing(snap, *addr, t.block_size);
  if (!s.python_frames_note.empty()) fmt::print(stderr, "mpheap heap: {}\n", s.python_frames_note);
  if (path && held) {
    // A slot of a running Python function's frame: say whose, before the paths.
    if (const heap::RootRef* root = heap::path_root(an.graph, an.reach, *held);
        root != nullptr && root->python_frame)
      fmt::print("{:#x}: held by {}\n", snap.objects[*held].address, root->name);
    if (auto py = heap::python_path(snap, an.graph, an.reach, *s.reader, t, *held))
      fmt::print("{}\n", *py);
    fmt::print("{}\n", *path);
    if (std::string flags = report::object_flags_text(snap.objects[*held]); !flags.empty())
      fmt::print("{:#x}: {}\n", snap.objects[*held].address, flags);
    return 0;
  }
  fmt::print("{:#x}: {}\n", *addr,
             s.reader->object_at(*addr) ? "garbage: no root reaches it" : "not in any allocation");
  return 1;
}

int run_heap(const HeapArgs& a) {
  session::HeapRequest request;
  request.target = a.target;
  request.dumps = {a.dump};
  request.memory = a.mem;
  request.dump_size = a.dump_size;
  request.stack = a.stack;
  request.registers = a.regs;
  auto opened = session::HeapSession::open(request);
  if (!opened) return fail(opened.error());
  session::HeapSession& session = *opened;
  for (const std::string& n : session.notes()) fmt::print(stderr, "mpheap heap: {}\n", n);
  const target::Target& t = session.target();
  const session::DumpFile& dumps = session.file(0);
  const std::uint64_t count = dumps.count();
  auto which = selected_snapshots(a, dumps);
  if (!which) return fail(which.error());

  if (!a.diff.empty() || !a.diff_with.empty()) return run_diff(a, session, which->back());

  int status = 0;
  for (std::uint64_t index : *which) {
    auto analyzed = session.analyze(0, index);
    if (!analyzed) {
      // A snapshot whose heap cannot be decoded: the others are still shown.
      fmt::print(stderr, "mpheap heap: {}\n", analyzed.error().message());
      status = 1;
      continue;
    }
    const session::AnalyzedSnapshot& s = **analyzed;
    for (const std::string& m : s.messages(index == which->front()))
      fmt::print(stderr, "mpheap heap: {}\n", m);
    if (!a.dot.empty()) {
      report::DotOptions dot_options;
      dot_options.max_nodes = a.dot_max_nodes;
      auto written = report::write_text_file(
          a.dot, report::ownership_dot(s.snapshot, s.analysis.graph, *s.reader, t, dot_options));
      if (!written) return fail(written.error());
      fmt::print(stderr, "mpheap heap: ownership graph of snapshot {} written to {}\n", index,
                 a.dot);
    }
    if (!a.svg.empty()) {
      report::HeapSvgOptions svg_options;
      svg_options.title = fmt::format("{} snapshot {}", dumps.path(), index);
      auto written = report::write_text_file(a.svg, report::heap_svg(s.snapshot, t, svg_options));
      if (!written) return fail(written.error());
      fmt::print(stderr, "mpheap heap: block map of snapshot {} written to {}\n", index, a.svg);
    }
    if (a.can_alloc) {
      auto r = print_can_alloc(a, s, t);
      if (!r) return fail(r.error());
      continue;
    }
    if (!a.why.empty()) {
      auto r = print_why(a, s, t);
      if (!r) return fail(r.error());
      status = std::max(status, *r);
      continue;
    }
    // The capture's words for the moment: the program's label (mpheap_snap), the trigger, when.
    const io::SnapshotHeader* header =
        dumps.sequence() != nullptr ? &dumps.sequence()->entries[index].header : nullptr;
    if (count > 1 && !a.json) {
      std::string when;
      if (header != nullptr)
        when = fmt::format("{}{}, {:.0f} ms, ",
                           header->label.empty() ? "" : fmt::format("'{}', ", header->label),
                           header->trigger.empty() ? "-" : header->trigger, header->time_ms);
      fmt::print("{}snapshot {} of {} ({}file offset {})\n", index == which->front() ? "" : "\n",
                 index, count, when, dumps.file_offset(index * dumps.size()));
    }
    if (a.json) {
      // The same summary the HTML report shows: garbage, retained sizes, what holds each object.
      report::SnapshotSummary summary =
          session::summarize(s, header != nullptr ? header->label : "", t);
      std::string buffer;
      report::write_snapshot_json(
          buffer,
          [](std::string& b) {
            std::fwrite(b.data(), 1, b.size(), stdout);
            b.clear();
          },
          s.snapshot, t, index, &summary);
    } else if (a.blockmap) {
      fmt::print("{}{}", report::gc_info_text(s.snapshot.totals), report::blockmap(s.snapshot, t));
    } else {
      fmt::print("{}", report::heap_summary(s.snapshot, t));
      print_analyses(a, s, t);
      std::size_t named = 0;
      for (const heap::FunctionInfo& f : s.functions) named += f.name.empty() ? 0 : 1;
      if (!s.functions.empty())
        fmt::print("functions defined in Python: {} ({} named from their bytecode)\n",
                   s.functions.size(), named);
      for (const heap::FunctionInfo& f : s.functions)
        if (!f.name.empty())
          fmt::print("  {:#x} {}: bytecode {:#x}\n", f.object, heap::describe(f), f.bytecode);
      auto globals = s.reader->globals();
      if (!globals.empty() && t.rom_qstrs.empty())
        fmt::print(stderr,
                   "mpheap heap: note: names built into the firmware show as qstr#N: its ROM "
                   "qstrs are not known; pass --qstrs FILE (a list, or qstrdefs.generated.h of the "
                   "build), or use its ELF or image (docs/target.md)\n");
      if (!globals.empty()) {
        fmt::print("__main__ globals:\n");
        for (const auto& [name, value] : globals)
          fmt::print("  {} = {}\n", name, s.reader->repr(value));
      }
    }
  }
  return status;
}

}  // namespace

void add_heap_command(CLI::App& app, int* status) {
  auto args = std::make_shared<HeapArgs>();
  CLI::App* cmd =
      app.add_subcommand("heap", "Decode RAM dumps into the heap's blocks, objects and totals.");
  cmd->add_option("DUMP", args->dump,
                  "RAM dump placed at its address, FILE@ADDR, or a snapshot sequence written by "
                  "mpheap capture snapshots (FILE)")
      ->required();
  add_target_options(cmd, args->target);
  cmd->add_option("--mem", args->mem, "more memory: FILE@ADDR (repeatable)");
  cmd->add_option("--snapshot", args->snapshot,
                  "which dump of a sequence: last, all or N (0-based)")
      ->capture_default_str();
  cmd->add_option("--dump-size", args->dump_size,
                  "bytes per dump in a sequence (default: the RAM region's size)");
  CLI::Option* blockmap = cmd->add_flag("--blockmap", args->blockmap,
                                        "print the block map micropython.mem_info(1) prints");
  CLI::Option* json = cmd->add_flag("--json", args->json, "print the snapshot as JSON");
  cmd->add_option("--regs", args->regs,
                  "the target's registers when the dump was taken, as gdb's `info registers` "
                  "prints them: their values are roots, and the stack from SP to its top "
                  "(mp_state_ctx.thread.stack_top in the dump, else the stack-top symbol) is "
                  "scanned as gc_collect scans it");
  cmd->add_option("--stack", args->stack,
                  "START:END run-time addresses of the C stack in the dumps, scanned as roots (SP "
                  ".. stack_top); overrides the range --regs gives");
  CLI::Option* why = cmd->add_option(
      "--why", args->why,
      "print the shortest path from a root to the object at this address (a root in a running "
      "Python function's frame is named after it: needs --elf and the snapshot's registers)");
  CLI::Option* can_alloc = cmd->add_option(
      "--can-alloc", args->can_alloc,
      "would an allocation of N bytes succeed (after the collection the allocator runs first)? "
      "If not, which live objects pin the free space");
  cmd->add_option("--top", args->top, "retainers listed in the summary")->capture_default_str();
  cmd->add_option("--dot", args->dot,
                  "write the ownership graph as Graphviz DOT (labels: str text, dict keys, qstrs); "
                  "render with `dot -Tsvg FILE > heap.svg`");
  cmd->add_option("--svg", args->svg,
                  "write the block map as an SVG image: one cell per block coloured by type, "
                  "tooltips with address, type and size");
  cmd->add_option("--dot-max-nodes", args->dot_max_nodes,
                  "draw at most this many objects, the largest retainers first (0 = all)")
      ->capture_default_str();
  CLI::Option* diff =
      cmd->add_option(
             "--diff", args->diff,
             "compare two snapshots A B: indices of the dump sequence ('last' too) or other "
             "dumps FILE@ADDR of the same region: new, freed and resized objects by type")
          ->expected(2);
  CLI::Option* diff_with = cmd->add_option(
      "--diff-with", args->diff_with,
      "compare the snapshot with another dump FILE@ADDR of the same region: new, freed "
      "and resized objects by type");
  CLI::Option* trace_log = cmd->add_option(
      "--trace", args->trace,
      "a gdb log of the same run (mpheap trace's input): --can-alloc then names the code that "
      "allocated each pinning object");
  cmd->add_option(
      "--trace-event", args->trace_event,
      "the snapshot was taken after this event of --trace (default: the log's last event)");
  cmd->add_flag("--python-only", args->python_only,
                std::string("--trace: ") + kPythonOnlyHelp +
                    " (the pinning objects are then named by the Python line that allocated them)")
      ->needs(trace_log);
  // Each of these chooses what is printed: one at a time.
  const std::vector<CLI::Option*> modes = {blockmap, json, why, can_alloc, diff, diff_with};
  for (CLI::Option* m : modes)
    for (CLI::Option* other : modes)
      if (m != other) m->excludes(other);
  cmd->footer(
      "Examples:\n"
      "  mpheap heap ram.bin@0x20000000 --map firmware.map --nm firmware.nm --blockmap\n"
      "  mpheap heap ram.bin@0x20000000 --target target.json --regs regs.txt --why 0x20000490\n"
      "  (regs.txt: `info registers` in gdb, halted where the dump was taken)\n"
      "  mpheap heap ram.bin@0x20000000 --target target.json --can-alloc 4096\n"
      "  mpheap heap ram_seq.bin@0x20000000 --target target.json --snapshot all --blockmap\n"
      "See docs/heap.md.");
  cmd->callback([args, status] { *status = run_heap(*args); });
}

}  // namespace mpheap::cli
