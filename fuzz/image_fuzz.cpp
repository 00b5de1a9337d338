// libFuzzer target for the firmware image readers (Intel HEX, UF2) and the structure search
// (qstr pools, type objects, heap area record): any input gives findings or one clean error.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "mpheap/io/firmware_image.h"
#include "mpheap/io/memory_image.h"
#include "mpheap/target/from_image.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mpheap;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)io::parse_intel_hex(bytes, "fuzz.hex");
  (void)io::parse_uf2(bytes, "fuzz.uf2");
  auto image = io::read_firmware_image(bytes, "fuzz.img", std::nullopt);
  // The input as flash (as parsed, or raw at 0) and, split in half, as flash and RAM.
  io::MemoryImage flash = image ? std::move(image->image) : io::raw_image(bytes, 0, "fuzz");
  (void)target::find_qstr_pools(flash, 4, true);
  io::MemoryImage ram;
  ram.add(io::MemoryRange{0x20000000, std::vector<std::uint8_t>(data + size / 2, data + size),
                          "fuzz.ram"});
  if (size > 0) (void)target::read_image_target(flash, &ram);
  return 0;
}
