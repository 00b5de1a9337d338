// The model of a .mpy file that every format version's reader fills: header, qstrs,
// constants and the tree of raw codes, with the file bytes each part takes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mpheap/mpy/opcodes.h"

namespace mpheap::mpy {

// Where the bytes of a file go. Every byte of a file belongs to exactly one part of
// exactly one owner (the file itself or one raw code), so the parts sum to the file size.
enum class Part : std::uint8_t {
  Header,       // magic, version, flags, arch flags, table counts, qstr window size
  Qstrs,        // qstr strings and references (the v6 table, or inline qstrs before v6)
  Constants,    // constant objects (str, bytes, int, float, complex, tuple, ...)
  CodeHeader,   // per raw code: kind/length, child counts, native scope flags, sizes
  Prelude,      // n_state, flags, argument counts and names, closure cells
  LineInfo,     // bytecode offset to source line table
  Bytecode,     // the opcodes
  NativeCode,   // machine code (and viper rodata)
  NativeLinks,  // relocations and qstr links of native code
  Count,
};
inline constexpr std::size_t kPartCount = static_cast<std::size_t>(Part::Count);
using PartSizes = std::array<std::uint64_t, kPartCount>;
const char* part_name(Part p);

enum class CodeKind : std::uint8_t { Bytecode, Native, Viper, Asm };
const char* code_kind_name(CodeKind k);

struct Constant {
  enum class Kind : std::uint8_t {
    FunTable,
    None,
    False,
    True,
    Ellipsis,
    Str,
    Bytes,
    Int,
    Float,
    Complex,
    Tuple,
    Qstr
  };
  Kind kind = Kind::None;
  std::string text;             // str/bytes contents; int/float/complex as written in the file
  std::vector<Constant> items;  // tuple members
};

struct Qstr {
  std::string text;
  bool is_static = false;  // referred to by number in the firmware's static table
};

struct Prelude {
  std::uint32_t n_state = 0;
  std::uint32_t n_exc_stack = 0;
  std::uint32_t scope_flags = 0;
  std::uint32_t n_pos_args = 0;
  std::uint32_t n_kwonly_args = 0;
  std::uint32_t n_def_pos_args = 0;
  std::uint32_t n_info = 0;  // code-info size (v3-v5 include the name qstrs)
  std::uint32_t n_cell = 0;
  std::uint32_t name = 0;                    // qstr index of the function's name
  std::optional<std::uint32_t> source_file;  // qstr index (before v6)
  std::vector<std::uint32_t> arg_names;      // qstr indices
};

struct LineEntry {
  std::uint32_t bc_offset;  // from the first opcode
  std::uint32_t line;
};

struct QstrLink {
  std::uint32_t offset;  // in the machine code
  std::uint8_t kind;     // 0: qstr number, 1: qstr object (16-bit), 2: qstr object (32-bit)
  std::uint32_t qstr;
};

struct RawCode {
  CodeKind kind = CodeKind::Bytecode;
  // The prelude's name; for viper/asm code (no prelude) the name the parent stores the
  // function under, or "<viper>"/"<asm>".
  std::string name;
  std::uint64_t file_offset = 0;  // where its kind/length varint starts
  // The raw code's data as the firmware holds it in RAM: for bytecode the prelude, line
  // info and opcodes, with qstrs before v6 as 16-bit slots holding indices into
  // MpyFile::qstrs; for native code the machine code (with the prelude at prelude_offset).
  std::vector<std::uint8_t> data;
  bool has_prelude = false;
  std::uint32_t prelude_offset = 0;  // where the prelude starts in `data`
  std::uint32_t line_info_offset = 0;
  std::uint32_t line_info_end = 0;
  std::uint32_t code_offset = 0;  // first opcode (bytecode) or end of prelude (native)
  Prelude prelude;
  std::vector<LineEntry> lines;
  // Before v6 every raw code has its own constant table: argument names then objects.
  std::vector<std::uint32_t> const_qstrs;
  std::vector<Constant> consts;
  // Native code.
  std::vector<QstrLink> qstr_links;
  std::uint32_t native_scope_flags = 0;
  std::uint32_t native_n_pos_args = 0;
  std::uint32_t type_sig = 0;
  std::uint32_t rodata_size = 0;
  std::uint32_t bss_size = 0;
  std::uint32_t n_relocs = 0;
  PartSizes sizes{};  // the file bytes of this raw code, children excluded
  std::vector<RawCode> children;

  [[nodiscard]] std::uint64_t own_size() const;
};

struct Header {
  char magic = 'M';  // 'M' MicroPython, 'C' CircuitPython 7+
  std::uint8_t version = 0;
  std::optional<std::uint8_t> sub_version;  // v6 only, read from the feature byte
  std::uint8_t feature_byte = 0;
  std::uint8_t arch = 0;  // native architecture number (0 = bytecode only)
  std::optional<std::uint64_t> arch_flags;
  std::uint8_t small_int_bits = 0;
  std::uint32_t qstr_window_size = 0;  // v4/v5
  [[nodiscard]] BytecodeGen gen() const;
  [[nodiscard]] bool map_caching() const { return version < 6 && (feature_byte & 1) != 0; }
};
const char* arch_name(std::uint8_t arch);

struct MpyFile {
  std::string source;
  std::uint64_t size = 0;
  Header header;
  // v6: the file's qstr table. Before v6: every qstr in the order the file spelt it out or
  // referred to a static one; raw codes refer to them by index either way.
  std::vector<Qstr> qstrs;
  std::vector<Constant> objs;  // v6 object table
  PartSizes sizes{};           // bytes owned by the file rather than one raw code
  RawCode module;
};

}  // namespace mpheap::mpy
