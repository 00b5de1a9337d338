// Type objects found in a firmware image by their shape: mp_type_type (its base points at
// itself and its name reads "type"), then every object whose base is &mp_type_type and whose
// shape is a type's, named by its name qstr. Two layouts:
//  - before 1.20: {base, name (a word), print, make_new, call, ...} with every slot NULL or
//    pointing into the image;
//  - 1.20 and later: {base, u16 flags, u16 name, u8 slot_index[12], slots[]}, where the non-zero
//    slot indices are exactly 1..k and every used slot points into the image (code that holds
//    &mp_type_type in a literal pool is never taken for a type).
// Types without a name (qstr 0 or 1) are kept and named by their address and the methods of
// their locals dict: "<type @0x0804d07c {pressed}>".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mpheap/io/memory_image.h"
#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::target {

struct TypeSearch {
  std::uint64_t type_type = 0;  // &mp_type_type
  std::uint64_t name_offset = 0;
  std::uint32_t name_bytes = 0;
  bool slot_table = false;        // the 1.20+ layout, checked by its slot indices
  std::vector<TypeObject> types;  // by address; symbol set where the name is unambiguous
  std::uint64_t nameless = 0;     // of them, types without a name
  std::uint64_t rejected = 0;     // words equal to &mp_type_type that are not a type's start
  std::vector<std::string> evidence;
};

// A type object's display name when it has none: its address and locals dict's keys.
std::string nameless_type_name(std::uint64_t address, const std::vector<std::string>& methods);

// With `function_indices` (a WebAssembly module), a slot may also hold an index into the
// function table (1..65535) instead of an address in the image.
Expected<TypeSearch> find_type_objects(const io::MemoryImage& flash, std::uint32_t word_size,
                                       bool little_endian,
                                       const std::vector<std::string>& rom_qstrs,
                                       const std::string& image_name,
                                       bool function_indices = false);

}  // namespace mpheap::target
