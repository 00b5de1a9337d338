// A firmware image file to a target: the format, the load address of a raw image (given or
// inferred, then confirmed by the qstr pool chain), then the search of from_image.cpp.
#include <fmt/format.h>

#include <algorithm>

#include "mpheap/io/elf_segments.h"
#include "mpheap/io/firmware_image.h"
#include "mpheap/target/from_image.h"
#include "mpheap/target/load_address.h"

namespace mpheap::target {
namespace {

constexpr std::size_t kBasesTried = 4;  // candidates, most votes first, checked by the chain

struct Placed {
  std::uint64_t base = 0;
  std::uint64_t votes = 0;
  std::size_t rank = 0;
  std::size_t qstrs = 0, pools = 0;
};

// The first of the best-voted bases (skipping `except`) at which the qstr pool chain is found.
std::optional<Placed> first_base_with_pools(std::string_view bytes, const std::string& name,
                                            const LoadAddressRanking& ranking,
                                            std::optional<std::uint64_t> except) {
  for (std::size_t i = 0; i < ranking.best.size() && i < kBasesTried; ++i) {
    const LoadAddressVotes& c = ranking.best[i];
    if (except && c.base == *except) continue;
    io::MemoryImage image = io::raw_image(bytes, c.base, name);
    std::vector<QstrPoolFinding> chain = rom_pool_chain(find_qstr_pools(image, 4, true));
    if (chain.empty()) continue;
    Placed p{c.base, c.words, i, 0, chain.size()};
    for (const QstrPoolFinding& q : chain) p.qstrs += q.strings.size();
    return p;
  }
  return std::nullopt;
}

std::string runner_up(const LoadAddressRanking& ranking, std::uint64_t chosen) {
  for (const LoadAddressVotes& c : ranking.best)
    if (c.base != chosen) return fmt::format("0x{:08x} with {} words", c.base, c.words);
  return "none";
}

// The load address of an image that carries its addresses: the largest range's start.
std::uint64_t main_range_address(const io::MemoryImage& image) {
  const io::MemoryRange* best = nullptr;
  for (const io::MemoryRange& r : image.ranges())
    if (best == nullptr || r.bytes.size() > best->bytes.size()) best = &r;
  return best != nullptr ? best->address : 0;
}

}  // namespace

Expected<ImageFindings> read_image_file_target(std::string_view bytes, const std::string& name,
                                               std::optional<std::uint64_t> base,
                                               const io::MemoryImage* ram) {
  const io::ImageFormat format = io::detect_image_format(bytes);
  const bool infer =
      format == io::ImageFormat::raw && !base && !bytes.empty() && !io::find_embedded_elf(bytes);
  ImageSource source;
  if (!infer) {
    auto loaded = io::read_firmware_image(bytes, name, base);
    if (!loaded) return loaded.error();
    source.word_size = loaded->word_size;
    source.little_endian = loaded->little_endian;
    source.elf_machine = loaded->elf_machine;
    source.function_indices = loaded->format == io::ImageFormat::wasm;
    if (!loaded->note.empty()) source.evidence.push_back(fmt::format("file: {}", loaded->note));
    if (base) {
      source.load_address = *base;
      source.load_address_source = "given (--base)";
    } else {
      source.load_address = main_range_address(loaded->image);
      source.load_address_source =
          loaded->format == io::ImageFormat::elf
              ? "the ELF program headers (the largest loadable segment's address)"
              : fmt::format("the {} file's own addresses (its largest range)",
                            io::to_string(loaded->format));
    }
    source.evidence.push_back(
        fmt::format("load address 0x{:08x}: {}", *source.load_address, source.load_address_source));
    auto found = read_image_target(loaded->image, ram, name, source);
    if (found || !base || format != io::ImageFormat::raw ||
        found.error().kind != ErrorKind::not_found)
      return found;
    // A given base at which nothing is found: say which base would work.
    LoadAddressRanking ranking = rank_load_addresses(bytes);
    Error e = found.error();
    if (auto p = first_base_with_pools(bytes, name, ranking, base)) {
      e.what += fmt::format(
          "; at --base 0x{:x} nothing is found, but at 0x{:08x} the qstr pool chain is ({} pools, "
          "{} qstrs; {} aligned words point at string starts at that base): pass --base 0x{:08x}, "
          "or leave --base out to infer it",
          *base, p->base, p->pools, p->qstrs, p->votes, p->base);
      e.kind = ErrorKind::bad_input;
    } else {
      e.what += "; no other load address holds a qstr pool chain either";
    }
    return e;
  }

  LoadAddressRanking ranking = rank_load_addresses(bytes);
  auto placed = first_base_with_pools(bytes, name, ranking, std::nullopt);
  if (!placed) {
    std::string tried;
    for (std::size_t i = 0; i < ranking.best.size() && i < kBasesTried; ++i)
      tried += fmt::format("{}0x{:08x} ({} words)", i == 0 ? "" : ", ", ranking.best[i].base,
                           ranking.best[i].words);
    return Error{name, 0, 0,
                 fmt::format("a raw image ({} bytes, neither Intel HEX, UF2 nor ELF) without "
                             "--base: no load address found at which the image's {} strings are "
                             "pointed at and a qstr pool chain is found (tried the best-voted "
                             "bases: {}); not a MicroPython firmware? pass --base ADDR if known",
                             bytes.size(), ranking.string_starts, tried.empty() ? "none" : tried),
                 ErrorKind::not_found};
  }
  source.load_address = placed->base;
  source.load_address_source = fmt::format(
      "inferred: {} of {} aligned words point at the start of one of the image's {} "
      "NUL-terminated strings when it is loaded there (runner-up {}); confirmed by the qstr pool "
      "chain found there ({} pool{}, {} qstrs){}",
      placed->votes, ranking.words, ranking.string_starts, runner_up(ranking, placed->base),
      placed->pools, placed->pools == 1 ? "" : "s", placed->qstrs,
      placed->rank == 0
          ? ""
          : fmt::format("; the {} better-voted base(s) hold no pool chain", placed->rank));
  source.evidence.push_back(
      fmt::format("load address 0x{:08x}: {}", placed->base, source.load_address_source));
  io::MemoryImage image = io::raw_image(bytes, placed->base, name);
  return read_image_target(image, ram, name, source);
}

}  // namespace mpheap::target
