// The options every subcommand that needs a firmware description accepts:
// --elf F | --map M [--nm N] | --nm N | --target T | --firmware IMAGE [--base ADDR], with --qstrs,
// --ram, --load-bias, --block-size.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mpheap/io/memory_image.h"
#include "mpheap/target/layout_heuristics.h"
#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::cli {

struct TargetArgs {
  std::string elf, map, nm, qstrs, target_json;
  std::string firmware, base;    // a firmware image (HEX, UF2, raw .bin at --base)
  std::vector<std::string> ram;  // FILE@ADDR
  std::string load_bias;         // hex or decimal, "" = infer
  std::optional<std::uint32_t> block_size;
  [[nodiscard]] bool given() const {
    return !elf.empty() || !map.empty() || !nm.empty() || !target_json.empty() || !firmware.empty();
  }
};

void add_target_options(CLI::App* cmd, TargetArgs& args);

struct LoadedTarget {
  target::Target target;
  io::MemoryImage ram;
  std::optional<target::LayoutFindings> findings;  // when RAM dumps were given
  std::vector<std::string> notes;                  // what the user should know (fallbacks)
};

// `extra` holds memory the caller already placed (a subcommand's own dump arguments); the
// --ram files are added to it, and layouts are looked for in all of it.
Expected<LoadedTarget> load_target(const TargetArgs& args, io::MemoryImage extra = {});

}  // namespace mpheap::cli
