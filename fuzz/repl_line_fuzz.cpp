// libFuzzer target for the REPL reader's line decoders (capture::decode_chunk_line,
// decode_label_part): what comes back over a lossy serial link. A line either accepts must be
// exactly the line the board would make of what it decoded; nothing outside the read's buffer
// is written.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/capture/repl_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::uint64_t start = 0x20000000, end = 0x20004000;
  std::vector<std::uint8_t> out(end - start);
  std::string_view line(reinterpret_cast<const char*>(data), size);
  if (auto label = mpheap::capture::decode_label_part(line))
    if (mpheap::capture::encode_label_part(*label) != line) std::abort();
  auto address = mpheap::capture::decode_chunk_line(line, start, end, out.data());
  if (!address) return 0;
  const std::uint64_t n = std::min(mpheap::capture::kReplChunkBytes, end - *address);
  std::string again = mpheap::capture::encode_chunk_line(
      *address,
      std::string_view(reinterpret_cast<const char*>(out.data()) + (*address - start), n));
  if (again.substr(0, again.size() - 1) != line) std::abort();
  return 0;
}
