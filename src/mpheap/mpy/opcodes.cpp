// The opcode tables: names and operand kinds per bytecode generation (from py/bc0.h of
// each version), built once.
#include "mpheap/mpy/opcodes.h"

#include <initializer_list>
#include <span>

namespace mpheap::mpy {
namespace {

struct Named {
  std::uint8_t code;
  std::string_view name;
  Operand operand;
};

constexpr std::string_view kUnaryOps[] = {"__pos__", "__neg__", "__invert__", "<not>"};

// Binary operators as numbered in bytecode. v5 added the two matrix-multiply operators.
constexpr std::string_view kBinaryOpsV5[] = {"__lt__",        "__gt__",       "__eq__",
                                             "__le__",        "__ge__",       "__ne__",
                                             "<in>",          "<is>",         "<exception match>",
                                             "__ior__",       "__ixor__",     "__iand__",
                                             "__ilshift__",   "__irshift__",  "__iadd__",
                                             "__isub__",      "__imul__",     "__imatmul__",
                                             "__ifloordiv__", "__itruediv__", "__imod__",
                                             "__ipow__",      "__or__",       "__xor__",
                                             "__and__",       "__lshift__",   "__rshift__",
                                             "__add__",       "__sub__",      "__mul__",
                                             "__matmul__",    "__floordiv__", "__truediv__",
                                             "__mod__",       "__pow__"};
constexpr std::string_view kBinaryOpsV3[] = {"__lt__",       "__gt__",      "__eq__",
                                             "__le__",       "__ge__",      "__ne__",
                                             "<in>",         "<is>",        "<exception match>",
                                             "__ior__",      "__ixor__",    "__iand__",
                                             "__ilshift__",  "__irshift__", "__iadd__",
                                             "__isub__",     "__imul__",    "__ifloordiv__",
                                             "__itruediv__", "__imod__",    "__ipow__",
                                             "__or__",       "__xor__",     "__and__",
                                             "__lshift__",   "__rshift__",  "__add__",
                                             "__sub__",      "__mul__",     "__floordiv__",
                                             "__truediv__",  "__mod__",     "__pow__"};

// mpy v5 and v6 numbering (py/bc0.h since v1.12).
constexpr Named kNamedV5[] = {
    {0x10, "LOAD_CONST_STRING", Operand::Qstr},
    {0x11, "LOAD_NAME", Operand::Qstr},
    {0x12, "LOAD_GLOBAL", Operand::Qstr},
    {0x13, "LOAD_ATTR", Operand::Qstr},
    {0x14, "LOAD_METHOD", Operand::Qstr},
    {0x15, "LOAD_SUPER_METHOD", Operand::Qstr},
    {0x16, "STORE_NAME", Operand::Qstr},
    {0x17, "STORE_GLOBAL", Operand::Qstr},
    {0x18, "STORE_ATTR", Operand::Qstr},
    {0x19, "DELETE_NAME", Operand::Qstr},
    {0x1a, "DELETE_GLOBAL", Operand::Qstr},
    {0x1b, "IMPORT_NAME", Operand::Qstr},
    {0x1c, "IMPORT_FROM", Operand::Qstr},
    {0x20, "MAKE_CLOSURE", Operand::Child},
    {0x21, "MAKE_CLOSURE_DEFARGS", Operand::Child},
    {0x22, "LOAD_CONST_SMALL_INT", Operand::SmallInt},
    {0x23, "LOAD_CONST_OBJ", Operand::Const},
    {0x24, "LOAD_FAST_N", Operand::UInt},
    {0x25, "LOAD_DEREF", Operand::UInt},
    {0x26, "STORE_FAST_N", Operand::UInt},
    {0x27, "STORE_DEREF", Operand::UInt},
    {0x28, "DELETE_FAST", Operand::UInt},
    {0x29, "DELETE_DEREF", Operand::UInt},
    {0x2a, "BUILD_TUPLE", Operand::UInt},
    {0x2b, "BUILD_LIST", Operand::UInt},
    {0x2c, "BUILD_MAP", Operand::UInt},
    {0x2d, "BUILD_SET", Operand::UInt},
    {0x2e, "BUILD_SLICE", Operand::UInt},
    {0x2f, "STORE_COMP", Operand::UInt},
    {0x30, "UNPACK_SEQUENCE", Operand::UInt},
    {0x31, "UNPACK_EX", Operand::UInt},
    {0x32, "MAKE_FUNCTION", Operand::Child},
    {0x33, "MAKE_FUNCTION_DEFARGS", Operand::Child},
    {0x34, "CALL_FUNCTION", Operand::UInt},
    {0x35, "CALL_FUNCTION_VAR_KW", Operand::UInt},
    {0x36, "CALL_METHOD", Operand::UInt},
    {0x37, "CALL_METHOD_VAR_KW", Operand::UInt},
    {0x40, "UNWIND_JUMP", Operand::JumpSigned},
    {0x42, "JUMP", Operand::JumpSigned},
    {0x43, "POP_JUMP_IF_TRUE", Operand::JumpSigned},
    {0x44, "POP_JUMP_IF_FALSE", Operand::JumpSigned},
    {0x45, "JUMP_IF_TRUE_OR_POP", Operand::Jump},
    {0x46, "JUMP_IF_FALSE_OR_POP", Operand::Jump},
    {0x47, "SETUP_WITH", Operand::Jump},
    {0x48, "SETUP_EXCEPT", Operand::Jump},
    {0x49, "SETUP_FINALLY", Operand::Jump},
    {0x4a, "POP_EXCEPT_JUMP", Operand::Jump},
    {0x4b, "FOR_ITER", Operand::Jump},
    {0x50, "LOAD_CONST_FALSE", Operand::None},
    {0x51, "LOAD_CONST_NONE", Operand::None},
    {0x52, "LOAD_CONST_TRUE", Operand::None},
    {0x53, "LOAD_NULL", Operand::None},
    {0x54, "LOAD_BUILD_CLASS", Operand::None},
    {0x55, "LOAD_SUBSCR", Operand::None},
    {0x56, "STORE_SUBSCR", Operand::None},
    {0x57, "DUP_TOP", Operand::None},
    {0x58, "DUP_TOP_TWO", Operand::None},
    {0x59, "POP_TOP", Operand::None},
    {0x5a, "ROT_TWO", Operand::None},
    {0x5b, "ROT_THREE", Operand::None},
    {0x5c, "WITH_CLEANUP", Operand::None},
    {0x5d, "END_FINALLY", Operand::None},
    {0x5e, "GET_ITER", Operand::None},
    {0x5f, "GET_ITER_STACK", Operand::None},
    {0x62, "STORE_MAP", Operand::None},
    {0x63, "RETURN_VALUE", Operand::None},
    {0x64, "RAISE_LAST", Operand::None},
    {0x65, "RAISE_OBJ", Operand::None},
    {0x66, "RAISE_FROM", Operand::None},
    {0x67, "YIELD_VALUE", Operand::None},
    {0x68, "YIELD_FROM", Operand::None},
    {0x69, "IMPORT_STAR", Operand::None},
};

// mpy v3 and v4 numbering (py/bc0.h up to v1.11).
constexpr Named kNamedV3[] = {
    {0x10, "LOAD_CONST_FALSE", Operand::None},
    {0x11, "LOAD_CONST_NONE", Operand::None},
    {0x12, "LOAD_CONST_TRUE", Operand::None},
    {0x14, "LOAD_CONST_SMALL_INT", Operand::SmallInt},
    {0x16, "LOAD_CONST_STRING", Operand::Qstr},
    {0x17, "LOAD_CONST_OBJ", Operand::Const},
    {0x18, "LOAD_NULL", Operand::None},
    {0x19, "LOAD_FAST_N", Operand::UInt},
    {0x1a, "LOAD_DEREF", Operand::UInt},
    {0x1b, "LOAD_NAME", Operand::Qstr},
    {0x1c, "LOAD_GLOBAL", Operand::Qstr},
    {0x1d, "LOAD_ATTR", Operand::Qstr},
    {0x1e, "LOAD_METHOD", Operand::Qstr},
    {0x1f, "LOAD_SUPER_METHOD", Operand::Qstr},
    {0x20, "LOAD_BUILD_CLASS", Operand::None},
    {0x21, "LOAD_SUBSCR", Operand::None},
    {0x22, "STORE_FAST_N", Operand::UInt},
    {0x23, "STORE_DEREF", Operand::UInt},
    {0x24, "STORE_NAME", Operand::Qstr},
    {0x25, "STORE_GLOBAL", Operand::Qstr},
    {0x26, "STORE_ATTR", Operand::Qstr},
    {0x27, "STORE_SUBSCR", Operand::None},
    {0x28, "DELETE_FAST", Operand::UInt},
    {0x29, "DELETE_DEREF", Operand::UInt},
    {0x2a, "DELETE_NAME", Operand::Qstr},
    {0x2b, "DELETE_GLOBAL", Operand::Qstr},
    {0x30, "DUP_TOP", Operand::None},
    {0x31, "DUP_TOP_TWO", Operand::None},
    {0x32, "POP_TOP", Operand::None},
    {0x33, "ROT_TWO", Operand::None},
    {0x34, "ROT_THREE", Operand::None},
    {0x35, "JUMP", Operand::JumpSigned},
    {0x36, "POP_JUMP_IF_TRUE", Operand::JumpSigned},
    {0x37, "POP_JUMP_IF_FALSE", Operand::JumpSigned},
    {0x38, "JUMP_IF_TRUE_OR_POP", Operand::JumpSigned},
    {0x39, "JUMP_IF_FALSE_OR_POP", Operand::JumpSigned},
    {0x3d, "SETUP_WITH", Operand::Jump},
    {0x3e, "WITH_CLEANUP", Operand::None},
    {0x3f, "SETUP_EXCEPT", Operand::Jump},
    {0x40, "SETUP_FINALLY", Operand::Jump},
    {0x41, "END_FINALLY", Operand::None},
    {0x42, "GET_ITER", Operand::None},
    {0x43, "FOR_ITER", Operand::Jump},
    {0x46, "UNWIND_JUMP", Operand::JumpSigned},
    {0x47, "GET_ITER_STACK", Operand::None},
    {0x50, "BUILD_TUPLE", Operand::UInt},
    {0x51, "BUILD_LIST", Operand::UInt},
    {0x53, "BUILD_MAP", Operand::UInt},
    {0x54, "STORE_MAP", Operand::None},
    {0x56, "BUILD_SET", Operand::UInt},
    {0x57, "STORE_COMP", Operand::UInt},
    {0x58, "BUILD_SLICE", Operand::UInt},
    {0x59, "UNPACK_SEQUENCE", Operand::UInt},
    {0x5a, "UNPACK_EX", Operand::UInt},
    {0x5b, "RETURN_VALUE", Operand::None},
    {0x5c, "RAISE_VARARGS", Operand::None},
    {0x5d, "YIELD_VALUE", Operand::None},
    {0x5e, "YIELD_FROM", Operand::None},
    {0x60, "MAKE_FUNCTION", Operand::Child},
    {0x61, "MAKE_FUNCTION_DEFARGS", Operand::Child},
    {0x62, "MAKE_CLOSURE", Operand::Child},
    {0x63, "MAKE_CLOSURE_DEFARGS", Operand::Child},
    {0x64, "CALL_FUNCTION", Operand::UInt},
    {0x65, "CALL_FUNCTION_VAR_KW", Operand::UInt},
    {0x66, "CALL_METHOD", Operand::UInt},
    {0x67, "CALL_METHOD_VAR_KW", Operand::UInt},
    {0x68, "IMPORT_NAME", Operand::Qstr},
    {0x69, "IMPORT_FROM", Operand::Qstr},
    {0x6a, "IMPORT_STAR", Operand::None},
};
constexpr Named kOnlyV3[] = {{0x44, "POP_BLOCK", Operand::None},
                             {0x45, "POP_EXCEPT", Operand::None}};
constexpr Named kOnlyV4[] = {{0x44, "POP_EXCEPT_JUMP", Operand::Jump}};

// Unassigned opcodes still have a size in v5/v6: the high nibble selects the operand form.
Operand nibble_operand(std::uint8_t code) {
  switch ((0x000003A4u >> (2 * (code >> 4))) & 3u) {
    case 1:
      return Operand::Qstr;
    case 2:
      return Operand::UInt;
    case 3:
      return Operand::Jump;
    default:
      return Operand::None;
  }
}

void add_multi(OpcodeTable& t, std::span<const std::string_view> binary_ops) {
  for (int i = 0; i < 64; ++i)
    t.ops[0x70 + i] = {"LOAD_CONST_SMALL_INT",
                       Operand::Implicit,
                       false,
                       false,
                       static_cast<std::int16_t>(i - 16),
                       {}};
  for (int i = 0; i < 16; ++i) {
    t.ops[0xb0 + i] = {"LOAD_FAST", Operand::Implicit, false, false, static_cast<std::int16_t>(i),
                       {}};
    t.ops[0xc0 + i] = {
        "STORE_FAST", Operand::Implicit, false, false, static_cast<std::int16_t>(i), {}};
  }
  for (int i = 0; i < 4; ++i)
    t.ops[0xd0 + i] = {"UNARY_OP",  Operand::Implicit, false, false, static_cast<std::int16_t>(i),
                       kUnaryOps[i]};
  for (std::size_t i = 0; i < binary_ops.size(); ++i)
    t.ops[0xd7 + i] = {"BINARY_OP",  Operand::Implicit, false, false, static_cast<std::int16_t>(i),
                       binary_ops[i]};
}

void add_named(OpcodeTable& t, std::span<const Named> named) {
  for (const Named& n : named) {
    t.ops[n.code].name = n.name;
    t.ops[n.code].operand = n.operand;
  }
}

OpcodeTable make_new_numbering(BytecodeGen gen) {
  OpcodeTable t{gen, {}, gen == BytecodeGen::V6, false, 0x40};
  for (int c = 0; c < 256; ++c) {
    auto code = static_cast<std::uint8_t>(c);
    t.ops[c].name = "unknown";
    t.ops[c].operand = nibble_operand(code);
    // py/bc0.h: opcodes whose bits masked by 0x9e are all clear carry one extra byte.
    t.ops[c].extra_byte = (code & 0x9e) == 0;
  }
  add_named(t, kNamedV5);
  add_multi(t, kBinaryOpsV5);
  return t;
}

OpcodeTable make_old_numbering(BytecodeGen gen) {
  OpcodeTable t{gen, {}, false, true, 0x46};
  for (auto& op : t.ops) op.name = "unknown";
  add_named(t, kNamedV3);
  add_named(t, gen == BytecodeGen::V3 ? std::span<const Named>(kOnlyV3)
                                      : std::span<const Named>(kOnlyV4));
  add_multi(t, kBinaryOpsV3);
  for (int c : {0x5c, 0x62, 0x63, 0x46}) t.ops[c].extra_byte = true;
  for (int c : {0x1b, 0x1c, 0x1d, 0x26}) t.ops[c].extra_byte_if_cache = true;
  return t;
}

}  // namespace

const OpcodeTable& opcode_table(BytecodeGen gen) {
  static const std::array<OpcodeTable, 4> tables = {
      make_old_numbering(BytecodeGen::V3), make_old_numbering(BytecodeGen::V4),
      make_new_numbering(BytecodeGen::V5), make_new_numbering(BytecodeGen::V6)};
  return tables[static_cast<std::size_t>(gen)];
}

}  // namespace mpheap::mpy
