// libFuzzer target for the ELF reader (header checks, libelf/libdw, DWARF layouts, ROM qstr
// pools, type objects): any input must give a Target or one clean error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mpheap/target/from_elf.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mpheap::target;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ElfOptions options;
  options.require_dwarf = size % 2 == 0;
  auto target = read_elf_target_from_memory(bytes, "fuzz.elf", options);
  if (!target) {
    (void)target.error().message();
    return 0;
  }
  for (const TypeObject& t : target->types) (void)target->describe(t.address);
  if (target->mp_state_ctx) (void)target->symbol_at(*target->mp_state_ctx);
  return 0;
}
