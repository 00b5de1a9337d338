// Finding the heap in RAM dumps alone: see ram_heap_search.h.
#include "mpheap/target/ram_heap_search.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

namespace mpheap::target {
namespace {

constexpr int kMaxExtraTables = 3;
// gc_init leaves less than one more allocation-table byte's worth of memory (the byte, its 4
// blocks and their bits in the other tables) unused before the pool; the slack allows for the
// gap byte after the allocation table and for alignment. Between two tables there is at most
// the gap byte and alignment.
constexpr std::uint64_t kTableGapSlack = 16;
constexpr std::uint64_t kPoolGapSlack = 32;
constexpr std::size_t kMaxChain = 64;
constexpr std::size_t kMaxListed = 8;     // candidates named in an "ambiguous" message
constexpr std::size_t kMaxTieBreak = 64;  // more different heaps than this: ambiguous at once
constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);

struct Candidate {
  AreaShape shape;
  std::uint64_t field = 0;     // address of its gc_alloc_table_start word
  std::uint64_t pool_gap = 0;  // unused bytes between the last table and the pool
};

// How many words got how far: the "what was tried" of a not-found message.
struct ScanCounts {
  std::uint64_t words = 0;
  std::uint64_t ordered = 0;  // table < pool start < pool end for some number of tables
  std::uint64_t outside = 0, tables_order = 0, blocks_per_byte = 0, not_laid_out = 0;
};

// Whether the tables and the pool follow each other as gc_init and gc_add place them; the
// unused bytes before the pool in `gap`.
bool laid_out_as_gc_init(const AreaShape& s, std::uint64_t* gap) {
  const HeapAreaBounds& b = s.bounds;
  const std::uint64_t bit_table = (b.blocks() + 7) / 8;  // 1 bit per block
  std::uint64_t end = b.alloc_table + b.alloc_table_bytes;
  for (std::uint64_t t : s.table_starts) {
    if (t < end || t - end > kTableGapSlack) return false;
    end = t + bit_table;
  }
  if (end > b.pool_start) return false;
  *gap = b.pool_start - end;
  return *gap <= 4 * std::uint64_t{s.block_size} + kPoolGapSlack;
}

std::string describe_ranges(const io::MemoryImage& ram) {
  std::string out;
  for (const io::MemoryRange& r : ram.ranges())
    out += fmt::format("{}0x{:x}..0x{:x} ({} bytes)", out.empty() ? "" : ", ", r.address, r.end(),
                       r.bytes.size());
  return out.empty() ? std::string("nothing (no dumps)") : out;
}

std::string describe_area(const AreaShape& s, std::uint64_t record) {
  std::string tables;
  for (std::uint64_t t : s.table_starts) tables += fmt::format(", table 0x{:x}", t);
  return fmt::format(
      "record at 0x{:x}: allocation table 0x{:x} ({} bytes){}, pool 0x{:x}..0x{:x} ({} blocks "
      "of {} bytes)",
      record, s.bounds.alloc_table, s.bounds.alloc_table_bytes, tables, s.bounds.pool_start,
      s.bounds.pool_end, s.bounds.blocks(), s.block_size);
}

using Geometry = std::tuple<std::uint64_t, std::uint64_t, std::vector<std::uint64_t>, std::uint64_t,
                            std::uint64_t>;
Geometry geometry(const AreaShape& s) {
  return {s.bounds.alloc_table, s.bounds.alloc_table_bytes, s.table_starts, s.bounds.pool_start,
          s.bounds.pool_end};
}

// The kind of block `i` in the allocation table: 0 free, 1 head, 2 tail, 3 mark.
std::optional<int> block_kind(const io::MemoryImage& ram, const HeapAreaBounds& b,
                              std::uint64_t i) {
  if (i >= b.blocks()) return std::nullopt;
  auto byte = ram.bytes(b.alloc_table + i / 4, 1);
  if (!byte) return std::nullopt;
  return static_cast<int>(alloc_table_kind(*byte, i % 4));
}

// The first block that makes the allocation table impossible: a tail with no head or tail
// before it.
std::optional<std::uint64_t> invalid_block(const io::MemoryImage& ram, const HeapAreaBounds& b) {
  auto atb = ram.bytes(b.alloc_table, b.alloc_table_bytes);
  if (!atb) return std::nullopt;
  int previous = 0;
  for (std::uint64_t i = 0; i < b.blocks(); ++i) {
    const auto kind = static_cast<int>(alloc_table_kind(*atb, i));
    if (kind == 2 && previous == 0) return i;
    previous = kind;
  }
  return std::nullopt;
}

// Head blocks, and how many of them have their bit set in a 1-bit-per-block table.
struct TableBits {
  std::uint64_t heads = 0, heads_set = 0;
};

void count_table_bits(const io::MemoryImage& ram, const HeapAreaBounds& b, std::uint64_t table,
                      TableBits& out) {
  auto atb = ram.bytes(b.alloc_table, b.alloc_table_bytes);
  auto bits = ram.bytes(table, (b.blocks() + 7) / 8);
  if (!atb || !bits) return;
  for (std::uint64_t i = 0; i < b.blocks(); ++i) {
    if (alloc_table_kind(*atb, i) != 1) continue;
    ++out.heads;
    if (block_table_bit(*bits, i)) ++out.heads_set;
  }
}

// gc_alloc sets the selective-collect bit of every object that must be scanned: most of them.
// Finaliser and weakref bits belong to the few objects with __del__ or weak references.
bool most_heads_set(const TableBits& t) {
  return t.heads >= 4 && t.heads_set * 4 >= t.heads * 3;
}

// Names the extra tables: the finaliser table comes first, then weakref, then selective collect
// (CircuitPython); which ones a build has is told by their bits when it is not implied by count.
std::vector<std::string> name_tables(const std::vector<TableBits>& bits,
                                     std::vector<std::string>& evidence) {
  std::vector<std::string> names;
  auto because = [&](std::size_t i, const char* name) {
    evidence.push_back(fmt::format(
        "extra table {} is the {} table: {} of {} head blocks have their bit set (gc_alloc sets "
        "the selective-collect bit of most objects; finaliser and weakref bits are rare)",
        i + 1, name, bits[i].heads_set, bits[i].heads));
  };
  if (bits.size() == 1) {
    names.push_back(most_heads_set(bits[0]) ? "selective-collect" : "finaliser");
    because(0, names[0].c_str());
  } else if (bits.size() == 2) {
    names.push_back("finaliser");
    if (bits[1].heads < 4) {
      names.push_back("weakref or selective-collect");
      evidence.push_back(
          "extra table 1 is the finaliser table; table 2 is a weakref or a selective-collect "
          "table: too few head blocks to tell which");
    } else {
      names.push_back(most_heads_set(bits[1]) ? "selective-collect" : "weakref");
      because(1, names[1].c_str());
    }
  } else if (bits.size() == 3) {
    names = {"finaliser", "weakref", "selective-collect"};
    evidence.push_back(
        "three extra tables: finaliser, weakref and selective-collect, in the order of "
        "mp_state_mem_area_t");
  }
  return names;
}

}  // namespace

Expected<RamHeapFindings> find_heap_areas_in_ram(const io::MemoryImage& ram,
                                                 std::uint32_t word_size, bool little_endian) {
  const std::uint64_t W = word_size;
  const std::string words_text =
      fmt::format("{}-bit {} endian words", W * 8, little_endian ? "little" : "big");
  if (word_size != 4 && word_size != 8)
    return Error{"dumps", 0, 0, fmt::format("word size {} is not 4 or 8 bytes", word_size)};
  io::WordReader r{ram, word_size, little_endian};

  // Every word as a record with 0..3 extra tables.
  ScanCounts n;
  std::vector<Candidate> found;
  for (const io::MemoryRange& range : ram.ranges()) {
    for (std::uint64_t a = (range.address + W - 1) / W * W; a + 4 * W <= range.end(); a += W) {
      ++n.words;
      int furthest = -1;
      bool shaped = false, placed = false;
      for (int k = 0; k <= kMaxExtraTables; ++k) {
        AreaReject why = AreaReject::not_ordered;
        auto s = heap_area_shape(r, a, k, /*require_covered=*/true, &why);
        if (!s) {
          furthest = std::max(furthest, static_cast<int>(why));
          continue;
        }
        shaped = true;
        std::uint64_t gap = 0;
        if (!laid_out_as_gc_init(*s, &gap)) continue;
        placed = true;
        found.push_back(Candidate{std::move(*s), a, gap});
      }
      if (shaped || furthest > static_cast<int>(AreaReject::not_ordered)) ++n.ordered;
      if (placed) continue;
      if (shaped) {
        ++n.not_laid_out;
      } else if (furthest == static_cast<int>(AreaReject::outside_dump)) {
        ++n.outside;
      } else if (furthest == static_cast<int>(AreaReject::tables_order)) {
        ++n.tables_order;
      } else if (furthest == static_cast<int>(AreaReject::blocks_per_byte)) {
        ++n.blocks_per_byte;
      }
    }
  }
  const std::string scanned = fmt::format(
      "scanned {} as {} for {{allocation table, its length, [0-3 more tables,] pool start, "
      "pool end}}",
      describe_ranges(ram), words_text);
  const std::string rejected = fmt::format(
      "{} of {} words start table < pool start < pool end: {} with the table or pool outside the "
      "dumps, {} with extra tables out of order, {} whose pool is not 4 blocks of 8..128 bytes "
      "per table byte, {} whose tables and pool are not laid out as gc_init lays them out (one "
      "after the other, the pool right after)",
      n.ordered, n.words, n.outside, n.tables_order, n.blocks_per_byte, n.not_laid_out);
  if (found.empty()) {
    return Error{"dumps", 0, 0,
                 fmt::format("no heap area record found in RAM: {}; {}; are the dumps whole "
                             "(mp_state_ctx and the heap), from a MicroPython firmware, and is "
                             "the word size right?",
                             scanned, rejected)};
  }

  // A word both ranges cover (overlapping dumps) was scanned twice.
  std::sort(found.begin(), found.end(), [](const Candidate& x, const Candidate& y) {
    return std::make_pair(x.field, x.shape.tables) < std::make_pair(y.field, y.shape.tables);
  });
  found.erase(std::unique(found.begin(), found.end(),
                          [](const Candidate& x, const Candidate& y) {
                            return x.field == y.field && x.shape.tables == y.shape.tables;
                          }),
              found.end());

  // Chains: the word in front of a record that points at the `next` field of another record
  // (of the same block size and tables) links a split heap's areas.
  std::multimap<std::uint64_t, std::size_t> by_struct;  // record address if `next` is first
  for (std::size_t j = 0; j < found.size(); ++j) by_struct.emplace(found[j].field - W, j);
  std::vector<std::size_t> next(found.size(), kNoIndex);
  std::vector<bool> pointed(found.size(), false);
  std::vector<std::optional<std::uint64_t>> word_before(found.size());
  for (std::size_t i = 0; i < found.size(); ++i) {
    word_before[i] = r.at(found[i].field - W);
    if (!word_before[i] || *word_before[i] == 0) continue;
    auto [lo, hi] = by_struct.equal_range(*word_before[i]);
    for (auto it = lo; it != hi; ++it) {
      std::size_t j = it->second;
      if (j == i || found[j].shape.block_size != found[i].shape.block_size ||
          found[j].shape.tables != found[i].shape.tables)
        continue;
      next[i] = j;
      pointed[j] = true;
      break;
    }
  }
  // Records of the same geometry (a copy of the live one) count once: the lowest address.
  std::vector<std::vector<std::size_t>> distinct;
  std::map<std::vector<Geometry>, std::size_t> seen;
  std::vector<std::string> copies, ruled_out;
  for (std::size_t i = 0; i < found.size(); ++i) {
    if (pointed[i]) continue;
    std::vector<std::size_t> chain{i};
    while (next[chain.back()] != kNoIndex && chain.size() < kMaxChain &&
           std::find(chain.begin(), chain.end(), next[chain.back()]) == chain.end())
      chain.push_back(next[chain.back()]);
    std::vector<Geometry> key;
    for (std::size_t k : chain) key.push_back(geometry(found[k].shape));
    if (seen.emplace(std::move(key), distinct.size()).second) {
      distinct.push_back(std::move(chain));
    } else {
      copies.push_back(fmt::format("0x{:x}", found[i].field));
    }
  }
  if (distinct.empty()) {
    return Error{"dumps", 0, 0,
                 fmt::format("no heap area record found in RAM: {}; {}; the {} record(s) that fit "
                             "point at each other in a cycle by their `next`, which no heap does",
                             scanned, rejected, found.size())};
  }
  // Several different heaps: keep the ones whose allocation tables are valid (no tail block
  // after a free one), then drop one whose record lies in an allocated block of another's pool
  // (heap data that looks like a record). What is left must be one heap, or it is ambiguous.
  if (distinct.size() > 1 && distinct.size() <= kMaxTieBreak) {
    auto keep_if = [&](auto&& keep) {
      std::vector<std::vector<std::size_t>> kept;
      for (auto& chain : distinct)
        if (keep(chain)) kept.push_back(chain);
      if (!kept.empty()) distinct = std::move(kept);
    };
    keep_if([&](const std::vector<std::size_t>& chain) {
      for (std::size_t k : chain) {
        if (auto bad = invalid_block(ram, found[k].shape.bounds)) {
          ruled_out.push_back(fmt::format(
              "the record at 0x{:x} is not the heap's: its allocation table has a tail block "
              "after a free one (block {})",
              found[chain.front()].field, *bad));
          return false;
        }
      }
      return true;
    });
    std::vector<std::vector<std::size_t>> all = distinct;
    keep_if([&](const std::vector<std::size_t>& chain) {
      const std::uint64_t field = found[chain.front()].field;
      for (const auto& other : all) {
        if (other == chain) continue;
        for (std::size_t k : other) {
          const HeapAreaBounds& b = found[k].shape.bounds;
          if (field < b.pool_start || field >= b.pool_end) continue;
          auto kind = block_kind(ram, b, (field - b.pool_start) / found[k].shape.block_size);
          if (kind && *kind != 0) {
            ruled_out.push_back(fmt::format(
                "the record at 0x{:x} lies in an allocated block of the pool 0x{:x}..0x{:x}: "
                "heap data, not a heap's own record",
                field, b.pool_start, b.pool_end));
            return false;
          }
        }
      }
      return true;
    });
  }
  if (distinct.size() != 1) {
    std::string list;
    for (std::size_t k = 0; k < distinct.size() && k < kMaxListed; ++k) {
      const auto& chain = distinct[k];
      list += fmt::format("{}{}", list.empty() ? "" : "; ",
                          describe_area(found[chain.front()].shape, found[chain.front()].field));
      if (chain.size() > 1) list += fmt::format(" and {} more chained by next", chain.size() - 1);
    }
    if (distinct.size() > kMaxListed) list += "; ...";
    return Error{"dumps", 0, 0,
                 fmt::format("heap area record ambiguous: {}; {} different records fit and "
                             "neither a `next` chain, valid allocation tables nor one lying in "
                             "the other's heap tells them apart: {}; give the firmware "
                             "description (image, ELF or map) so the one in mp_state_ctx is known",
                             scanned, distinct.size(), list)};
  }

  const std::vector<std::size_t>& chain = distinct.front();
  RamHeapFindings f;
  f.word_size = word_size;
  f.little_endian = little_endian;
  f.block_size = found[chain.front()].shape.block_size;
  f.split = chain.size() > 1;
  f.evidence.push_back(fmt::format("{}: {} record(s) fit; {}", scanned, found.size(), rejected));
  std::vector<TableBits> bits(static_cast<std::size_t>(found[chain.front()].shape.tables));
  for (std::size_t k = 0; k < chain.size(); ++k) {
    const Candidate& c = found[chain[k]];
    HeapAreaBounds b = c.shape.bounds;
    b.record = f.split ? c.field - W : c.field;
    b.next = f.split && k + 1 < chain.size() ? found[chain[k + 1]].field - W : 0;
    b.finaliser_table.reset();
    for (std::size_t t = 0; t < bits.size(); ++t)
      count_table_bits(ram, b, c.shape.table_starts[t], bits[t]);
    f.areas.push_back(b);
    f.evidence.push_back(fmt::format(
        "heap area {} {}, 4 per table byte; the pool starts {} bytes after the last table{}", k + 1,
        describe_area(c.shape, b.record), c.pool_gap,
        f.split ? fmt::format("; `next` (its first word) = 0x{:x}", b.next) : ""));
  }
  if (f.split) {
    f.evidence.push_back(fmt::format(
        "split heap: the word in front of each record points at the next area's record "
        "(`next`) and the last one's is {}",
        word_before[chain.back()] ? fmt::format("0x{:x}", *word_before[chain.back()]) : "?"));
  } else {
    f.evidence.push_back(fmt::format(
        "one area: the word in front of the record is {}, not another record",
        word_before[chain.front()] ? fmt::format("0x{:x}", *word_before[chain.front()]) : "?"));
  }
  for (const std::string& c : copies)
    f.evidence.push_back(fmt::format("the same record is also at {} (a copy)", c));
  for (const std::string& d : ruled_out) f.evidence.push_back(d);
  for (std::size_t k = 0; k < f.areas.size(); ++k)
    if (auto bad = invalid_block(ram, f.areas[k]))
      f.evidence.push_back(fmt::format(
          "note: heap area {}'s allocation table has a tail block after a free one (block {}): "
          "a dump taken in the middle of a free or a sweep?",
          k + 1, *bad));
  f.tables = name_tables(bits, f.evidence);
  for (std::size_t k = 0; k < chain.size(); ++k) {
    const std::vector<std::uint64_t>& starts = found[chain[k]].shape.table_starts;
    HeapAreaBounds& b = f.areas[k];
    for (std::size_t t = 0; t < starts.size() && t < f.tables.size(); ++t) {
      if (f.tables[t] == "finaliser") b.finaliser_table = starts[t];
      if (f.tables[t] == "weakref") b.weakref_table = starts[t];
      if (f.tables[t] == "selective-collect") b.collect_table = starts[t];
    }
  }
  return f;
}

}  // namespace mpheap::target
