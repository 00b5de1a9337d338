// read_elf_target: a Target from a firmware ELF. The ELF (elf_image) gives word size, byte
// order, symbols, regions and initialised memory; the DWARF (elf_dwarf) gives every struct
// layout by member name; the ROM pools (elf_qstrs) give the qstrs that name the type objects.
#include "mpheap/target/from_elf.h"

#include <elf.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "mpheap/io/file.h"
#include "mpheap/target/elf_dwarf.h"
#include "mpheap/target/elf_image.h"
#include "mpheap/target/elf_qstrs.h"

namespace mpheap::target {
namespace {

using elf::DwarfIndex;
using elf::ElfImage;
using elf::ElfSymbol;

// Names the linkers scripts of MicroPython and CircuitPython ports (and the host's crt) give
// the edges of their memory areas.
struct LinkerRegion {
  RegionKind kind;
  const char* name;
  std::array<const char*, 5> starts;
  std::array<const char*, 5> ends;
};

constexpr std::array<LinkerRegion, 3> kLinkerRegions{{
    {RegionKind::data,
     ".data",
     {"_sdata", "__data_start__", "_srelocate", "__data_start", nullptr},
     {"_edata", "__data_end__", "_erelocate", nullptr, nullptr}},
    {RegionKind::bss,
     ".bss",
     {"_sbss", "__bss_start__", "_szero", "__bss_start", nullptr},
     {"_ebss", "__bss_end__", "_ezero", "__bss_end", "_end"}},
    {RegionKind::heap,
     "heap",
     {"_heap_start", "__heap_start", "_sheap", "__HeapBase", nullptr},
     {"_heap_end", "__heap_end", "_eheap", "__HeapLimit", nullptr}},
}};
constexpr std::array<const char*, 5> kStackTops{"_estack", "__StackTop", "_stack_top",
                                                "__stack_top", "_stack_end"};
constexpr std::array<const char*, 5> kStackBottoms{"_sstack", "__StackLimit", "_stack_bot",
                                                   "_stack_start", "__stack_start"};

class SymbolNames {
 public:
  explicit SymbolNames(const std::vector<ElfSymbol>& symbols) {
    for (const ElfSymbol& s : symbols) {
      auto [it, fresh] = by_name_.emplace(s.symbol.name, &s);
      // A global definition wins over a local one of the same name.
      if (!fresh && it->second->binding == STB_LOCAL && s.binding != STB_LOCAL) it->second = &s;
    }
  }
  [[nodiscard]] const ElfSymbol* find(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    return it == by_name_.end() ? nullptr : it->second;
  }
  template <std::size_t N>
  [[nodiscard]] std::optional<std::uint64_t> first(const std::array<const char*, N>& names) const {
    for (const char* name : names) {
      if (name == nullptr) break;
      if (const ElfSymbol* s = find(name)) return s->symbol.address;
    }
    return std::nullopt;
  }

 private:
  std::map<std::string, const ElfSymbol*, std::less<>> by_name_;
};

std::vector<MemoryRegion> find_regions(const ElfImage& image, const SymbolNames& names) {
  std::vector<MemoryRegion> regions;
  const auto& segments = image.segments();
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const elf::ElfSegment& seg = segments[i];
    if (seg.memsz == 0) continue;
    std::vector<std::string> inside;
    for (const elf::ElfSection& s : image.sections()) {
      if ((s.flags & SHF_ALLOC) != 0 && s.size != 0 && s.address >= seg.vaddr &&
          s.address - seg.vaddr < seg.memsz) {
        inside.push_back(s.name);
      }
    }
    if (inside.size() > 4) {
      inside.resize(4);
      inside.emplace_back("...");
    }
    MemoryRegion r;
    r.kind = (seg.flags & PF_W) != 0 ? RegionKind::ram : RegionKind::flash;
    r.name = fmt::format("segment {} ({})", i, fmt::join(inside, " "));
    r.start = seg.vaddr;
    r.end = seg.vaddr + seg.memsz;
    regions.push_back(std::move(r));
  }
  std::optional<std::uint64_t> bss_end;
  std::optional<std::uint64_t> heap_end;
  for (const LinkerRegion& lr : kLinkerRegions) {
    auto start = names.first(lr.starts);
    auto end = names.first(lr.ends);
    if (!start || !end || *start >= *end) continue;
    regions.push_back(MemoryRegion{lr.name, lr.kind, *start, *end});
    if (lr.kind == RegionKind::bss) bss_end = end;
    if (lr.kind == RegionKind::heap) heap_end = end;
  }
  // The stack: from its linker symbols, or (a port that only names its top) down to the heap
  // or the end of .bss, where MicroPython's Cortex-M ports let it grow.
  if (auto top = names.first(kStackTops)) {
    auto bottom = names.first(kStackBottoms);
    if (!bottom && heap_end && *heap_end < *top) bottom = heap_end;
    if (!bottom && bss_end && *bss_end < *top) bottom = bss_end;
    if (bottom && *bottom < *top)
      regions.push_back(MemoryRegion{"stack", RegionKind::stack, *bottom, *top});
  }
  return regions;
}

Offset offset_of(const std::optional<elf::Member>& m) {
  return m ? Offset(m->offset) : std::nullopt;
}

void read_state_layout(Dwarf_Die ctx_type, StateLayout& state) {
  state.size = DwarfIndex::byte_size(ctx_type).value_or(0);
  auto area = DwarfIndex::member_path(ctx_type, "mem.area");
  state.mem_area = offset_of(area);
  state.vm_last_pool = offset_of(DwarfIndex::member_path(ctx_type, "vm.last_pool"));
  state.vm_dict_main = offset_of(DwarfIndex::member_path(ctx_type, "vm.dict_main"));
  state.vm_mp_loaded_modules_dict =
      offset_of(DwarfIndex::member_path(ctx_type, "vm.mp_loaded_modules_dict"));
  state.thread_stack_top = offset_of(DwarfIndex::member_path(ctx_type, "thread.stack_top"));
  state.thread_pystack_start = offset_of(DwarfIndex::member_path(ctx_type, "thread.pystack_start"));
  state.thread_pystack_cur = offset_of(DwarfIndex::member_path(ctx_type, "thread.pystack_cur"));
  if (!area) return;
  AreaLayout& a = state.area;
  auto field = [&](const char* name) { return offset_of(DwarfIndex::member(area->type, name)); };
  a.size = DwarfIndex::byte_size(area->type).value_or(0);
  a.gc_alloc_table_start = field("gc_alloc_table_start");
  a.gc_alloc_table_byte_len = field("gc_alloc_table_byte_len");
  a.gc_finaliser_table_start = field("gc_finaliser_table_start");
  a.gc_weakref_table_start = field("gc_weakref_table_start");
  a.gc_collect_table_start = field("gc_collect_table_start");
  a.gc_pool_start = field("gc_pool_start");
  a.gc_pool_end = field("gc_pool_end");
  a.next = field("next");
}

// The qstr_pool_t layout; returns a note on where the hash and length widths came from.
std::string read_pool_layout(const DwarfIndex& dwarf, Dwarf_Die pool_type, QstrPoolLayout& pool) {
  auto field = [&](const char* name) { return DwarfIndex::member(pool_type, name); };
  pool.size = DwarfIndex::byte_size(pool_type).value_or(0);
  pool.prev = offset_of(field("prev"));
  pool.total_prev_len = offset_of(field("total_prev_len"));
  pool.alloc = offset_of(field("alloc"));
  pool.len = offset_of(field("len"));
  auto hashes = field("hashes");
  auto lengths = field("lengths");
  pool.hashes = offset_of(hashes);
  pool.lengths = offset_of(lengths);
  pool.qstrs = offset_of(field("qstrs"));
  // Element widths: the typedefs, else what the arrays point at.
  auto width = [&](const char* type_name,
                   const std::optional<elf::Member>& array) -> std::optional<std::uint64_t> {
    if (auto t = dwarf.named_type(type_name)) return DwarfIndex::byte_size(*t);
    if (array) {
      if (auto p = DwarfIndex::pointee(array->type)) return DwarfIndex::byte_size(*p);
    }
    return std::nullopt;
  };
  auto hash_bytes = width("qstr_hash_t", hashes);
  auto len_bytes = width("qstr_len_t", lengths);
  if (lengths && !hashes) hash_bytes = 0;  // MICROPY_QSTR_BYTES_IN_HASH 0: no hashes at all
  if (hash_bytes) pool.hash_bytes = static_cast<std::uint32_t>(*hash_bytes);
  if (len_bytes) pool.len_bytes = static_cast<std::uint32_t>(*len_bytes);
  if (hash_bytes && len_bytes) {
    return fmt::format("{}-byte hashes, {}-byte lengths from DWARF", pool.hash_bytes,
                       pool.len_bytes);
  }
  return "";
}

bool is_type_object_type(Dwarf_Die type) {
  return DwarfIndex::has_type_name(type, "mp_obj_type_t") ||
         DwarfIndex::has_type_name(type, "_mp_obj_type_t") ||
         DwarfIndex::has_type_name(type, "mp_obj_full_type_t") ||
         DwarfIndex::has_type_name(type, "_mp_obj_full_type_t");
}

bool is_pool_type(Dwarf_Die type) {
  return DwarfIndex::has_type_name(type, "qstr_pool_t") ||
         DwarfIndex::has_type_name(type, "_qstr_pool_t");
}

const elf::ElfSection* section_of(const ElfImage& image, const ElfSymbol& s) {
  return s.section_index < image.sections().size() ? &image.sections()[s.section_index] : nullptr;
}

// The ROM pools: objects typed qstr_pool_t in the DWARF (or named mp_qstr_*pool*) with
// initialised contents. The chain is read from the newest, the one no other pool names as prev.
elf::RomQstrs read_rom_pools(const ElfImage& image, const DwarfIndex& dwarf,
                             const std::vector<ElfSymbol>& symbols, QstrPoolLayout& pool,
                             std::string& note) {
  std::vector<std::uint64_t> candidates;
  for (const ElfSymbol& s : symbols) {
    const elf::ElfSection* section = section_of(image, s);
    if (s.type != STT_OBJECT || section == nullptr || section->type == SHT_NOBITS) continue;
    auto type = dwarf.variable_type_at(s.symbol.address);
    const bool named =
        s.symbol.name.starts_with("mp_qstr_") && s.symbol.name.find("pool") != std::string::npos;
    if (type ? is_pool_type(*type) : named) candidates.push_back(s.symbol.address);
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  std::set<std::uint64_t> prevs;
  for (std::uint64_t c : candidates) {
    if (auto prev = image.read_word(c + pool.prev.value_or(0))) prevs.insert(*prev);
  }
  bool widths_checked = false;
  elf::RomQstrs best;
  for (std::uint64_t c : candidates) {
    if (prevs.count(c) != 0) continue;
    if (!pool.lengths && note.empty()) widths_checked = elf::detect_prefix_widths(image, pool, c);
    elf::RomQstrs r = elf::read_rom_qstrs(image, pool, c);
    if (r.strings.size() > best.strings.size() || best.pools.empty()) best = std::move(r);
  }
  if (note.empty()) {
    note = widths_checked ? fmt::format(
                                "{}-byte hashes, {}-byte lengths (macros, not in DWARF: found by "
                                "matching the stored hashes of the ROM strings)",
                                pool.hash_bytes, pool.len_bytes)
                          : fmt::format(
                                "{}-byte hashes, {}-byte lengths (macros, not in DWARF: assumed "
                                "MicroPython's defaults)",
                                pool.hash_bytes, pool.len_bytes);
  }
  if (candidates.empty()) best.problem = "no ROM qstr pool (mp_qstr_const_pool) in the ELF";
  return best;
}

std::string pool_names(const elf::RomQstrs& rom, const Target& target) {
  std::vector<std::string> names;
  for (std::uint64_t p : rom.pools) names.push_back(target.describe(p));
  return fmt::format("{}", fmt::join(names, " -> "));
}

std::vector<TypeObject> read_types(const ElfImage& image, const DwarfIndex& dwarf,
                                   const std::vector<ElfSymbol>& symbols,
                                   const std::vector<std::string>& rom_qstrs) {
  std::vector<TypeObject> types;
  std::optional<Dwarf_Die> base = dwarf.named_type("mp_obj_type_t");
  if (!base) base = dwarf.named_type("_mp_obj_type_t");
  const std::uint64_t base_size = base ? DwarfIndex::byte_size(*base).value_or(0) : 0;
  std::optional<elf::Member> base_name;
  if (base) base_name = DwarfIndex::member(*base, "name");
  std::set<std::uint64_t> seen;
  for (const ElfSymbol& s : symbols) {
    const elf::ElfSection* section = section_of(image, s);
    if (s.type != STT_OBJECT || section == nullptr || section->type == SHT_NOBITS) continue;
    std::optional<elf::Member> name_field;
    if (auto type = dwarf.variable_type_at(s.symbol.address)) {
      if (!is_type_object_type(*type)) continue;
      name_field = DwarfIndex::member(*type, "name");
    } else {
      // No DWARF for this object (another unit built without -g): trust the name and size.
      const bool read_only =
          (section->flags & SHF_WRITE) == 0 || section->name.starts_with(".data.rel.ro");
      if (!s.symbol.name.starts_with("mp_type_") || !read_only || base_size == 0 ||
          s.symbol.size < base_size) {
        continue;
      }
      name_field = base_name;
    }
    if (!name_field || !seen.insert(s.symbol.address).second) continue;
    const auto width =
        static_cast<std::uint32_t>(DwarfIndex::byte_size(name_field->type).value_or(2));
    auto q = image.read_uint(s.symbol.address + name_field->offset, width);
    if (!q) continue;
    TypeObject t;
    t.address = s.symbol.address;
    t.symbol = s.symbol.name;
    t.name = *q < rom_qstrs.size() ? rom_qstrs[*q] : fmt::format("qstr#{}", *q);
    types.push_back(std::move(t));
  }
  return types;
}

}  // namespace

Expected<Target> read_elf_target_from_memory(std::string_view bytes, const std::string& name,
                                             const ElfOptions& options) {
  auto opened = ElfImage::open(bytes, name);
  if (!opened) return opened.error();
  const ElfImage& image = **opened;
  auto fail = [&](std::string what) { return Error{name, 0, 0, std::move(what)}; };

  Target target;
  target.word_size = image.word_size();
  target.little_endian = image.little_endian();
  target.machine = image.machine();
  target.block_size = options.block_size != 0 ? options.block_size : 4 * image.word_size();
  const std::string block_note =
      options.block_size != 0 ? fmt::format("block size {} bytes as given", options.block_size)
                              : fmt::format(
                                    "block size {} bytes: MicroPython's default of 4 words "
                                    "(MICROPY_BYTES_PER_GC_BLOCK is a macro, not in the ELF)",
                                    target.block_size);

  if (!image.has_symtab()) {
    return fail(
        "no symbol table (.symtab): the ELF is stripped, so --elf has nothing to name; read it "
        "as an image instead with --firmware FILE (its program headers place the bytes, and "
        "qstrs and types are found by their shapes), or pass the unstripped firmware ELF, or "
        "the linker map and nm output (--map firmware.map --nm symbols.txt)");
  }
  auto elf_symbols = image.symbols();
  if (!elf_symbols) return elf_symbols.error();
  const std::vector<ElfSymbol>& symbols = *elf_symbols;
  SymbolNames names(symbols);
  target.symbols.reserve(symbols.size());
  for (const ElfSymbol& s : symbols) target.symbols.push_back(s.symbol);
  target.regions = find_regions(image, names);
  target.provenance.symbols = fmt::format("ELF .symtab ({} symbols)", symbols.size());

  const ElfSymbol* ctx = names.find("mp_state_ctx");
  if (ctx == nullptr) {
    return fail(
        "this ELF has no mp_state_ctx symbol: not a MicroPython firmware? Pass the "
        "firmware's ELF (the one gdb debugs, e.g. build/firmware.elf)");
  }
  target.mp_state_ctx = ctx->symbol.address;
  target.state.size = ctx->symbol.size;

  std::optional<DwarfIndex> dwarf = DwarfIndex::open(image.elf());
  if (!dwarf) {
    if (!options.require_dwarf) {
      target.provenance.layout = "none: the ELF has no DWARF; " + block_note;
      target.provenance.qstrs = "none: reading the ROM pools needs their layout from DWARF";
      target.finalize();
      return target;
    }
    return fail(
        "the ELF has symbols but no DWARF debug info (.debug_info): the struct layouts "
        "(mp_state_ctx, heap areas, qstr pools) come from DWARF; rebuild with -g, or "
        "pass --map firmware.map / --nm symbols.txt with a RAM dump so the layouts are "
        "found by their shape");
  }
  std::optional<Dwarf_Die> ctx_type = dwarf->variable_type_at(ctx->symbol.address);
  if (!ctx_type) ctx_type = dwarf->variable_type("mp_state_ctx");
  if (!ctx_type) ctx_type = dwarf->named_type("mp_state_ctx_t");
  if (!ctx_type) {
    return fail(
        "the DWARF does not describe mp_state_ctx (no variable of that name and no "
        "type mp_state_ctx_t): build py/mpstate.c with -g, or pass --map/--nm with a "
        "RAM dump so the layouts are found by their shape");
  }
  read_state_layout(*ctx_type, target.state);
  target.provenance.layout = fmt::format(
      "DWARF ({} units): mp_state_ctx_t, mp_state_mem_area_t, qstr_pool_t, "
      "mp_obj_type_t; {}",
      dwarf->unit_count(), block_note);

  std::optional<Dwarf_Die> pool_type;
  if (auto last_pool = DwarfIndex::member_path(*ctx_type, "vm.last_pool")) {
    pool_type = DwarfIndex::pointee(last_pool->type);
  }
  if (!pool_type) pool_type = dwarf->named_type("qstr_pool_t");
  if (!pool_type) pool_type = dwarf->named_type("_qstr_pool_t");
  if (!pool_type) {
    target.provenance.qstrs = "none: the DWARF does not describe qstr_pool_t";
  } else {
    std::string widths = read_pool_layout(*dwarf, *pool_type, target.qstr_pool);
    elf::RomQstrs rom = read_rom_pools(image, *dwarf, symbols, target.qstr_pool, widths);
    target.rom_qstrs = std::move(rom.strings);
    target.finalize();  // describe() below names the pools
    target.provenance.qstrs =
        fmt::format("ELF ROM pools {} ({} qstrs, {} layout); {}{}", pool_names(rom, target),
                    target.rom_qstrs.size(),
                    target.qstr_pool.lengths ? "hashes/lengths arrays" : "prefixed strings", widths,
                    rom.problem.empty() ? "" : "; " + rom.problem);
  }
  target.types = read_types(image, *dwarf, symbols, target.rom_qstrs);
  target.finalize();
  // A running function's frame, as this build declares it (the settrace and stackless builds
  // insert fields before state[]).
  if (auto code_state = dwarf->named_type("mp_code_state_t")) {
    auto at = [&](const char* field, std::uint64_t& out) {
      if (auto m = DwarfIndex::member(*code_state, field)) out = m->offset;
    };
    at("fun_bc", target.objects.code_state_fun_bc);
    at("ip", target.objects.code_state_ip);
    at("n_state", target.objects.code_state_n_state);
    at("state", target.objects.code_state_state);
  }
  return target;
}

Expected<Target> read_elf_target(const std::string& path, const ElfOptions& options) {
  auto bytes = io::read_whole_file(path);
  if (!bytes) return bytes.error();
  return read_elf_target_from_memory(*bytes, path, options);
}

}  // namespace mpheap::target
