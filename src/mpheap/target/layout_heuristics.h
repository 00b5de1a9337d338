// Struct layouts without DWARF: found in a RAM dump by the shape of MicroPython's own
// structures, for targets read from a linker map or nm output.
//  - the heap area record inside mp_state_ctx: table start < pool start < pool end, and the
//    pool holds exactly 4 blocks per allocation-table byte (MicroPython's area formula), which
//    also gives the block size; extra table pointers between them are the finaliser, weakref
//    (MicroPython) or selective-collect (CircuitPython) tables; a `next` pointer before the
//    record that leads to another such record means a split heap;
//  - vm.last_pool: the first word whose chain of `prev` pointers reaches a ROM qstr pool;
//  - vm.dict_main: the dict embedded in mp_state_ctx that thread.dict_globals points at, and
//    vm.mp_loaded_modules_dict the other embedded dict;
//  - thread.stack_top: the first word of mp_state_ctx.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/io/memory_image.h"
#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::target {

// Entry `block` of an allocation table, as py/gc.c's ATB_GET_KIND reads it (2 bits per block, 4
// blocks per byte from the low bits): 0 free, 1 head, 2 tail, 3 mark.
inline unsigned alloc_table_kind(std::string_view table, std::uint64_t block) {
  return (static_cast<std::uint8_t>(table[block / 4]) >> ((block % 4) * 2)) & 3u;
}

// Bit `block` of a one-bit-per-block table (finaliser, weakref, selective collect), as FTB_GET
// reads it: 8 blocks per byte from the low bit.
inline bool block_table_bit(std::string_view table, std::uint64_t block) {
  return ((static_cast<std::uint8_t>(table[block / 8]) >> (block % 8)) & 1u) != 0;
}

struct HeapAreaBounds {
  std::uint64_t record = 0;  // address of the mp_state_mem_area_t
  std::uint64_t alloc_table = 0, alloc_table_bytes = 0;
  std::optional<std::uint64_t> finaliser_table, weakref_table, collect_table;
  std::uint64_t pool_start = 0, pool_end = 0;
  std::uint64_t next = 0;
  [[nodiscard]] std::uint64_t blocks() const { return alloc_table_bytes * 4; }
};

struct LayoutFindings {
  std::uint64_t load_bias = 0;             // run-time address = symbol address + load_bias
  std::vector<HeapAreaBounds> areas;       // in chain order
  std::optional<std::uint64_t> last_pool;  // the value of vm.last_pool
  std::vector<std::string> evidence;       // one line per fact: what was found and why
};

// The shape of a heap area record at `a` with `tables` extra table pointers (finaliser, weakref,
// selective collect) between the allocation-table length and the pool: table start < tables <
// pool start < pool end, increasing, and exactly 4 blocks per allocation-table byte, which gives
// the block size (8..128). With `require_covered` the table and the pool must lie in the image
// too (a scan of a whole dump, where most words are not pointers at all).
struct AreaShape {
  HeapAreaBounds bounds;  // finaliser_table is the first extra table, when there is one
  int tables = 0;
  std::uint32_t block_size = 0;
  std::vector<std::uint64_t> table_starts;  // the extra tables, in order
};
// How far a word got towards being a heap area record, for "what was tried" messages; a later
// stage means the word passed every earlier check.
enum class AreaReject {
  not_ordered,     // not allocation table < pool start < pool end with a plausible length
  outside_dump,    // ordered, but the table or the pool is not in the memory given
  tables_order,    // the extra table pointers are not increasing between table and pool
  blocks_per_byte  // the pool is not 4 blocks of 8..128 bytes per allocation-table byte
};
std::optional<AreaShape> heap_area_shape(const io::WordReader& r, std::uint64_t a, int tables,
                                         bool require_covered, AreaReject* why = nullptr);

// The load bias of a position-independent build: 0 when the dumps cover mp_state_ctx at its
// symbol address, else inferred from a dump whose size is sizeof(mp_state_ctx) (a dump of it).
Expected<std::uint64_t> infer_load_bias(const Target& t, const io::MemoryImage& ram);

// Fills t.state (offsets), t.block_size and, when the last pool is in RAM, t.qstr_pool.
Expected<LayoutFindings> infer_layout(Target& t, const io::MemoryImage& ram,
                                      std::optional<std::uint64_t> load_bias);

// Reads the chain of heap areas with a known layout (from DWARF, JSON or infer_layout).
std::vector<HeapAreaBounds> read_heap_areas(const Target& t, const io::MemoryImage& ram,
                                            std::uint64_t load_bias);

}  // namespace mpheap::target

namespace mpheap::target {

// Settles how object words encode qstrs and None/False/True when no reader has told it: the
// build has immediate objects unless it defines mp_const_none_obj, and the representation is
// the one under which every key of __main__'s globals (vm.dict_main) is a qstr. Returns the
// evidence line, or "" when nothing was found (the defaults stay).
std::string settle_value_encoding(Target& t, const io::MemoryImage& ram, std::uint64_t load_bias);

}  // namespace mpheap::target
