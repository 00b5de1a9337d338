// DwarfIndex: one pass over the top level of every unit, then member lookups by name.
#include "mpheap/target/elf_dwarf.h"

#include <dwarf.h>

#include <utility>

namespace mpheap::target::elf {
namespace {

bool is_qualifier(int tag) {
  return tag == DW_TAG_const_type || tag == DW_TAG_volatile_type || tag == DW_TAG_restrict_type ||
         tag == DW_TAG_atomic_type;
}

std::optional<Dwarf_Die> type_of(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  Dwarf_Die type;
  if (dwarf_attr_integrate(die, DW_AT_type, &attr) == nullptr) return std::nullopt;
  if (dwarf_formref_die(&attr, &type) == nullptr) return std::nullopt;
  return type;
}

std::string_view name_of(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  if (dwarf_attr_integrate(die, DW_AT_name, &attr) == nullptr) return {};
  const char* name = dwarf_formstring(&attr);
  return name != nullptr ? std::string_view(name) : std::string_view();
}

// The static address of a variable: a location that is exactly one DW_OP_addr (or addrx).
std::optional<std::uint64_t> static_address(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  if (dwarf_attr(die, DW_AT_location, &attr) == nullptr) return std::nullopt;
  Dwarf_Op* ops = nullptr;
  std::size_t count = 0;
  if (dwarf_getlocation(&attr, &ops, &count) != 0 || count != 1) return std::nullopt;
  if (ops[0].atom == DW_OP_addr) return ops[0].number;
  if (ops[0].atom == DW_OP_addrx || ops[0].atom == DW_OP_GNU_addr_index) {
    Dwarf_Attribute result;
    Dwarf_Addr address = 0;
    if (dwarf_getlocation_attr(&attr, &ops[0], &result) == 0 &&
        dwarf_formaddr(&result, &address) == 0) {
      return address;
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> uconst(Dwarf_Attribute* attr) {
  Dwarf_Word value = 0;
  if (dwarf_formudata(attr, &value) != 0) return std::nullopt;
  return value;
}

// Where a member starts in its parent: DW_AT_data_member_location as a constant or (DWARF 2)
// an expression DW_OP_plus_uconst; a bit field's DW_AT_data_bit_offset gives the storage unit
// holding it; a member without either (a union's) starts at 0.
std::optional<Member> member_location(Dwarf_Die* member) {
  Member m;
  auto type = type_of(member);
  if (!type) return std::nullopt;
  m.type = *type;
  Dwarf_Attribute attr;
  m.bit_field = dwarf_hasattr(member, DW_AT_bit_size) != 0;
  if (dwarf_attr(member, DW_AT_data_member_location, &attr) != nullptr) {
    const unsigned form = dwarf_whatform(&attr);
    if (form == DW_FORM_block || form == DW_FORM_block1 || form == DW_FORM_block2 ||
        form == DW_FORM_block4 || form == DW_FORM_exprloc) {
      Dwarf_Op* ops = nullptr;
      std::size_t count = 0;
      if (dwarf_getlocation(&attr, &ops, &count) != 0 || count != 1 ||
          (ops[0].atom != DW_OP_plus_uconst && ops[0].atom != DW_OP_constu)) {
        return std::nullopt;
      }
      m.offset = ops[0].number;
    } else {
      auto value = uconst(&attr);
      if (!value) return std::nullopt;
      m.offset = *value;
    }
    return m;
  }
  if (dwarf_attr(member, DW_AT_data_bit_offset, &attr) != nullptr) {
    auto bits = uconst(&attr);
    if (!bits) return std::nullopt;
    auto unit = DwarfIndex::byte_size(m.type).value_or(1);
    if (unit == 0) unit = 1;
    m.offset = *bits / (8 * unit) * unit;
    return m;
  }
  return m;
}

}  // namespace

DwarfIndex::~DwarfIndex() {
  if (dwarf_ != nullptr) dwarf_end(dwarf_);
}

DwarfIndex::DwarfIndex(DwarfIndex&& other) noexcept
    : dwarf_(std::exchange(other.dwarf_, nullptr)),
      units_(other.units_),
      variables_(std::move(other.variables_)),
      variable_is_definition_(std::move(other.variable_is_definition_)),
      variables_at_(std::move(other.variables_at_)),
      types_(std::move(other.types_)) {}

std::optional<DwarfIndex> DwarfIndex::open(Elf* elf) {
  Dwarf* dwarf = dwarf_begin_elf(elf, DWARF_C_READ, nullptr);
  if (dwarf == nullptr) return std::nullopt;
  DwarfIndex index;
  index.dwarf_ = dwarf;
  Dwarf_Off offset = 0;
  Dwarf_Off next = 0;
  std::size_t header_size = 0;
  while (dwarf_nextcu(dwarf, offset, &next, &header_size, nullptr, nullptr, nullptr) == 0) {
    Dwarf_Die unit;
    if (dwarf_offdie(dwarf, offset + header_size, &unit) != nullptr) {
      ++index.units_;
      index.index_unit(&unit);
    }
    if (next <= offset) break;
    offset = next;
  }
  if (index.units_ == 0) return std::nullopt;
  return index;
}

void DwarfIndex::index_unit(Dwarf_Die* unit) {
  Dwarf_Die child;
  if (dwarf_child(unit, &child) != 0) return;
  do {
    const int tag = dwarf_tag(&child);
    if (tag == DW_TAG_variable) {
      std::string_view name = name_of(&child);
      auto type = type_of(&child);
      if (name.empty() || !type) continue;
      const Dwarf_Off type_offset = dwarf_dieoffset(&*type);
      auto address = static_address(&child);
      if (address) variables_at_.emplace(*address, type_offset);
      std::string key(name);
      const bool definition = address.has_value();
      auto it = variable_is_definition_.find(key);
      if (it == variable_is_definition_.end() || (definition && !it->second)) {
        variables_[key] = type_offset;
        variable_is_definition_[key] = definition;
      }
    } else if (tag == DW_TAG_typedef || tag == DW_TAG_structure_type || tag == DW_TAG_union_type) {
      if (dwarf_hasattr(&child, DW_AT_declaration) != 0) continue;
      std::string_view name = name_of(&child);
      if (!name.empty()) types_.emplace(std::string(name), dwarf_dieoffset(&child));
    }
  } while (dwarf_siblingof(&child, &child) == 0);
}

std::optional<Dwarf_Die> DwarfIndex::die_at(Dwarf_Off offset) const {
  Dwarf_Die die;
  if (dwarf_offdie(dwarf_, offset, &die) == nullptr) return std::nullopt;
  return die;
}

std::optional<Dwarf_Die> DwarfIndex::variable_type(std::string_view name) const {
  auto it = variables_.find(std::string(name));
  if (it == variables_.end()) return std::nullopt;
  return die_at(it->second);
}

std::optional<Dwarf_Die> DwarfIndex::variable_type_at(std::uint64_t address) const {
  auto it = variables_at_.find(address);
  if (it == variables_at_.end()) return std::nullopt;
  return die_at(it->second);
}

std::optional<Dwarf_Die> DwarfIndex::named_type(std::string_view name) const {
  auto it = types_.find(std::string(name));
  if (it == types_.end()) return std::nullopt;
  return die_at(it->second);
}

std::optional<Dwarf_Die> DwarfIndex::peel(Dwarf_Die die) {
  for (int depth = 0; depth < 64; ++depth) {
    const int tag = dwarf_tag(&die);
    if (tag != DW_TAG_typedef && !is_qualifier(tag)) return die;
    auto next = type_of(&die);
    if (!next) return std::nullopt;  // "const void" and the like
    die = *next;
  }
  return std::nullopt;
}

std::optional<Dwarf_Die> DwarfIndex::pointee(Dwarf_Die die) {
  auto peeled = peel(die);
  if (!peeled || dwarf_tag(&*peeled) != DW_TAG_pointer_type) return std::nullopt;
  return type_of(&*peeled);
}

std::optional<Member> DwarfIndex::member(Dwarf_Die type, std::string_view name) {
  return find_member(type, name, 0);
}

// Anonymous members nest; a malformed DWARF can make them nest forever, hence the depth.
std::optional<Member> DwarfIndex::find_member(Dwarf_Die type, std::string_view name, int depth) {
  if (depth > 16) return std::nullopt;
  auto aggregate = peel(type);
  if (!aggregate) return std::nullopt;
  const int tag = dwarf_tag(&*aggregate);
  if (tag != DW_TAG_structure_type && tag != DW_TAG_union_type && tag != DW_TAG_class_type) {
    return std::nullopt;
  }
  Dwarf_Die child;
  if (dwarf_child(&*aggregate, &child) != 0) return std::nullopt;
  do {
    if (dwarf_tag(&child) != DW_TAG_member) continue;
    std::string_view member_name = name_of(&child);
    if (member_name == name) return member_location(&child);
    if (member_name.empty()) {
      // An anonymous struct or union: its members belong to the parent.
      auto outer = member_location(&child);
      if (!outer) continue;
      auto inner = find_member(outer->type, name, depth + 1);
      if (inner) {
        inner->offset += outer->offset;
        return inner;
      }
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return std::nullopt;
}

std::optional<Member> DwarfIndex::member_path(Dwarf_Die type, std::string_view path) {
  Member result;
  result.type = type;
  while (!path.empty()) {
    const std::size_t dot = path.find('.');
    std::string_view head = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    auto m = member(result.type, head);
    if (!m) return std::nullopt;
    result.offset += m->offset;
    result.type = m->type;
    result.bit_field = m->bit_field;
  }
  return result;
}

std::optional<std::uint64_t> DwarfIndex::byte_size(Dwarf_Die type) {
  Dwarf_Word size = 0;
  if (dwarf_aggregate_size(&type, &size) != 0) return std::nullopt;
  return size;
}

bool DwarfIndex::has_type_name(Dwarf_Die type, std::string_view name) {
  for (int depth = 0; depth < 64; ++depth) {
    const int tag = dwarf_tag(&type);
    if (tag == DW_TAG_typedef || tag == DW_TAG_structure_type || tag == DW_TAG_union_type) {
      if (name_of(&type) == name) return true;
      if (tag != DW_TAG_typedef) return false;
    } else if (!is_qualifier(tag)) {
      return false;
    }
    auto next = type_of(&type);
    if (!next) return false;
    type = *next;
  }
  return false;
}

}  // namespace mpheap::target::elf
