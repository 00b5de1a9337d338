// The native capture pipeline: ELF facts first, then the target.
#include "mpheap/session/native_capture.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "mpheap/capture/elf_check.h"
#include "mpheap/capture/gdb_script.h"
#include "mpheap/capture/trace_log_writer.h"
#include "mpheap/heap/python_frames.h"
#include "mpheap/io/file.h"
#include "mpheap/io/snapshot_sequence.h"
#include "mpheap/target/debug_info.h"
#include "mpheap/target/elf_image.h"
#include "mpheap/target/from_elf.h"

namespace mpheap::session {
namespace {

using capture::TraceMode;

const target::elf::ElfSymbol* function_symbol(const std::vector<target::elf::ElfSymbol>& symbols,
                                              std::string_view name) {
  for (const auto& s : symbols)
    if (s.symbol.name == name && (s.symbol.kind == 'T' || s.symbol.kind == 't')) return &s;
  return nullptr;
}

}  // namespace

Expected<NativeCaptureResult> run_native_capture(
    const NativeCaptureOptions& o, const std::atomic<bool>* stop,
    const std::function<void(std::string_view)>& note,
    const std::function<void(const capture::NativeTraceStats&)>& progress) {
  // Said once the target has been checked, so that an error is the only thing printed.
  std::vector<std::string> notes;
  auto say = [&](std::string text) { notes.push_back(std::move(text)); };
  // Everything the ELF must tell, before the target is touched.
  auto bytes = io::read_whole_file(o.elf);
  if (!bytes) return bytes.error();
  auto elf = target::elf::ElfImage::open(*bytes, o.elf);
  if (!elf) return elf.error();
  const target::elf::ElfImage& image = **elf;
  auto symbols = image.symbols();
  if (!symbols) return symbols.error();

  capture::NativeTracePlan plan;
  NativeCaptureResult result;
  std::vector<capture::CodeProbe> probes;
  const bool has_hook = function_symbol(*symbols, o.hook) != nullptr;
  const bool has_gc = function_symbol(*symbols, "gc_alloc") != nullptr;
  Expected<capture::HookSite> hook = Error{};
  if (has_hook && !o.no_hook) {
    // The hook is there: it is used, and it must have its line table.
    hook = capture::find_hook(o.elf, o.hook);
    if (!hook) return hook.error();
  }
  if (hook) {
    plan.mode = TraceMode::hook;
    plan.hook_function = hook->function;
    plan.hook_address = hook->address;
    probes.push_back({hook->function, hook->function_address});
    say(fmt::format("the hook: {} {}:{} at {:#x}", hook->function, hook->file, hook->line,
                    hook->address));
  } else {
    if (!has_gc) {
      return Error{o.elf, 0, 0,
                   fmt::format("has neither the GC hook nor the collector's functions (no {} or "
                               "gc_alloc symbol): is it a MicroPython or CircuitPython firmware? "
                               "A build with link-time optimisation (LTO) may have inlined them "
                               "all; build without LTO to trace it",
                               o.hook)};
    }
    plan.mode = TraceMode::gc_functions;
    std::optional<std::uint64_t>* slots[] = {&plan.gc.alloc, &plan.gc.free, &plan.gc.realloc,
                                             &plan.gc.collect_end, &plan.gc.sweep_all};
    std::vector<std::string> missing;
    for (std::size_t k = 0; k < std::size(capture::kGcSignatures); ++k) {
      const capture::GcSignature& w = capture::kGcSignatures[k];
      if (const auto* s = function_symbol(*symbols, w.name)) {
        *slots[k] = s->symbol.address;
        probes.push_back({std::string(w.name), s->symbol.address});
      } else if (w.required) {
        missing.emplace_back(w.name);
      }
      // GCC's partial inlining splits a function: `gc_free.part.0` holds its body, called by
      // gc_free after its checks and directly by callers that inlined those checks (gc_realloc
      // in the stock -Os builds). Such a part is an entry of its own.
      const std::string part = std::string(w.name) + ".part.";
      for (const auto& sym : *symbols)
        if (sym.symbol.name.starts_with(part) && (sym.symbol.kind == 't' || sym.symbol.kind == 'T'))
          plan.gc.parts.push_back({sym.symbol.name, sym.symbol.address, std::string(w.name)});
    }
    if (!missing.empty())
      return Error{o.elf, 0, 0,
                   fmt::format("cannot trace without the hook: the collector's function(s) {} "
                               "are not in the symbol table (inlined, or removed by link-time "
                               "optimisation); build without LTO, or with the hook",
                               fmt::join(missing, ", "))};
    say(o.no_hook ? std::string("no hook (--no-hook): breaking on the collector's functions")
                  : fmt::format("no {} in this ELF: breaking on the collector's functions "
                                "(gc_alloc, gc_free, gc_realloc, gc_collect_end{})",
                                o.hook, plan.gc.sweep_all ? ", gc_sweep_all" : ""));
  }
  // The functions' parameters as the DWARF declares them: another signature is refused here,
  // not misread at the first stop.
  auto checked = target::elf::DebugInfo::open(image, 0);
  if (!checked) return checked.error();
  {
    auto too_few = [&](std::uint64_t address, int wanted) {
      auto count = (*checked)->parameter_count(address);
      return !count || *count < wanted;
    };
    if (plan.mode == TraceMode::hook && too_few(plan.hook_address, 2))
      return Error{o.elf, 0, 0,
                   fmt::format("{} at {:#x} does not declare two parameters (start_block, "
                               "length) in the DWARF: build with -g, or trace with --no-hook",
                               plan.hook_function, plan.hook_address)};
    if (plan.mode == TraceMode::gc_functions) {
      const std::optional<std::uint64_t> addresses[] = {
          plan.gc.alloc, plan.gc.free, plan.gc.realloc, plan.gc.collect_end, plan.gc.sweep_all};
      for (std::size_t k = 0; k < std::size(capture::kGcSignatures); ++k) {
        const capture::GcSignature& w = capture::kGcSignatures[k];
        if (addresses[k] && w.parameters > 0 && too_few(*addresses[k], w.parameters))
          return Error{o.elf, 0, 0,
                       fmt::format("{} at {:#x} does not declare {} parameters in the DWARF: "
                                   "mpheap knows `{}` (MicroPython 1.19 to 1.28, CircuitPython 9 "
                                   "and 10); build with -g, or with the GC hook",
                                   w.name, *addresses[k], w.parameters, w.declaration)};
      }
    }
  }
  // Python frames need the VM's function, the target's layouts and qstrs.
  // (An ELF without the bytecode VM runs no Python: nothing to say.)
  bool python = o.python_frames && function_symbol(*symbols, "mp_execute_bytecode") != nullptr;
  std::optional<target::Target> layout;
  if (plan.mode == TraceMode::gc_functions || !o.heap_at.empty() || python) {
    auto t = target::read_elf_target_from_memory(*bytes, o.elf);
    if (!t && plan.mode == TraceMode::hook && o.heap_at.empty()) {
      python = false;
      say(fmt::format("no Python frames: {}", t.error().message()));
    } else if (!t) {
      return t.error();
    } else {
      layout = std::move(*t);
    }
  }
  if (layout) {
    const target::Target* t = &*layout;
    const auto& a = t->state.area;
    const bool described = t->mp_state_ctx && t->state.mem_area && a.gc_alloc_table_start &&
                           a.gc_alloc_table_byte_len && a.gc_pool_start && a.gc_pool_end;
    if (!described && plan.mode == TraceMode::hook && o.heap_at.empty()) {
      // Only for Python frames (freed blocks' addresses): without them, none.
      python = false;
      say("no Python frames: the DWARF does not describe mp_state_ctx.mem.area");
    } else if (!described)
      return Error{o.elf, 0, 0,
                   "the DWARF does not describe mp_state_ctx.mem.area (gc_alloc_table_start, "
                   "gc_alloc_table_byte_len, gc_pool_start, gc_pool_end): the hookless trace "
                   "reads the allocation table there; build with -g"};
  }
  if (layout && (plan.mode == TraceMode::gc_functions || !o.heap_at.empty() || python)) {
    const target::Target* t = &*layout;
    const auto& a = t->state.area;
    capture::HeapAreaLayout h;
    h.state_address = *t->mp_state_ctx;
    h.state_size = t->state.size;
    h.area_address = *t->mp_state_ctx + *t->state.mem_area;
    h.alloc_table_start = *a.gc_alloc_table_start;
    h.alloc_table_byte_len = *a.gc_alloc_table_byte_len;
    h.pool_start = *a.gc_pool_start;
    h.pool_end = *a.gc_pool_end;
    h.word_size = t->word_size;
    h.block_size = t->block_size;
    h.little_endian = t->little_endian;
    plan.heap = h;
  }
  if (python && layout && layout->rom_qstrs.empty())
    say("Python frames: the ELF's ROM qstr pools were not read (" + layout->provenance.qstrs +
        "): functions named by ROM qstrs show as unresolved");
  for (const std::string& name : o.heap_at) {
    const auto* s = function_symbol(*symbols, name);
    if (s == nullptr)
      return Error{"--heap-at", 0, 0,
                   fmt::format("no function {} in {} (e.g. gc_dump_alloc_table, which "
                               "micropython.mem_info(1) calls)",
                               name, o.elf)};
    plan.checkpoints.push_back({name, s->symbol.address});
    probes.push_back({name, s->symbol.address});
  }
  if (!o.until.empty()) {
    const auto* s = function_symbol(*symbols, o.until);
    if (s == nullptr)
      return Error{"--until", 0, 0, fmt::format("no function {} in {}", o.until, o.elf)};
    plan.until_address = s->symbol.address;
    plan.until_name = o.until;
  }
  plan.max_events = o.max_events;
  plan.ram = o.ram;
  plan.idle_seconds = o.idle_seconds;
  const std::string machine = image.machine();
  plan.breakpoint_kind = machine == "ARM" ? 2 : 1;
  plan.little_endian = image.little_endian();

  // The target.
  auto client = capture::RspClient::connect(o.remote, o.timeout_ms);
  if (!client) return client.error();
  capture::RspClient& c = **client;
  if (o.load_bias) {
    plan.load_bias = *o.load_bias;
  } else {
    auto bias = capture::running_load_bias(c, image);
    if (!bias) return bias.error();
    plan.load_bias = *bias;
  }
  result.load_bias = plan.load_bias;
  if (const auto* top = function_symbol(*symbols, "_estack"); top != nullptr)
    plan.stack_top = top->symbol.address + plan.load_bias;
  for (const auto& s : *symbols)
    if (s.symbol.name == "_estack") plan.stack_top = s.symbol.address + plan.load_bias;

  if (auto same = capture::check_running_code(c, image, probes, plan.load_bias); !same) {
    c.detach();
    return same.error();
  }
  // The one opened for the checks serves a firmware (no load bias).
  auto debug = plan.load_bias == 0 ? std::move(checked)
                                   : target::elf::DebugInfo::open(image, plan.load_bias);
  if (!debug) {
    c.detach();
    return debug.error();
  }

  // The outputs: whole stops only.
  auto log = capture::TraceLogWriter::create(o.out, plan.mode, image.word_size());
  if (!log) {
    c.detach();
    return log.error();
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> ram_file(nullptr, &std::fclose);
  if (o.ram) {
    result.ram_out = o.ram_out.empty() ? o.out + ".ram" : o.ram_out;
    ram_file.reset(std::fopen(result.ram_out.c_str(), "wb"));
    if (!ram_file) {
      c.detach();
      return Error{result.ram_out, 0, 0, fmt::format("cannot create: {}", std::strerror(errno))};
    }
  }
  std::optional<io::SnapshotSequenceWriter> heaps;
  if (!plan.checkpoints.empty()) {
    result.heap_out = o.heap_out.empty() ? o.out + ".heaps" : o.heap_out;
    auto w = io::SnapshotSequenceWriter::create(result.heap_out);
    if (!w) {
      c.detach();
      return w.error();
    }
    heaps.emplace(std::move(*w));
  }
  const auto t0 = std::chrono::steady_clock::now();
  capture::NativeTraceSink sink;
  sink.event = [&](const capture::NativeEvent& e) { return log->write(e); };
  if (ram_file)
    sink.ram = [&](std::span<const std::uint8_t> ram) -> Expected<bool> {
      if (std::fwrite(ram.data(), 1, ram.size(), ram_file.get()) != ram.size())
        return Error{result.ram_out, 0, 0, fmt::format("cannot write: {}", std::strerror(errno))};
      return true;
    };
  if (heaps)
    sink.checkpoint = [&](const capture::NativeCheckpoint& cp) -> Expected<bool> {
      std::vector<io::SnapshotRecord> records;
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      for (std::size_t k = 0; k < cp.parts.size(); ++k) {
        io::SnapshotHeader h;
        h.index = heaps->count();
        h.time_ms = ms;
        h.start = cp.parts[k].start;
        h.end = h.start + cp.parts[k].bytes.size();
        h.trigger = fmt::format("on:{}", cp.name);
        h.label = fmt::format("events={}", cp.events);
        h.part = static_cast<std::uint32_t>(k);
        h.parts = static_cast<std::uint32_t>(cp.parts.size());
        records.push_back(
            {h, std::string_view(reinterpret_cast<const char*>(cp.parts[k].bytes.data()),
                                 cp.parts[k].bytes.size())});
      }
      return heaps->append(records);
    };
  sink.progress = progress;
  if (note)
    for (const std::string& n : notes) note(n);
  // Python frames: read from the target, and from the ELF where it holds the bytes (frozen
  // bytecode and the qstr tables in flash cost no read over the link).
  std::optional<heap::PythonFrameReader> python_reader;
  if (python && layout) {
    python_reader.emplace(*layout, plan.load_bias);
    capture::PythonFrameSource source;
    source.resolve = [&](std::uint64_t code_state, const target::elf::MemoryReader& read) {
      heap::MemoryRead from_elf_or_target = [&](std::uint64_t a, std::size_t n, std::uint8_t* out) {
        if (a >= plan.load_bias)
          if (auto b = image.read_only_bytes_at(a - plan.load_bias, n)) {
            std::memcpy(out, b->data(), n);
            return true;
          }
        return read(a, n, out);
      };
      heap::PythonFrame p = python_reader->frame(code_state, from_elf_or_target);
      target::elf::SourceFrame f;
      f.python = true;
      if (p.resolved()) {
        f.function = p.function;
        f.file = p.file;
        f.line = static_cast<int>(p.line);
      } else {
        f.function = fmt::format("?? ({})", p.missing);
      }
      return f;
    };
    source.forget = [&](std::uint64_t address) { python_reader->forget(address); };
    plan.python = std::move(source);
  }
  auto stats = capture::run_native_trace(c, **debug, plan, sink, stop);
  if (!stats) {
    result.lost = stats.error();
    result.stats.events = log->events();
  } else {
    result.stats = *stats;
    log->write_end(*stats);
  }
  c.detach();
  result.mode = plan.mode;
  if (auto committed = log->commit(); !committed) {
    if (result.lost) return *result.lost;
    return committed.error();
  }
  // No stop at a --heap-at function (the program never called it) is not an error of the
  // trace: no file, and the caller says so.
  if (heaps && heaps->count() > 0) {
    if (auto committed = heaps->commit(); !committed && !result.lost) return committed.error();
  }
  return result;
}

}  // namespace mpheap::session
