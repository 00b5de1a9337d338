// The fixed table of qstrs that .mpy files of versions 4 to 6 refer to by number.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace mpheap::mpy {

inline constexpr std::size_t kStaticQstrCount = 165;
extern const std::array<std::string_view, kStaticQstrCount + 1> kStaticQstrs;

}  // namespace mpheap::mpy
