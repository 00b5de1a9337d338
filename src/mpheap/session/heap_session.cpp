// The heap pipeline: dumps -> target -> per dump: decode, name, roots, graph analyses.
#include "mpheap/session/heap_session.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "mpheap/heap/python_stack.h"
#include "mpheap/heap/stack.h"
#include "mpheap/io/file.h"
#include "mpheap/target/layout_heuristics.h"
#include "mpheap/util/number.h"

namespace mpheap::session {

namespace {

// The parts of the root ranges (.data/.bss, mp_state_ctx, the stack) no dump holds: an object
// referenced only from there would count as garbage. Empty when every root word was read.
std::string uncaptured_roots(const heap::ObjectGraph& g, const io::MemoryImage& memory) {
  if (g.words_not_captured == 0) return {};
  std::vector<std::string> gaps;
  std::uint64_t bytes = 0;
  for (const heap::AddressRange& r : g.root_ranges) {
    for (std::uint64_t a = r.start; a < r.end;) {
      if (const std::string_view run = memory.captured_from(a); !run.empty()) {
        a += std::min<std::uint64_t>(run.size(), r.end - a);
        continue;
      }
      const std::uint64_t gap_end = std::min(memory.next_start_after(a), r.end);
      if (gaps.size() < 3) gaps.push_back(fmt::format("0x{:x}..0x{:x}", a, gap_end));
      bytes += gap_end - a;
      a = gap_end;
    }
  }
  return fmt::format(
      "{} bytes of the memory scanned for roots are not in the dumps ({}{}): an object referenced "
      "only from there counts as garbage; give a dump of them too (--mem FILE@ADDR), or check the "
      "target's regions",
      bytes, fmt::join(gaps, ", "), gaps.size() < 3 ? "" : ", ...");
}

}  // namespace

Expected<GivenRoots> read_given_roots(const std::string& stack, const std::string& regs) {
  GivenRoots g;
  g.regs_path = regs;
  if (!stack.empty()) {
    auto colon = stack.find(':');
    std::optional<std::uint64_t> lo, hi;
    if (colon != std::string::npos) {
      lo = parse_uint(std::string_view(stack).substr(0, colon));
      hi = parse_uint(std::string_view(stack).substr(colon + 1));
    }
    if (!lo || !hi || *hi <= *lo)
      return Error{"--stack", 0, 0,
                   fmt::format("expected START:END addresses of the stack (START below END), "
                               "found '{}'",
                               stack)};
    g.stack = heap::AddressRange{*lo, *hi};
  }
  if (!regs.empty()) {
    auto text = io::read_whole_file(regs);
    if (!text) return text.error();
    auto parsed = io::parse_registers(*text, regs);
    if (!parsed) return parsed.error();
    g.registers = std::move(*parsed);
    g.sp = io::stack_pointer(g.registers);
    if (!g.sp && !g.stack)
      return Error{regs, 0, 0,
                   "no stack pointer among the registers (expected sp, rsp, esp or a1)"};
  }
  return g;
}

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

Expected<HeapSession> HeapSession::open(const HeapRequest& request) {
  HeapSession s;
  if (request.dumps.empty())
    return error_of(ErrorKind::usage, "",
                    "no RAM dump given: pass FILE@ADDR or a snapshot sequence");
  for (const std::string& spec : request.dumps) {
    auto d = DumpFile::open(spec, request.dump_size);
    if (!d) return d.error();
    s.files_.push_back(std::move(*d));
  }
  // The target, with layouts looked for in the first dump.
  auto probe = s.files_.front().read_probe();
  if (!probe) return probe.error();
  io::MemoryImage extra;
  for (io::MemoryRange& r : *probe) extra.add(std::move(r));
  TargetSource source = request.target;
  for (const std::string& m : request.memory) source.ram.push_back(m);
  auto loaded = load_target(source, std::move(extra));
  if (!loaded) return loaded.error();
  s.loaded_ = std::move(*loaded);
  // Raw dumps: as many dumps of the RAM region the address starts (or of --dump-size bytes) as
  // each file holds.
  std::vector<std::string> size_notes;
  for (DumpFile& d : s.files_)
    if (auto warning = d.settle_size(s.loaded_.target)) size_notes.push_back(*warning);
  // Layouts found by the shape of structures (map/nm) are looked for again in the file's last
  // dump: early dumps of a sequence lack structures that exist later (__main__'s globals, heap
  // qstr pools), and a layout found without them would misname every later snapshot.
  DumpFile& first = s.files_.front();
  if (s.loaded_.without_layout && first.count() > 1) {
    auto last = first.read_dump(first.count() - 1);
    if (!last) return last.error();
    io::MemoryImage latest;
    for (io::MemoryRange& r : *last) latest.add(std::move(r));
    auto again = load_target(source, std::move(latest));
    if (again) {
      s.loaded_ = std::move(*again);
      s.notes_.push_back(fmt::format(
          "note: the struct layouts were found in the last dump of {} (dump {}), the latest state",
          first.path(), first.count() - 1));
    } else {
      // A damaged last dump: keep what the first one gave, and say so.
      s.notes_.push_back(fmt::format(
          "note: the struct layouts come from the first dump of {}: the last one gives none ({})",
          first.path(), again.error().message()));
    }
  }
  for (const std::string& n : s.loaded_.notes) s.notes_.push_back("note: " + n);
  for (std::string& n : size_notes) s.notes_.push_back(std::move(n));
  if (s.loaded_.without_layout) s.search_ = *s.loaded_.without_layout;
  // The memory every snapshot shares (--mem, --ram): all of the target's but the probed dumps,
  // which each snapshot reads again (kept here, a large dump would be in memory twice).
  io::MemoryImage shared;
  for (const io::MemoryRange& r : s.loaded_.ram.ranges())
    if (std::none_of(s.files_.begin(), s.files_.end(),
                     [&](const DumpFile& f) { return f.path() == r.source; }))
      shared.add(r);
  s.loaded_.ram = std::move(shared);
  auto given = read_given_roots(request.stack, request.registers);
  if (!given) return given.error();
  s.given_ = std::move(*given);
  s.elf_path_ = request.target.elf;
  return s;
}

std::string HeapSession::recheck_layout(const io::MemoryImage& memory) {
  // The search that found the layout in use, run again on this dump alone: a field it finds
  // elsewhere contradicts the layout (fields it cannot find, as in early dumps, do not).
  target::Target& scratch = *search_;
  const target::Target& before = *loaded_.without_layout;
  scratch.state = before.state;
  scratch.block_size = before.block_size;
  scratch.qstr_pool = before.qstr_pool;
  auto found = target::infer_layout(scratch, memory, load_bias());
  if (!found) return {};
  const target::StateLayout& used = loaded_.target.state;
  const target::StateLayout& here = scratch.state;
  const std::pair<const char*, std::pair<target::Offset, target::Offset>> fields[] = {
      {"mem.area", {used.mem_area, here.mem_area}},
      {"vm.last_pool", {used.vm_last_pool, here.vm_last_pool}},
      {"vm.dict_main", {used.vm_dict_main, here.vm_dict_main}},
      {"vm.mp_loaded_modules_dict",
       {used.vm_mp_loaded_modules_dict, here.vm_mp_loaded_modules_dict}},
      {"thread.stack_top", {used.thread_stack_top, here.thread_stack_top}}};
  std::string out;
  for (const auto& [name, offsets] : fields)
    if (offsets.first && offsets.second && *offsets.first != *offsets.second)
      out += fmt::format("{}mp_state_ctx.{} is at +{} in this dump, +{} in the layout in use",
                         out.empty() ? "" : "; ", name, *offsets.second, *offsets.first);
  if (scratch.block_size != loaded_.target.block_size)
    out += fmt::format("{}blocks are {} bytes in this dump, {} in the layout in use",
                       out.empty() ? "" : "; ", scratch.block_size, loaded_.target.block_size);
  if (!out.empty()) out += ": this snapshot's names and paths may be wrong";
  return out;
}

io::MemoryImage HeapSession::other_memory() const {
  return loaded_.ram;
}

namespace {

// A description of another build decodes the heap's blocks (their layout is the collector's)
// but names nothing: the objects' type pointers miss its type objects. Refused rather than
// shown as a heap of untyped objects.
std::optional<std::string> types_do_not_fit(const target::Target& t, const heap::Snapshot& s) {
  if (t.types.empty()) return std::nullopt;
  std::uint64_t into_rom = 0, typed = 0;
  for (const heap::HeapObject& o : s.objects) {
    if (!o.type_pointer()) continue;
    const std::uint64_t p = *o.type_pointer() - s.load_bias;
    if (t.type_at(p) != nullptr) ++typed;
    for (const target::MemoryRegion& r : t.regions)
      if (r.kind == target::RegionKind::flash && p >= r.start && p < r.end) {
        ++into_rom;
        break;
      }
  }
  constexpr std::uint64_t kEnough = 8;  // objects pointing into ROM before the absence tells
  if (typed > 0 || into_rom < kEnough) return std::nullopt;
  return fmt::format(
      "the firmware description does not fit the dump: {} objects point into ROM where their "
      "type should be, and none of them at one of its {} type objects; the map/nm/ELF/image is "
      "of another build than the firmware that ran (rebuilt since?), so nothing could be named",
      into_rom, t.types.size());
}

// A layout without `next` (from a dump with one area of a build whose heap grows, found with no
// image to say so) cannot follow a chain: when the word in front of the last area's record points
// at what reads as another record (table < pool start < pool end, in the dump), say so.
std::string unfollowed_area(const target::Target& t, const io::MemoryImage& memory,
                            const heap::Snapshot& s) {
  const target::AreaLayout& a = t.state.area;
  if (a.next || s.areas.empty() || !a.gc_alloc_table_start || !a.gc_pool_start || !a.gc_pool_end)
    return {};
  const std::uint64_t W = t.word_size, record = s.areas.back().bounds.record;
  io::WordReader r{memory, t.word_size, t.little_endian};
  auto next = record >= W ? r.at(record - W) : std::nullopt;
  if (!next || *next == 0 || *next == record - W) return {};
  // `next` points at the record's start, one word before the fields the layout knows.
  auto table = r.at(*next + W + *a.gc_alloc_table_start);
  auto start = r.at(*next + W + *a.gc_pool_start), end = r.at(*next + W + *a.gc_pool_end);
  if (!table || !start || !end || !(*table < *start && *start < *end) ||
      !memory.covers(*start, *end - *start))
    return {};
  return fmt::format(
      "the word in front of the heap area record at 0x{:x} points at 0x{:x}, which reads as "
      "another area's record (pool 0x{:x}..0x{:x}), but the layout in use has no `next` field "
      "(made from a dump with one area?): that area is not decoded; give the firmware image, or "
      "a target made from a dump where the heap has two areas",
      record, *next, *start, *end);
}

// The heap areas of a dump, read by following each area's `next` in it, against those of the
// dump the target was made from (its heap regions): a heap that grows (or a target from another
// run) has other areas. The dump's own are the ones decoded; saying so keeps totals honest.
std::string areas_differ(const target::Target& t, const heap::Snapshot& s) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> known, here;
  for (const target::MemoryRegion& r : t.regions)
    if (r.kind == target::RegionKind::heap) known.emplace_back(r.start, r.end);
  for (const heap::AreaSnapshot& a : s.areas)
    here.emplace_back(a.bounds.pool_start - s.load_bias, a.bounds.pool_end - s.load_bias);
  if (known.empty() || known == here) return {};
  auto list = [](const std::vector<std::pair<std::uint64_t, std::uint64_t>>& areas) {
    std::string out;
    std::uint64_t bytes = 0;
    for (const auto& [start, end] : areas) {
      out += fmt::format("{}0x{:x}..0x{:x}", out.empty() ? "" : ", ", start, end);
      bytes += end - start;
    }
    return fmt::format("{} area{} ({}; {} bytes)", areas.size(), areas.size() == 1 ? "" : "s", out,
                       bytes);
  };
  return fmt::format(
      "this dump's heap has {}, the dump the target was made from had {}: the "
      "heap grew or shrank (MICROPY_GC_SPLIT_HEAP), so the areas are the ones "
      "this dump's records chain by `next`",
      list(here), list(known));
}

}  // namespace

Expected<std::unique_ptr<AnalyzedSnapshot>> HeapSession::decode_in(
    std::unique_ptr<AnalyzedSnapshot> out, const std::string& source) {
  const target::Target& t = loaded_.target;
  auto snap = heap::decode_snapshot(t, out->memory, load_bias());
  if (!snap) return Error{source, 0, 0, snap.error().message()};
  if (auto misfit = types_do_not_fit(t, *snap)) return Error{source, 0, 0, *misfit};
  out->snapshot = std::move(*snap);
  out->reader.emplace(t, out->memory, out->snapshot);
  out->functions = heap::name_objects(out->snapshot, *out->reader, t);
  return out;
}

Expected<std::unique_ptr<AnalyzedSnapshot>> HeapSession::decode_dump(std::size_t file,
                                                                     std::uint64_t index) {
  DumpFile& dumps = files_[file];
  auto out = std::make_unique<AnalyzedSnapshot>();
  out->file = file;
  out->index = index;
  out->memory = other_memory();
  auto slices = dumps.read_dump(index);
  if (!slices) return slices.error();
  for (io::MemoryRange& r : *slices) out->memory.add(std::move(r));
  return decode_in(std::move(out), fmt::format("{}: snapshot {}", dumps.path(), index));
}

Expected<std::unique_ptr<AnalyzedSnapshot>> HeapSession::decode(std::uint64_t index) {
  return decode_dump(0, index);
}

Expected<std::unique_ptr<AnalyzedSnapshot>> HeapSession::decode_other(const std::string& spec) {
  auto out = std::make_unique<AnalyzedSnapshot>();
  out->memory = other_memory();
  if (auto added = io::add_placed_file(out->memory, spec); !added) return added.error();
  auto decoded = decode_in(std::move(out), spec);
  if (!decoded)
    return Error{spec, 0, 0,
                 fmt::format("cannot be compared with {}: the firmware description that decodes "
                             "it does not decode this dump ({}); is it a dump of another "
                             "firmware, or placed at another address?",
                             files_.front().path(), decoded.error().what)};
  return decoded;
}

Expected<std::unique_ptr<AnalyzedSnapshot>> HeapSession::analyze(std::size_t file,
                                                                 std::uint64_t index) {
  const DumpFile& dumps = files_[file];
  const target::Target& t = loaded_.target;
  auto decoded = decode_dump(file, index);
  if (!decoded) return decoded.error();
  std::unique_ptr<AnalyzedSnapshot> out = std::move(*decoded);
  for (const heap::Diagnostic& d : out->snapshot.diagnostics) {
    // Where in the file: the byte offset when the address lies in this dump.
    const auto at = dumps.file_offset_of(index, d.address);
    std::string where = at ? fmt::format("byte {}", *at) : fmt::format("address 0x{:x}", d.address);
    out->diagnostics.push_back(
        fmt::format("{}: snapshot {}: {}: {}", dumps.path(), index, where, d.what));
  }
  const io::SnapshotDumps* seq = dumps.sequence();
  const io::SnapshotHeader* header =
      seq != nullptr && index < seq->entries.size() ? &seq->entries[index].header : nullptr;
  std::string areas = areas_differ(t, out->snapshot);
  if (areas.empty()) areas = unfollowed_area(t, out->memory, out->snapshot);
  if (!areas.empty())
    out->areas_warning = fmt::format("{}: snapshot {}: warning: {}", dumps.path(), index, areas);
  if (search_) {
    std::string contradiction = recheck_layout(out->memory);
    if (!contradiction.empty())
      out->layout_warning = fmt::format("{}: snapshot {}: {}", dumps.path(), index, contradiction);
  }
  auto roots = stack_roots(given_, t, out->memory, load_bias(), header, index);
  if (!roots) return roots.error();
  out->roots = std::move(roots->options);
  out->notes = std::move(roots->notes);
  if (!roots->warning.empty())
    out->warning = fmt::format("{}: snapshot {}: {}", dumps.path(), index, roots->warning);
  out->analysis = heap::analyze_snapshot(t, out->memory, out->snapshot, out->roots);
  name_python_frames(*out, header);
  if (header != nullptr && !header->reader_objects.empty()) {
    out->reader_held =
        heap::dominated_by(out->snapshot, out->analysis.dominators, header->reader_objects);
    std::uint64_t blocks = 0;
    for (std::uint32_t o : out->reader_held) blocks += out->snapshot.objects[o].blocks;
    out->reader_note = fmt::format(
        "note: snapshot {}: {} objects ({} bytes) are mpheap's REPL reader and what it holds "
        "(_mpheap), not the program's",
        index, out->reader_held.size(), blocks * t.block_size);
  }
  const std::string gaps = uncaptured_roots(out->analysis.graph, out->memory);
  if (!gaps.empty())
    out->roots_warning = fmt::format("{}: snapshot {}: {}", dumps.path(), index, gaps);
  return out;
}

namespace {

// DWARF register numbers of registers named as gdb's `info registers` names them.
target::elf::RegisterFile dwarf_registers(const std::vector<io::Register>& given,
                                          const std::string& machine) {
  static constexpr std::array<const char*, 16> kArm = {"r0",  "r1", "r2", "r3", "r4",  "r5",
                                                       "r6",  "r7", "r8", "r9", "r10", "r11",
                                                       "r12", "sp", "lr", "pc"};
  static constexpr std::array<const char*, 17> kX86_64 = {"rax", "rdx", "rcx", "rbx", "rsi", "rdi",
                                                          "rbp", "rsp", "r8",  "r9",  "r10", "r11",
                                                          "r12", "r13", "r14", "r15", "rip"};
  target::elf::RegisterFile out;
  auto place = [&](const auto& names) {
    out.assign(names.size(), std::nullopt);
    for (const io::Register& r : given)
      for (std::size_t k = 0; k < names.size(); ++k)
        if (r.name == names[k]) out[k] = r.value;
  };
  if (machine == "ARM") {
    place(kArm);
    for (const io::Register& r : given)
      if (r.name == "fp")
        out[11] = r.value;
      else if (r.name == "ip")
        out[12] = r.value;
  } else if (machine == "x86-64") {
    place(kX86_64);
  }
  return out;
}

}  // namespace

void HeapSession::open_debug_info() {
  // Once, when a snapshot first has a stack to name: the DWARF is read only then.
  if (debug_ || !debug_missing_.empty()) return;
  if (elf_path_.empty()) {
    debug_missing_ = "the target is not an ELF (pass --elf firmware.elf, with DWARF)";
    return;
  }
  auto bytes = io::read_whole_file(elf_path_);
  if (!bytes) {
    debug_missing_ = bytes.error().message();
    return;
  }
  elf_bytes_ = std::make_unique<std::string>(std::move(*bytes));
  auto image = target::elf::ElfImage::open(*elf_bytes_, elf_path_);
  if (!image) {
    debug_missing_ = image.error().message();
    return;
  }
  elf_ = std::move(*image);
  auto debug = target::elf::DebugInfo::open(*elf_, load_bias());
  if (debug)
    debug_ = std::move(*debug);
  else
    debug_missing_ = debug.error().message();
}

void HeapSession::name_python_frames(AnalyzedSnapshot& s, const io::SnapshotHeader* header) {
  const target::Target& t = loaded_.target;
  auto cannot = [&](std::string why) {
    s.python_frames_note = fmt::format(
        "note: snapshot {}: the stack roots are not named after the Python functions whose frames "
        "hold them: {}",
        s.index, why);
  };
  if (!s.roots.stack) {
    cannot("no stack is scanned (no registers with an SP, no --stack)");
    return;
  }
  open_debug_info();
  if (!debug_) {
    cannot(debug_missing_);
    return;
  }
  target::elf::RegisterFile regs;
  if (!given_.registers.empty())
    regs = dwarf_registers(given_.registers, elf_->machine());
  else if (header != nullptr && !header->registers.empty())
    regs = debug_->registers_from_g_reply(header->registers);
  auto known = [&](int n) {
    return n >= 0 && static_cast<std::size_t>(n) < regs.size() && regs[n].has_value();
  };
  if (!known(debug_->pc_register()) || !known(debug_->sp_register())) {
    cannot(regs.empty() ? "no registers at this snapshot (the sequence's headers or --regs)"
                        : "no pc and sp among the registers");
    return;
  }
  const std::uint64_t sp = *regs[static_cast<std::size_t>(debug_->sp_register())];
  if (!s.memory.covers(sp, t.word_size)) {
    cannot(fmt::format("the stack at SP 0x{:x} is not in the dump", sp));
    return;
  }
  // The snapshot's memory, and the ELF's read-only segments for what is in flash (frozen
  // bytecode, ROM qstrs).
  const std::uint64_t bias = load_bias();
  heap::MemoryRead read = [&](std::uint64_t a, std::size_t n, std::uint8_t* out) {
    if (const std::string_view run = s.memory.captured_from(a); run.size() >= n) {
      std::memcpy(out, run.data(), n);
      return true;
    }
    if (a < bias) return false;
    if (auto b = elf_->read_only_bytes_at(a - bias, n)) {
      std::memcpy(out, b->data(), n);
      return true;
    }
    return false;
  };
  const heap::PythonStack stack = heap::python_stack(*debug_, regs, read, t, bias);
  const std::size_t renamed = heap::name_python_frame_roots(s.analysis.graph, stack, t.word_size);
  std::vector<std::string> names;
  for (const heap::PythonFrame& f : stack.frames)
    if (f.resolved()) names.push_back(f.describe());
  if (stack.frames.empty() && stack.unresolved.empty()) {
    cannot(fmt::format("no frame of the bytecode VM in the {} frames unwound from pc 0x{:x}",
                       stack.native_frames,
                       *regs[static_cast<std::size_t>(debug_->pc_register())]));
    return;
  }
  s.notes.push_back(fmt::format(
      "note: snapshot {}: Python frames on the stack: {}; {} stack root{} named after them{}{}",
      s.index,
      names.empty() ? std::string("none named") : fmt::format("{}", fmt::join(names, ", ")),
      renamed, renamed == 1 ? "" : "s", stack.unresolved.empty() ? "" : "; not read: ",
      fmt::format("{}", fmt::join(stack.unresolved, "; "))));
}

report::SnapshotSummary summarize(const AnalyzedSnapshot& s, std::string label,
                                  const target::Target& t) {
  report::SnapshotSummary out =
      report::summarize_snapshot(std::move(label), s.snapshot, t, s.analysis, *s.reader);
  for (std::uint32_t o : s.reader_held)
    if (o < out.objects.size()) out.objects[o].reader = true;
  return out;
}

}  // namespace mpheap::session
