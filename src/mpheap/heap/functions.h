// Functions defined in Python: each bytecode function object on the heap (mp_type_fun_bc and
// the generator wrapper's target) with its name, source file and line numbers, read from the
// prelude and code info of its bytecode, whose block is labelled "bytecode".
//
// Three generations are told apart by their shapes, not by a version number:
//  - before 1.19 the object is {base, globals dict, bytecode, const_table, ...}; since 1.19
//    {base, module context, child_table, bytecode, ...} (the context starts like a module);
//  - before 1.16 the prelude is n_state and n_exc_stack (var-uints), four argument bytes and
//    the code-info size; since 1.16 the compressed signature and size bytes;
//  - the code info holds the name and the source file as qstrs (var-uints, or two bytes in
//    builds with persistent code) before 1.19, and the name (a qstr, or an index into the
//    module's qstr table) and the argument names since.
// A reading is accepted only when its qstrs all exist and the line table ends where the code
// info says; otherwise the function keeps its address alone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mpheap/heap/objects.h"
#include "mpheap/heap/snapshot.h"

namespace mpheap::heap {

struct FunctionInfo {
  std::uint64_t object = 0;    // the function object
  std::uint64_t bytecode = 0;  // its bytecode (prelude first)
  std::string name;            // "make_counter"
  std::string source_file;     // "<stdin>", "" when the build does not keep it
  std::vector<std::string> arg_names;
  std::uint32_t first_line = 0, last_line = 0;  // 0 when the code info has no line table
  std::uint32_t n_pos_args = 0, n_kwonly_args = 0;
  std::uint64_t bytecode_bytes = 0;  // prelude + code info + opcodes, within its allocation
};

// Decodes every bytecode function object of the snapshot (in address order) and labels the
// allocations holding their bytecode "bytecode" and their module contexts (1.19+) "module
// context" (when not typed otherwise).
std::vector<FunctionInfo> decode_functions(Snapshot& s, const ObjectReader& reader,
                                           const target::Target& t);

// "make_counter (<stdin>, lines 12-15)" or "make_counter" or "".
std::string describe(const FunctionInfo& f);

// Every naming pass over a freshly decoded snapshot, in the order they build on each other:
// classes and their instances, blocks without a header, functions and their bytecode.
std::vector<FunctionInfo> name_objects(Snapshot& s, const ObjectReader& reader,
                                       const target::Target& t);

}  // namespace mpheap::heap
