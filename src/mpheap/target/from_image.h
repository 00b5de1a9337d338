// A target description without ELF, map or symbols: found in the firmware image (and a RAM
// dump) by the shape of MicroPython's own structures.
//  - ROM qstr pools: a header {prev, total_prev_len, alloc, len, [hashes, lengths,] qstrs[len]}
//    whose string pointers lead to strings MicroPython's hash verifies (hash and length bytes
//    before each string before 1.19, hash and length arrays after);
//  - mp_type_type: the object whose first word points at itself; every type object: objects
//    whose first word is &mp_type_type, named by their name qstr (the field that makes
//    mp_type_type's name "type");
//  - the version string ("MicroPython v...");
//  - in RAM: the heap areas by the shape of their records (find_heap_areas_in_ram, the search
//    that also works without an image), vm.last_pool (its prev chain, through pools in RAM whose
//    qstr counts agree, reaches a ROM pool: what ties the dump to this image; a dump of another
//    firmware is reported as such), the dicts embedded in mp_state_ctx (their first word is
//    &dict) and the thread's dict_locals and dict_globals (both point at vm.dict_main while the
//    REPL runs), which give mp_state_ctx.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mpheap/io/memory_image.h"
#include "mpheap/target/layout_heuristics.h"
#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::target {

struct QstrPoolFinding {
  std::uint64_t address = 0;
  std::uint64_t prev = 0, total_prev_len = 0, alloc = 0, len = 0;
  bool arrays = false;  // hashes/lengths arrays (MicroPython >= 1.19)
  std::uint32_t hash_bytes = 2, len_bytes = 1;
  std::vector<std::string> strings;
};

struct ImageFindings {
  Target target;
  std::string version;                     // "MicroPython v1.9.2-34-gd64154c73 on 2017-09-01"
  std::vector<QstrPoolFinding> rom_pools;  // in chain order, the first (prev == NULL) first
  std::optional<std::uint64_t> type_type;  // &mp_type_type
  std::optional<std::uint64_t> fun_bc;     // &mp_type_fun_bc, when the RAM dump shows it
  // MICROPY_OBJ_REPR from the keys of vm.dict_main: 'A' (qstr (q << 2) | 2 before 1.13,
  // (q << 3) | 2 after), 'C' (qstr (q << 3) | 6, floats immediate), 0 when not told.
  char object_repr = 0;
  std::optional<LayoutFindings> layout;  // the RAM side, when a dump was given
  std::vector<std::string> evidence;     // one line per fact, with what proves it
};

// Every qstr pool in `flash` whose strings all verify, in address order. Bounded work: each
// word-aligned address is looked at once plus the strings of the pools that pass quick checks.
std::vector<QstrPoolFinding> find_qstr_pools(const io::MemoryImage& flash, std::uint32_t word_size,
                                             bool little_endian);

// The vector table a Cortex-M image starts with, when its first words are one: an initial SP in
// the SRAM region and Thumb handlers (odd addresses) inside the image.
struct CortexMVectors {
  std::uint64_t address = 0;  // of the table: the image's lowest address
  std::uint64_t initial_sp = 0, reset = 0, nmi = 0, hard_fault = 0;
};
std::optional<CortexMVectors> cortex_m_vector_table(const io::MemoryImage& flash);

// The firmware description from the image alone, and, with a RAM dump of the running firmware,
// the heap geometry and mp_state_ctx fields too. When mp_state_ctx's start cannot be told, the
// address of vm.last_pool serves as the anchor the offsets are measured from (said in evidence).
// A dump with no heap, several heaps, or no vm.last_pool leading to this image's qstr pools is
// an error that says what was tried.
Expected<ImageFindings> read_image_target(const io::MemoryImage& flash, const io::MemoryImage* ram,
                                          const std::string& image_name = "firmware image");

}  // namespace mpheap::target
