// libFuzzer target for snapshot sequence files (mpheap capture snapshots' output, read by
// mpheap heap): indexing must give entries whose data lies inside the input, or one clean error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mpheap/io/snapshot_sequence.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mpheap::io;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto index = index_snapshot_sequence(bytes, "fuzz.seq");
  if (!index) {
    (void)index.error().message();
    return 0;
  }
  for (const SnapshotEntry& e : *index) {
    if (e.data_offset > size || e.header.size() > size - e.data_offset) __builtin_trap();
    // The header written back parses to the same range.
    std::string line = format_snapshot_header(e.header);
    auto again = parse_snapshot_header(std::string_view(line).substr(0, line.size() - 1), "f", 0);
    if (!again || again->start != e.header.start || again->end != e.header.end) __builtin_trap();
  }
  return 0;
}
