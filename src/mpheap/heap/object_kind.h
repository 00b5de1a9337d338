// What an allocation is, as a value code can branch on: a built-in type the decoder recognised
// by its type object, an instance or a class defined in Python, or a block without an object
// header that a naming pass labelled by what points at it. HeapObject::type stays the name
// shown to people (the Python type name, a class name, or the label; Snapshot::type_name).
#pragma once

#include <cstdint>
#include <string_view>

namespace mpheap::heap {

enum class ObjectKind : std::uint8_t {
  unknown,
  // Built-in types with an object header (the first word points at the type object).
  str,
  bytes,
  bytearray,
  array,
  list,
  tuple,
  dict,
  set,
  frozenset,
  int_,
  module,
  type,      // a class: mp_type_type (built-in metaclass) objects on the heap
  builtin,   // another built-in type (float, fun_bc, closure, generator, ...)
  instance,  // an instance of a class defined in Python
  // Blocks without a header, labelled by what points at them.
  str_data,
  list_items,
  dict_table,
  bytearray_data,
  instance_members,
  set_table,
  int_digits,
  qstr_pool,
  qstr_chunk,
  qstr_hashes,
  qstr_lengths,
  bytecode,
  module_context,
  qstr_table,
  child_table,
  constant_table,
  raw_code,
};

// The label shown for a header-less kind ("str data", "dict table", ...); "" for the others,
// whose name is their type's.
std::string_view kind_label(ObjectKind kind);

// The kind of an object whose type object is the built-in `symbol` ("mp_type_list" -> list);
// without a symbol (types found in an image), by its Python `name`.
ObjectKind kind_of_type(std::string_view symbol, std::string_view name);

}  // namespace mpheap::heap
