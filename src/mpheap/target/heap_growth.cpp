// Heaps that grow: see heap_growth.h. The sizes follow py/gc.c of MicroPython 1.27 (gc_add,
// gc_setup_area, gc_try_add_heap), restated here from their comments and arithmetic.
#include "mpheap/target/heap_growth.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>

namespace mpheap::target {
namespace {

constexpr std::uint64_t kBlocksPerAtb = 4, kBlocksPerFtb = 8, kGapByte = 1;

// Blocks of an area set up over `bytes` bytes after its record (gc_setup_area): the allocation
// table (4 blocks a byte), the finaliser table (8 a byte) and a one-byte gap come first.
std::uint64_t area_blocks(std::uint64_t bytes, std::uint64_t block_size, bool finaliser) {
  if (bytes <= kGapByte) return 0;
  const std::uint64_t per_atb_bits =
      8 + (finaliser ? 8 * kBlocksPerAtb / kBlocksPerFtb : 0) + 8 * kBlocksPerAtb * block_size;
  return (bytes - kGapByte) * 8 / per_atb_bits * kBlocksPerAtb;
}

}  // namespace

std::optional<std::string> split_heap_auto_evidence(const io::MemoryImage& flash) {
  constexpr std::string_view kFormat(", max new split: %u");
  for (const io::MemoryRange& r : flash.ranges()) {
    std::string_view b(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size());
    if (auto at = b.find(kFormat); at != std::string_view::npos)
      return fmt::format(
          "heap that grows (MICROPY_GC_SPLIT_HEAP_AUTO): the image holds mem_info's \"{}\" at "
          "0x{:x}, printed only by such builds; the collector adds heap areas when it runs out",
          kFormat, r.address + at);
  }
  return std::nullopt;
}

std::optional<std::string> adopt_next_field(RamHeapFindings& heap, const io::WordReader& r,
                                            bool split_heap_auto) {
  if (!split_heap_auto || heap.split || heap.areas.size() != 1) return std::nullopt;
  HeapAreaBounds& b = heap.areas.front();
  const std::uint64_t W = r.word;
  if (b.record < W || r.at(b.record - W) != 0) return std::nullopt;
  b.record -= W;
  b.next = 0;
  heap.split = true;
  return fmt::format(
      "split heap with one area so far: the build's heap grows, so its record starts with "
      "`next`, the word at 0x{:x} (NULL: no other area yet)",
      b.record);
}

HeapGrowth heap_growth(const HeapShape& heap, std::uint64_t bytes) {
  HeapGrowth g;
  const std::uint64_t bs = heap.block_size;
  // gc_try_add_heap: the allocation plus an approximation of the tables' overhead (13/512 of
  // it, at least 2048 bytes).
  g.needed = bytes + std::max<std::uint64_t>(2048, bytes * 13 / 512);
  // At least a heap as big as the one there is (the total doubles), rounded up to a block.
  std::uint64_t total = heap.total_blocks / kBlocksPerAtb +
                        (heap.finaliser ? heap.total_blocks / kBlocksPerFtb : 0) +
                        heap.total_blocks * bs + kGapByte + heap.area_record_size;
  total = (total + bs - 1) / bs * bs;
  g.requested = std::max(total, g.needed);
  if (heap.max_new_split) {
    g.over_limit = *heap.max_new_split < g.needed;
    g.requested = std::min(g.requested, *heap.max_new_split);
    if (g.over_limit) return g;
  }
  // gc_add: the record first, then the end rounded down to a block: by 0 bytes when the system
  // returns a block-aligned address, by up to block_size - word_size bytes when it returns one
  // aligned only to a word (malloc gives 8 bytes on 32-bit ports).
  const std::uint64_t after_record =
      g.requested > heap.area_record_size ? g.requested - heap.area_record_size : 0;
  const std::uint64_t worst_loss = bs > 2 * heap.word_size ? bs - 2 * heap.word_size : 0;
  g.max_blocks = area_blocks(after_record, bs, heap.finaliser);
  g.min_blocks =
      area_blocks(after_record > worst_loss ? after_record - worst_loss : 0, bs, heap.finaliser);
  return g;
}

const PortHeapFacts* port_heap_facts(std::string_view port) {
  static constexpr PortHeapFacts kPorts[] = {{"webassembly", 128u * 1024 * 1024, true}};
  for (const PortHeapFacts& p : kPorts)
    if (p.port == port) return &p;
  return nullptr;
}

}  // namespace mpheap::target
