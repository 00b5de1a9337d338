// Ownership graph as DOT. Labels are plain box labels with \l line ends (no record or HTML
// shapes), so only quotes, backslashes and line breaks need escaping; '<', '>', '{', '}' and
// '|' are literal text there.
#include "mpheap/report/heap_dot.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <numeric>
#include <vector>

#include "mpheap/heap/dominators.h"

namespace mpheap::report {
namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1fu;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0fu;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07u;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3fu);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return n;
}

// Python-repr-like text of a str/bytes value: quoted, escapes for control and non-ASCII bytes,
// at most `max` characters of content followed by "..." when cut.
std::string python_text(std::string_view v, std::size_t max) {
  std::string out = "'";
  std::size_t shown = 0;
  for (char ch : v) {
    if (shown == max) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\'':
        out += "\\'";
        break;
      default:
        if (c < 0x20 || c >= 0x7f)
          out += fmt::format("\\x{:02x}", c);
        else
          out += ch;
    }
    ++shown;
  }
  return out + "'";
}

// "a, b, c (+N more)" from the first `max` items.
std::string item_list(const std::vector<std::string>& items, std::size_t max) {
  std::string out;
  for (std::size_t k = 0; k < items.size() && k < max; ++k) {
    if (k > 0) out += ", ";
    out += items[k];
  }
  if (items.size() > max) out += fmt::format(" (+{} more)", items.size() - max);
  return out;
}

std::string type_name(const heap::Snapshot& s, const heap::HeapObject& o) {
  if (o.class_name() != heap::NameIndex::none && o.kind == heap::ObjectKind::type)
    return "class " + s.class_name(o);
  return heap::object_type_label(s, o);
}

// What the labels show beyond address, type and size, gathered once per snapshot.
struct Contents {
  std::map<std::uint32_t, std::vector<std::string>> keys;   // dicts and their tables
  std::map<std::uint32_t, std::vector<std::string>> qstrs;  // qstr chunks
  std::map<std::uint32_t, std::string> pool_range;          // qstr pools: "qstrs 653..655"
};

Contents gather(const heap::Snapshot& s, const heap::ObjectReader& reader,
                const target::Target& t) {
  Contents c;
  auto index_of = [&](std::optional<std::uint64_t> address) -> std::optional<std::uint32_t> {
    if (!address) return std::nullopt;
    const heap::HeapObject* o = reader.object_at(*address);
    if (o == nullptr) return std::nullopt;
    return static_cast<std::uint32_t>(o - s.objects.data());
  };
  const target::ObjectLayout& L = t.objects;
  const std::uint64_t table_offset = L.dict_map + (L.map_table - L.map_used_word);
  for (std::uint32_t i = 0; i < s.objects.size(); ++i) {
    const heap::HeapObject& o = s.objects[i];
    if (o.kind != heap::ObjectKind::dict) continue;
    auto items = reader.dict_items(o);
    if (!items) continue;
    std::vector<std::string> keys;
    for (auto [k, v] : *items) keys.push_back(reader.repr(k));
    if (auto table = index_of(reader.read_word(o.address + table_offset)); table && *table != i)
      c.keys[*table] = keys;
    c.keys[i] = std::move(keys);
  }
  // __main__'s globals: the dict is in mp_state_ctx, its table on the heap.
  if (t.mp_state_ctx && t.state.vm_dict_main) {
    auto table = index_of(
        reader.read_word(*t.mp_state_ctx + s.load_bias + *t.state.vm_dict_main + table_offset));
    if (table) {
      std::vector<std::string> names;
      for (auto& [name, value] : reader.globals()) names.push_back(name);
      c.keys[*table] = std::move(names);
    }
  }
  // Heap qstr pools: each string pointer names the chunk that holds it.
  const target::QstrPoolLayout& q = t.qstr_pool;
  if (t.mp_state_ctx && t.state.vm_last_pool && q.qstrs && q.len && q.total_prev_len) {
    auto pool = reader.read_word(*t.mp_state_ctx + s.load_bias + *t.state.vm_last_pool);
    const std::uint64_t prev_mask = t.word_size >= 8 ? ~0ULL >> 1 : 0x7fffffffULL;
    for (int depth = 0; pool && *pool != 0 && depth < 256; ++depth) {
      auto pool_index = index_of(*pool);
      if (!pool_index) break;  // a ROM pool: the rest of the chain is not on the heap
      auto len = reader.read_word(*pool + *q.len);
      auto prev = reader.read_word(*pool + *q.total_prev_len);
      if (!len || !prev || *len > (1u << 16)) break;
      const std::uint64_t first = *prev & prev_mask;
      c.pool_range[*pool_index] =
          *len == 0 ? "no qstrs" : fmt::format("qstrs {}..{}", first, first + *len - 1);
      for (std::uint64_t k = 0; k < *len; ++k) {
        auto chunk = index_of(reader.read_word(*pool + *q.qstrs + k * t.word_size));
        if (!chunk || *chunk == *pool_index) continue;
        auto text = reader.qstr(first + k);
        c.qstrs[*chunk].push_back(text ? *text : fmt::format("qstr#{}", first + k));
      }
      pool = q.prev ? reader.read_word(*pool + *q.prev) : std::nullopt;
    }
  }
  return c;
}

}  // namespace

std::string dot_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += text[i++];
    } else if (c == '\n') {
      out += "\\l";
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\\\x{:02x}", c);
      ++i;
    } else if (std::size_t n = utf8_length(text, i); n > 0) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      out += fmt::format("\\\\x{:02x}", c);
      ++i;
    }
  }
  return out;
}

std::string ownership_dot(const heap::Snapshot& s, const heap::ObjectGraph& g,
                          const heap::ObjectReader& reader, const target::Target& t,
                          const DotOptions& options) {
  const std::uint32_t block_size = g.block_size == 0 ? 16 : g.block_size;
  const auto n = static_cast<std::uint32_t>(std::min(s.objects.size(), g.object_count()));
  const heap::DominatorTree dom = heap::dominators(s, g);
  auto own = [&](std::uint32_t i) { return s.objects[i].blocks * block_size; };
  auto reachable = [&](std::uint32_t i) { return i < dom.reachable.size() && dom.reachable[i]; };
  auto weight = [&](std::uint32_t i) { return reachable(i) ? dom.retained_bytes[i] : own(i); };

  // The nodes to draw: all, or the heaviest `max_nodes`, drawn in address order.
  std::vector<std::uint32_t> nodes;
  for (std::uint32_t i = 0; i < n; ++i)
    if (options.garbage || reachable(i)) nodes.push_back(i);
  const std::size_t candidates = nodes.size();
  if (options.max_nodes > 0 && nodes.size() > options.max_nodes) {
    const auto keep = static_cast<std::ptrdiff_t>(options.max_nodes);
    std::partial_sort(nodes.begin(), nodes.begin() + keep, nodes.end(),
                      [&](std::uint32_t x, std::uint32_t y) {
                        if (weight(x) != weight(y)) return weight(x) > weight(y);
                        return s.objects[x].address < s.objects[y].address;
                      });
    nodes.resize(options.max_nodes);
    std::sort(nodes.begin(), nodes.end());
  }
  std::vector<std::uint8_t> drawn(n, 0);
  for (std::uint32_t i : nodes) drawn[i] = 1;

  const Contents contents = gather(s, reader, t);
  std::string out;
  auto o = std::back_inserter(out);
  out += "digraph heap {\n";
  out += "  node [shape=box, fontname=\"monospace\", fontsize=10];\n";
  out += "  edge [arrowsize=0.6];\n";
  if (nodes.size() < candidates)
    fmt::format_to(o, "  label=\"{}\";\n  labelloc=t;\n",
                   dot_escape(fmt::format("{} of {} objects, largest retained size first",
                                          nodes.size(), candidates)));

  for (std::uint32_t i : nodes) {
    const heap::HeapObject& obj = s.objects[i];
    std::string label = fmt::format("{:#x} {}\n{} B", obj.address, type_name(s, obj), own(i));
    if (reachable(i) && dom.retained_bytes[i] > own(i))
      label += fmt::format(", retains {} B", dom.retained_bytes[i]);
    if (!reachable(i)) label += ", garbage";
    label += '\n';
    if (obj.kind == heap::ObjectKind::str || obj.kind == heap::ObjectKind::bytes) {
      if (auto text = reader.str_value(obj))
        label += (obj.kind == heap::ObjectKind::bytes ? "b" : "") +
                 python_text(*text, options.max_text) + '\n';
    } else if (obj.kind == heap::ObjectKind::list || obj.kind == heap::ObjectKind::tuple) {
      if (auto items = reader.sequence_items(obj)) label += fmt::format("len {}\n", items->size());
    }
    if (auto k = contents.keys.find(i); k != contents.keys.end())
      label += "keys: " + item_list(k->second, options.max_items) + '\n';
    if (auto q = contents.qstrs.find(i); q != contents.qstrs.end())
      label += "qstrs: " + item_list(q->second, options.max_items) + '\n';
    if (auto p = contents.pool_range.find(i); p != contents.pool_range.end())
      label += p->second + '\n';
    fmt::format_to(o, "  o{} [label=\"{}\"{}];\n", i, dot_escape(label),
                   reachable(i) ? "" : ", style=dashed, color=gray50, fontcolor=gray30");
  }
  for (std::uint32_t i : nodes)
    for (std::uint32_t to : g.out_edges(i))
      if (to < n && drawn[to]) fmt::format_to(o, "  o{} -> o{};\n", i, to);

  if (options.roots) {
    // One node per root name; a name may hold several objects and an object several names.
    std::map<std::string, std::size_t> root_ids;
    std::map<std::pair<std::size_t, std::uint32_t>, bool> root_edges;
    for (const heap::RootRef& r : g.roots) {
      if (r.object >= n || !drawn[r.object]) continue;
      auto [it, inserted] = root_ids.emplace(r.name, root_ids.size());
      if (inserted)
        fmt::format_to(o, "  r{} [label=\"{}\", shape=ellipse, style=filled, fillcolor=gray90];\n",
                       it->second, dot_escape(r.name));
      if (root_edges.emplace(std::pair{it->second, r.object}, true).second)
        fmt::format_to(o, "  r{} -> o{};\n", it->second, r.object);
    }
  }
  out += "}\n";
  return out;
}

}  // namespace mpheap::report
