// Reading Python values out of a snapshot: qstr names (ROM and heap pools), str/bytes text,
// dict items, list and tuple items, class names, and the globals of __main__.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mpheap/heap/snapshot.h"

namespace mpheap::heap {

class ObjectReader {
 public:
  ObjectReader(const target::Target& t, const io::MemoryImage& memory, const Snapshot& snapshot);

  // The string of qstr `index`: ROM qstrs from the target, the rest from the pools in RAM.
  [[nodiscard]] std::optional<std::string> qstr(std::uint64_t index) const;
  [[nodiscard]] std::size_t heap_qstr_count() const { return heap_qstrs_.size(); }
  // A word as Python would show it: 12, 'name' (qstr), None/True/False, or "<type at 0x...>".
  [[nodiscard]] std::string repr(std::uint64_t word) const;
  // The allocation containing `address` (interior pointers too), or null.
  [[nodiscard]] const HeapObject* object_at(std::uint64_t address) const;

  [[nodiscard]] std::optional<std::string> str_value(const HeapObject& o) const;  // str, bytes
  [[nodiscard]] std::optional<std::vector<std::pair<std::uint64_t, std::uint64_t>>> dict_items(
      const HeapObject& o) const;  // (key, value) words of the used slots
  [[nodiscard]] std::optional<std::vector<std::uint64_t>> sequence_items(
      const HeapObject& o) const;  // list, tuple
  [[nodiscard]] std::optional<std::string> class_name(
      const HeapObject& o) const;  // a class on the heap
  [[nodiscard]] std::optional<std::uint64_t> read_word(std::uint64_t address) const;
  [[nodiscard]] std::optional<std::string_view> bytes(std::uint64_t address,
                                                      std::uint64_t n) const {
    return mem_.bytes(address, n);
  }
  // __main__'s globals (mp_state_ctx.vm.dict_main): name -> value word.
  [[nodiscard]] std::vector<std::pair<std::string, std::uint64_t>> globals() const;

 private:
  [[nodiscard]] std::optional<std::uint64_t> word(std::uint64_t address) const;
  [[nodiscard]] std::vector<std::pair<std::uint64_t, std::uint64_t>> map_items(
      std::uint64_t map) const;
  [[nodiscard]] bool is_type(const HeapObject& o, std::string_view symbol) const;
  void read_heap_qstr_pools();

  const target::Target& t_;
  const io::MemoryImage& mem_;
  const Snapshot& snap_;
  std::uint64_t heap_qstr_base_ = 0;  // index of heap_qstrs_[0]
  std::vector<std::string> heap_qstrs_;
};

// Gives the allocation that starts exactly at `address` the label `what` when it has no type
// yet; whether it did. The naming passes label blocks without an object header with it.
bool label_block(Snapshot& s, const ObjectReader& reader, std::uint64_t address, ObjectKind what);

// Classes defined in Python and their instances: gives objects whose type pointer is a class
// on the heap the class's name as their type, and classes the type "type".
void name_instance_types(Snapshot& s, const ObjectReader& reader, const target::Target& t);

// Allocations without an object header, typed by what points at them: "str data",
// "list items", "dict table", "bytearray data", "qstr pool", "qstr chunk". Others stay "".
void label_headerless_blocks(Snapshot& s, const ObjectReader& reader, const target::Target& t);

}  // namespace mpheap::heap
