// A target description without ELF, map or symbols: found in the firmware image (and a RAM
// dump) by the shape of MicroPython's own structures.
//  - ROM qstr pools: a header {prev, total_prev_len, alloc, len, [hashes, lengths,] qstrs[len]}
//    whose string pointers lead to strings MicroPython's hash verifies (hash and length bytes
//    before each string before 1.19, hash and length arrays after);
//  - mp_type_type: the object whose first word points at itself; every type object: objects
//    whose first word is &mp_type_type, named by their name qstr (the field that makes
//    mp_type_type's name "type");
//  - the version (image_version.h), the pools' names by version (qstr_pools.h), the type
//    objects' layouts (image_types.h), the load address of a raw image (load_address.h);
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
#include <string_view>
#include <utility>
#include <vector>

#include "mpheap/io/memory_image.h"
#include "mpheap/target/image_version.h"
#include "mpheap/target/layout_heuristics.h"
#include "mpheap/target/qstr_pools.h"
#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::target {

struct ImageFindings {
  Target target;
  std::string version;  // "1.26.1" (a ROM version tuple) or a banner "MicroPython v1.9.2-..."
  std::optional<std::pair<int, int>> version_number;
  std::vector<QstrPoolFinding> rom_pools;  // in chain order, the first (prev == NULL) first
  std::optional<std::uint64_t> type_type;  // &mp_type_type
  std::optional<std::uint64_t> fun_bc;     // &mp_type_fun_bc, when the RAM dump shows it
  // MICROPY_OBJ_REPR from the keys of vm.dict_main: 'A' (qstr (q << 2) | 2 before 1.13,
  // (q << 3) | 2 after), 'C' (qstr (q << 3) | 6, floats immediate), 0 when not told.
  char object_repr = 0;
  std::optional<LayoutFindings> layout;  // the RAM side, when a dump was given
  std::vector<std::string> evidence;     // one line per fact, with what proves it
};

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

// What the image file told about the image before the search: an ELF's word size, byte order
// and machine; the load address and where it came from; how the image was found in the file.
struct ImageSource {
  std::uint32_t word_size = 0;  // 0: not told (32-bit little endian assumed)
  bool little_endian = true;
  std::uint16_t elf_machine = 0;
  std::optional<std::uint64_t> load_address;
  std::string load_address_source;
  std::vector<std::string> evidence;
  // A WebAssembly module: function pointers (a type's slots) are indices into the function
  // table, not addresses in the image.
  bool function_indices = false;
};
Expected<ImageFindings> read_image_target(const io::MemoryImage& flash, const io::MemoryImage* ram,
                                          const std::string& image_name, const ImageSource& source);

// A firmware image file's bytes in any format io::read_firmware_image reads. A raw image with
// no `base` (and no ELF inside) is placed at the inferred load address: the base at which most
// aligned words point at the starts of strings in the image (load_address.h), confirmed by the
// qstr pool chain found there; the evidence names the votes and the runner-up. A given `base`
// at which no qstr pool chain is found is an error that names the base that would work.
Expected<ImageFindings> read_image_file_target(std::string_view bytes, const std::string& name,
                                               std::optional<std::uint64_t> base,
                                               const io::MemoryImage* ram);

}  // namespace mpheap::target
