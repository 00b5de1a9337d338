// The DWARF facts the ELF reader asks for, through elfutils libdw: global variables by name
// and by address with their types, named types (typedefs, struct tags), struct member offsets
// by path through nested, typedef'd, qualified and anonymous members, and byte sizes.
#pragma once

#include <elfutils/libdw.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mpheap::target::elf {

// A member found by name: where it starts (for a bit field, the byte offset of its storage
// unit) and its type.
struct Member {
  std::uint64_t offset = 0;
  Dwarf_Die type{};
  bool bit_field = false;
};

class DwarfIndex {
 public:
  // nullopt when the ELF has no readable .debug_info.
  static std::optional<DwarfIndex> open(Elf* elf);
  ~DwarfIndex();
  DwarfIndex(DwarfIndex&& other) noexcept;
  DwarfIndex& operator=(DwarfIndex&&) = delete;
  DwarfIndex(const DwarfIndex&) = delete;
  DwarfIndex& operator=(const DwarfIndex&) = delete;

  [[nodiscard]] std::size_t unit_count() const { return units_; }
  // The type of a global variable (a definition's type when there is one).
  [[nodiscard]] std::optional<Dwarf_Die> variable_type(std::string_view name) const;
  // The type of the variable whose DW_AT_location is this static address.
  [[nodiscard]] std::optional<Dwarf_Die> variable_type_at(std::uint64_t address) const;
  // A typedef, struct or union declared at the top level of some unit, by name (complete
  // struct definitions only).
  [[nodiscard]] std::optional<Dwarf_Die> named_type(std::string_view name) const;

  // Typedefs and qualifiers removed.
  [[nodiscard]] static std::optional<Dwarf_Die> peel(Dwarf_Die die);
  // The pointed-to type of a pointer type (through typedefs and qualifiers).
  [[nodiscard]] static std::optional<Dwarf_Die> pointee(Dwarf_Die die);
  // A member of a struct/union type by name, looking into anonymous members.
  [[nodiscard]] static std::optional<Member> member(Dwarf_Die type, std::string_view name);
  // A dotted path of members ("mem.area.gc_pool_start"): the offset from the outer start.
  [[nodiscard]] static std::optional<Member> member_path(Dwarf_Die type, std::string_view path);
  [[nodiscard]] static std::optional<std::uint64_t> byte_size(Dwarf_Die type);
  // True when the type is (a typedef chain to) one named `name` (typedef name or struct tag).
  [[nodiscard]] static bool has_type_name(Dwarf_Die type, std::string_view name);

 private:
  DwarfIndex() = default;
  [[nodiscard]] std::optional<Dwarf_Die> die_at(Dwarf_Off offset) const;
  void index_unit(Dwarf_Die* unit);
  static std::optional<Member> find_member(Dwarf_Die type, std::string_view name, int depth);

  Dwarf* dwarf_ = nullptr;
  std::size_t units_ = 0;
  // Offsets (in .debug_info) of the type DIEs.
  std::unordered_map<std::string, Dwarf_Off> variables_;
  std::unordered_map<std::string, bool> variable_is_definition_;
  std::unordered_map<std::uint64_t, Dwarf_Off> variables_at_;
  std::unordered_map<std::string, Dwarf_Off> types_;
};

}  // namespace mpheap::target::elf
