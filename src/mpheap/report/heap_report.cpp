// Heap snapshot presenters: block map, gc_info text, summary, table flags, JSON.
#include "mpheap/report/heap_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "mpheap/report/output.h"

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
      "GC: total: {}, used: {}, free: {}{}\n No. of 1-blocks: {}, 2-blocks: {}, max blk sz: {}, "
      "max free sz: {}\n",
      t.total, t.used, t.free,
      t.max_new_split ? fmt::format(", max new split: {}", *t.max_new_split) : std::string(),
      t.num_1block, t.num_2block, t.max_block, t.max_free);
}

namespace {

struct BitCount {
  bool present = false;
  std::uint64_t objects = 0, blocks = 0, unknown = 0;
};

BitCount count_bits(const heap::Snapshot& s, heap::TableBit heap::HeapObject::*bit,
                    heap::TableBit wanted) {
  BitCount c;
  for (const heap::HeapObject& o : s.objects) {
    const heap::TableBit b = o.*bit;
    if (b == heap::TableBit::absent) continue;
    c.present = true;
    if (b == heap::TableBit::unknown) ++c.unknown;
    if (b == wanted) {
      ++c.objects;
      c.blocks += o.blocks;
    }
  }
  return c;
}

}  // namespace

std::string table_counts_text(const heap::Snapshot& s, const target::Target& t) {
  struct Line {
    const char* label;
    heap::TableBit heap::HeapObject::*bit;
    heap::TableBit wanted;
  };
  static constexpr Line kLines[] = {
      {"objects with finalisers", &heap::HeapObject::has_finaliser, heap::TableBit::set},
      {"objects with weak references", &heap::HeapObject::has_weakref, heap::TableBit::set},
      {"not scanned (selective collect)", &heap::HeapObject::collect, heap::TableBit::clear},
  };
  std::string out;
  for (const Line& l : kLines) {
    const BitCount c = count_bits(s, l.bit, l.wanted);
    if (!c.present) continue;
    fmt::format_to(
        std::back_inserter(out), "{}: {} ({} bytes){}\n", l.label, c.objects,
        c.blocks * t.block_size,
        c.unknown == 0 ? std::string() : fmt::format("; {} objects' bits not captured", c.unknown));
  }
  return out;
}

std::string object_flags_text(const heap::HeapObject& o) {
  std::vector<std::string> parts;
  auto add = [&](heap::TableBit b, const char* set, const char* clear) {
    if (b == heap::TableBit::set && set != nullptr) parts.emplace_back(set);
    if (b == heap::TableBit::clear && clear != nullptr) parts.emplace_back(clear);
  };
  add(o.has_finaliser, "has finaliser", nullptr);
  add(o.has_weakref, "weakly referenced", nullptr);
  add(o.collect, nullptr, "not scanned by the GC (selective collect)");
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::string heap_summary(const heap::Snapshot& s, const target::Target& t) {
  std::string out = gc_info_text(s.totals);
  fmt::format_to(
      std::back_inserter(out), "areas: {}, blocks: {} ({} heads, {} tails, {} free), {} objects\n",
      s.areas.size(), s.totals.blocks, s.totals.heads, s.totals.tails,
      s.totals.blocks - s.totals.heads - s.totals.tails - s.totals.marks, s.objects.size());
  out += table_counts_text(s, t);
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> census;  // type -> (count, blocks)
  for (const heap::HeapObject& o : s.objects) {
    auto& c = census[heap::object_type_label(s, o)];
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

namespace mpheap::report {
namespace {

using Json = nlohmann::ordered_json;

void put_table(Json& x, const char* key, const std::optional<heap::BlockTable>& table) {
  if (!table) return;
  if (table->address)
    x[key] = fmt::format("{:#x}", *table->address);
  else
    x[key] = nullptr;
}

}  // namespace

void write_snapshot_json(std::string& out, const JsonFlush& flush, const heap::Snapshot& s,
                         const target::Target& t, std::uint64_t index,
                         const SnapshotSummary* summary) {
  // The header and the diagnostics are small: one document, dumped as nlohmann lays it out,
  // with the objects array streamed in the middle (194,135 objects of an 8 MiB heap as one
  // document tree took hundreds of MB).
  Json j;
  j["version"] = kHeapSnapshotJsonVersion;
  j["snapshot"] = index;
  if (summary != nullptr && !summary->label.empty()) j["label"] = summary->label;
  j["block_size"] = t.block_size;
  j["totals"] = {{"total", s.totals.total},
                 {"used", s.totals.used},
                 {"free", s.totals.free},
                 {"num_1block", s.totals.num_1block},
                 {"num_2block", s.totals.num_2block},
                 {"max_block", s.totals.max_block},
                 {"max_free", s.totals.max_free},
                 {"heads", s.totals.heads},
                 {"tails", s.totals.tails}};
  Json areas = Json::array();
  for (const heap::AreaSnapshot& a : s.areas) {
    Json x{{"record", fmt::format("{:#x}", a.bounds.record)},
           {"alloc_table", fmt::format("{:#x}", a.bounds.alloc_table)}};
    put_table(x, "finaliser_table", a.finaliser_table);
    put_table(x, "weakref_table", a.weakref_table);
    put_table(x, "collect_table", a.collect_table);
    x["pool_start"] = fmt::format("{:#x}", a.bounds.pool_start);
    x["pool_end"] = fmt::format("{:#x}", a.bounds.pool_end);
    x["blocks"] = a.bounds.blocks();
    areas.push_back(std::move(x));
  }
  j["areas"] = areas;
  if (summary != nullptr) {
    std::uint64_t objects = 0, bytes = 0;
    for (const SnapshotObject& o : summary->objects)
      if (o.garbage) {
        ++objects;
        bytes += o.blocks * t.block_size;
      }
    j["garbage"] = {{"objects", objects}, {"bytes", bytes}};
    j["largest_free_run"] = summary->largest_free_run;
  }
  // The placeholder is found with its key at the root's indentation: a string value (a label)
  // cannot hold a raw newline, so nothing else matches.
  static constexpr std::string_view kKey = "\n \"objects\": ";
  static constexpr std::string_view kPlaceholder = "\"\\u0001objects\"";
  j["objects"] = "\x01objects";
  Json diags = Json::array();
  for (const heap::Diagnostic& d : s.diagnostics)
    diags.push_back({{"address", fmt::format("{:#x}", d.address)}, {"what", d.what}});
  j["diagnostics"] = diags;
  const std::string document = j.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
  const std::size_t at = document.find(std::string(kKey) + std::string(kPlaceholder));
  out.append(document, 0, at + kKey.size());

  // One object per element, laid out as dump(1) lays out an element of a member of the root.
  auto key = [&](std::string_view k) {
    out += ",\n   \"";
    out += k;
    out += "\": ";
  };
  auto number = [&](std::string_view k, std::uint64_t v) {
    key(k);
    fmt::format_to(std::back_inserter(out), "{}", v);
  };
  auto text = [&](std::string_view k, std::string_view v) {
    key(k);
    append_json_string(out, v);
  };
  auto boolean = [&](std::string_view k, bool v) {
    key(k);
    out += v ? "true" : "false";
  };
  auto bit = [&](std::string_view k, heap::TableBit b) {
    if (b == heap::TableBit::absent) return;
    key(k);
    out += b == heap::TableBit::unknown ? "null" : b == heap::TableBit::set ? "true" : "false";
  };
  out += s.objects.empty() ? "[]" : "[\n";
  for (std::size_t i = 0; i < s.objects.size(); ++i) {
    const heap::HeapObject& o = s.objects[i];
    fmt::format_to(std::back_inserter(out), "{}  {{\n   \"address\": \"{:#x}\"", i ? ",\n" : "",
                   o.address);
    number("area", o.area);
    number("block", o.block);
    number("blocks", o.blocks);
    number("bytes", std::uint64_t{o.blocks} * t.block_size);
    text("type", heap::object_type_label(s, o));
    if (summary != nullptr && i < summary->objects.size()) {
      const SnapshotObject& m = summary->objects[i];
      boolean("garbage", m.garbage);
      number("retained_bytes", m.retained_bytes);
      if (!m.garbage) {
        // Past kHeldByHops hops the path starts at an ancestor's (`held_by_from`), so the text
        // stays linear in the length of a chain.
        std::uint32_t from = m.depth > kHeldByHops ? (m.depth - 1) / kHeldByHops * kHeldByHops : 0;
        std::uint32_t anchor = 0;
        std::string path = held_by(*summary, static_cast<std::uint32_t>(i), from, &anchor);
        if (from > 0) {
          key("held_by_from");
          fmt::format_to(std::back_inserter(out), "\"{:#x}\"", s.objects[anchor].address);
        }
        text("held_by", path);
      }
      if (m.reader) boolean("reader", true);
    }
    if (o.class_name() != heap::NameIndex::none) text("class_name", s.class_name(o));
    if (o.function() != heap::NameIndex::none) text("function", s.function_name(o));
    bit("has_finaliser", o.has_finaliser);
    bit("has_weakref", o.has_weakref);
    bit("collect", o.collect);
    out += "\n  }";
    if (out.size() >= kJsonFlushBytes) flush(out);
  }
  if (!s.objects.empty()) out += "\n ]";
  out.append(document, at + kKey.size() + kPlaceholder.size());
  flush(out);
}

std::string snapshot_json(const heap::Snapshot& s, const target::Target& t, std::uint64_t index,
                          const SnapshotSummary* summary) {
  std::string out;
  write_snapshot_json(
      out, [](std::string&) {}, s, t, index, summary);
  return out;
}

}  // namespace mpheap::report
