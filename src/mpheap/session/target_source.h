// Loading a target description from whatever the user has: an ELF, a map and/or nm output, a
// target.json, or a firmware image alone, with RAM dumps in which layouts are looked for, a
// ROM qstr list, a load bias and a block size. Every field is checked here, once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mpheap/io/memory_image.h"
#include "mpheap/target/layout_heuristics.h"
#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::session {

// What the user gave to describe the firmware (file paths; "" = not given).
struct TargetSource {
  std::string elf, map, nm, qstrs, target_json;
  std::string firmware, base;    // a firmware image (HEX, UF2, raw .bin at --base)
  std::vector<std::string> ram;  // FILE@ADDR
  std::string load_bias;         // hex or decimal, "" = infer
  std::optional<std::uint32_t> block_size;
  [[nodiscard]] bool given() const {
    return !elf.empty() || !map.empty() || !nm.empty() || !target_json.empty() || !firmware.empty();
  }
};

struct LoadedTarget {
  target::Target target;
  io::MemoryImage ram;
  std::optional<target::LayoutFindings> findings;  // when RAM dumps were given
  std::vector<std::string> notes;                  // what the user should know (fallbacks)
  // When the struct layouts were found in the dumps (map/nm): the target before that, so that
  // each later dump can be searched the same way and checked against the layout used.
  std::optional<target::Target> without_layout;
};

// `extra` holds memory the caller already placed (a subcommand's own dump arguments); the
// --ram files are added to it, and layouts are looked for in all of it.
Expected<LoadedTarget> load_target(const TargetSource& source, io::MemoryImage extra = {});

}  // namespace mpheap::session
