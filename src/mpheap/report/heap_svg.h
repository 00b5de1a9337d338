// The block map of one heap snapshot as an SVG image: one cell per block, coloured by the type
// of the object it belongs to, free blocks dark, one band per heap area, a legend, and
// <title> tooltips (address, type, size) per object and per free run.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mpheap/heap/snapshot.h"
#include "mpheap/target/target.h"

namespace mpheap::report {

struct HeapSvgOptions {
  std::uint64_t columns = 64;  // blocks per row, as micropython.mem_info(1) prints them
  std::uint32_t cell = 8;      // pixels per cell side (a 1 px gap included)
  std::string title;           // shown at the top; "" = "heap snapshot"
};

// The colour of a type's cells: a fixed one for the common built-in types, else one derived
// from the name (the same name always gets the same colour). "#..." hex.
std::string heap_type_colour(std::string_view type);
inline constexpr const char* kFreeBlockColour = "#1e1e24";
inline constexpr const char* kUnownedBlockColour = "#8a8a8a";  // a tail without a decoded head

// Cells are <rect class="blk"> in block order, area after area; each object's cells form one
// <g class="obj" data-type="..."> with a <title>, free runs a <g class="free">.
std::string heap_svg(const heap::Snapshot& s, const target::Target& t,
                     const HeapSvgOptions& options = {});

}  // namespace mpheap::report
