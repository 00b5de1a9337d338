// libFuzzer target for the text readers of the map/nm path (GNU ld map, nm output, qstr
// lists), the target.json reader, and the layout heuristics over a RAM image built from the
// input: any input gives a target or one clean error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mpheap/io/memory_image.h"
#include "mpheap/target/from_map.h"
#include "mpheap/target/layout_heuristics.h"
#include "mpheap/target/target_json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mpheap;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)target::parse_gnu_ld_map(text, "fuzz.map");
  (void)target::parse_nm(text, "fuzz.nm");
  (void)target::parse_qstr_list(text, "fuzz.qstrs");
  (void)target::target_from_json(text, "fuzz.json");
  // A target from the input as nm output, laid out against the input bytes as RAM.
  auto t = target::read_map_target("", "", text, "fuzz.nm", "", "");
  if (t && t->mp_state_ctx) {
    io::MemoryImage ram;
    ram.add(
        io::MemoryRange{*t->mp_state_ctx, std::vector<std::uint8_t>(data, data + size), "fuzz"});
    auto f = target::infer_layout(*t, ram, std::nullopt);
    if (f) (void)target::to_json(*t);
  }
  return 0;
}
