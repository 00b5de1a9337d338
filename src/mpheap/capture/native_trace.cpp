// The native tracer's stop loop: breakpoints, stepping off them, the stack window, the pending
// calls of the hookless mode and the allocation table after each collection.
#include "mpheap/capture/native_trace.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <unordered_map>

#include "mpheap/capture/rsp_packet.h"

namespace mpheap::capture {
namespace {

using Clock = std::chrono::steady_clock;
using target::elf::SourceFrame;

constexpr std::uint64_t kFirstWindow = 1024;
constexpr std::uint64_t kMaxWindow = 64 * 1024;

enum class Kind : std::uint8_t { alloc, free, realloc, sweep };

// A call of a collector function between its entry and its return.
struct PendingCall {
  Kind kind = Kind::alloc;
  std::uint64_t return_address = 0;  // run-time
  std::uint64_t return_sp = 0;       // the stack pointer once it has returned
  std::uint64_t pointer = 0;         // free, realloc
  std::uint64_t bytes = 0;           // alloc, realloc
  std::vector<SourceFrame> frames;   // the stack at entry
  std::string function;
};

std::uint64_t load_uint(const std::uint8_t* p, std::uint32_t size, bool little) {
  std::uint64_t v = 0;
  for (std::uint32_t i = 0; i < size; ++i) {
    const std::uint32_t k = little ? size - 1 - i : i;
    v = (v << 8) | p[k];
  }
  return v;
}

// Where the heap is at one moment (run-time addresses).
struct HeapGeometry {
  std::uint64_t table = 0, table_bytes = 0, pool = 0, pool_end = 0;
  [[nodiscard]] bool valid() const { return table != 0 && table_bytes != 0 && pool_end > pool; }
};

class Tracer {
 public:
  Tracer(RspClient& client, target::elf::DebugInfo& debug, const NativeTracePlan& plan,
         const NativeTraceSink& sink, const std::atomic<bool>* stop)
      : client_(client),
        debug_(debug),
        plan_(plan),
        sink_(sink),
        stop_(stop),
        red_zone_(debug.sp_register() == 7 ? 128 : 0) {}

  Expected<NativeTraceStats> run();

 private:
  // Breakpoints by run-time address. `hardware_first`: the hook's and the collector's entries
  // ask for a hardware breakpoint first (a stub that passes it on `c` needs no step off it);
  // return addresses stay inserted once used (parked), so a call costs no insert or remove.
  Expected<bool> insert(std::uint64_t address, bool hardware_first);
  Expected<bool> remove_all();
  // Lets the target run from a stop at `pc`, getting off a breakpoint there the way this stub
  // needs for its type (learnt at the first stop on one).
  Expected<bool> step_off_and_resume(std::uint64_t pc);
  // After a stop that repeats the one before: true when it is the probe of a breakpoint type's
  // behaviour (the stub reported the same breakpoint again instead of passing it).
  Expected<bool> learn_from_repeat(std::uint64_t pc);
  // Reads the registers of this stop, and the stack window with them when the stub told sp.
  Expected<bool> read_stop_state(std::optional<std::uint64_t> window_sp);
  [[nodiscard]] std::pair<std::uint64_t, std::uint64_t> window_range(std::uint64_t sp) const;
  Expected<std::vector<SourceFrame>> stack();
  // The Python frame that VM frame `i` of the chain runs.
  SourceFrame python_frame(std::span<const target::elf::DebugInfo::UnwoundFrame> frames,
                           std::size_t i);
  // Target memory for unwinding and arguments: from this stop's window, else read (counted).
  bool read_memory(std::uint64_t address, std::size_t n, std::uint8_t* out);
  // The heap's geometry, read once and again when `fresh` (after a collection) or when a
  // pointer falls outside it (a new area).
  Expected<HeapGeometry> geometry(bool fresh = false);
  Expected<std::vector<std::uint8_t>> read_table(const HeapGeometry& g);
  Expected<bool> emit(std::uint64_t start_block, std::uint64_t length,
                      std::span<const SourceFrame> frames, std::string_view function,
                      std::string_view arguments);
  Expected<bool> on_hook(std::uint64_t pc);
  Expected<bool> on_entry(Kind kind, std::uint64_t pc, std::string_view function);
  Expected<bool> on_return(std::size_t pending_index);
  Expected<bool> on_checkpoint(std::string_view name);
  Expected<bool> sweep(std::span<const SourceFrame> frames, std::string_view function);
  [[nodiscard]] std::uint64_t reg(int dwarf) const {
    return dwarf >= 0 && static_cast<std::size_t>(dwarf) < regs_.size() && regs_[dwarf]
               ? *regs_[dwarf]
               : 0;
  }
  void progress(bool force);

  RspClient& client_;
  target::elf::DebugInfo& debug_;
  const NativeTracePlan& plan_;
  const NativeTraceSink& sink_;
  const std::atomic<bool>* stop_;
  NativeTraceStats stats_;
  Clock::time_point t0_ = Clock::now(), last_progress_ = Clock::now();
  std::map<std::uint64_t, int> breakpoints_;  // address -> type (0 software, 1 hardware)
  // How the stub gets off a breakpoint of each type: `c` passes it (gdbserver's hardware
  // breakpoints on x86), `s` passes it (QEMU), or it must be removed, stepped and inserted again
  // (gdbserver's software ones).
  enum class StepOff : std::uint8_t { unknown, probing, passes, step, remove_step_insert };
  StepOff step_off_[2] = {StepOff::unknown, StepOff::unknown};
  std::uint64_t probe_pc_ = 0;
  // This stop.
  std::string regs_hex_, last_regs_hex_;
  target::elf::RegisterFile regs_;
  std::uint64_t window_start_ = 0;
  std::vector<std::uint8_t> window_;
  bool window_ready_ = false;     // window_ holds this stop's stack
  std::uint64_t stack_high_ = 0;  // the highest stack address an unwind has read
  std::uint64_t red_zone_ = 0;    // bytes below sp a leaf function may use (x86-64: 128)
  target::elf::MemoryReader reader_ = [this](std::uint64_t a, std::size_t n, std::uint8_t* out) {
    return read_memory(a, n, out);
  };
  // The hookless mode's state.
  std::vector<PendingCall> pending_;
  std::map<std::uint64_t, std::uint64_t> live_;  // start block -> blocks
  std::optional<HeapGeometry> geometry_;
  bool seeded_ = false;          // live_ holds what the table had at the first look
  std::uint64_t returning_ = 0;  // the pointer a gc_alloc being handled returned
  std::vector<std::uint8_t> ram_;
  bool finished_ = false;
};

Expected<bool> Tracer::insert(std::uint64_t address, bool hardware_first) {
  if (breakpoints_.contains(address)) return true;
  auto type = client_.insert_breakpoint(address, plan_.breakpoint_kind, hardware_first ? 1 : 0);
  if (!type) return type.error();
  breakpoints_[address] = *type;
  return true;
}

Expected<bool> Tracer::remove_all() {
  Expected<bool> result = true;
  for (const auto& [address, type] : breakpoints_) {
    auto r = client_.remove_breakpoint(address, plan_.breakpoint_kind, type);
    if (!r && result) result = r;
  }
  breakpoints_.clear();
  return result;
}

Expected<bool> Tracer::step_off_and_resume(std::uint64_t pc) {
  auto bp = breakpoints_.find(pc);
  if (bp == breakpoints_.end()) return client_.resume();
  const int type = bp->second;
  auto ended = [&] {
    finished_ = true;
    stats_.end = NativeEnd::program_exited;
    return false;
  };
  switch (step_off_[type]) {
    case StepOff::unknown:
      // Try the cheapest: `c`. If the stub stops here again with the same registers, it did not
      // pass the breakpoint (learn_from_repeat).
      step_off_[type] = StepOff::probing;
      probe_pc_ = pc;
      return client_.resume();
    case StepOff::probing:
    case StepOff::passes:
      return client_.resume();
    case StepOff::step: {
      auto stepped = client_.step();
      if (!stepped) return stepped.error();
      if (stepped->kind != rsp::StopReply::Kind::signal) return ended();
      return client_.resume();
    }
    case StepOff::remove_step_insert: {
      auto stepped = client_.step_off_and_continue(pc, plan_.breakpoint_kind, type);
      if (!stepped) return stepped.error();
      if (stepped->kind != rsp::StopReply::Kind::signal) {
        breakpoints_.erase(pc);
        return ended();
      }
      return true;
    }
  }
  return true;
}

Expected<bool> Tracer::learn_from_repeat(std::uint64_t pc) {
  auto bp = breakpoints_.find(pc);
  if (bp == breakpoints_.end() || step_off_[bp->second] != StepOff::probing || pc != probe_pc_)
    return false;
  // `c` did not pass it. Does `s`? QEMU's does; gdbserver's trap on a software breakpoint again.
  auto stepped = client_.step();
  if (!stepped) return stepped.error();
  if (stepped->kind != rsp::StopReply::Kind::signal) {
    finished_ = true;
    stats_.end = NativeEnd::program_exited;
    return true;
  }
  auto g = client_.read_registers();
  if (!g) return g.error();
  auto after = debug_.registers_from_g_reply(*g);
  const int pcr = debug_.pc_register();
  const bool moved =
      static_cast<std::size_t>(pcr) < after.size() && after[pcr] && *after[pcr] != pc;
  step_off_[bp->second] = moved ? StepOff::step : StepOff::remove_step_insert;
  if (moved) {
    if (auto r = client_.resume(); !r) return r.error();
  } else if (auto r = step_off_and_resume(pc); !r) {
    return r.error();
  }
  regs_hex_.clear();  // the next stop is compared with nothing
  return true;
}

std::pair<std::uint64_t, std::uint64_t> Tracer::window_range(std::uint64_t sp) const {
  // From below sp (x86-64's red zone: a leaf function keeps its locals, the hook's arguments at
  // -O0 among them, in the 128 bytes below sp) up to the highest stack byte an earlier unwind
  // needed (the outer frames stay where they are): at least kFirstWindow, at most kMaxWindow,
  // never past the stack's end.
  const std::uint64_t low = sp - std::min<std::uint64_t>(sp, red_zone_);
  std::uint64_t end = std::min(std::max(sp + kFirstWindow, stack_high_), sp + kMaxWindow);
  if (plan_.stack_top && *plan_.stack_top > sp) end = std::min(end, *plan_.stack_top);
  return {low, std::max(low, end)};
}

Expected<bool> Tracer::read_stop_state(std::optional<std::uint64_t> window_sp) {
  last_regs_hex_ = std::move(regs_hex_);
  window_ready_ = false;
  if (window_sp) {
    // The stub told sp with the stop: the registers and the stack in one round trip.
    auto [low, end] = window_range(*window_sp);
    window_start_ = low;
    window_.assign(end - low, 0);
    bool read = false;
    auto g = client_.read_registers_and_memory(low, window_.size(), window_.data(), &read);
    if (!g) return g.error();
    regs_hex_ = std::move(*g);
    window_ready_ = read;
  } else {
    auto g = client_.read_registers();
    if (!g) return g.error();
    regs_hex_ = std::move(*g);
  }
  regs_ = debug_.registers_from_g_reply(regs_hex_);
  return true;
}

bool Tracer::read_memory(std::uint64_t address, std::size_t n, std::uint8_t* out) {
  if (address >= window_start_ && address - window_start_ + n <= window_.size()) {
    std::memcpy(out, window_.data() + (address - window_start_), n);
    stack_high_ = std::max(stack_high_, address + n);
    return true;
  }
  ++stats_.extra_reads;
  if (!client_.read_memory(address, n, out)) return false;
  if (address >= window_start_ && address - window_start_ < kMaxWindow)
    stack_high_ = std::max(stack_high_, address + n);
  return true;
}

Expected<std::vector<SourceFrame>> Tracer::stack() {
  const std::uint64_t sp = reg(debug_.sp_register());
  const std::uint64_t pc = reg(debug_.pc_register());
  if (!window_ready_) {
    auto [low, end] = window_range(sp);
    window_start_ = low;
    window_.assign(end - low, 0);
    if (!window_.empty() && !client_.read_memory(low, window_.size(), window_.data())) {
      // A guess past the stack's end: the rest of sp's page is there.
      window_.assign(std::min<std::uint64_t>(end, (sp | 0xfff) + 1) - low, 0);
      if (!client_.read_memory(low, window_.size(), window_.data())) window_.clear();
    }
    window_ready_ = true;
  }
  stats_.stack_window = std::max<std::uint64_t>(stats_.stack_window, window_.size());
  std::vector<target::elf::DebugInfo::UnwoundFrame> unwound = debug_.unwind_frames(regs_, reader_);
  if (unwound.empty()) unwound.push_back({pc, regs_});
  std::vector<SourceFrame> frames;
  for (std::size_t i = 0; i < unwound.size(); ++i) {
    const auto& at = debug_.describe(unwound[i].pc, i > 0);
    if (plan_.python && !at.empty() && at.back().function == plan_.python->vm_function) {
      // The Python function this VM frame runs, just before the VM's own frame.
      frames.insert(frames.end(), at.begin(), at.end() - 1);
      frames.push_back(python_frame(unwound, i));
      frames.push_back(at.back());
    } else {
      frames.insert(frames.end(), at.begin(), at.end());
    }
    // gdb's backtrace ends at main (`backtrace past-main` is off); so does ours, so that the
    // two logs have the same stacks (the C library's or the reset handler's frames are noise).
    if (!at.empty() && at.back().function == "main") break;
  }
  return frames;
}

SourceFrame Tracer::python_frame(std::span<const target::elf::DebugInfo::UnwoundFrame> frames,
                                 std::size_t i) {
  ++stats_.python_frames;
  const std::uint64_t reads_before = stats_.extra_reads;
  SourceFrame f;
  target::elf::ParameterValue code_state = debug_.parameter(frames, i, 0, reader_);
  if (code_state.value) {
    f = plan_.python->resolve(*code_state.value, reader_);
  } else {
    f.function = fmt::format("?? (code_state: {})", code_state.missing);
  }
  f.python = true;
  f.pc = 0;
  f.inlined = false;
  if (f.function.starts_with("?? (")) ++stats_.python_unresolved;
  stats_.python_reads += stats_.extra_reads - reads_before;
  return f;
}

Expected<HeapGeometry> Tracer::geometry(bool fresh) {
  if (geometry_ && geometry_->valid() && !fresh) return *geometry_;
  const HeapAreaLayout& h = *plan_.heap;
  const std::uint64_t base = h.area_address + plan_.load_bias;
  const std::uint64_t span =
      std::max({h.alloc_table_start, h.alloc_table_byte_len, h.pool_start, h.pool_end}) +
      h.word_size;
  std::vector<std::uint8_t> bytes(span);
  if (auto r = client_.read_memory(base, span, bytes.data()); !r) return r.error();
  auto word = [&](std::uint64_t off) {
    return load_uint(bytes.data() + off, h.word_size, h.little_endian);
  };
  HeapGeometry g;
  g.table = word(h.alloc_table_start);
  g.table_bytes = word(h.alloc_table_byte_len);
  g.pool = word(h.pool_start);
  g.pool_end = word(h.pool_end);
  geometry_ = g;
  if (plan_.mode == TraceMode::gc_functions && !seeded_ && g.valid()) {
    // The first look at the heap: what is live already was allocated before the capture (none
    // when it starts at reset). Their frees and sweeps are then reported like any other.
    seeded_ = true;
    auto table = read_table(g);
    if (!table) return table.error();
    // The allocation being returned (the first stop that reads the heap) is not one of them.
    const std::uint64_t own = returning_ >= g.pool && returning_ < g.pool_end
                                  ? (returning_ - g.pool) / plan_.heap->block_size
                                  : ~std::uint64_t{0};
    for (const auto& [start, length] : allocation_table_heads(*table, g.table_bytes * 4))
      if (start != own && live_.emplace(start, length).second) ++stats_.preexisting;
  }
  return g;
}

Expected<std::vector<std::uint8_t>> Tracer::read_table(const HeapGeometry& g) {
  std::vector<std::uint8_t> table(g.table_bytes);
  if (auto r = client_.read_memory(g.table, table.size(), table.data()); !r) return r.error();
  return table;
}

Expected<bool> Tracer::emit(std::uint64_t start_block, std::uint64_t length,
                            std::span<const SourceFrame> frames, std::string_view function,
                            std::string_view arguments) {
  NativeEvent e;
  e.start_block = start_block;
  e.length = length;
  e.frames = frames;
  e.function = function;
  e.arguments = arguments;
  if (auto r = sink_.event(e); !r) return r;
  if (length == 0 && plan_.python && plan_.python->forget && plan_.heap) {
    // What the Python frames' reader keeps of an object there is stale from now on.
    if (auto g = geometry(); g && g->valid())
      plan_.python->forget(g->pool + start_block * plan_.heap->block_size);
  }
  ++stats_.events;
  if (plan_.ram && sink_.ram) {
    ram_.resize(plan_.ram->second - plan_.ram->first);
    if (auto r = client_.read_memory(plan_.ram->first, ram_.size(), ram_.data()); !r) return r;
    if (auto r = sink_.ram(ram_); !r) return r;
  }
  if (plan_.max_events && stats_.events >= *plan_.max_events) {
    finished_ = true;
    stats_.end = NativeEnd::max_events;
  }
  progress(false);
  return true;
}

Expected<bool> Tracer::on_hook(std::uint64_t pc) {
  auto frames = stack();
  if (!frames) return frames.error();
  auto first = debug_.parameter(pc, 0, regs_, reader_);
  auto second = debug_.parameter(pc, 1, regs_, reader_);
  if (!first.value || !second.value)
    return Error{
        plan_.hook_function, 0, 0,
        fmt::format("the arguments of {} have no value at its first statement ({:#x}): "
                    "{}; build the firmware with -Og or -O0 for the hook's file, or "
                    "trace without the hook (--no-hook)",
                    plan_.hook_function, pc, !first.value ? first.missing : second.missing)};
  const std::string args = fmt::format("start_block={}, length={}", *first.value, *second.value);
  return emit(*first.value, *second.value, *frames, plan_.hook_function, args);
}

Expected<bool> Tracer::on_entry(Kind kind, std::uint64_t pc, std::string_view function) {
  const bool x86 = debug_.sp_register() == 7;
  const std::uint64_t sp = reg(debug_.sp_register());
  PendingCall call;
  call.kind = kind;
  call.function = std::string(function);
  auto frames = stack();
  if (!frames) return frames.error();
  auto need = [&](int index, const char* what) -> Expected<std::uint64_t> {
    auto v = debug_.parameter(pc, index, regs_, reader_);
    if (!v.value)
      return Error{std::string(function), 0, 0,
                   fmt::format("{}'s {} has no value at its entry ({:#x}): {}", function, what, pc,
                               v.missing)};
    return *v.value;
  };
  if (kind == Kind::alloc || kind == Kind::realloc) {
    if (kind == Kind::realloc) {
      auto p = need(0, "pointer");
      if (!p) return p.error();
      call.pointer = *p;
    }
    auto n = need(kind == Kind::alloc ? 0 : 1, "size");
    if (!n) return n.error();
    call.bytes = *n;
  } else if (kind == Kind::free) {
    auto p = need(0, "pointer");
    if (!p) return p.error();
    call.pointer = *p;
    if (call.pointer == 0) return true;  // free(NULL) changes nothing
  }
  // The return address: on the stack at entry (x86-64), in lr (ARM, Thumb bit cleared).
  if (x86) {
    std::uint8_t bytes[8] = {};
    if (!read_memory(sp, 8, bytes))
      return Error{client_.remote().text(), 0, 0,
                   fmt::format("cannot read the return address of {} at sp {:#x}", function, sp)};
    call.return_address = load_uint(bytes, 8, true);
    call.return_sp = sp + 8;
  } else {
    call.return_address = reg(14) & ~1ULL;
    call.return_sp = sp;
  }
  // A call that goes on into a part of the same function (gc_free -> gc_free.part.0) is one
  // change of the heap, reported once: the outer call's.
  for (const PendingCall& outer : pending_)
    if (outer.kind == call.kind && outer.pointer == call.pointer && outer.bytes == call.bytes &&
        kind != Kind::sweep)
      return true;
  call.frames = std::move(*frames);
  if (auto r = insert(call.return_address, false); !r) return r;
  pending_.push_back(std::move(call));
  return true;
}

Expected<bool> Tracer::sweep(std::span<const SourceFrame> frames, std::string_view function) {
  auto g = geometry(true);
  if (!g) return g.error();
  if (!g->valid()) return true;
  auto table = read_table(*g);
  if (!table) return table.error();
  const std::uint64_t blocks = g->table_bytes * 4;
  auto kind = [&](std::uint64_t b) { return ((*table)[b / 4] >> (2 * (b % 4))) & 3U; };
  std::vector<std::uint64_t> swept;
  for (const auto& [start, length] : live_)
    if (start >= blocks || kind(start) != 1) swept.push_back(start);
  for (std::uint64_t b : swept) {
    live_.erase(b);
    if (auto r = emit(b, 0, frames, function, ""); !r) return r;
  }
  // Heads nobody saw allocated, though live_ started from the table: missed events.
  std::uint64_t unseen = 0;
  for (std::uint64_t b = 0; b < blocks; ++b)
    if (kind(b) == 1 && !live_.contains(b)) ++unseen;
  stats_.unseen_heads = unseen;
  return true;
}

Expected<bool> Tracer::on_return(std::size_t index) {
  PendingCall call = std::move(pending_[index]);
  pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(index));
  const std::uint32_t bs = plan_.heap->block_size;
  const std::uint64_t result = reg(0);
  auto block_of = [&](const HeapGeometry& g, std::uint64_t p) -> std::optional<std::uint64_t> {
    if (p < g.pool || p >= g.pool_end) return std::nullopt;
    return (p - g.pool) / bs;
  };
  switch (call.kind) {
    case Kind::alloc: {
      if (result == 0) return true;  // no memory, or the collector was locked
      returning_ = result;
      auto g = geometry();
      if (!g) return g.error();
      if (!block_of(*g, result)) g = geometry(true);
      if (!g) return g.error();
      auto b = block_of(*g, result);
      if (!b) {
        ++stats_.outside_first_area;  // another area of a split heap: not in this log
        return true;
      }
      const std::uint64_t blocks = (call.bytes + bs - 1) / bs;
      live_[*b] = blocks;
      return emit(*b, blocks, call.frames, call.function, "");
    }
    case Kind::free: {
      auto g = geometry();
      if (!g) return g.error();
      auto b = block_of(*g, call.pointer);
      if (!b) {
        ++stats_.outside_first_area;  // another area of a split heap: not in this log
        return true;
      }
      std::uint8_t byte = 0;
      if (auto r = client_.read_memory(g->table + *b / 4, 1, &byte); !r) return r.error();
      if (((byte >> (2 * (*b % 4))) & 3U) != 0) return true;  // locked: nothing was freed
      live_.erase(*b);
      return emit(*b, 0, call.frames, call.function, "");
    }
    case Kind::realloc: {
      // Moved or from NULL: the gc_alloc and gc_free inside it reported the change.
      if (call.pointer == 0 || result != call.pointer || call.bytes == 0) return true;
      auto g = geometry();
      if (!g) return g.error();
      auto b = block_of(*g, call.pointer);
      if (!b) {
        ++stats_.outside_first_area;  // another area of a split heap: not in this log
        return true;
      }
      const std::uint64_t blocks = (call.bytes + bs - 1) / bs;
      auto it = live_.find(*b);
      if (it != live_.end() && it->second == blocks) return true;
      live_[*b] = blocks;
      return emit(*b, blocks, call.frames, call.function, "");
    }
    case Kind::sweep:
      return sweep(call.frames, call.function);
  }
  return true;
}

Expected<bool> Tracer::on_checkpoint(std::string_view name) {
  auto g = geometry(true);
  if (!g) return g.error();
  if (!g->valid() || g->pool_end < g->table) return true;
  const HeapAreaLayout& h = *plan_.heap;
  NativeCheckpoint cp;
  cp.name = name;
  cp.events = stats_.events;
  cp.parts.push_back({g->table, std::vector<std::uint8_t>(g->pool_end - g->table)});
  if (h.state_size > 0)
    cp.parts.push_back(
        {h.state_address + plan_.load_bias, std::vector<std::uint8_t>(h.state_size)});
  std::sort(cp.parts.begin(), cp.parts.end(),
            [](const auto& a, const auto& b) { return a.start < b.start; });
  for (auto& part : cp.parts)
    if (auto r = client_.read_memory(part.start, part.bytes.size(), part.bytes.data()); !r)
      return r.error();
  ++stats_.checkpoints;
  if (!sink_.checkpoint) return true;
  return sink_.checkpoint(cp);
}

void Tracer::progress(bool force) {
  auto now = Clock::now();
  if (!force && now - last_progress_ < std::chrono::milliseconds(500)) return;
  last_progress_ = now;
  stats_.seconds = std::chrono::duration<double>(now - t0_).count();
  stats_.packets = client_.packets_sent();
  stats_.round_trips = client_.round_trips();
  stats_.bytes_received = client_.bytes_received();
  if (sink_.progress) sink_.progress(stats_);
}

Expected<NativeTraceStats> Tracer::run() {
  const std::uint64_t bias = plan_.load_bias;
  struct Entry {
    Kind kind;
    const char* name;
  };
  std::unordered_map<std::uint64_t, Entry> entries;
  auto cleanup = [&] {
    if (!client_.stopped()) (void)client_.halt();
    (void)remove_all();
  };
  auto fail = [&](Error e) -> Expected<NativeTraceStats> {
    cleanup();
    return e;
  };
  if (plan_.mode == TraceMode::hook) {
    if (auto r = insert(plan_.hook_address + bias, true); !r) return fail(r.error());
  } else {
    const std::pair<std::optional<std::uint64_t>, Entry> gc[] = {
        {plan_.gc.alloc, {Kind::alloc, "gc_alloc"}},
        {plan_.gc.free, {Kind::free, "gc_free"}},
        {plan_.gc.realloc, {Kind::realloc, "gc_realloc"}},
        {plan_.gc.collect_end, {Kind::sweep, "gc_collect_end"}},
        {plan_.gc.sweep_all, {Kind::sweep, "gc_sweep_all"}}};
    for (const auto& [address, entry] : gc) {
      if (!address) continue;
      entries.emplace(*address + bias, entry);
      if (auto r = insert(*address + bias, true); !r) return fail(r.error());
    }
    for (const GcFunctions::Part& part : plan_.gc.parts) {
      for (const auto& [address, entry] : gc) {
        if (part.of != entry.name) continue;
        entries.emplace(part.address + bias, entry);
        if (auto r = insert(part.address + bias, true); !r) return fail(r.error());
      }
    }
  }
  std::unordered_map<std::uint64_t, const HeapCheckpoint*> checkpoints;
  for (const HeapCheckpoint& c : plan_.checkpoints) {
    checkpoints.emplace(c.address + bias, &c);
    if (auto r = insert(c.address + bias, false); !r) return fail(r.error());
  }
  if (plan_.until_address)
    if (auto r = insert(*plan_.until_address + bias, false); !r) return fail(r.error());
  if (auto r = client_.resume(); !r) return fail(r.error());

  auto last_stop = Clock::now();
  while (!finished_) {
    auto hit = client_.wait_stop(500, stop_);
    if (!hit) {
      if (hit.error().kind == ErrorKind::timeout) {
        progress(true);
        const double idle = std::chrono::duration<double>(Clock::now() - last_stop).count();
        if (plan_.idle_seconds && idle >= *plan_.idle_seconds)
          return fail(Error{client_.remote().text(), 0, 0,
                            fmt::format("the target did not stop for {:.0f} s (after {} events): "
                                        "it never reached the traced functions, or it is stuck",
                                        idle, stats_.events),
                            ErrorKind::timeout});
        continue;
      }
      if (hit.error().kind == ErrorKind::cancelled) {
        stats_.end = NativeEnd::interrupted;
        break;
      }
      return fail(hit.error());
    }
    if (hit->kind == rsp::StopReply::Kind::exited || hit->kind == rsp::StopReply::Kind::killed) {
      stats_.end = NativeEnd::program_exited;
      stats_.exit_text = hit->kind == rsp::StopReply::Kind::exited
                             ? fmt::format("exited with status {}", hit->code)
                             : fmt::format("killed by signal {}", hit->code);
      if (hit->kind == rsp::StopReply::Kind::exited) stats_.exit_status = hit->code;
      breakpoints_.clear();
      finished_ = true;
      break;
    }
    ++stats_.stops;
    last_stop = Clock::now();
    // Where a stub sends pc and sp with the stop (gdbserver), a stop that needs the stack reads
    // it together with the registers.
    std::optional<std::uint64_t> window_sp;
    {
      const auto& reply = client_.last_stop();
      auto epc = rsp::stop_register(reply, debug_.pc_register(), plan_.little_endian);
      auto esp = rsp::stop_register(reply, debug_.sp_register(), plan_.little_endian);
      if (epc && esp &&
          (entries.contains(*epc) ||
           (plan_.mode == TraceMode::hook && *epc == plan_.hook_address + bias)))
        window_sp = esp;
    }
    if (auto r = read_stop_state(window_sp); !r) return fail(r.error());
    const std::uint64_t pc = reg(debug_.pc_register());
    if (regs_hex_ == last_regs_hex_) {
      auto probe = learn_from_repeat(pc);
      if (!probe) return fail(probe.error());
      if (*probe) continue;
      // The stub reported the same stop again (QEMU does, about 1 % of stops).
      ++stats_.repeated_stops;
      if (auto r = step_off_and_resume(pc); !r) return fail(r.error());
      continue;
    }
    if (const auto bp = breakpoints_.find(probe_pc_);
        bp != breakpoints_.end() && step_off_[bp->second] == StepOff::probing)
      step_off_[bp->second] = StepOff::passes;  // `c` went on from the probed breakpoint
    if (plan_.until_address && pc == *plan_.until_address + bias) {
      const auto& at = debug_.describe(pc, false);
      if (!at.empty()) stats_.end_stop = at.back();
      stats_.end = NativeEnd::until_reached;
      finished_ = true;
      break;
    }
    Expected<bool> handled = true;
    bool known = false;
    if (plan_.mode == TraceMode::hook && pc == plan_.hook_address + bias) {
      known = true;
      handled = on_hook(pc);
    }
    if (handled && !finished_) {
      // A return first: the same address may be both a return address and an entry. Calls that
      // end here together (a tail call: gc_realloc jumping to gc_alloc returns to gc_realloc's
      // caller) are ended innermost first.
      const std::uint64_t sp = reg(debug_.sp_register());
      for (std::size_t i = pending_.size(); handled && !finished_ && i-- > 0;) {
        if (pending_[i].return_address == pc && pending_[i].return_sp == sp) {
          known = true;
          handled = on_return(i);
        }
      }
    }
    if (handled && !finished_) {
      if (auto e = entries.find(pc); e != entries.end()) {
        known = true;
        handled = on_entry(e->second.kind, pc, e->second.name);
      }
    }
    if (handled && !finished_) {
      if (auto c = checkpoints.find(pc); c != checkpoints.end()) {
        known = true;
        handled = on_checkpoint(c->second->name);
      }
    }
    if (!handled) return fail(handled.error());
    if (!known && !breakpoints_.contains(pc)) {
      // A stop that is not ours: a signal of the program (a crash) ends the trace.
      stats_.exit_text = fmt::format("stopped by signal {} at {:#x}", hit->code, pc);
      stats_.end = NativeEnd::program_exited;
      finished_ = true;
      break;
    }
    if (finished_) break;
    if (stop_ != nullptr && stop_->load()) {
      stats_.end = NativeEnd::interrupted;
      break;
    }
    if (auto r = step_off_and_resume(pc); !r) return fail(r.error());
  }
  // The heap as the trace leaves it, while the target is still there.
  if (!plan_.checkpoints.empty() && stats_.end != NativeEnd::program_exited) {
    if (!client_.stopped()) {
      auto halted = client_.halt();
      if (!halted) return fail(halted.error());
    }
    if (auto r = on_checkpoint("end"); !r) return fail(r.error());
  }
  cleanup();
  progress(true);
  return stats_;
}

}  // namespace

std::vector<std::pair<std::uint64_t, std::uint64_t>> allocation_table_heads(
    std::span<const std::uint8_t> table, std::uint64_t blocks) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> heads;
  blocks = std::min<std::uint64_t>(blocks, table.size() * 4);
  auto kind = [&](std::uint64_t b) { return (table[b / 4] >> (2 * (b % 4))) & 3U; };
  for (std::uint64_t b = 0; b < blocks; ++b) {
    if (kind(b) != 1 && kind(b) != 3) continue;
    std::uint64_t n = 1;
    while (b + n < blocks && kind(b + n) == 2) ++n;
    heads.emplace_back(b, n);
  }
  return heads;
}

Expected<NativeTraceStats> run_native_trace(RspClient& client, target::elf::DebugInfo& debug,
                                            const NativeTracePlan& plan,
                                            const NativeTraceSink& sink,
                                            const std::atomic<bool>* stop) {
  if (plan.mode == TraceMode::gc_functions && !plan.heap)
    return Error{"native trace", 0, 0,
                 "tracing without the hook needs the heap's layout (mp_state_ctx.mem.area from "
                 "the ELF's DWARF)"};
  Tracer tracer(client, debug, plan, sink, stop);
  return tracer.run();
}

}  // namespace mpheap::capture
