// libFuzzer target for the firmware image readers (Intel HEX, UF2, WebAssembly modules, ELF
// program headers, an ELF inside a container) and the structure search (load address
// inference, qstr pools of every layout, type objects, the version, heap area records): any
// input gives findings or one clean error.
// The heap search in RAM alone runs on the input as 32- and 64-bit words, in both byte orders.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/io/elf_segments.h"
#include "mpheap/io/firmware_image.h"
#include "mpheap/io/memory_image.h"
#include "mpheap/io/wasm_module.h"
#include "mpheap/target/from_image.h"
#include "mpheap/target/load_address.h"
#include "mpheap/target/ram_heap_search.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mpheap;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)io::parse_intel_hex(bytes, "fuzz.hex");
  (void)io::parse_uf2(bytes, "fuzz.uf2");
  // The input as the sections of a wasm module (after the 8-byte header) as well as it is.
  std::string module("\0asm\1\0\0\0", 8);
  module.append(bytes);
  for (std::string_view m : {std::string_view(module), bytes})
    if (auto parsed = io::parse_wasm_module(m, "fuzz.wasm"))
      (void)io::wasm_memory_image(*parsed, m, "fuzz.wasm");
  (void)io::read_elf_segments(bytes, "fuzz.elf");
  (void)io::find_embedded_elf(bytes);
  (void)target::rank_load_addresses(bytes);
  // The whole file path: format, container, load address inference (or the given base's check).
  (void)target::read_image_file_target(bytes, "fuzz.img", std::nullopt, nullptr);
  if (size > 0) (void)target::read_image_file_target(bytes, "fuzz.img", 0x08000000, nullptr);
  auto image = io::read_firmware_image(bytes, "fuzz.img", std::nullopt);
  // The input as flash (as parsed, or raw at 0) and, split in half, as flash and RAM.
  io::MemoryImage flash = image ? std::move(image->image) : io::raw_image(bytes, 0, "fuzz");
  (void)target::find_qstr_pools(flash, 4, true);
  io::MemoryImage ram;
  ram.add(io::MemoryRange{0x20000000, std::vector<std::uint8_t>(data + size / 2, data + size),
                          "fuzz.ram"});
  if (size > 0) (void)target::read_image_target(flash, &ram);
  // The whole input as RAM at an address its own words can point into (small addresses, as on
  // the MPS2 board and in hand-made inputs), and the RAM half at 0x20000000.
  io::MemoryImage whole = io::raw_image(bytes, 0x1000, "fuzz.ram");
  for (std::uint32_t word : {4u, 8u}) {
    for (bool little : {true, false}) {
      (void)target::find_heap_areas_in_ram(whole, word, little);
      (void)target::find_heap_areas_in_ram(ram, word, little);
    }
  }
  return 0;
}
