// Names that many heap objects share (Python type names, class names, function descriptions),
// each stored once per snapshot: an object holds a 4-byte NameIndex instead of its own string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mpheap::heap {

// An index into a NameTable; NameIndex::none is the empty name.
enum class NameIndex : std::uint32_t { none = 0 };

class NameTable {
 public:
  NameTable() : names_{std::string()} { index_.emplace(std::string(), NameIndex::none); }

  // The index of `name`, added when new.
  NameIndex intern(std::string_view name) {
    if (auto it = index_.find(name); it != index_.end()) return it->second;
    const auto i = static_cast<NameIndex>(names_.size());
    names_.emplace_back(name);
    index_.emplace(std::string(name), i);
    return i;
  }
  [[nodiscard]] const std::string& operator[](NameIndex i) const {
    return names_[static_cast<std::size_t>(i)];
  }
  [[nodiscard]] std::size_t size() const { return names_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::string> names_;
  std::unordered_map<std::string, NameIndex, Hash, std::equal_to<>> index_;
};

}  // namespace mpheap::heap
