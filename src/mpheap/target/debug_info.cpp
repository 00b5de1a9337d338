// Offline unwinding and naming with libdw: the CFI (.debug_frame, .eh_frame) walked with our own
// rule evaluation (dwarf_expression), frames named from the DWARF scopes at a pc the way gdb 13
// names them, parameters from their location lists.
#include "mpheap/target/debug_info.h"

#include <dwarf.h>
#include <elf.h>
#include <elfutils/libdw.h>
#include <gelf.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <unordered_map>

#include "mpheap/io/registers.h"
#include "mpheap/target/dwarf_expression.h"

namespace mpheap::target::elf {

namespace {

struct FrameDeleter {
  void operator()(Dwarf_Frame* f) const { std::free(f); }  // NOLINT(cppcoreguidelines-no-malloc)
};
using FramePtr = std::unique_ptr<Dwarf_Frame, FrameDeleter>;

// What the unwinder needs to know of a machine: DWARF numbers of its pc and stack pointer, how
// many registers a frame tracks, which bits of a return address are not part of the address.
struct MachineRegisters {
  int pc = -1;
  int sp = -1;
  int count = 0;
  std::uint64_t address_mask = ~std::uint64_t{0};
};

MachineRegisters machine_registers(const std::string& machine) {
  if (machine == "x86-64") return {16, 7, 17, ~std::uint64_t{0}};
  // ARM: the return address column is lr (14); Thumb code has bit 0 set in lr.
  if (machine == "ARM") return {15, 13, 16, 0xfffffffe};
  return {};
}

// The DWARF number of a register by its name in a `g` reply.
int dwarf_number(const std::string& machine, const std::string& name) {
  if (machine == "x86-64") {
    static const char* const kNames[] = {"rax", "rdx", "rcx", "rbx", "rsi", "rdi",
                                         "rbp", "rsp", "r8",  "r9",  "r10", "r11",
                                         "r12", "r13", "r14", "r15", "rip"};
    for (int i = 0; i < 17; ++i)
      if (name == kNames[i]) return i;
    return -1;
  }
  if (machine == "ARM") {
    if (name == "sp") return 13;
    if (name == "lr") return 14;
    if (name == "pc") return 15;
    if (name.size() >= 2 && name[0] == 'r') {
      const int n = std::atoi(name.c_str() + 1);
      if (n >= 0 && n <= 12) return n;
    }
  }
  return -1;
}

struct UnitInfo {
  Dwarf_Die die{};
  int version = 0;              // of its line table (a DWARF 5 unit may have an older one)
  std::string first_directory;  // the line table's directory 0 as libdw gives it
};

struct UnitRange {
  std::uint64_t low = 0, high = 0;
  std::size_t unit = 0;
};

struct FunctionSymbol {
  std::uint64_t address = 0, size = 0;
  std::string name;
};

std::string die_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  // Through DW_AT_abstract_origin and DW_AT_specification.
  if (dwarf_attr_integrate(die, DW_AT_name, &attr) != nullptr)
    if (const char* s = dwarf_formstring(&attr)) return s;
  return "??";
}

// The version of the line table at `offset` in .debug_line (its header: unit length, version).
std::optional<int> line_table_version(Elf* elf, std::uint64_t offset, bool little_endian) {
  std::size_t names = 0;
  if (elf_getshdrstrndx(elf, &names) != 0) return std::nullopt;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr header;
    if (gelf_getshdr(scn, &header) == nullptr) continue;
    const char* name = elf_strptr(elf, names, header.sh_name);
    if (name == nullptr || std::string_view(name) != ".debug_line") continue;
    Elf_Data* data = elf_rawdata(scn, nullptr);
    if (data == nullptr || (header.sh_flags & SHF_COMPRESSED) != 0) return std::nullopt;
    const auto* bytes = static_cast<const std::uint8_t*>(data->d_buf);
    auto at = [&](std::uint64_t i) -> unsigned { return bytes[i]; };
    std::uint64_t pos = offset + 4;
    if (offset + 4 > data->d_size) return std::nullopt;
    if (at(offset) == 0xff && at(offset + 1) == 0xff && at(offset + 2) == 0xff &&
        at(offset + 3) == 0xff)
      pos += 8;  // 64-bit DWARF
    if (pos + 2 > data->d_size) return std::nullopt;
    return static_cast<int>(little_endian ? at(pos) | at(pos + 1) << 8
                                          : at(pos) << 8 | at(pos + 1));
  }
  return std::nullopt;
}

}  // namespace

struct DebugInfo::State {
  const ElfImage* elf = nullptr;
  std::uint64_t bias = 0;
  std::string machine;
  MachineRegisters regs;
  Dwarf* dwarf = nullptr;
  Dwarf_CFI* eh_frame = nullptr;                              // ours (dwarf_cfi_end)
  Dwarf_CFI* debug_frame = nullptr;                           // the Dwarf's
  std::vector<std::pair<std::uint64_t, std::uint64_t>> code;  // link-time executable ranges
  std::vector<UnitInfo> units;
  std::vector<UnitRange> unit_ranges;  // sorted by low
  std::vector<FunctionSymbol> functions;
  std::unordered_map<std::uint64_t, std::vector<SourceFrame>> described;
  std::unordered_map<std::uint64_t, std::optional<Dwarf_Die>> subprograms;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::vector<std::uint64_t>> tail_chains;

  ~State() {
    if (eh_frame != nullptr) dwarf_cfi_end(eh_frame);
    if (dwarf != nullptr) dwarf_end(dwarf);
  }

  [[nodiscard]] bool in_code(std::uint64_t address) const {
    return std::any_of(code.begin(), code.end(),
                       [&](const auto& r) { return address >= r.first && address < r.second; });
  }

  [[nodiscard]] ExpressionContext context(const RegisterFile* registers,
                                          const MemoryReader* read) const {
    ExpressionContext c;
    c.registers = registers;
    c.read = read;
    c.load_bias = bias;
    c.word_size = elf->word_size();
    c.little_endian = elf->little_endian();
    return c;
  }

  // The CFI row at a link-time address: .debug_frame first (as gdb), then .eh_frame.
  [[nodiscard]] FramePtr frame_at(std::uint64_t address) const {
    for (Dwarf_CFI* cfi : {debug_frame, eh_frame}) {
      Dwarf_Frame* frame = nullptr;
      if (cfi != nullptr && dwarf_cfi_addrframe(cfi, address, &frame) == 0) return FramePtr(frame);
    }
    return nullptr;
  }

  [[nodiscard]] std::optional<std::uint64_t> cfa(Dwarf_Frame* frame,
                                                 const ExpressionContext& c) const {
    Dwarf_Op* ops = nullptr;
    std::size_t n = 0;
    if (dwarf_frame_cfa(frame, &ops, &n) != 0 || n == 0) return std::nullopt;
    ExpressionResult r = evaluate_expression({ops, n}, c);
    if (r.kind != ExpressionResult::Kind::memory && r.kind != ExpressionResult::Kind::value)
      return std::nullopt;
    return r.number;
  }

  [[nodiscard]] const UnitInfo* unit_at(std::uint64_t address) const {
    auto it = std::upper_bound(unit_ranges.begin(), unit_ranges.end(), address,
                               [](std::uint64_t a, const UnitRange& r) { return a < r.low; });
    while (it != unit_ranges.begin()) {
      --it;
      if (address < it->high) return &units[it->unit];
      // Ranges are sorted by start only; an earlier, longer range may still cover the address.
      if (address - it->low > (std::uint64_t{1} << 24)) break;
    }
    return nullptr;
  }

  // A file name as gdb 13 prints it: DWARF 5 joins the entry's directory (0 included) as
  // written; before DWARF 5, directory 0 (the compilation directory) is not joined. libdw joins
  // both, so the compilation directory comes off again for the older units.
  [[nodiscard]] static std::string file_name(const UnitInfo& unit, const char* joined) {
    if (joined == nullptr) return "";
    std::string name = joined;
    const std::string& dir = unit.first_directory;
    if (unit.version < 5 && !dir.empty() && name.size() > dir.size() + 1 &&
        name.compare(0, dir.size(), dir) == 0 && name[dir.size()] == '/')
      name.erase(0, dir.size() + 1);
    return name;
  }

  // The line table row gdb's find_pc_line picks: the last row at the greatest address not above
  // `address` (several rows can share an address); when that row is not a statement, an earlier
  // statement row at the same address. None past an end of sequence.
  static Dwarf_Line* line_row(Dwarf_Die* cu, std::uint64_t address) {
    Dwarf_Lines* lines = nullptr;
    std::size_t count = 0;
    if (dwarf_getsrclines(cu, &lines, &count) != 0 || count == 0) return nullptr;
    auto addr = [&](std::size_t i) {
      Dwarf_Addr a = 0;
      dwarf_lineaddr(dwarf_onesrcline(lines, i), &a);
      return a;
    };
    // libdw keeps the rows sorted by address.
    std::size_t lo = 0, hi = count;
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (addr(mid) <= address)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo == 0) return nullptr;
    std::size_t best = lo - 1;
    bool flag = false;
    if (dwarf_lineendsequence(dwarf_onesrcline(lines, best), &flag) == 0 && flag) return nullptr;
    if (dwarf_linebeginstatement(dwarf_onesrcline(lines, best), &flag) == 0 && !flag) {
      std::size_t i = best;
      while (i > 0 && addr(i - 1) == addr(best)) {
        --i;
        if (dwarf_linebeginstatement(dwarf_onesrcline(lines, i), &flag) == 0 && flag) {
          best = i;
          break;
        }
      }
    }
    return dwarf_onesrcline(lines, best);
  }

  // The subprogram and inlined-subroutine DIEs containing `address`, outermost first.
  static bool scopes(Dwarf_Die* parent, std::uint64_t address, std::vector<Dwarf_Die>& chain,
                     int depth) {
    Dwarf_Die child;
    if (depth > 64 || dwarf_child(parent, &child) != 0) return false;
    do {
      const int tag = dwarf_tag(&child);
      if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
          tag == DW_TAG_lexical_block) {
        if (dwarf_haspc(&child, address) > 0) {
          if (tag != DW_TAG_lexical_block) chain.push_back(child);
          scopes(&child, address, chain, depth + 1);
          return true;
        }
      } else if (tag == DW_TAG_namespace || tag == DW_TAG_module) {
        if (scopes(&child, address, chain, depth + 1)) return true;
      }
    } while (dwarf_siblingof(&child, &child) == 0);
    return false;
  }

  [[nodiscard]] std::optional<Dwarf_Die> subprogram_at(std::uint64_t address) {
    if (auto it = subprograms.find(address); it != subprograms.end()) return it->second;
    std::optional<Dwarf_Die> found;
    if (const UnitInfo* unit = unit_at(address)) {
      std::vector<Dwarf_Die> chain;
      Dwarf_Die cu = unit->die;
      scopes(&cu, address, chain, 0);
      if (!chain.empty() && dwarf_tag(&chain.front()) == DW_TAG_subprogram) found = chain.front();
    }
    subprograms.emplace(address, found);
    return found;
  }

  // The link-time entry of the function a call site calls (its DW_AT_call_origin), nullopt for
  // an indirect call.
  [[nodiscard]] std::optional<std::uint64_t> call_target(Dwarf_Die* site) const {
    Dwarf_Attribute attr;
    Dwarf_Die target;
    if ((dwarf_attr(site, DW_AT_call_origin, &attr) == nullptr &&
         dwarf_attr(site, DW_AT_abstract_origin, &attr) == nullptr) ||
        dwarf_formref_die(&attr, &target) == nullptr)
      return std::nullopt;
    Dwarf_Addr low = 0;
    if (dwarf_lowpc(&target, &low) == 0) return low;
    // A declaration (the function is defined in another unit): by its symbol.
    const std::string name = die_name(&target);
    for (const FunctionSymbol& f : functions)
      if (f.name == name) return f.address;
    return std::nullopt;
  }

  // The call sites in a function's code (inlined code and blocks included).
  static void call_sites(Dwarf_Die* parent, std::vector<Dwarf_Die>& out, int depth) {
    Dwarf_Die child;
    if (depth > 32 || dwarf_child(parent, &child) != 0) return;
    do {
      const int tag = dwarf_tag(&child);
      if (tag == DW_TAG_call_site || tag == DW_TAG_GNU_call_site)
        out.push_back(child);
      else if (tag == DW_TAG_lexical_block || tag == DW_TAG_inlined_subroutine)
        call_sites(&child, out, depth + 1);
    } while (dwarf_siblingof(&child, &child) == 0);
  }

  static std::optional<std::uint64_t> return_pc(Dwarf_Die* site) {
    Dwarf_Attribute attr;
    Dwarf_Addr pc = 0;
    if ((dwarf_attr(site, DW_AT_call_return_pc, &attr) != nullptr ||
         dwarf_attr(site, DW_AT_low_pc, &attr) != nullptr) &&
        dwarf_formaddr(&attr, &pc) == 0)
      return pc;
    return std::nullopt;
  }

  // Paths of tail calls (the return pcs of their sites, outermost first) from the function at
  // `from` to the one at `to`.
  void tail_paths(std::uint64_t from, std::uint64_t to, int depth, std::vector<std::uint64_t>& path,
                  std::vector<std::vector<std::uint64_t>>& paths) {
    if (depth > 4 || paths.size() > 1) return;
    std::optional<Dwarf_Die> sub = subprogram_at(from);
    if (!sub) return;
    std::vector<Dwarf_Die> sites;
    call_sites(&*sub, sites, 0);
    for (Dwarf_Die& site : sites) {
      if (!dwarf_hasattr(&site, DW_AT_call_tail_call) && !dwarf_hasattr(&site, DW_AT_GNU_tail_call))
        continue;
      std::optional<std::uint64_t> target = call_target(&site);
      std::optional<std::uint64_t> pc = return_pc(&site);
      if (!target || !pc) continue;
      path.push_back(*pc);
      if (*target == to)
        paths.push_back(path);
      else
        tail_paths(*target, to, depth + 1, path, paths);
      path.pop_back();
    }
  }

  // gdb's tail call frames (DWARF call sites): the caller's call at `return_address` called a
  // function other than the callee's; when exactly one chain of tail calls leads from it to the
  // callee, the return pcs of those tail calls, innermost first. Link-time addresses.
  std::vector<std::uint64_t> tail_calls(std::uint64_t callee, std::uint64_t return_address) {
    // The same return addresses come back at every stop.
    const auto key = std::make_pair(callee, return_address);
    if (auto it = tail_chains.find(key); it != tail_chains.end()) return it->second;
    std::vector<std::uint64_t> chain = find_tail_calls(callee, return_address);
    tail_chains.emplace(key, chain);
    return chain;
  }

  std::vector<std::uint64_t> find_tail_calls(std::uint64_t callee, std::uint64_t return_address) {
    std::optional<Dwarf_Die> callee_sub = subprogram_at(callee);
    std::optional<Dwarf_Die> caller_sub = subprogram_at(return_address - 1);
    Dwarf_Addr callee_entry = 0;
    if (!callee_sub || !caller_sub || dwarf_lowpc(&*callee_sub, &callee_entry) != 0) return {};
    std::vector<Dwarf_Die> sites;
    call_sites(&*caller_sub, sites, 0);
    for (Dwarf_Die& site : sites) {
      if (return_pc(&site) != return_address) continue;
      std::optional<std::uint64_t> target = call_target(&site);
      if (!target || *target == callee_entry) return {};
      std::vector<std::uint64_t> path;
      std::vector<std::vector<std::uint64_t>> paths;
      tail_paths(*target, callee_entry, 0, path, paths);
      if (paths.size() != 1) return {};
      std::reverse(paths[0].begin(), paths[0].end());
      return paths[0];
    }
    return {};
  }

  [[nodiscard]] const FunctionSymbol* symbol_at(std::uint64_t address) const {
    auto it =
        std::upper_bound(functions.begin(), functions.end(), address,
                         [](std::uint64_t a, const FunctionSymbol& f) { return a < f.address; });
    if (it == functions.begin()) return nullptr;
    --it;
    if (address < it->address + std::max<std::uint64_t>(it->size, 1)) return &*it;
    return nullptr;
  }

  void index_units() {
    Dwarf_Off offset = 0, next = 0;
    std::size_t header_size = 0;
    while (dwarf_nextcu(dwarf, offset, &next, &header_size, nullptr, nullptr, nullptr) == 0) {
      UnitInfo unit;
      if (dwarf_offdie(dwarf, offset + header_size, &unit.die) != nullptr) {
        Dwarf_Half version = 0;
        if (dwarf_cu_info(unit.die.cu, &version, nullptr, nullptr, nullptr, nullptr, nullptr,
                          nullptr) == 0)
          unit.version = version;
        Dwarf_Attribute stmt;
        Dwarf_Word stmt_list = 0;
        if (dwarf_attr(&unit.die, DW_AT_stmt_list, &stmt) != nullptr &&
            dwarf_formudata(&stmt, &stmt_list) == 0)
          unit.version = line_table_version(elf->elf(), stmt_list, elf->little_endian())
                             .value_or(unit.version);
        Dwarf_Files* files = nullptr;
        std::size_t count = 0;
        const char* const* dirs = nullptr;
        std::size_t ndirs = 0;
        if (dwarf_getsrcfiles(&unit.die, &files, &count) == 0 &&
            dwarf_getsrcdirs(files, &dirs, &ndirs) == 0 && ndirs > 0 && dirs[0] != nullptr)
          unit.first_directory = dirs[0];
        const std::size_t index = units.size();
        units.push_back(unit);
        Dwarf_Addr base = 0, start = 0, end = 0;
        ptrdiff_t at = 0;
        while ((at = dwarf_ranges(&units.back().die, at, &base, &start, &end)) > 0)
          if (end > start) unit_ranges.push_back({start, end, index});
      }
      offset = next;
    }
    std::sort(unit_ranges.begin(), unit_ranges.end(),
              [](const UnitRange& a, const UnitRange& b) { return a.low < b.low; });
  }
};

DebugInfo::DebugInfo() : state_(std::make_unique<State>()) {}
DebugInfo::~DebugInfo() = default;

Expected<std::unique_ptr<DebugInfo>> DebugInfo::open(const ElfImage& elf, std::uint64_t load_bias) {
  std::unique_ptr<DebugInfo> info(new DebugInfo());
  State& s = *info->state_;
  s.elf = &elf;
  s.bias = load_bias;
  s.machine = elf.machine();
  s.regs = machine_registers(s.machine);
  s.dwarf = dwarf_begin_elf(elf.elf(), DWARF_C_READ, nullptr);
  s.eh_frame = dwarf_getcfi_elf(elf.elf());
  if (s.dwarf != nullptr) s.debug_frame = dwarf_getcfi(s.dwarf);
  if (s.dwarf == nullptr && s.eh_frame == nullptr)
    return Error{elf.name(), 0, 0,
                 "no call frame information (.eh_frame, .debug_frame) and no DWARF: build with "
                 "-g, or keep .eh_frame"};
  if (s.dwarf != nullptr) s.index_units();
  for (const ElfSegment& seg : elf.segments())
    if ((seg.flags & PF_X) != 0) s.code.emplace_back(seg.vaddr, seg.vaddr + seg.memsz);
  if (s.code.empty())
    for (const ElfSection& sec : elf.sections())
      if ((sec.flags & SHF_EXECINSTR) != 0)
        s.code.emplace_back(sec.address, sec.address + sec.size);
  if (auto symbols = elf.symbols()) {
    for (const ElfSymbol& sym : *symbols)
      if (sym.type == STT_FUNC)
        s.functions.push_back({sym.symbol.address, sym.symbol.size, sym.symbol.name});
    std::sort(
        s.functions.begin(), s.functions.end(),
        [](const FunctionSymbol& a, const FunctionSymbol& b) { return a.address < b.address; });
  }
  return info;
}

RegisterFile DebugInfo::registers_from_g_reply(std::string_view hex) const {
  const State& s = *state_;
  RegisterFile out(static_cast<std::size_t>(s.regs.count));
  auto parsed =
      io::registers_from_g_reply(hex, s.machine, s.elf->word_size(), s.elf->little_endian());
  if (!parsed) return out;
  for (const io::Register& r : *parsed) {
    const int n = dwarf_number(s.machine, r.name);
    if (n >= 0 && n < s.regs.count) out[static_cast<std::size_t>(n)] = r.value;
  }
  return out;
}

int DebugInfo::pc_register() const {
  return state_->regs.pc;
}
int DebugInfo::sp_register() const {
  return state_->regs.sp;
}

std::vector<std::uint64_t> DebugInfo::unwind(const RegisterFile& registers,
                                             const MemoryReader& read,
                                             std::size_t max_frames) const {
  std::vector<std::uint64_t> pcs;
  for (const UnwoundFrame& f : unwind_frames(registers, read, max_frames)) pcs.push_back(f.pc);
  return pcs;
}

std::vector<DebugInfo::UnwoundFrame> DebugInfo::unwind_frames(const RegisterFile& registers,
                                                              const MemoryReader& read,
                                                              std::size_t max_frames) const {
  State& s = *state_;
  std::vector<UnwoundFrame> pcs;
  const auto pc_index = static_cast<std::size_t>(s.regs.pc);
  if (s.regs.pc < 0 || registers.size() <= pc_index || !registers[pc_index]) return pcs;
  RegisterFile regs = registers;
  regs.resize(static_cast<std::size_t>(s.regs.count));
  std::optional<std::uint64_t> previous_cfa;
  std::uint64_t pc = *regs[pc_index];
  while (pcs.size() < max_frames) {
    const bool innermost = pcs.empty();
    if (!innermost && (pc == 0 || pc < s.bias || !s.in_code(pc - s.bias))) break;
    pcs.push_back({pc, regs});
    if (pc < s.bias + (innermost ? 0 : 1)) break;
    // A caller's pc is a return address: its call is the instruction before it.
    FramePtr frame = s.frame_at(pc - s.bias - (innermost ? 0 : 1));
    if (!frame) break;
    const ExpressionContext context = s.context(&regs, &read);
    std::optional<std::uint64_t> cfa = s.cfa(frame.get(), context);
    // The stack grows down: a caller's CFA lies above its callee's, else we are going round.
    if (!cfa || (previous_cfa && *cfa <= *previous_cfa)) break;
    Dwarf_Addr start = 0, end = 0;
    bool signal = false;
    const int ra_column = dwarf_frame_info(frame.get(), &start, &end, &signal);
    if (ra_column < 0) break;
    ExpressionContext rule_context = context;
    rule_context.cfa = cfa;
    const auto count = static_cast<int>(regs.size());
    RegisterFile caller(regs.size());
    bool return_address_lost = false;
    for (int regno = 0; regno < count; ++regno) {
      Dwarf_Op ops_mem[3];
      Dwarf_Op* ops = nullptr;
      std::size_t nops = 0;
      auto& slot = caller[static_cast<std::size_t>(regno)];
      if (dwarf_frame_register(frame.get(), regno, ops_mem, &ops, &nops) != 0) continue;
      if (nops == 0) {
        // ops == ops_mem: undefined; nullptr: same value. The stack pointer's own default is the
        // CFA (no ABI keeps the caller's sp anywhere else).
        if (regno == s.regs.sp)
          slot = cfa;
        else if (ops == nullptr)
          slot = regs[static_cast<std::size_t>(regno)];
        continue;
      }
      if (regno != ra_column && regno == s.regs.pc) continue;  // set from the return address
      ExpressionResult r = evaluate_expression({ops, nops}, rule_context, cfa);
      if (r.kind == ExpressionResult::Kind::memory) {
        slot = read_unsigned(read, r.number, s.elf->word_size(), s.elf->little_endian());
        if (!slot && regno == ra_column) return_address_lost = true;
      } else if (r.kind == ExpressionResult::Kind::value) {
        slot = r.number;
      } else if (r.kind == ExpressionResult::Kind::register_number && r.number < regs.size()) {
        slot = regs[r.number];
      }
    }
    if (return_address_lost || ra_column >= count) break;
    std::optional<std::uint64_t> ra = caller[static_cast<std::size_t>(ra_column)];
    if (!ra) break;
    const std::uint64_t next = *ra & s.regs.address_mask;
    caller[pc_index] = next;
    if (s.regs.sp >= 0 && !caller[static_cast<std::size_t>(s.regs.sp)])
      caller[static_cast<std::size_t>(s.regs.sp)] = cfa;
    regs = std::move(caller);
    previous_cfa = cfa;
    if (s.dwarf != nullptr && next > s.bias && s.in_code(next - s.bias))
      for (std::uint64_t tail : s.tail_calls(pc - s.bias - (innermost ? 0 : 1), next - s.bias))
        if (pcs.size() < max_frames) pcs.push_back({tail + s.bias, {}});
    pc = next;
  }
  return pcs;
}

const std::vector<SourceFrame>& DebugInfo::describe(std::uint64_t pc, bool return_address) {
  State& s = *state_;
  const std::uint64_t key = (pc << 1) | (return_address ? 1 : 0);
  if (auto it = s.described.find(key); it != s.described.end()) return it->second;
  std::vector<SourceFrame> frames;
  const std::uint64_t address = pc - s.bias - (return_address ? 1 : 0);
  if (const UnitInfo* unit = s.unit_at(address)) {
    Dwarf_Die cu = unit->die;
    std::vector<Dwarf_Die> chain;
    State::scopes(&cu, address, chain, 0);
    std::reverse(chain.begin(), chain.end());
    std::string file;
    int line = 0;
    if (Dwarf_Line* row = State::line_row(&cu, address)) {
      file = State::file_name(*unit, dwarf_linesrc(row, nullptr, nullptr));
      if (dwarf_lineno(row, &line) != 0) line = 0;
    }
    Dwarf_Files* files = nullptr;
    std::size_t file_count = 0;
    if (dwarf_getsrcfiles(&cu, &files, &file_count) != 0) files = nullptr;
    for (Dwarf_Die& die : chain) {
      SourceFrame f;
      f.pc = pc;
      f.function = die_name(&die);
      f.file = file;
      f.line = line;
      f.inlined = dwarf_tag(&die) == DW_TAG_inlined_subroutine;
      frames.push_back(std::move(f));
      // The next frame out is at this inlined call's site.
      Dwarf_Attribute attr;
      Dwarf_Word value = 0;
      file.clear();
      line = 0;
      if (dwarf_attr(&die, DW_AT_call_file, &attr) != nullptr &&
          dwarf_formudata(&attr, &value) == 0 && files != nullptr && value < file_count)
        file = State::file_name(*unit, dwarf_filesrc(files, value, nullptr, nullptr));
      if (dwarf_attr(&die, DW_AT_call_line, &attr) != nullptr &&
          dwarf_formudata(&attr, &value) == 0)
        line = static_cast<int>(value);
    }
  }
  if (frames.empty()) {
    SourceFrame f;
    f.pc = pc;
    const FunctionSymbol* sym = s.symbol_at(address);
    f.function = sym != nullptr ? sym->name : "??";
    frames.push_back(std::move(f));
  }
  return s.described.emplace(key, std::move(frames)).first->second;
}

namespace {

std::optional<Dwarf_Die> formal_parameter(Dwarf_Die subprogram, int index) {
  Dwarf_Die child;
  if (dwarf_child(&subprogram, &child) != 0) return std::nullopt;
  int n = 0;
  do {
    if (dwarf_tag(&child) == DW_TAG_formal_parameter && n++ == index) return child;
  } while (dwarf_siblingof(&child, &child) == 0);
  return std::nullopt;
}

ParameterValue no_value(std::string why) {
  ParameterValue v;
  v.missing = std::move(why);
  return v;
}

// The first location expression of `attr` that covers `address` (a location list's entry, or
// the single expression), evaluated.
std::optional<ExpressionResult> location(Dwarf_Attribute* attr, std::uint64_t address,
                                         const ExpressionContext& context) {
  Dwarf_Op* ops = nullptr;
  std::size_t n = 0;
  if (dwarf_getlocation_addr(attr, address, &ops, &n, 1) <= 0) return std::nullopt;
  ExpressionContext with_attribute = context;
  with_attribute.attribute = attr;
  return evaluate_expression({ops, n}, with_attribute);
}

// The frame base of `subprogram` at `address` (DW_AT_frame_base), into `context`.
void set_frame_base(Dwarf_Die subprogram, std::uint64_t address, ExpressionContext& context) {
  Dwarf_Attribute base_attr;
  if (dwarf_attr(&subprogram, DW_AT_frame_base, &base_attr) == nullptr) return;
  if (auto base = location(&base_attr, address, context)) {
    if (base->kind == ExpressionResult::Kind::memory)
      context.frame_base = base->number;
    else if (base->kind == ExpressionResult::Kind::register_number &&
             context.registers != nullptr && base->number < context.registers->size())
      context.frame_base = (*context.registers)[base->number];
  }
}

}  // namespace

ParameterValue DebugInfo::parameter(std::span<const UnwoundFrame> frames, std::size_t i, int index,
                                    const MemoryReader& read) const {
  return parameter_in(frames, i, index, read, 0);
}

ParameterValue DebugInfo::parameter_in(std::span<const UnwoundFrame> frames, std::size_t i,
                                       int index, const MemoryReader& read, int depth) const {
  if (i >= frames.size() || frames[i].registers.empty())
    return no_value("no registers for this frame (a tail call)");
  const std::function<std::optional<std::uint64_t>(std::uint64_t)> entry =
      [&](std::uint64_t regno) { return entry_value(frames, i + 1, regno, read, depth + 1); };
  return parameter_at(frames[i].pc, index, frames[i].registers, read, i > 0, &entry);
}

std::optional<std::uint64_t> DebugInfo::entry_value(std::span<const UnwoundFrame> frames,
                                                    std::size_t i, std::uint64_t regno,
                                                    const MemoryReader& read, int depth) const {
  State& s = *state_;
  if (depth > 4 || i >= frames.size() || frames[i].registers.empty() || frames[i].pc <= s.bias)
    return std::nullopt;
  const std::uint64_t return_pc = frames[i].pc - s.bias;
  std::optional<Dwarf_Die> caller = s.subprogram_at(return_pc - 1);
  if (!caller) return std::nullopt;
  std::vector<Dwarf_Die> sites;
  State::call_sites(&*caller, sites, 0);
  for (Dwarf_Die& site : sites) {
    if (State::return_pc(&site) != return_pc) continue;
    Dwarf_Die parameter;
    if (dwarf_child(&site, &parameter) != 0) return std::nullopt;
    do {
      const int tag = dwarf_tag(&parameter);
      if (tag != DW_TAG_call_site_parameter && tag != DW_TAG_GNU_call_site_parameter) continue;
      Dwarf_Attribute attr;
      Dwarf_Op* ops = nullptr;
      std::size_t n = 0;
      if (dwarf_attr(&parameter, DW_AT_location, &attr) == nullptr ||
          dwarf_getlocation(&attr, &ops, &n) != 0 || n != 1)
        continue;
      const bool in_register = (ops[0].atom >= DW_OP_reg0 && ops[0].atom <= DW_OP_reg31 &&
                                static_cast<std::uint64_t>(ops[0].atom - DW_OP_reg0) == regno) ||
                               (ops[0].atom == DW_OP_regx && ops[0].number == regno);
      if (!in_register) continue;
      if ((dwarf_attr(&parameter, DW_AT_call_value, &attr) == nullptr &&
           dwarf_attr(&parameter, DW_AT_GNU_call_site_value, &attr) == nullptr) ||
          dwarf_getlocation(&attr, &ops, &n) != 0)
        return std::nullopt;
      // The value at the call, in the caller's frame (its registers, CFA and frame base).
      const RegisterFile& registers = frames[i].registers;
      const std::function<std::optional<std::uint64_t>(std::uint64_t)> entry =
          [&](std::uint64_t r) { return entry_value(frames, i + 1, r, read, depth + 1); };
      ExpressionContext context = s.context(&registers, &read);
      context.entry_register = &entry;
      context.attribute = &attr;
      if (FramePtr frame = s.frame_at(return_pc - 1)) context.cfa = s.cfa(frame.get(), context);
      set_frame_base(*caller, return_pc - 1, context);
      ExpressionResult r = evaluate_expression({ops, n}, context);
      switch (r.kind) {
        case ExpressionResult::Kind::memory:  // the expression's result is the value itself
        case ExpressionResult::Kind::value:
          return r.number;
        case ExpressionResult::Kind::register_number:
          if (r.number < registers.size()) return registers[r.number];
          return std::nullopt;
        case ExpressionResult::Kind::none:
          return std::nullopt;
      }
      return std::nullopt;
    } while (dwarf_siblingof(&parameter, &parameter) == 0);
    return std::nullopt;
  }
  return std::nullopt;
}

ParameterValue DebugInfo::parameter(std::uint64_t pc, int index, const RegisterFile& registers,
                                    const MemoryReader& read, bool return_address) const {
  return parameter_at(pc, index, registers, read, return_address, nullptr);
}

ParameterValue DebugInfo::parameter_at(
    std::uint64_t pc, int index, const RegisterFile& registers, const MemoryReader& read,
    bool return_address,
    const std::function<std::optional<std::uint64_t>(std::uint64_t)>* entry_register) const {
  State& s = *state_;
  if (pc < s.bias + (return_address ? 1 : 0)) return no_value("no DWARF for this pc");
  const std::uint64_t address = pc - s.bias - (return_address ? 1 : 0);
  std::optional<Dwarf_Die> sub = s.subprogram_at(address);
  if (!sub) return no_value("no DWARF for this pc");
  std::optional<Dwarf_Die> param = formal_parameter(*sub, index);
  if (!param) return no_value("no such parameter");
  Dwarf_Attribute attr;
  Dwarf_Word size = 0;
  Dwarf_Die type;
  if (dwarf_attr_integrate(&*param, DW_AT_type, &attr) == nullptr ||
      dwarf_formref_die(&attr, &type) == nullptr || dwarf_aggregate_size(&type, &size) != 0 ||
      size == 0 || size > 8)
    return no_value("not a scalar of 1 to 8 bytes");
  if (dwarf_attr(&*param, DW_AT_location, &attr) == nullptr) return no_value("optimized out");

  ExpressionContext context = s.context(&registers, &read);
  context.entry_register = entry_register;
  if (FramePtr frame = s.frame_at(address)) context.cfa = s.cfa(frame.get(), context);
  set_frame_base(*sub, address, context);
  std::optional<ExpressionResult> where = location(&attr, address, context);
  if (!where) return no_value("optimized out");
  const std::uint64_t mask = size >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * size)) - 1;
  ParameterValue out;
  switch (where->kind) {
    case ExpressionResult::Kind::none:
      out.missing = where->missing;
      break;
    case ExpressionResult::Kind::value:
      out.value = where->number & mask;
      break;
    case ExpressionResult::Kind::register_number:
      if (where->number < registers.size() && registers[where->number])
        out.value = *registers[where->number] & mask;
      else
        out.missing = "register not available";
      break;
    case ExpressionResult::Kind::memory:
      out.value = read_unsigned(read, where->number, size, s.elf->little_endian());
      if (!out.value) out.missing = "memory not readable";
      break;
  }
  return out;
}

std::optional<int> DebugInfo::parameter_count(std::uint64_t pc) const {
  State& s = *state_;
  if (pc < s.bias) return std::nullopt;
  std::optional<Dwarf_Die> sub = s.subprogram_at(pc - s.bias);
  if (!sub) return std::nullopt;
  int n = 0;
  Dwarf_Die child;
  if (dwarf_child(&*sub, &child) == 0) {
    do {
      if (dwarf_tag(&child) == DW_TAG_formal_parameter) ++n;
    } while (dwarf_siblingof(&child, &child) == 0);
  }
  return n;
}

}  // namespace mpheap::target::elf
