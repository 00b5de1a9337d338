// What mpheap needs to know about one firmware build: word size, byte order, block size,
// symbols, memory regions, where mp_state_ctx is and the offsets of the fields the heap
// decoder reads, the built-in type objects, the qstr pool layout and the ROM qstrs.
// Filled by one reader per source (ELF+DWARF, linker map + nm, ...), saved as target.json.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/target/value_encoding.h"
#include "mpheap/util/error.h"

namespace mpheap::target {

struct Symbol {
  std::string name;
  std::uint64_t address = 0;
  std::uint64_t size = 0;  // 0 when unknown
  char kind = '?';      // nm's type letter: T/t text, D/d data, B/b bss, R/r read-only, A absolute
  std::string section;  // ".bss", ".data", ... when known
};

enum class RegionKind { flash, ram, data, bss, stack, heap, other };
const char* to_string(RegionKind kind);

struct MemoryRegion {
  std::string name;
  RegionKind kind = RegionKind::other;
  std::uint64_t start = 0;
  std::uint64_t end = 0;  // exclusive
};

// Offsets (bytes) of one field, or nullopt where the build has no such field.
using Offset = std::optional<std::uint64_t>;

// mp_state_mem_area_t: one heap area (MicroPython, CircuitPython; split heaps chain by `next`).
struct AreaLayout {
  std::uint64_t size = 0;
  Offset gc_alloc_table_start;
  Offset gc_alloc_table_byte_len;
  Offset gc_finaliser_table_start;  // MICROPY_ENABLE_FINALISER
  Offset gc_weakref_table_start;    // MicroPython's weak references
  Offset gc_collect_table_start;    // CircuitPython's selective collect
  Offset gc_pool_start;
  Offset gc_pool_end;
  Offset next;  // MICROPY_GC_SPLIT_HEAP
};

// Fields of mp_state_ctx the decoder reads, as offsets from &mp_state_ctx.
struct StateLayout {
  std::uint64_t size = 0;  // sizeof(mp_state_ctx_t), 0 when unknown
  Offset mem_area;         // mp_state_ctx.mem.area (the first area)
  Offset vm_last_pool;
  Offset vm_dict_main;
  Offset vm_mp_loaded_modules_dict;
  Offset thread_stack_top;
  // MICROPY_ENABLE_PYSTACK: Python frames live on a separate stack, a GC root from pystack_start
  // to pystack_cur (pointers held in mp_state_ctx.thread).
  Offset thread_pystack_start;
  Offset thread_pystack_cur;
  AreaLayout area;
};

// qstr_pool_t: MicroPython 1.19 added hashes and lengths arrays in front of
// the strings; older pools store hash and length bytes before each string.
struct QstrPoolLayout {
  std::uint64_t size = 0;  // header size: where qstrs[] starts
  Offset prev;
  Offset total_prev_len;  // may share a word with is_sorted (bit field)
  Offset alloc;
  Offset len;
  Offset hashes;
  Offset lengths;
  Offset qstrs;
  std::uint32_t hash_bytes = 2;  // MICROPY_QSTR_BYTES_IN_HASH
  std::uint32_t len_bytes = 1;   // MICROPY_QSTR_BYTES_IN_LEN
};

// Offsets inside the object structs the snapshot decoder reads. These have been stable since
// MicroPython 1.20 (and CircuitPython 9); default_object_layout() gives them for a word size and
// readers with better knowledge (DWARF) may override them.
struct ObjectLayout {
  std::uint64_t str_hash = 0, str_len = 0, str_data = 0;          // mp_obj_str_t
  std::uint64_t map_used_word = 0, map_alloc = 0, map_table = 0;  // mp_map_t (inside a dict)
  std::uint64_t dict_map = 0;                                     // mp_obj_dict_t.map
  std::uint64_t list_alloc = 0, list_len = 0, list_items = 0;     // mp_obj_list_t
  std::uint64_t tuple_len = 0, tuple_items = 0;                   // mp_obj_tuple_t
  std::uint64_t type_name = 0;                                    // mp_obj_type_t.name (qstr)
  std::uint32_t type_name_bytes = 2;
  std::uint32_t map_used_shift = 3;  // used count is above the 3 flag bits of its word
  // mp_obj_fun_bc_t: {base, context, child_table, bytecode} since 1.19 (the context a module
  // context), {base, globals dict, bytecode} before.
  std::uint64_t fun_bc_context = 0, fun_bc_child_table = 0, fun_bc_bytecode = 0;
  std::uint64_t fun_bc_bytecode_before_1_19 = 0;
  // mp_module_context_t (1.19+): {module base or NULL, globals dict, constants {qstr_table,
  // obj_table}}.
  std::uint64_t context_globals = 0, context_qstr_table = 0, context_obj_table = 0;
  // mp_raw_code_t: {kind and flags, fun_data, children}.
  std::uint64_t raw_code_fun_data = 0, raw_code_children = 0;
  // mp_obj_set_t: {base, mp_set_t {alloc, used, table}}.
  std::uint64_t set_alloc = 0, set_used = 0, set_table = 0;
  // mp_obj_int_t of an MPZ build: {base, mpz_t {neg:1, fixed_dig:1, alloc (bit fields in one
  // word), len, dig}}.
  std::uint64_t mpz_bits = 0, mpz_len = 0, mpz_digits = 0;
  // mp_obj_instance_t: {base, members map}.
  std::uint64_t instance_members = 0;
  // mp_code_state_t (a running bytecode function's frame): {fun_bc, ip, sp, uint16 n_state,
  // uint16 exc_sp_idx, old_globals, [prev (stackless), prev_state and frame (settrace)], state[]}.
  std::uint64_t code_state_fun_bc = 0, code_state_ip = 0, code_state_n_state = 0,
                code_state_state = 0;
};
ObjectLayout default_object_layout(std::uint32_t word_size);

struct TypeObject {
  std::uint64_t address = 0;
  std::string symbol;  // "mp_type_list"
  std::string name;    // Python name, "list"
};

// Where each fact came from, so a user can judge it ("dwarf", "map", "nm", "heuristic", ...).
struct Provenance {
  std::string symbols;
  std::string layout;
  std::string qstrs;
};

// What a firmware image says about itself (readers of an image alone fill it; "" = not known).
struct FirmwareFacts {
  std::string micropython_version;   // "1.26.1" or the banner; "" when unknown
  std::string version_source;        // where it came from, or why it is unknown
  std::string banner;                // a fork's banner ("Pybricks MicroPython ...")
  std::optional<std::uint64_t> mpy;  // sys.implementation._mpy
  std::optional<std::uint64_t> load_address;
  std::string load_address_source;  // "given (--base)", "inferred: ...", "ELF program headers"
  std::string cpu;                  // "ARM Cortex-M", "ARM7/ARM9 (ARM-state vectors)", ""
  [[nodiscard]] bool empty() const {
    return micropython_version.empty() && version_source.empty() && !load_address && cpu.empty();
  }
};

struct Target {
  std::uint32_t word_size = 4;
  bool little_endian = true;
  std::uint32_t block_size = 16;  // MICROPY_BYTES_PER_GC_BLOCK
  std::string machine;            // "ARM", "x86-64", "Xtensa", "RISC-V", "" if unknown
  std::vector<Symbol> symbols;    // sorted by address, then name
  std::vector<MemoryRegion> regions;
  std::optional<std::uint64_t> mp_state_ctx;
  StateLayout state;
  QstrPoolLayout qstr_pool;
  ObjectLayout objects;                // finalize() fills the defaults for the word size when unset
  std::vector<TypeObject> types;       // sorted by address
  std::vector<std::string> rom_qstrs;  // index -> string
  // Hex digits of the byte offsets micropython.mem_info(1) prints per block-map line: 5 (and
  // masked to 20 bits) before MicroPython 1.20, 8 since.
  std::uint32_t blockmap_offset_digits = 8;
  // MICROPY_GC_SPLIT_HEAP_AUTO: when an allocation fails after a collection, the collector asks
  // the system for a new heap area (py/gc.c gc_try_add_heap) instead of failing.
  bool gc_split_heap_auto = false;
  // What the port's gc_get_max_new_split() returns (the largest new area), when known.
  std::optional<std::uint64_t> gc_max_new_split;
  // The port's gc_collect() only schedules a collection (the WebAssembly port: it collects when
  // control returns to JS), so an allocation that fails grows the heap before anything is freed.
  bool gc_collect_deferred = false;
  // How object words encode ints, qstrs and None/False/True; `values_known` once a reader
  // (or the keys of a map in a RAM dump) has told it, else the defaults of MicroPython >= 1.13
  // with representation A apply.
  ValueEncoding values;
  bool values_known = false;
  Provenance provenance;
  FirmwareFacts firmware;  // from a firmware image alone; empty otherwise

  // The symbol containing `address` (or starting at it when sizes are unknown), if any.
  [[nodiscard]] const Symbol* symbol_at(std::uint64_t address) const;
  [[nodiscard]] const Symbol* find_symbol(std::string_view name) const;
  // "symbol+offset" or "0x..." for an address.
  [[nodiscard]] std::string describe(std::uint64_t address) const;
  [[nodiscard]] const TypeObject* type_at(std::uint64_t address) const;
  // Sorts symbols and types, builds the name index and fills unset object layouts; call after
  // filling a target.
  void finalize();

 private:
  std::vector<std::uint32_t> by_name_;  // indices into symbols, sorted by name
};

// The checks every target passes where it is built (from any reader, target.json or options):
// a word size of 4 or 8, a block size that is a power of two of at least one word and at most
// 4096 bytes (MICROPY_BYTES_PER_GC_BLOCK), fields of mp_state_ctx inside the struct when its
// size is known. `source` names where the target came from.
Expected<bool> check_target(const Target& t, const std::string& source);

// MICROPY_BYTES_PER_GC_BLOCK as the collector allows it: a power of two from the word size to
// 4096 bytes.
[[nodiscard]] inline bool block_size_fits(std::uint32_t bytes, std::uint32_t word_size) {
  return bytes >= word_size && bytes <= 4096 && (bytes & (bytes - 1)) == 0;
}

}  // namespace mpheap::target
