// Heap snapshot presenters.
#include "mpheap/report/heap_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace mpheap::report {

std::string blockmap(const heap::Snapshot& s, const target::Target& t) {
  constexpr std::uint64_t kPerLine = 64;
  std::string out;
  for (const heap::AreaSnapshot& a : s.areas) {
    fmt::format_to(std::back_inserter(out), "GC memory layout; from {:x}:", a.bounds.pool_start);
    // Letters of the head blocks, in block order.
    std::map<std::uint64_t, char> letters;
    for (std::uint64_t i = 0; i < a.object_count; ++i) {
      const heap::HeapObject& o = s.objects[a.first_object + i];
      letters[o.block] = heap::block_letter(t, o, s.load_bias);
    }
    const std::uint64_t n = a.kinds.size();
    for (std::uint64_t bl = 0; bl < n; ++bl) {
      if (bl % kPerLine == 0) {
        std::uint64_t bl2 = bl;
        while (bl2 < n && a.kinds[bl2] == heap::BlockKind::free) ++bl2;
        if (bl2 - bl >= 2 * kPerLine) {
          fmt::format_to(std::back_inserter(out), "\n       ({} lines all free)",
                         (bl2 - bl) / kPerLine);
          bl = bl2 & ~(kPerLine - 1);
          if (bl >= n) break;
        }
        // The offset as the firmware prints it: "%05x" masked to 20 bits before 1.20.
        auto offset = static_cast<std::uint32_t>(bl * t.block_size);
        if (t.blockmap_offset_digits == 5) {
          fmt::format_to(std::back_inserter(out), "\n{:05x}: ", offset & 0xfffffu);
        } else {
          fmt::format_to(std::back_inserter(out), "\n{:08x}: ", offset);
        }
      }
      char c = ' ';
      switch (a.kinds[bl]) {
        case heap::BlockKind::free:
          c = '.';
          break;
        case heap::BlockKind::head:
          c = letters[bl];
          break;
        case heap::BlockKind::tail:
          c = '=';
          break;
        case heap::BlockKind::mark:
          c = 'm';
          break;
      }
      out.push_back(c);
    }
    out.push_back('\n');
  }
  return out;
}

std::string gc_info_text(const heap::HeapTotals& t) {
  return fmt::format(
      "GC: total: {}, used: {}, free: {}\n No. of 1-blocks: {}, 2-blocks: {}, max blk sz: {}, max "
      "free sz: {}\n",
      t.total, t.used, t.free, t.num_1block, t.num_2block, t.max_block, t.max_free);
}

std::string heap_summary(const heap::Snapshot& s, const target::Target& t) {
  std::string out = gc_info_text(s.totals);
  fmt::format_to(
      std::back_inserter(out), "areas: {}, blocks: {} ({} heads, {} tails, {} free), {} objects\n",
      s.areas.size(), s.totals.blocks, s.totals.heads, s.totals.tails,
      s.totals.blocks - s.totals.heads - s.totals.tails - s.totals.marks, s.objects.size());
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> census;  // type -> (count, blocks)
  for (const heap::HeapObject& o : s.objects) {
    auto& c = census[o.type.empty() ? std::string("(no type header)") : o.type];
    ++c.first;
    c.second += o.blocks;
  }
  std::vector<std::pair<std::string, std::pair<std::uint64_t, std::uint64_t>>> rows(census.begin(),
                                                                                    census.end());
  std::stable_sort(rows.begin(), rows.end(),
                   [](auto& a, auto& b) { return a.second.second > b.second.second; });
  out += "objects by type (by blocks):\n";
  for (const auto& [type, cb] : rows)
    fmt::format_to(std::back_inserter(out), "  {:>6} blocks {:>8} bytes {:>5} x {}\n", cb.second,
                   cb.second * t.block_size, cb.first, type);
  for (const heap::Diagnostic& d : s.diagnostics)
    fmt::format_to(std::back_inserter(out), "warning: 0x{:x}: {}\n", d.address, d.what);
  return out;
}

}  // namespace mpheap::report
