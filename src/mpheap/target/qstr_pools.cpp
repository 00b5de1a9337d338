// ROM qstr pools by their shape: see qstr_pools.h.
#include "mpheap/target/qstr_pools.h"

#include <fmt/format.h>

#include "mpheap/target/qstr_hash.h"

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

bool ascending(const std::vector<std::string>& strings) {
  for (std::size_t i = 1; i < strings.size(); ++i)
    if (!(strings[i - 1] < strings[i])) return false;
  return true;
}

// The pool at `a` with a lengths array and, unless hb is 0, a hashes array before it, if all
// its strings verify: by their hashes, or without hashes by their lengths (each string is
// NUL-terminated exactly there, as the C literals are).
std::optional<QstrPoolFinding> array_pool(const io::WordReader& w, std::uint64_t a,
                                          std::uint64_t len, bool sorted, std::uint32_t hb,
                                          std::uint32_t lb) {
  const std::uint64_t W = w.word;
  std::optional<std::uint64_t> hashes;
  if (hb != 0) {
    hashes = w.at(a + 4 * W);
    if (!hashes || !w.mem.covers(*hashes, len * hb)) return std::nullopt;
  }
  const std::uint64_t lengths_at = a + (hb != 0 ? 5 : 4) * W;
  const std::uint64_t qstrs_at = lengths_at + W;
  auto lengths = w.at(lengths_at);
  if (!lengths || !w.mem.covers(*lengths, len * lb)) return std::nullopt;
  QstrPoolFinding f;
  f.arrays = true;
  f.hash_bytes = hb;
  f.len_bytes = lb;
  f.sorted = sorted;
  std::uint64_t real = 0;
  for (std::uint64_t i = 0; i < len; ++i) {
    auto p = w.at(qstrs_at + i * W);
    auto n = w.read(*lengths + i * lb, lb);
    auto bytes = p && n ? w.mem.bytes(*p, *n + (hb == 0 ? 1 : 0)) : std::nullopt;
    if (!bytes) return std::nullopt;
    if (hb == 0) {
      // The NUL ends the string exactly at its length, and no NUL is inside it.
      if (bytes->back() != '\0' || bytes->find('\0') != *n) return std::nullopt;
      bytes->remove_suffix(1);
      if (*n != 0) ++real;
    } else {
      auto h = w.read(*hashes + i * hb, hb);
      if (!h) return std::nullopt;
      if (!(*h == 0 && *n == 0)) {
        if (qstr_hash(*bytes, hb) != *h) return std::nullopt;
        ++real;
      }
    }
    f.strings.emplace_back(*bytes);
  }
  // Without hashes only the lengths check a candidate: ask for more than one real string.
  if (real < (hb == 0 ? 2u : 1u)) return std::nullopt;
  if (sorted && !ascending(f.strings)) return std::nullopt;
  return f;
}

std::optional<QstrPoolFinding> any_array_pool(const io::WordReader& w, std::uint64_t a,
                                              std::uint64_t len, bool sorted) {
  for (std::uint32_t hb : {2u, 1u, 0u})
    for (std::uint32_t lb : {1u, 2u})
      if (auto f = array_pool(w, a, len, sorted, hb, lb)) return f;
  return std::nullopt;
}

}  // namespace

std::vector<QstrPoolFinding> find_qstr_pools(const io::MemoryImage& flash, std::uint32_t word_size,
                                             bool little_endian) {
  io::WordReader w{flash, word_size, little_endian};
  const std::uint64_t W = word_size;
  const std::uint64_t sorted_bit = W >= 8 ? 1ULL << 63 : 1ULL << 31;
  std::vector<QstrPoolFinding> out;
  for (const io::MemoryRange& r : flash.ranges()) {
    std::uint64_t first = (r.address + W - 1) / W * W;
    for (std::uint64_t a = first; a + 5 * W <= r.end(); a += W) {
      auto prev = w.at(a), tpl = w.at(a + W), alloc = w.at(a + 2 * W), len = w.at(a + 3 * W);
      if (!prev || !tpl || !alloc || !len) continue;
      std::uint64_t total_prev = *tpl & (sorted_bit - 1);
      if (*len == 0 || *len > kMaxPoolLen || *alloc == 0 || *alloc > kMaxPoolLen ||
          total_prev > kMaxTotalPrevLen || (*prev != 0 && !flash.covers(*prev, 4 * W)))
        continue;
      // Quick check before the full one: the word after len (a string, or an array) points
      // into the image.
      auto p0 = w.at(a + 4 * W);
      if (!p0 || !flash.covers(*p0, 2)) continue;
      const bool sorted = (*tpl & sorted_bit) != 0;
      std::optional<QstrPoolFinding> f = sorted ? std::nullopt : prefixed_pool(w, a, *len);
      if (!f) f = any_array_pool(w, a, *len, sorted);
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

std::vector<QstrPoolFinding> rom_pool_chain(const std::vector<QstrPoolFinding>& pools) {
  const QstrPoolFinding* base = nullptr;
  for (const QstrPoolFinding& p : pools)
    if (p.prev == 0 && p.total_prev_len == 0 && (base == nullptr || p.len > base->len)) base = &p;
  std::vector<QstrPoolFinding> chain;
  if (base == nullptr) return chain;
  chain.push_back(*base);
  for (bool grew = true; grew && chain.size() < pools.size();) {
    grew = false;
    const QstrPoolFinding& last = chain.back();
    for (const QstrPoolFinding& p : pools)
      if (p.prev == last.address && p.total_prev_len == last.total_prev_len + last.len) {
        chain.push_back(p);
        grew = true;
        break;
      }
  }
  return chain;
}

std::string name_rom_pools(std::vector<QstrPoolFinding>& chain,
                           std::optional<std::pair<int, int>> version) {
  // The pools of a ROM chain by version (py/qstr.c): since 1.22 a static pool comes first.
  struct ChainNames {
    std::pair<int, int> since;
    std::vector<const char*> names;
  };
  static const ChainNames kChains[] = {
      {{1, 22}, {"mp_qstr_const_pool_static", "mp_qstr_const_pool", "mp_qstr_frozen_const_pool"}},
      {{0, 0}, {"mp_qstr_const_pool", "mp_qstr_frozen_const_pool"}},
  };
  std::string why;
  std::pair<int, int> v{0, 0};
  if (version) {
    v = *version;
    why = fmt::format("the version {}.{}", v.first, v.second);
  } else {
    const bool static_first = chain.size() >= 2 && !chain[0].sorted && chain[1].sorted;
    v = static_first ? std::make_pair(1, 22) : std::make_pair(0, 0);
    why = static_first ? "an unsorted first pool followed by a sorted one (the is_sorted bit, "
                         "since 1.22)"
                       : "no sorted pool after the first (the layout before 1.22)";
  }
  for (const ChainNames& c : kChains) {
    if (v < c.since) continue;
    for (std::size_t i = 0; i < chain.size(); ++i)
      chain[i].name = i < c.names.size() ? c.names[i] : fmt::format("rom_qstr_pool_{}", i);
    break;
  }
  return why;
}

}  // namespace mpheap::target
