// Reading the ROM qstr pool chain out of a firmware ELF.
#include "mpheap/target/elf_qstrs.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

#include "mpheap/target/qstr_hash.h"

namespace mpheap::target::elf {
namespace {

constexpr std::size_t kMaxPools = 256;
constexpr std::uint64_t kMaxPoolLen = 1u << 20;
constexpr std::size_t kMaxQstrs = 1u << 22;

// Pool addresses from the first (prev == NULL) to `last`, or a problem.
std::vector<std::uint64_t> pool_chain(const ElfImage& image, const QstrPoolLayout& layout,
                                      std::uint64_t last, std::string* problem) {
  std::vector<std::uint64_t> chain;
  std::uint64_t pool = last;
  while (pool != 0) {
    if (chain.size() >= kMaxPools || std::find(chain.begin(), chain.end(), pool) != chain.end()) {
      *problem = fmt::format("the qstr pool chain from 0x{:x} loops or is too long", last);
      break;
    }
    chain.push_back(pool);
    auto prev = image.read_word(pool + layout.prev.value_or(0));
    if (!prev) {
      *problem = fmt::format("qstr pool at 0x{:x} is not in the ELF's initialised memory", pool);
      chain.pop_back();
      break;
    }
    pool = *prev;
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

struct PoolReader {
  const ElfImage& image;
  const QstrPoolLayout& layout;

  // The characters of string i of the pool, or nullopt.
  [[nodiscard]] std::optional<std::string_view> string(std::uint64_t pool, std::uint64_t i,
                                                       std::uint64_t* stored_hash) const {
    const std::uint64_t word = image.word_size();
    auto pointer = image.read_word(pool + *layout.qstrs + i * word);
    if (!pointer) return std::nullopt;
    std::uint64_t length = 0;
    std::uint64_t chars = *pointer;
    if (layout.lengths) {
      auto lengths = image.read_word(pool + *layout.lengths);
      if (!lengths) return std::nullopt;
      auto n = image.read_uint(*lengths + i * layout.len_bytes, layout.len_bytes);
      if (!n) return std::nullopt;
      length = *n;
      if (stored_hash != nullptr) *stored_hash = 0;
    } else {
      const std::uint32_t hash_bytes = layout.hashes ? 0 : layout.hash_bytes;
      if (stored_hash != nullptr) {
        *stored_hash = hash_bytes == 0 ? 0 : image.read_uint(chars, hash_bytes).value_or(0);
      }
      auto n = image.read_uint(chars + hash_bytes, layout.len_bytes);
      if (!n) return std::nullopt;
      length = *n;
      chars += hash_bytes + layout.len_bytes;
    }
    return image.bytes_at(chars, length);
  }
};

}  // namespace

RomQstrs read_rom_qstrs(const ElfImage& image, const QstrPoolLayout& layout,
                        std::uint64_t last_pool) {
  RomQstrs out;
  if (!layout.prev || !layout.len || !layout.qstrs || layout.len_bytes == 0 ||
      layout.len_bytes > 8 || layout.hash_bytes > 8) {
    out.problem = "the qstr pool layout lacks prev, len or qstrs";
    return out;
  }
  out.pools = pool_chain(image, layout, last_pool, &out.problem);
  PoolReader reader{image, layout};
  std::size_t unreadable = 0;
  for (std::uint64_t pool : out.pools) {
    auto len = image.read_word(pool + *layout.len);
    if (!len || *len > kMaxPoolLen || out.strings.size() + *len > kMaxQstrs) {
      out.problem =
          fmt::format("qstr pool at 0x{:x} has an unreadable or implausible length", pool);
      break;
    }
    for (std::uint64_t i = 0; i < *len; ++i) {
      auto s = reader.string(pool, i, nullptr);
      if (!s) ++unreadable;
      out.strings.emplace_back(s ? *s : std::string_view());
    }
  }
  if (unreadable != 0 && out.problem.empty()) {
    out.problem =
        fmt::format("{} ROM qstrs could not be read from the ELF (left empty)", unreadable);
  }
  return out;
}

bool detect_prefix_widths(const ElfImage& image, QstrPoolLayout& layout, std::uint64_t last_pool) {
  if (layout.lengths || !layout.prev || !layout.len || !layout.qstrs) return false;
  std::string problem;
  const std::vector<std::uint64_t> chain = pool_chain(image, layout, last_pool, &problem);
  constexpr std::array<std::pair<std::uint32_t, std::uint32_t>, 4> candidates{
      {{2, 1}, {1, 1}, {2, 2}, {1, 2}}};
  std::size_t best_matches = 0;
  std::pair<std::uint32_t, std::uint32_t> best{layout.hash_bytes, layout.len_bytes};
  for (auto [hash_bytes, len_bytes] : candidates) {
    QstrPoolLayout trial = layout;
    trial.hash_bytes = hash_bytes;
    trial.len_bytes = len_bytes;
    PoolReader reader{image, trial};
    std::size_t matches = 0;
    std::size_t tried = 0;
    for (std::uint64_t pool : chain) {
      auto len = image.read_word(pool + *layout.len);
      if (!len) break;
      for (std::uint64_t i = 0; i < *len && tried < 64; ++i, ++tried) {
        std::uint64_t stored = 0;
        auto s = reader.string(pool, i, &stored);
        if (s && stored != 0 && stored == qstr_hash(*s, hash_bytes)) ++matches;
      }
    }
    if (matches > best_matches) {
      best_matches = matches;
      best = {hash_bytes, len_bytes};
    }
  }
  if (best_matches == 0) return false;
  layout.hash_bytes = best.first;
  layout.len_bytes = best.second;
  return true;
}

}  // namespace mpheap::target::elf
