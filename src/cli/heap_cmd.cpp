// `mpheap heap DUMP@ADDR ...`: decode RAM dumps (one snapshot, or a file of several dumps of
// the same region) into the heap's blocks and objects; print a summary, the mem_info(1) block
// map, or JSON.
#include <fmt/format.h>

#include <charconv>
#include <fstream>

#include "cli/commands.h"
#include "cli/dump_file.h"
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
#include "mpheap/trace/live_at.h"
#include "mpheap/trace/trace_analysis.h"
#include "mpheap/util/number.h"

namespace mpheap::cli {
namespace {

struct HeapArgs {
  TargetArgs target;
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

// Analyses of one decoded snapshot: reachability from the roots, dominators, free runs.
void print_analyses(const HeapArgs& a, const heap::Snapshot& snap, const target::Target& t,
                    const heap::ObjectGraph& g, const heap::Reachability& r, bool stack_scanned) {
  heap::DominatorTree d = heap::dominators(snap, g);
  std::uint64_t garbage = 0, garbage_bytes = 0;
  for (std::size_t i = 0; i < snap.objects.size(); ++i)
    if (r.reachable[i] == 0) {
      ++garbage;
      garbage_bytes += snap.objects[i].blocks * t.block_size;
    }
  fmt::print(
      "reachable: {} bytes from {} roots; garbage awaiting collection: {} objects, {} bytes{}\n",
      d.total_reachable_bytes, g.roots.size(), garbage, garbage_bytes,
      stack_scanned ? ""
                    : " (stack not scanned: give --regs or --stack; objects only the stack holds "
                      "count as garbage)");
  heap::FreeRuns runs = heap::free_runs(snap);
  fmt::print("largest free run: {} blocks = {} bytes\n", runs.largest, runs.largest * t.block_size);
  auto top = heap::top_retainers(snap, d, a.top);
  if (!top.empty()) fmt::print("top retainers (retained / own bytes):\n");
  for (const heap::Retainer& x : top) {
    const heap::HeapObject& o = snap.objects[x.object];
    fmt::print("  {:>8} {:>6}  {:#x} {}\n", x.retained_bytes, x.own_bytes, o.address,
               heap::object_type_label(o));
  }
}

}  // namespace

namespace {

int fail(const Error& e) {
  fmt::print(stderr, "mpheap heap: {}\n", e.message());
  return 1;
}

// The roots a user gave: --stack START:END, and --regs (gdb's `info registers`) with its SP.
struct GivenRoots {
  std::optional<heap::AddressRange> stack;
  std::vector<io::Register> registers;
  std::optional<std::uint64_t> sp;
  std::string regs_path;
};

Expected<GivenRoots> given_roots(const HeapArgs& a) {
  GivenRoots g;
  g.regs_path = a.regs;
  if (!a.stack.empty()) {
    auto colon = a.stack.find(':');
    auto lo = parse_address(std::string_view(a.stack).substr(0, colon), "--stack");
    auto hi = colon == std::string::npos
                  ? lo
                  : parse_address(std::string_view(a.stack).substr(colon + 1), "--stack");
    if (!lo || !hi || colon == std::string::npos || *hi <= *lo)
      return Error{"--stack", 0, 0,
                   fmt::format("expected START:END addresses of the stack, found '{}'", a.stack)};
    g.stack = heap::AddressRange{*lo, *hi};
  }
  if (!a.regs.empty()) {
    auto text = io::read_whole_file(a.regs);
    if (!text) return text.error();
    auto parsed = io::parse_registers(*text, a.regs);
    if (!parsed) return parsed.error();
    g.registers = std::move(*parsed);
    g.sp = io::stack_pointer(g.registers);
    if (!g.sp && !g.stack)
      return Error{a.regs, 0, 0,
                   "no stack pointer among the registers (expected sp, rsp, esp or a1)"};
  }
  return g;
}

// One snapshot's roots beyond mp_state_ctx and .data/.bss: the registers (--regs, else those
// `mpheap capture snapshots` kept in the snapshot's header) and the stack from their SP to the
// stack's top (--stack overrides). Registers given by the user that do not fit the dump are an
// error; a header's are a warning (the snapshot is still analysed, without the stack).
struct StackRoots {
  heap::GraphOptions options;
  std::vector<std::string> notes;  // how the stack was found, or why a header's were not used
  std::string warning;             // this snapshot's stack is not scanned, and why
};

Expected<StackRoots> stack_roots(const GivenRoots& given, const target::Target& t,
                                 const io::MemoryImage& mem, std::uint64_t bias,
                                 const io::SnapshotHeader* header, std::uint64_t index) {
  StackRoots out;
  out.options.registers = given.registers;
  std::optional<std::uint64_t> sp = given.sp;
  std::string from = given.regs_path;
  const bool from_header =
      given.regs_path.empty() && !given.stack && header != nullptr && !header->registers.empty();
  if (from_header) {
    auto g = io::registers_from_g_reply(header->registers, t.machine, t.word_size, t.little_endian);
    if (!g) {
      out.notes.push_back(fmt::format(
          "note: the registers in the snapshots' headers are not used: {}; give --regs or --stack",
          g.error().what));
      return out;
    }
    out.options.registers = std::move(*g);
    sp = io::stack_pointer(out.options.registers);
    from = fmt::format("snapshot {}'s header", index);
  }
  if (given.stack) {
    out.options.stack = given.stack;
    return out;
  }
  if (!sp) return out;
  auto top = heap::find_stack_top(t, mem, bias);
  auto range = top ? heap::stack_range(*sp, *top)
                   : Expected<heap::AddressRange>(
                         Error{from, 0, 0,
                               "the stack's top is not known (no mp_state_ctx.thread.stack_top "
                               "in the dump, no stack-top symbol): give --stack SP:TOP"});
  if (!range) {
    if (!from_header) return Error{from, 0, 0, range.error().what};
    out.warning = fmt::format("the stack is not scanned: {}", range.error().what);
    return out;
  }
  out.options.stack = *range;
  out.notes.push_back(fmt::format("scanning the stack 0x{:x}..0x{:x}: SP from {}, top {}",
                                  range->start, range->end, from, top->how));
  return out;
}

int run_heap(const HeapArgs& a) {
  // A snapshot sequence (mpheap capture snapshots) names its dumps' address and size itself;
  // its dumps are read as if laid end to end (file_offset maps such an offset into the file).
  auto opened = DumpFile::open(a.dump, a.dump_size);
  if (!opened) return fail(opened.error());
  DumpFile& dumps = *opened;
  const io::SnapshotDumps* seq = dumps.sequence();

  // The target, with layouts looked for in the first dump.
  auto first = dumps.read_probe();
  if (!first) return fail(first.error());
  io::MemoryImage extra;
  extra.add(std::move(*first));
  TargetArgs ta = a.target;
  for (const std::string& m : a.mem) ta.ram.push_back(m);
  auto loaded = load_target(ta, std::move(extra));
  if (!loaded) return fail(loaded.error());
  for (const std::string& n : loaded->notes) fmt::print(stderr, "mpheap heap: note: {}\n", n);
  const target::Target& t = loaded->target;
  std::uint64_t bias = loaded->findings ? loaded->findings->load_bias : 0;

  // Raw dumps: as many dumps of the RAM region the address starts (or of --dump-size bytes) as
  // the file holds.
  if (auto warning = dumps.settle_size(t)) fmt::print(stderr, "mpheap heap: {}\n", *warning);
  const std::uint64_t count = dumps.count();
  const std::uint64_t size = dumps.size();
  std::vector<std::uint64_t> which;
  if (a.snapshot == "all") {
    for (std::uint64_t i = 0; i < count; ++i) which.push_back(i);
  } else if (a.snapshot == "last") {
    which.push_back(count - 1);
  } else {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(a.snapshot.data(), a.snapshot.data() + a.snapshot.size(), n);
    if (ec != std::errc() || p != a.snapshot.data() + a.snapshot.size())
      return fail(Error{"--snapshot", 0, 0,
                        fmt::format("expected last, all or a number, found '{}'", a.snapshot)});
    if (n >= count)
      return fail(Error{
          dumps.path(), 0, 0,
          fmt::format(
              "--snapshot {} is past the last dump: the file holds {} dumps of {} bytes (0..{})", n,
              count, size, count - 1)});
    which.push_back(n);
  }

  // --diff-with: the selected snapshot against another dump of the same region.
  auto decode_typed = [&](io::MemoryImage& mem) -> Expected<heap::Snapshot> {
    auto snap = heap::decode_snapshot(t, mem, bias);
    if (!snap) return snap;
    heap::ObjectReader reader(t, mem, *snap);
    heap::name_objects(*snap, reader, t);
    return snap;
  };
  // --diff A B / --diff-with B: two snapshots, each a dump of the sequence (an index or
  // "last") or another dump file placed at its address.
  if (!a.diff.empty() || !a.diff_with.empty()) {
    std::vector<std::string> sides = a.diff;
    if (sides.empty()) sides = {std::to_string(which.back()), a.diff_with};
    std::vector<heap::Snapshot> snaps;
    for (const std::string& side : sides) {
      io::MemoryImage mem;
      for (const io::MemoryRange& r : loaded->ram.ranges())
        if (r.source != dumps.path()) mem.add(r);
      if (side.find('@') != std::string::npos) {
        if (auto added = io::add_placed_file(mem, side); !added) return fail(added.error());
      } else {
        std::uint64_t n = count - 1;
        if (side != "last") {
          auto [p, ec] = std::from_chars(side.data(), side.data() + side.size(), n);
          if (ec != std::errc() || p != side.data() + side.size() || n >= count)
            return fail(Error{
                "--diff", 0, 0,
                fmt::format("expected a snapshot index 0..{}, 'last' or FILE@ADDR, found '{}'",
                            count - 1, side)});
        }
        auto slice = dumps.read_dump(n);
        if (!slice) return fail(slice.error());
        mem.add(std::move(*slice));
      }
      auto snap = decode_typed(mem);
      if (!snap) return fail(snap.error());
      snaps.push_back(std::move(*snap));
    }
    fmt::print("{}", report::diff_text(heap::diff_snapshots(snaps[0], snaps[1], t.block_size),
                                       t.block_size));
    return 0;
  }

  // Roots beyond mp_state_ctx and .data/.bss: the registers and the stack from SP to its top.
  auto given = given_roots(a);
  if (!given) return fail(given.error());

  int status = 0;
  for (std::uint64_t index : which) {
    io::MemoryImage mem;
    for (const io::MemoryRange& r : loaded->ram.ranges())
      if (r.source != dumps.path()) mem.add(r);
    auto slice = dumps.read_dump(index);
    if (!slice) return fail(slice.error());
    mem.add(std::move(*slice));
    auto snap = heap::decode_snapshot(t, mem, bias);
    if (!snap) {
      fmt::print(stderr, "mpheap heap: {}: snapshot {}: {}\n", dumps.path(), index,
                 snap.error().message());
      status = 1;
      continue;
    }
    heap::ObjectReader reader(t, mem, *snap);
    std::vector<heap::FunctionInfo> functions = heap::name_objects(*snap, reader, t);
    for (const heap::Diagnostic& d : snap->diagnostics) {
      // Where in the file: the byte offset when the address lies in this dump.
      std::string where =
          d.address >= dumps.address() && d.address - dumps.address() < size
              ? fmt::format("byte {}",
                            dumps.file_offset(index * size + (d.address - dumps.address())))
              : fmt::format("address 0x{:x}", d.address);
      fmt::print(stderr, "mpheap heap: {}: snapshot {}: {}: {}\n", dumps.path(), index, where,
                 d.what);
    }
    const io::SnapshotHeader* header =
        seq != nullptr && index < seq->entries.size() ? &seq->entries[index].header : nullptr;
    auto roots = stack_roots(*given, t, mem, bias, header, index);
    if (!roots) return fail(roots.error());
    if (index == which.front())
      for (const std::string& n : roots->notes) fmt::print(stderr, "mpheap heap: {}\n", n);
    if (!roots->warning.empty())
      fmt::print(stderr, "mpheap heap: {}: snapshot {}: {}\n", dumps.path(), index, roots->warning);
    const heap::GraphOptions& go = roots->options;
    heap::ObjectGraph graph = heap::build_graph(t, mem, *snap, go);
    heap::Reachability reach = heap::reachability(*snap, graph);
    if (!a.dot.empty()) {
      report::DotOptions dot_options;
      dot_options.max_nodes = a.dot_max_nodes;
      auto written = report::write_text_file(
          a.dot, report::ownership_dot(*snap, graph, reader, t, dot_options));
      if (!written) return fail(written.error());
      fmt::print(stderr, "mpheap heap: ownership graph of snapshot {} written to {}\n", index,
                 a.dot);
    }
    if (!a.svg.empty()) {
      report::HeapSvgOptions svg_options;
      svg_options.title = fmt::format("{} snapshot {}", dumps.path(), index);
      auto written = report::write_text_file(a.svg, report::heap_svg(*snap, t, svg_options));
      if (!written) return fail(written.error());
      fmt::print(stderr, "mpheap heap: block map of snapshot {} written to {}\n", index, a.svg);
    }
    if (a.can_alloc) {
      heap::CanAllocResult c = heap::can_alloc(*snap, graph, *a.can_alloc);
      fmt::print("can allocate {} bytes: {}\n", *a.can_alloc, c.fits_after_collect ? "yes" : "no");
      fmt::print(
          "  {} blocks needed; largest free run {} blocks now, {} after a collection (which would "
          "free {} objects, {} bytes)\n",
          c.blocks, c.largest_free_now, c.largest_free_after_collect, c.garbage_objects,
          c.garbage_bytes);
      if (c.fits_now)
        fmt::print("  fits without collecting\n");
      else if (c.fits_after_collect)
        fmt::print("  fits only after the collection the allocator runs first\n");
      if (!c.pinning.empty())
        fmt::print(
            "  live objects that keep the free space apart (freeing one alone would leave):\n");
      // Allocation sites from the trace of the same run, matched by start block (first area).
      std::optional<trace::LiveAllocations> live;
      if (!a.trace.empty()) {
        auto log = io::LineReader::open(a.trace);
        if (!log) return fail(log.error());
        auto l = trace::live_allocations_at(**log, a.trace_event);
        if (!l) return fail(l.error());
        live = std::move(*l);
      }
      for (const heap::PinningObject& p : c.pinning) {
        auto py = heap::python_path(*snap, graph, reach, reader, t, p.object);
        std::string site;
        if (live && snap->objects[p.object].area == 0) {
          auto it = live->live.find(snap->objects[p.object].block);
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
      continue;
    }
    if (!a.why.empty()) {
      auto addr = parse_address(a.why, "--why");
      if (!addr) return fail(addr.error());
      auto path = heap::retainer_path(*snap, graph, reach, *addr);
      auto held = heap::object_containing(*snap, *addr, t.block_size);
      if (path && held) {
        if (auto py = heap::python_path(*snap, graph, reach, reader, t, *held))
          fmt::print("{}\n", *py);
        fmt::print("{}\n", *path);
        if (std::string flags = report::object_flags_text(snap->objects[*held]); !flags.empty())
          fmt::print("{:#x}: {}\n", snap->objects[*held].address, flags);
      } else {
        fmt::print(
            "{:#x}: {}\n", *addr,
            reader.object_at(*addr) ? "garbage: no root reaches it" : "not in any allocation");
        status = 1;
      }
      continue;
    }
    if (count > 1 && !a.json)
      fmt::print("{}snapshot {} of {} (file offset {})\n", index == which.front() ? "" : "\n",
                 index, count, dumps.file_offset(index * size));
    if (a.json) {
      fmt::print("{}", report::snapshot_json(*snap, t, index));
    } else if (a.blockmap) {
      fmt::print("{}{}", report::gc_info_text(snap->totals), report::blockmap(*snap, t));
    } else {
      fmt::print("{}", report::heap_summary(*snap, t));
      print_analyses(a, *snap, t, graph, reach, go.stack.has_value());
      std::size_t named = 0;
      for (const heap::FunctionInfo& f : functions) named += f.name.empty() ? 0 : 1;
      if (!functions.empty())
        fmt::print("functions defined in Python: {} ({} named from their bytecode)\n",
                   functions.size(), named);
      for (const heap::FunctionInfo& f : functions)
        if (!f.name.empty())
          fmt::print("  {:#x} {}: bytecode {:#x}\n", f.object, heap::describe(f), f.bytecode);
      auto globals = reader.globals();
      if (!globals.empty()) {
        fmt::print("__main__ globals:\n");
        for (const auto& [name, value] : globals)
          fmt::print("  {} = {}\n", name, reader.repr(value));
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
  cmd->add_flag("--blockmap", args->blockmap, "print the block map micropython.mem_info(1) prints");
  cmd->add_flag("--json", args->json, "print the snapshot as JSON");
  cmd->add_option("--regs", args->regs,
                  "the target's registers when the dump was taken, as gdb's `info registers` "
                  "prints them: their values are roots, and the stack from SP to its top "
                  "(mp_state_ctx.thread.stack_top in the dump, else the stack-top symbol) is "
                  "scanned as gc_collect scans it");
  cmd->add_option("--stack", args->stack,
                  "START:END run-time addresses of the C stack in the dumps, scanned as roots (SP "
                  ".. stack_top); overrides the range --regs gives");
  cmd->add_option("--why", args->why,
                  "print the shortest path from a root to the object at this address");
  cmd->add_option(
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
  cmd->add_option("--diff", args->diff,
                  "compare two snapshots A B: indices of the dump sequence ('last' too) or other "
                  "dumps FILE@ADDR of the same region: new, freed and resized objects by type")
      ->expected(2);
  cmd->add_option("--diff-with", args->diff_with,
                  "compare the snapshot with another dump FILE@ADDR of the same region: new, freed "
                  "and resized objects by type");
  cmd->add_option(
      "--trace", args->trace,
      "a gdb log of the same run (mpheap trace's input): --can-alloc then names the code that "
      "allocated each pinning object");
  cmd->add_option(
      "--trace-event", args->trace_event,
      "the snapshot was taken after this event of --trace (default: the log's last event)");
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
