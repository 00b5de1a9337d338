// target.json: a Target saved once per build and passed with --target everywhere after.
// The format is documented in docs/formats/target.md.
#pragma once

#include <string>
#include <string_view>

#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::target {

inline constexpr int kTargetFormatVersion = 1;

std::string to_json(const Target& t);
Expected<Target> target_from_json(std::string_view text, const std::string& name);

}  // namespace mpheap::target
