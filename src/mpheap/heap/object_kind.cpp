// Kinds of heap objects: the labels of header-less blocks and the built-in types by symbol.
#include "mpheap/heap/object_kind.h"

#include <utility>

namespace mpheap::heap {

std::string_view kind_label(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::str_data:
      return "str data";
    case ObjectKind::list_items:
      return "list items";
    case ObjectKind::dict_table:
      return "dict table";
    case ObjectKind::bytearray_data:
      return "bytearray data";
    case ObjectKind::instance_members:
      return "instance members";
    case ObjectKind::set_table:
      return "set table";
    case ObjectKind::int_digits:
      return "int digits";
    case ObjectKind::qstr_pool:
      return "qstr pool";
    case ObjectKind::qstr_chunk:
      return "qstr chunk";
    case ObjectKind::qstr_hashes:
      return "qstr hashes";
    case ObjectKind::qstr_lengths:
      return "qstr lengths";
    case ObjectKind::bytecode:
      return "bytecode";
    case ObjectKind::module_context:
      return "module context";
    case ObjectKind::qstr_table:
      return "qstr table";
    case ObjectKind::child_table:
      return "child table";
    case ObjectKind::constant_table:
      return "constant table";
    case ObjectKind::raw_code:
      return "raw code";
    default:
      return "";
  }
}

ObjectKind kind_of_type(std::string_view symbol, std::string_view name) {
  static constexpr std::pair<std::string_view, ObjectKind> kTypes[] = {
      {"mp_type_str", ObjectKind::str},
      {"mp_type_bytes", ObjectKind::bytes},
      {"mp_type_bytearray", ObjectKind::bytearray},
      {"mp_type_array", ObjectKind::array},
      {"mp_type_list", ObjectKind::list},
      {"mp_type_tuple", ObjectKind::tuple},
      {"mp_type_attrtuple", ObjectKind::tuple},
      {"mp_type_dict", ObjectKind::dict},
      {"mp_type_ordereddict", ObjectKind::dict},
      {"mp_type_set", ObjectKind::set},
      {"mp_type_frozenset", ObjectKind::frozenset},
      {"mp_type_int", ObjectKind::int_},
      {"mp_type_module", ObjectKind::module},
      {"mp_type_type", ObjectKind::type},
  };
  constexpr std::string_view kPrefix = "mp_type_";
  for (const auto& [s, kind] : kTypes)
    if (symbol.empty() ? s.substr(kPrefix.size()) == name : s == symbol) return kind;
  return ObjectKind::builtin;
}

}  // namespace mpheap::heap
