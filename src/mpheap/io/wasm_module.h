// WebAssembly modules (.wasm) as firmware images: the active data segments of memory 0, each
// placed at its i32.const (or i64.const) offset, are the bytes the port starts with in linear
// memory: its "ROM" (qstr pools, type objects) and initialised data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/io/memory_image.h"
#include "mpheap/util/error.h"

namespace mpheap::io {

// One active data segment: where it goes in linear memory and where its bytes are in the file.
struct WasmDataSegment {
  std::uint64_t address = 0;
  std::uint64_t file_offset = 0;
  std::uint64_t size = 0;
};

struct WasmModule {
  std::uint32_t version = 0;
  std::vector<WasmDataSegment> segments;  // active segments of memory 0, in file order
  std::uint64_t passive_segments = 0;     // not placed by the module itself: not in the image
  bool has_name_section = false;
};

// True when `bytes` starts with the wasm magic "\0asm".
bool is_wasm_module(std::string_view bytes);

// Reads the section list and the data section. Every length and count is checked against the
// bytes left (LEB128 values longer than their type allows are refused); errors name the byte
// offset, what was expected and what was found. Offsets other than a constant (global.get of an
// imported global: a relocatable module) are refused as unsupported.
Expected<WasmModule> parse_wasm_module(std::string_view bytes, const std::string& name);

// The active segments as a memory image (later segments win where they overlap, as when the
// module is instantiated).
MemoryImage wasm_memory_image(const WasmModule& module, std::string_view bytes,
                              const std::string& name);

}  // namespace mpheap::io
