// libFuzzer target for snapshot sequence files (mpheap capture snapshots' and capture repl's
// output, read by mpheap heap): indexing must give entries whose data lies inside the input, or
// one clean error; grouped into snapshots (parts), every byte of every snapshot must map inside
// the input.
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
    if (!again || again->start != e.header.start || again->end != e.header.end ||
        again->label != e.header.label || again->part != e.header.part ||
        again->parts != e.header.parts)
      __builtin_trap();
  }
  auto dumps = group_snapshot_dumps(std::move(*index), "fuzz.seq");
  if (!dumps) {
    (void)dumps.error().message();
    return 0;
  }
  const SnapshotDumps& d = *dumps;
  for (std::uint64_t i = 0; i < d.entries.size(); ++i)
    for (const SnapshotDumps::Part& p : d.parts) {
      const std::uint64_t first = d.file_offset(i * d.dump_size + p.offset);
      const std::uint64_t last = d.file_offset(i * d.dump_size + p.offset + p.size - 1);
      if (last < first || last >= size || d.file_offset_of(i, p.start) != first) __builtin_trap();
    }
  return 0;
}
