// Finding a target description in a firmware image and a RAM dump: see from_image.h.
#include "mpheap/target/from_image.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "mpheap/target/heap_growth.h"
#include "mpheap/target/qstr_hash.h"
#include "mpheap/target/ram_heap_search.h"
#include "mpheap/target/thread_layout.h"

namespace mpheap::target {
namespace {

constexpr std::uint64_t kMaxPoolLen = 1u << 16;
constexpr std::uint64_t kMaxTotalPrevLen = 1u << 20;

// The string at `p` if its stored hash and length (hb and lb bytes before it) verify.
// MP_QSTR_NULL (hash 0, length 0) is accepted as "".
std::optional<std::string> prefixed_string(const io::WordReader& w, std::uint64_t p,
                                           std::uint32_t hb, std::uint32_t lb) {
  auto hash = w.read(p, hb), len = w.read(p + hb, lb);
  if (!hash || !len) return std::nullopt;
  auto bytes = w.mem.bytes(p + hb + lb, *len);
  if (!bytes) return std::nullopt;
  if (*hash == 0 && *len == 0) return std::string();
  if (qstr_hash(*bytes, hb) != *hash) return std::nullopt;
  return std::string(*bytes);
}

// The pool at `a` with hash/length bytes before each string, if all its strings verify.
std::optional<QstrPoolFinding> prefixed_pool(const io::WordReader& w, std::uint64_t a,
                                             std::uint64_t len) {
  const std::uint64_t W = w.word;
  for (std::uint32_t hb : {1u, 2u}) {
    for (std::uint32_t lb : {1u, 2u}) {
      QstrPoolFinding f;
      f.hash_bytes = hb;
      f.len_bytes = lb;
      std::uint64_t real = 0;
      bool ok = true;
      for (std::uint64_t i = 0; i < len && ok; ++i) {
        auto p = w.at(a + 4 * W + i * W);
        auto s = p ? prefixed_string(w, *p, hb, lb) : std::nullopt;
        if (!s) {
          ok = false;
          break;
        }
        if (!s->empty()) ++real;
        f.strings.push_back(std::move(*s));
      }
      if (ok && real >= 1) return f;
    }
  }
  return std::nullopt;
}

// The pool at `a` with hashes and lengths arrays, if all its strings verify.
std::optional<QstrPoolFinding> array_pool(const io::WordReader& w, std::uint64_t a,
                                          std::uint64_t len) {
  const std::uint64_t W = w.word;
  auto hashes = w.at(a + 4 * W), lengths = w.at(a + 5 * W);
  if (!hashes || !lengths || !w.mem.covers(*hashes, len) || !w.mem.covers(*lengths, len))
    return std::nullopt;
  for (std::uint32_t hb : {2u, 1u}) {
    QstrPoolFinding f;
    f.arrays = true;
    f.hash_bytes = hb;
    f.len_bytes = 1;
    std::uint64_t real = 0;
    bool ok = true;
    for (std::uint64_t i = 0; i < len && ok; ++i) {
      auto p = w.at(a + 6 * W + i * W);
      auto h = w.read(*hashes + i * hb, hb), n = w.read(*lengths + i, 1);
      auto bytes = p && n ? w.mem.bytes(*p, *n) : std::nullopt;
      if (!h || !bytes) {
        ok = false;
        break;
      }
      if (!(*h == 0 && *n == 0)) {
        if (qstr_hash(*bytes, hb) != *h) {
          ok = false;
          break;
        }
        ++real;
      }
      f.strings.emplace_back(*bytes);
    }
    if (ok && real >= 1) return f;
  }
  return std::nullopt;
}

bool identifier_like(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return !std::isdigit(static_cast<unsigned char>(s[0]));
}

struct NameField {
  std::uint64_t offset;
  std::uint32_t bytes;
};

// The version banner: "MicroPython v..." up to the first NUL, CR or LF.
std::string find_version(const io::MemoryImage& flash) {
  constexpr std::string_view kTag = "MicroPython v";
  for (const io::MemoryRange& r : flash.ranges()) {
    std::string_view b(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size());
    for (std::size_t at = b.find(kTag); at != std::string_view::npos; at = b.find(kTag, at + 1)) {
      std::size_t end = at + kTag.size();
      while (end < b.size() && end - at < 160 && b[end] != '\0' && b[end] != '\r' && b[end] != '\n')
        ++end;
      // Only a version number counts: "MicroPython v1.9.2...", not a format string.
      if (at + kTag.size() < b.size() &&
          std::isdigit(static_cast<unsigned char>(b[at + kTag.size()])))
        return std::string(b.substr(at, end - at));
    }
  }
  return {};
}

// (major, minor) from "MicroPython v1.9.2-...".
std::optional<std::pair<int, int>> version_number(const std::string& v) {
  int major = 0, minor = 0;
  if (std::sscanf(v.c_str(), "MicroPython v%d.%d", &major, &minor) != 2) return std::nullopt;
  return std::make_pair(major, minor);
}

}  // namespace

std::vector<QstrPoolFinding> find_qstr_pools(const io::MemoryImage& flash, std::uint32_t word_size,
                                             bool little_endian) {
  io::WordReader w{flash, word_size, little_endian};
  const std::uint64_t W = word_size;
  std::vector<QstrPoolFinding> out;
  for (const io::MemoryRange& r : flash.ranges()) {
    std::uint64_t first = (r.address + W - 1) / W * W;
    for (std::uint64_t a = first; a + 5 * W <= r.end(); a += W) {
      auto prev = w.at(a), tpl = w.at(a + W), alloc = w.at(a + 2 * W), len = w.at(a + 3 * W);
      if (!prev || !tpl || !alloc || !len) continue;
      std::uint64_t total_prev = *tpl & (W >= 8 ? ~0ULL >> 1 : 0x7fffffffULL);  // is_sorted bit
      if (*len == 0 || *len > kMaxPoolLen || *alloc == 0 || *alloc > kMaxPoolLen ||
          total_prev > kMaxTotalPrevLen || (*prev != 0 && !flash.covers(*prev, 4 * W)))
        continue;
      // Quick check before the full one: the first string pointer is in the image.
      auto p0 = w.at(a + 4 * W);
      if (!p0 || !flash.covers(*p0, 2)) continue;
      std::optional<QstrPoolFinding> f = prefixed_pool(w, a, *len);
      if (!f) f = array_pool(w, a, *len);
      if (!f) continue;
      f->address = a;
      f->prev = *prev;
      f->total_prev_len = total_prev;
      f->alloc = *alloc;
      f->len = *len;
      out.push_back(std::move(*f));
    }
  }
  return out;
}

std::optional<CortexMVectors> cortex_m_vector_table(const io::MemoryImage& flash) {
  if (flash.ranges().empty()) return std::nullopt;
  std::uint64_t lowest = flash.ranges().front().address;
  for (const io::MemoryRange& r : flash.ranges()) lowest = std::min(lowest, r.address);
  io::WordReader w{flash, 4, true};
  auto sp = w.at(lowest);
  auto reset = w.at(lowest + 4), nmi = w.at(lowest + 8), hard = w.at(lowest + 12);
  if (!sp || !reset || !nmi || !hard) return std::nullopt;
  if (*sp < 0x20000000 || *sp > 0x40000000 || *sp % 4 != 0) return std::nullopt;
  for (std::uint64_t handler : {*reset, *nmi, *hard})
    if (handler % 2 != 1 || !flash.covers(handler - 1, 2)) return std::nullopt;
  return CortexMVectors{lowest, *sp, *reset, *nmi, *hard};
}

Expected<ImageFindings> read_image_target(const io::MemoryImage& flash, const io::MemoryImage* ram,
                                          const std::string& image_name) {
  ImageFindings f;
  Target& t = f.target;
  t.word_size = 4;
  t.little_endian = true;
  const std::uint64_t W = t.word_size;
  io::WordReader w{flash, t.word_size, t.little_endian};
  std::uint64_t image_bytes = 0;
  for (const io::MemoryRange& r : flash.ranges()) {
    image_bytes += r.bytes.size();
    t.regions.push_back(MemoryRegion{"image", RegionKind::flash, r.address, r.end()});
  }
  f.evidence.push_back(fmt::format(
      "image: {} bytes in {} range(s); assumed 32-bit little endian (Cortex-M, Xtensa, RISC-V)",
      image_bytes, flash.ranges().size()));

  // A Cortex-M image starts with its vector table: the initial SP in the SRAM region
  // (0x20000000..0x3fffffff), then the reset, NMI and HardFault handlers, Thumb code (odd
  // addresses) inside the image. That says the machine, and so the order of its registers.
  if (auto vt = cortex_m_vector_table(flash)) {
    t.machine = "ARM";
    f.evidence.push_back(fmt::format(
        "machine: ARM Cortex-M: vector table at 0x{:x} (initial SP 0x{:x}, reset handler 0x{:x}, "
        "NMI 0x{:x}, HardFault 0x{:x}, all Thumb code inside the image)",
        vt->address, vt->initial_sp, vt->reset, vt->nmi, vt->hard_fault));
  }

  if (auto growth = split_heap_auto_evidence(flash)) {  // heap_growth.h
    t.gc_split_heap_auto = true;
    f.evidence.push_back(*growth);
  }
  f.version = find_version(flash);
  auto version = version_number(f.version);
  if (!f.version.empty()) f.evidence.push_back(fmt::format("version string: \"{}\"", f.version));

  // ROM qstr pools: the chain from the pool with no predecessor.
  std::vector<QstrPoolFinding> pools = find_qstr_pools(flash, t.word_size, t.little_endian);
  const QstrPoolFinding* base = nullptr;
  for (const QstrPoolFinding& p : pools)
    if (p.prev == 0 && p.total_prev_len == 0 && (base == nullptr || p.len > base->len)) base = &p;
  if (base == nullptr) {
    return Error{image_name, 0, 0,
                 fmt::format("no ROM qstr pool found: looked at every word-aligned address of the "
                             "{} image bytes for a header {{prev=NULL, total_prev_len=0, alloc, "
                             "len, [hashes, lengths,] qstrs[len]}} whose strings' hashes verify "
                             "({} other verified pools); not a MicroPython firmware?",
                             image_bytes, pools.size())};
  }
  f.rom_pools.push_back(*base);
  for (bool grew = true; grew;) {
    grew = false;
    const QstrPoolFinding& last = f.rom_pools.back();
    for (const QstrPoolFinding& p : pools)
      if (p.prev == last.address && p.total_prev_len == last.total_prev_len + last.len) {
        f.rom_pools.push_back(p);
        grew = true;
        break;
      }
  }
  for (const QstrPoolFinding& p : f.rom_pools) {
    f.evidence.push_back(fmt::format(
        "qstr pool header at 0x{:x}: {} strings (qstrs {}..{}), all hashes verified ({}-byte "
        "hashes, {}-byte lengths, {}){}",
        p.address, p.len, p.total_prev_len, p.total_prev_len + p.len - 1, p.hash_bytes, p.len_bytes,
        p.arrays ? "hash and length arrays" : "stored before each string",
        p.prev != 0 ? fmt::format(", prev = 0x{:x}", p.prev) : std::string()));
    for (const std::string& s : p.strings) t.rom_qstrs.push_back(s);
    t.symbols.push_back(
        Symbol{&p == &f.rom_pools.front() ? "mp_qstr_const_pool" : "mp_qstr_frozen_const_pool",
               p.address, 0, 'R', "image"});
  }
  QstrPoolLayout& q = t.qstr_pool;
  q.prev = 0;
  q.total_prev_len = W;
  q.alloc = 2 * W;
  q.len = 3 * W;
  q.hash_bytes = base->hash_bytes;
  q.len_bytes = base->len_bytes;
  if (base->arrays) {
    q.hashes = 4 * W;
    q.lengths = 5 * W;
    q.qstrs = q.size = 6 * W;
  } else {
    q.qstrs = q.size = 4 * W;
  }
  if (version && *version < std::make_pair(1, 20)) t.blockmap_offset_digits = 5;
  if (version) t.values.immediate_objs = *version >= std::make_pair(1, 13);
  if (version) {
    bool want_arrays = *version >= std::make_pair(1, 19);
    f.evidence.push_back(
        fmt::format("the pool layout {} the version ({} hash and length arrays since 1.19)",
                    want_arrays == base->arrays ? "agrees with" : "DISAGREES with",
                    base->arrays ? "with" : "without"));
  }
  t.provenance.qstrs = fmt::format("ROM qstr pool(s) in {} at 0x{:x}", image_name, base->address);

  // mp_type_type: its base points to itself; its name field reads "type".
  auto qstr_name = [&](std::uint64_t q_index) -> const std::string* {
    return q_index < t.rom_qstrs.size() ? &t.rom_qstrs[q_index] : nullptr;
  };
  static constexpr NameField kNameFields[] = {{4, 4}, {6, 2}, {4, 2}, {8, 2}};
  std::optional<NameField> name_field;
  for (const io::MemoryRange& r : flash.ranges()) {
    for (std::uint64_t a = (r.address + W - 1) / W * W; a + W <= r.end() && !f.type_type; a += W) {
      if (a == 0 || w.at(a) != a) continue;
      for (const NameField& nf : kNameFields) {
        auto qi = w.read(a + nf.offset, nf.bytes);
        const std::string* s = qi ? qstr_name(*qi) : nullptr;
        if (s != nullptr && *s == "type") {
          f.type_type = a;
          name_field = nf;
          break;
        }
      }
    }
  }
  if (!f.type_type || !name_field) {
    return Error{image_name, 0, 0,
                 "no mp_type_type found: no object in the image points at itself with a name "
                 "field that reads \"type\" (tried name qstrs at +4 as a word, +4, +6, +8 as 16 "
                 "bits)"};
  }
  t.objects = default_object_layout(t.word_size);
  t.objects.type_name = name_field->offset;
  t.objects.type_name_bytes = name_field->bytes;
  // Every type object: base == &mp_type_type, a name qstr that is an identifier and, in the
  // word-sized layout, slots that are NULL or point into the image. Code literal pools that
  // happen to hold &mp_type_type fail these.
  std::map<std::string, std::vector<std::uint64_t>> by_name;
  std::uint64_t rejected = 0;
  for (const io::MemoryRange& r : flash.ranges()) {
    for (std::uint64_t a = (r.address + W - 1) / W * W; a + W <= r.end(); a += W) {
      if (w.at(a) != f.type_type) continue;
      auto qi = w.read(a + name_field->offset, name_field->bytes);
      const std::string* s = qi ? qstr_name(*qi) : nullptr;
      bool ok = s != nullptr && identifier_like(*s);
      if (ok && name_field->bytes == W) {
        for (std::uint64_t k = 2; k < 12 && ok; ++k) {
          auto v = w.at(a + k * W);
          ok = v && (*v == 0 || flash.covers(*v, 1));
        }
      }
      if (!ok) {
        ++rejected;
        continue;
      }
      by_name[*s].push_back(a);
    }
  }
  std::size_t type_count = 0;
  for (auto& [name, addresses] : by_name) {
    // Several types may share a Python name (tuple and attrtuple, the function types). The one
    // Python code can construct (make_new set) is the one the name refers to in builtins.
    std::optional<std::uint64_t> main =
        addresses.size() == 1 ? std::optional(addresses[0]) : std::nullopt;
    // Since 1.20 function types are told apart by their heap objects (mp_type_fun_bc below):
    // fun_bc has make_new too where function attributes are enabled.
    if (!main && !(name == "function" && name_field->bytes != W)) {
      // make_new: the word after the name (word layout) or, since 1.20, the slot index byte
      // slot_index_make_new right after the 16-bit flags and name (0 when there is none).
      std::vector<std::uint64_t> constructible;
      for (std::uint64_t a : addresses) {
        auto mk = name_field->bytes == W                              ? w.at(a + 3 * W)
                  : name_field->offset == 6 && name_field->bytes == 2 ? w.read(a + 8, 1)
                                                                      : std::nullopt;
        if (mk && *mk != 0) constructible.push_back(a);
      }
      if (constructible.size() == 1) {
        main = constructible[0];
        f.evidence.push_back(fmt::format(
            "{} types are named \"{}\": the one at 0x{:x} has make_new, so it is mp_type_{}",
            addresses.size(), name, *main, name));
      }
    }
    for (std::uint64_t a : addresses) {
      std::string symbol = main == a ? "mp_type_" + name : std::string();
      t.types.push_back(TypeObject{a, symbol, name});
      if (!symbol.empty()) t.symbols.push_back(Symbol{symbol, a, 0, 'R', "image"});
      ++type_count;
    }
  }
  f.evidence.push_back(fmt::format(
      "mp_type_type at 0x{:x}: its base points at itself and its name qstr (at +{}, {} bytes) "
      "is \"type\"; {} type objects have it as base and a valid name ({} other words equal to "
      "it rejected: not a type's shape)",
      *f.type_type, name_field->offset, name_field->bytes, type_count, rejected));
  t.provenance.symbols = fmt::format(
      "{}: qstr pools and type objects found by shape, named mp_type_<Python name>", image_name);
  t.provenance.layout = "not known yet: needs a RAM dump";
  t.finalize();
  if (ram == nullptr || ram->ranges().empty()) return f;

  // The RAM side: the heap by the shape of its area record (the same search as with no image).
  io::WordReader r{*ram, t.word_size, t.little_endian};
  LayoutFindings lf;
  auto heap = find_heap_areas_in_ram(*ram, t.word_size, t.little_endian);
  if (!heap) return Error{"dumps", 0, 0, heap.error().what};
  // One area found, in a build whose heap can grow: the record has `next` (NULL) in front.
  if (auto why = adopt_next_field(*heap, r, t.gc_split_heap_auto)) lf.evidence.push_back(*why);
  const HeapAreaBounds& b = heap->areas.front();
  t.block_size = heap->block_size;
  lf.evidence = std::move(heap->evidence);

  // vm.last_pool: the nearest word before the record that points at a qstr pool whose prev
  // chain, through pools in RAM, reaches one of the image's ROM pools, each link agreeing on the
  // qstr count (total_prev_len = the previous pool's total_prev_len + len). This is what ties
  // the dump to this image: a dump of another firmware has a heap too.
  const std::uint64_t total_mask = W >= 8 ? ~0ULL >> 1 : 0x7fffffffULL;  // is_sorted bit
  auto reaches_rom = [&](std::uint64_t p) {
    std::optional<std::uint64_t> total;  // total_prev_len of the pool linked from
    for (int steps = 0; p != 0 && steps < 4096; ++steps) {
      for (const QstrPoolFinding& rp : f.rom_pools)
        if (rp.address == p) return !total || *total == rp.total_prev_len + rp.len;
      auto prev = ram->covers(p, 4 * W) ? r.at(p) : std::nullopt;
      auto tpl = r.at(p + W), len = r.at(p + 3 * W);
      if (!prev || !tpl || !len || *len == 0 || *len > kMaxPoolLen) return false;
      if (total && *total != (*tpl & total_mask) + *len) return false;
      total = *tpl & total_mask;
      p = *prev;
    }
    return false;
  };
  const io::MemoryRange* record_range = nullptr;
  for (const io::MemoryRange& range : ram->ranges())
    if (b.record >= range.address && b.record < range.end()) record_range = &range;
  std::optional<std::uint64_t> last_pool_at;
  for (std::uint64_t a = b.record; record_range != nullptr && a >= record_range->address + W;) {
    a -= W;
    auto v = r.at(a);
    if (v && *v != 0 && reaches_rom(*v)) {
      last_pool_at = a;
      lf.last_pool = *v;
      break;
    }
  }
  if (!last_pool_at) {
    std::string rom;
    for (const QstrPoolFinding& rp : f.rom_pools)
      rom += fmt::format("{}0x{:x}", rom.empty() ? "" : ", ", rp.address);
    return Error{"dumps", 0, 0,
                 fmt::format("the RAM dumps do not belong to {}: they hold a heap (area record at "
                             "0x{:x}, pool 0x{:x}..0x{:x}) but no word before that record points "
                             "at a qstr pool whose prev chain leads to the image's ROM qstr "
                             "pools ({}) with matching qstr counts, as vm.last_pool does; are "
                             "the dumps from this firmware?",
                             image_name, b.record, b.pool_start, b.pool_end, rom)};
  }
  // Dicts embedded in mp_state_ctx's vm: between last_pool and the heap area record.
  const TypeObject* dict_type = nullptr;
  for (const TypeObject& ty : t.types)
    if (ty.symbol == "mp_type_dict") dict_type = &ty;
  std::vector<std::uint64_t> dicts;
  if (dict_type != nullptr)
    for (std::uint64_t a = *last_pool_at; a < b.record; a += W)
      if (r.at(a) == dict_type->address) dicts.push_back(a);
  // thread.dict_locals and thread.dict_globals: two words before vm.last_pool that both point at
  // one of those dicts (vm.dict_main, while code runs at the REPL's top level). Where
  // mp_state_ctx starts around them, and where thread.stack_top lies, depends on the version's
  // order of mp_state_thread_t (thread_layout.h, the one place that knows it).
  std::optional<std::uint64_t> ctx, dict_main;
  std::optional<ThreadStart> thread;
  for (std::uint64_t a = *last_pool_at; a >= 2 * W && !ctx && *last_pool_at - a <= 16 * W;) {
    a -= W;
    auto l = r.at(a), g = r.at(a + W);
    if (!l || !g || *l != *g || a + W >= *last_pool_at) continue;
    if (std::find(dicts.begin(), dicts.end(), *l) != dicts.end()) {
      dict_main = *l;
      thread =
          find_thread_start(r, a, std::nullopt, version, {b.pool_end, ram->ranges().back().end()});
      ctx = thread ? thread->mp_state_ctx : a;
    }
  }
  bool anchored = !ctx.has_value();
  if (!ctx) ctx = *last_pool_at;
  t.mp_state_ctx = *ctx;
  t.state.mem_area = b.record - *ctx;
  if (anchored) {
    lf.evidence.push_back(fmt::format(
        "mp_state_ctx's start not identified: offsets below are from the anchor 0x{:x} (the "
        "address of vm.last_pool)",
        *ctx));
  } else {
    lf.evidence.push_back(fmt::format(
        "mp_state_ctx at 0x{:x}: thread.dict_locals and thread.dict_globals both point at the "
        "dict embedded at 0x{:x} (vm.dict_main){}{}",
        *ctx, *dict_main, thread ? "; " : "", thread ? thread->evidence : std::string()));
  }
  t.state.vm_last_pool = *last_pool_at - *ctx;
  lf.evidence.push_back(fmt::format(
      "vm.last_pool at 0x{:x} = 0x{:x}: its prev chain reaches the ROM qstr pool, the qstr "
      "counts agreeing at each link",
      *last_pool_at, *lf.last_pool));
  if (dict_main) {
    t.state.vm_dict_main = *dict_main - *ctx;
    for (std::uint64_t d : dicts)
      if (d != *dict_main) {
        t.state.vm_mp_loaded_modules_dict = d - *ctx;
        lf.evidence.push_back(fmt::format(
            "vm.mp_loaded_modules_dict at 0x{:x}: the other dict embedded in mp_state_ctx", d));
        break;
      }
    if (thread && thread->pystack_offset) {
      t.state.thread_pystack_start = *thread->pystack_offset;
      t.state.thread_pystack_cur = *thread->pystack_offset + 2 * W;
    }
    if (thread && thread->stack_top_offset) {
      t.state.thread_stack_top = *thread->stack_top_offset;
      lf.evidence.push_back(fmt::format("thread.stack_top at 0x{:x} = 0x{:x}",
                                        *ctx + *thread->stack_top_offset,
                                        r.at(*ctx + *thread->stack_top_offset).value_or(0)));
    }
  }
  // The object representation, from the keys of __main__'s globals (all qstrs there).
  if (dict_main) {
    auto alloc = r.at(*dict_main + 2 * W), table = r.at(*dict_main + 3 * W);
    std::uint64_t keys = 0;
    const std::uint64_t known = t.rom_qstrs.size() + 4096;  // ROM qstrs plus room for RAM pools
    std::optional<char> repr;
    if (alloc && table)
      repr = infer_repr_from_map(*ram, *table, *alloc, t.word_size, t.little_endian,
                                 t.values.immediate_objs, known, &keys);
    if (repr) {
      f.object_repr = *repr;
      t.values.repr = *repr;
      t.values_known = version.has_value();
      lf.evidence.push_back(fmt::format(
          "{}: all {} keys of vm.dict_main are qstrs in that encoding{}", describe(t.values), keys,
          version ? "" : " (None/False/True assumed immediate: no version string)"));
    }
  }
  AreaLayout& al = t.state.area;
  al = AreaLayout{};
  std::uint64_t field = 0;
  if (heap->split) {
    al.next = 0;
    field = W;
  }
  al.gc_alloc_table_start = field;
  al.gc_alloc_table_byte_len = field + W;
  field += 2 * W;
  for (const std::string& name : heap->tables) {
    if (name == "finaliser") al.gc_finaliser_table_start = field;
    if (name == "weakref") al.gc_weakref_table_start = field;
    if (name == "selective-collect") al.gc_collect_table_start = field;
    field += W;
  }
  al.gc_pool_start = field;
  al.gc_pool_end = field + W;
  al.size = field + 2 * W;
  // gc_last_free_atb_index and gc_last_used_block follow in 1.21+, the versions with
  // MICROPY_GC_SPLIT_HEAP_AUTO (a new area's record is this big: heap_growth.h).
  if (t.gc_split_heap_auto) al.size += 2 * W;

  // mp_type_fun_bc among the types named "function": every function type but the bytecode one
  // (and the native emitter's, which shares its layout) is only instantiated in ROM; a function
  // defined in Python is a heap object {type, globals, bytecode, const_table, ...} whose globals
  // is a dict: vm.dict_main for a `def` at the REPL, or a module's dict on the heap. The
  // function type most of whose heap objects hold such a dict is fun_bc.
  std::map<std::uint64_t, std::uint64_t> function_objects;  // type -> count
  std::map<std::uint64_t, bool> function_type;
  for (const TypeObject& ty : t.types)
    if (ty.name == "function") function_type[ty.address] = true;
  auto in_heap = [&](std::uint64_t p) {
    return std::any_of(heap->areas.begin(), heap->areas.end(), [&](const HeapAreaBounds& h) {
      return p >= h.pool_start && p < h.pool_end;
    });
  };
  for (const HeapAreaBounds& h : heap->areas) {
    auto table = ram->bytes(h.alloc_table, h.alloc_table_bytes);
    if (!table || dict_type == nullptr) continue;
    for (std::uint64_t i = 0; i < h.blocks(); ++i) {
      const unsigned kind = alloc_table_kind(*table, i);
      if (kind != 1 && kind != 3) continue;
      std::uint64_t o = h.pool_start + i * heap->block_size;
      auto ty = r.at(o), globals = r.at(o + W);
      if (!ty || !globals || !function_type.count(*ty)) continue;
      auto is_dict = [&](std::uint64_t d) {
        return (dict_main && d == *dict_main) || (in_heap(d) && r.at(d) == dict_type->address);
      };
      // 1.19+: the second word is a module context {module {base (NULL, or mp_type_module for
      // an imported module), globals}, constants}: a heap block whose globals is such a dict.
      auto is_context = [&](std::uint64_t c) {
        auto ctx_base = r.at(c), g = r.at(c + t.objects.context_globals);
        const TypeObject* bt = ctx_base ? t.type_at(*ctx_base) : nullptr;
        return in_heap(c) && ctx_base && g &&
               (*ctx_base == 0 || (bt != nullptr && bt->address == *ctx_base)) && is_dict(*g);
      };
      if (is_dict(*globals) || is_context(*globals)) ++function_objects[*ty];
    }
  }
  if (!function_objects.empty()) {
    auto best = std::max_element(function_objects.begin(), function_objects.end(),
                                 [](auto& x, auto& y) { return x.second < y.second; });
    bool unique = std::count_if(function_objects.begin(), function_objects.end(),
                                [&](auto& x) { return x.second == best->second; }) == 1;
    if (unique) {
      f.fun_bc = best->first;
      for (TypeObject& ty : t.types)
        if (ty.address == best->first) ty.symbol = "mp_type_fun_bc";
      t.symbols.push_back(Symbol{"mp_type_fun_bc", best->first, 0, 'R', "image"});
      lf.evidence.push_back(fmt::format(
          "mp_type_fun_bc at 0x{:x}: {} heap objects of this \"function\" type hold a dict (their "
          "globals) or a module context holding one in their second word, as Python-defined "
          "functions do",
          best->first, best->second));
    }
  }
  if (!f.fun_bc)
    lf.evidence.push_back(
        "mp_type_fun_bc not identified: no heap object of a \"function\" type holds a dict as "
        "its globals (bytecode functions are shown as 'h' in block maps)");

  for (const HeapAreaBounds& h : heap->areas)
    t.regions.push_back(MemoryRegion{"heap", RegionKind::heap, h.pool_start, h.pool_end});
  for (const io::MemoryRange& range : ram->ranges())
    t.regions.push_back(MemoryRegion{"ram", RegionKind::ram, range.address, range.end()});
  t.provenance.layout = "firmware image + RAM dump (structure shapes)";
  t.finalize();
  lf.load_bias = 0;
  lf.areas = read_heap_areas(t, *ram, 0);
  f.layout = std::move(lf);
  return f;
}

}  // namespace mpheap::target
