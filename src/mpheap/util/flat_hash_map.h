// An open-addressing hash map from 64-bit keys to 32-bit values, for hot interning loops
// (frames, call-stack nodes) where std::unordered_map's node allocations dominate.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace mpheap {

class FlatHashMap64 {
 public:
  FlatHashMap64() { slots_.resize(kInitialCapacity); }

  [[nodiscard]] std::optional<std::uint32_t> find(std::uint64_t key) const {
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = mix(key) & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (!s.used) return std::nullopt;
      if (s.key == key) return s.value;
    }
  }

  // Inserts key -> value unless the key is present; returns the stored value.
  std::uint32_t insert(std::uint64_t key, std::uint32_t value) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = mix(key) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (!s.used) {
        s = Slot{key, value, true};
        ++size_;
        return value;
      }
      if (s.key == key) return s.value;
    }
  }

  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  struct Slot {
    std::uint64_t key = 0;
    std::uint32_t value = 0;
    bool used = false;
  };
  static constexpr std::size_t kInitialCapacity = 1024;

  static std::size_t mix(std::uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return static_cast<std::size_t>(k);
  }

  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.resize(old.size() * 2);
    size_ = 0;
    for (const Slot& s : old)
      if (s.used) insert(s.key, s.value);
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace mpheap
