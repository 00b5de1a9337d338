// The DWARF expression subset of call frame rules and parameter locations.
#include "mpheap/target/dwarf_expression.h"

#include <dwarf.h>

#include <array>
#include <vector>

namespace mpheap::target::elf {

namespace {

ExpressionResult missing(std::string why) {
  ExpressionResult r;
  r.missing = std::move(why);
  return r;
}

}  // namespace

std::optional<std::uint64_t> read_unsigned(const MemoryReader& read, std::uint64_t address,
                                           std::size_t size, bool little_endian) {
  if (size == 0 || size > 8 || !read) return std::nullopt;
  std::array<std::uint8_t, 8> bytes{};
  if (!read(address, size, bytes.data())) return std::nullopt;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < size; ++i) {
    const std::size_t shift = little_endian ? 8 * i : 8 * (size - 1 - i);
    value |= static_cast<std::uint64_t>(bytes[i]) << shift;
  }
  return value;
}

ExpressionResult evaluate_expression(std::span<const Dwarf_Op> ops,
                                     const ExpressionContext& context,
                                     std::optional<std::uint64_t> initial) {
  const std::uint64_t mask = context.word_size >= 8
                                 ? ~std::uint64_t{0}
                                 : (std::uint64_t{1} << (8 * context.word_size)) - 1;
  std::vector<std::uint64_t> stack;
  if (initial) stack.push_back(*initial);
  auto reg = [&](std::uint64_t number) -> std::optional<std::uint64_t> {
    if (context.registers == nullptr || number >= context.registers->size()) return std::nullopt;
    return (*context.registers)[number];
  };
  auto pop = [&](std::uint64_t& out) {
    if (stack.empty()) return false;
    out = stack.back();
    stack.pop_back();
    return true;
  };
  bool stack_value = false;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const Dwarf_Op& op = ops[i];
    const std::uint8_t atom = op.atom;
    if (atom >= DW_OP_reg0 && atom <= DW_OP_reg31) {
      if (ops.size() != 1) return missing("a register in a composite location");
      return ExpressionResult{ExpressionResult::Kind::register_number,
                              static_cast<std::uint64_t>(atom - DW_OP_reg0),
                              {}};
    }
    if (atom == DW_OP_regx) {
      if (ops.size() != 1) return missing("a register in a composite location");
      return ExpressionResult{ExpressionResult::Kind::register_number, op.number, {}};
    }
    if (atom >= DW_OP_lit0 && atom <= DW_OP_lit31) {
      stack.push_back(static_cast<std::uint64_t>(atom - DW_OP_lit0));
      continue;
    }
    if (atom >= DW_OP_breg0 && atom <= DW_OP_breg31) {
      auto v = reg(static_cast<std::uint64_t>(atom - DW_OP_breg0));
      if (!v) return missing("register not available");
      stack.push_back((*v + op.number) & mask);
      continue;
    }
    std::uint64_t a = 0, b = 0;
    switch (atom) {
      case DW_OP_bregx: {
        auto v = reg(op.number);
        if (!v) return missing("register not available");
        stack.push_back((*v + op.number2) & mask);
        break;
      }
      case DW_OP_fbreg:
        if (!context.frame_base) return missing("frame base not known");
        stack.push_back((*context.frame_base + op.number) & mask);
        break;
      case DW_OP_call_frame_cfa:
        if (!context.cfa) return missing("CFA not known");
        stack.push_back(*context.cfa);
        break;
      case DW_OP_addr:
        stack.push_back((op.number + context.load_bias) & mask);
        break;
      case DW_OP_const1u:
      case DW_OP_const2u:
      case DW_OP_const4u:
      case DW_OP_const8u:
      case DW_OP_constu:
      case DW_OP_const1s:
      case DW_OP_const2s:
      case DW_OP_const4s:
      case DW_OP_const8s:
      case DW_OP_consts:
        stack.push_back(op.number & mask);
        break;
      case DW_OP_plus_uconst:
        if (!pop(a)) return missing("malformed expression");
        stack.push_back((a + op.number) & mask);
        break;
      case DW_OP_plus:
      case DW_OP_minus:
      case DW_OP_and:
      case DW_OP_or:
      case DW_OP_xor:
      case DW_OP_mul:
      case DW_OP_shl:
      case DW_OP_shr:
        if (!pop(b) || !pop(a)) return missing("malformed expression");
        switch (atom) {
          case DW_OP_plus:
            a += b;
            break;
          case DW_OP_minus:
            a -= b;
            break;
          case DW_OP_and:
            a &= b;
            break;
          case DW_OP_or:
            a |= b;
            break;
          case DW_OP_xor:
            a ^= b;
            break;
          case DW_OP_mul:
            a *= b;
            break;
          case DW_OP_shl:
            a = b >= 64 ? 0 : a << b;
            break;
          default:
            a = b >= 64 ? 0 : a >> b;
            break;
        }
        stack.push_back(a & mask);
        break;
      case DW_OP_neg:
        if (!pop(a)) return missing("malformed expression");
        stack.push_back((~a + 1) & mask);
        break;
      case DW_OP_dup:
        if (stack.empty()) return missing("malformed expression");
        stack.push_back(stack.back());
        break;
      case DW_OP_drop:
        if (!pop(a)) return missing("malformed expression");
        break;
      case DW_OP_deref: {
        if (!pop(a)) return missing("malformed expression");
        auto v = context.read == nullptr
                     ? std::nullopt
                     : read_unsigned(*context.read, a, context.word_size, context.little_endian);
        if (!v) return missing("memory not readable");
        stack.push_back(*v);
        break;
      }
      case DW_OP_deref_size: {
        if (!pop(a) || op.number == 0 || op.number > 8) return missing("malformed expression");
        auto v = context.read == nullptr
                     ? std::nullopt
                     : read_unsigned(*context.read, a, op.number, context.little_endian);
        if (!v) return missing("memory not readable");
        stack.push_back(*v);
        break;
      }
      case DW_OP_stack_value:
        if (i + 1 != ops.size()) return missing("a value in a composite location");
        stack_value = true;
        break;
      case DW_OP_nop:
        break;
      case DW_OP_entry_value:
      case DW_OP_GNU_entry_value: {
        // Only a register's entry value is known (from the caller's call site), as gdb knows it.
        std::optional<std::uint64_t> regno;
        Dwarf_Attribute block;
        Dwarf_Op* inner = nullptr;
        std::size_t inner_n = 0;
        if (context.attribute != nullptr &&
            dwarf_getlocation_attr(context.attribute, &op, &block) == 0 &&
            dwarf_getlocation(&block, &inner, &inner_n) == 0 && inner_n == 1) {
          if (inner[0].atom >= DW_OP_reg0 && inner[0].atom <= DW_OP_reg31)
            regno = inner[0].atom - DW_OP_reg0;
          else if (inner[0].atom == DW_OP_regx)
            regno = inner[0].number;
        }
        if (!regno) return missing("optimized out (an entry value of an expression)");
        std::optional<std::uint64_t> v;
        if (context.entry_register != nullptr && *context.entry_register)
          v = (*context.entry_register)(*regno);
        if (!v) return missing("optimized out (its value at entry is not known at the call site)");
        stack.push_back(*v);
        break;
      }
      case DW_OP_piece:
      case DW_OP_bit_piece:
        return missing("optimized out (a value in pieces)");
      default:
        return missing("optimized out (an expression mpheap does not evaluate)");
    }
  }
  if (stack.empty()) return missing("optimized out");
  return ExpressionResult{
      stack_value ? ExpressionResult::Kind::value : ExpressionResult::Kind::memory,
      stack.back(),
      {}};
}

}  // namespace mpheap::target::elf
