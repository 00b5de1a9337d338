// The decoded .mpy files against the reference output of each version's own mpy-tool.py:
// v6.x disassembly (-d) instruction for instruction; v3-v5 freeze output (-f), whose C arrays
// hold every byte of every raw code's bytecode, byte for byte.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "mpheap/mpy/disasm.h"
#include "mpheap/mpy/opcodes.h"
#include "mpheap/mpy/pyrepr.h"
#include "mpheap/mpy/reader.h"

namespace mpheap::mpy {
namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(MPHEAP_TEST_DATA) / "mpy";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool starts_with(const std::string& s, std::string_view p) {
  return s.rfind(p, 0) == 0;
}

std::vector<fs::path> files_with(const std::string& dir, const std::string& suffix) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(kData / dir)) {
    std::string name = e.path().filename().string();
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void preorder(const RawCode& rc, std::vector<const RawCode*>& out) {
  out.push_back(&rc);
  for (const auto& c : rc.children) preorder(c, out);
}
void postorder(const RawCode& rc, std::vector<const RawCode*>& out) {
  for (const auto& c : rc.children) postorder(c, out);
  out.push_back(&rc);
}

// ---- v6: mpy-tool.py -d ----

struct RefInstruction {
  std::string hex;
  std::string text;  // mnemonic and operand as printed
};

struct RefRawCode {
  std::string name;
  bool native = false;
  std::size_t length = 0;
  std::string hex;  // raw bytecode (all of it) or the first 32 bytes of native data
  std::string prelude;
  std::string args;
  std::string line_info;
  std::vector<RefInstruction> instructions;
  std::vector<std::string> children;
  bool has_children_line = false;
};

struct RefFile {
  std::string header;
  std::vector<std::string> qstrs;
  std::string obj_table;
  std::vector<RefRawCode> codes;
};

std::string after(const std::string& line, std::string_view key) {
  return line.substr(key.size());
}

std::vector<std::string> split_children(std::string s) {
  // "[a, b]" or CircuitPython's "['a', 'b']"
  std::vector<std::string> out;
  s = s.substr(1, s.size() - 2);
  if (s.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    std::size_t comma = s.find(", ", start);
    std::string item =
        s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.size() >= 2 && (item.front() == '\'' || item.front() == '"'))
      item = item.substr(1, item.size() - 2);
    out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 2;
  }
  return out;
}

RefFile parse_d(const std::string& text) {
  RefFile f;
  bool in_qstrs = false;
  for (const std::string& l : lines_of(text)) {
    if (starts_with(l, "header: ")) {
      f.header = after(l, "header: ");
    } else if (starts_with(l, "qstr_table[")) {
      in_qstrs = true;
    } else if (in_qstrs && starts_with(l, "    ")) {
      f.qstrs.push_back(l.substr(4));
    } else if (starts_with(l, "obj_table: ")) {
      in_qstrs = false;
      f.obj_table = after(l, "obj_table: ");
    } else if (starts_with(l, "simple_name: ")) {
      f.codes.push_back({});
      f.codes.back().name = after(l, "simple_name: ");
    } else if (f.codes.empty()) {
      continue;
    } else if (starts_with(l, "  raw bytecode: ") || starts_with(l, "  raw data: ")) {
      RefRawCode& c = f.codes.back();
      c.native = starts_with(l, "  raw data: ");
      std::istringstream in(after(l, c.native ? "  raw data: " : "  raw bytecode: "));
      in >> c.length >> c.hex;
    } else if (starts_with(l, "  prelude: ")) {
      f.codes.back().prelude = after(l, "  prelude: ");
    } else if (starts_with(l, "  args: ")) {
      f.codes.back().args = after(l, "  args: ");
    } else if (starts_with(l, "  line info: ")) {
      f.codes.back().line_info = after(l, "  line info: ");
    } else if (starts_with(l, "  children: ")) {
      f.codes.back().children = split_children(after(l, "  children: "));
      f.codes.back().has_children_line = true;
    } else if (starts_with(l, "  ") && !f.codes.back().native) {
      // "  hex         MNEMONIC arg": the hex column is padded to 11 characters.
      std::string body = l.substr(2);
      std::size_t sp = body.find(' ');
      RefInstruction ins;
      ins.hex = body.substr(0, sp);
      std::size_t text_at = std::max<std::size_t>(12, sp + 1);
      ins.text = text_at < body.size() ? body.substr(text_at) : "";
      f.codes.back().instructions.push_back(ins);
    }
  }
  return f;
}

std::string args_repr(const MpyFile& f, const RawCode& rc) {
  std::string s = "[";
  for (std::size_t i = 0; i < rc.prelude.arg_names.size(); ++i) {
    if (i) s += ", ";
    s += py_str_repr(f.qstrs[rc.prelude.arg_names[i]].text);
  }
  return s + "]";
}

class DisassemblyMatchesMpyTool : public ::testing::TestWithParam<std::string> {};

TEST_P(DisassemblyMatchesMpyTool, InstructionForInstruction) {
  auto refs = files_with(GetParam(), ".mpy-tool-d.txt");
  ASSERT_GE(refs.size(), 9u) << GetParam();
  std::size_t n_instructions = 0, n_codes = 0;
  for (const auto& ref_path : refs) {
    std::string mpy_name = ref_path.filename().string();
    mpy_name.resize(mpy_name.size() - std::string("-tool-d.txt").size());
    SCOPED_TRACE(GetParam() + "/" + mpy_name);
    auto file = read_mpy_file((ref_path.parent_path() / mpy_name).string());
    ASSERT_TRUE(file) << file.error().message();
    RefFile ref = parse_d(slurp(ref_path));

    const Header& h = file->header;
    EXPECT_EQ(ref.header, fmt::format("{:02x}:{:02x}:{:02x}:{:02x}", static_cast<unsigned>(h.magic),
                                      h.version, h.feature_byte, h.small_int_bits));
    ASSERT_EQ(ref.qstrs.size(), file->qstrs.size());
    for (std::size_t i = 0; i < ref.qstrs.size(); ++i)
      EXPECT_EQ(ref.qstrs[i], file->qstrs[i].text) << i;
    std::string objs = "[";
    for (std::size_t i = 0; i < file->objs.size(); ++i)
      objs += (i ? ", " : "") + py_repr(file->objs[i]);
    EXPECT_EQ(ref.obj_table, objs + "]");

    std::vector<const RawCode*> codes;
    preorder(file->module, codes);
    ASSERT_EQ(ref.codes.size(), codes.size());
    for (std::size_t k = 0; k < codes.size(); ++k) {
      const RawCode& rc = *codes[k];
      const RefRawCode& r = ref.codes[k];
      SCOPED_TRACE("raw code " + std::to_string(k) + " " + r.name);
      ++n_codes;
      EXPECT_EQ(r.native, rc.kind != CodeKind::Bytecode);
      EXPECT_EQ(r.length, rc.data.size());
      if (rc.has_prelude) {
        EXPECT_EQ(r.name, rc.name);
        const Prelude& p = rc.prelude;
        EXPECT_EQ(r.prelude,
                  fmt::format("({}, {}, {}, {}, {}, {})", p.n_state, p.n_exc_stack, p.scope_flags,
                              p.n_pos_args, p.n_kwonly_args, p.n_def_pos_args));
        EXPECT_EQ(r.args, args_repr(*file, rc));
      }
      if (rc.kind != CodeKind::Bytecode) {
        std::span<const std::uint8_t> head(rc.data.data(),
                                           std::min<std::size_t>(32, rc.data.size()));
        EXPECT_EQ(r.hex, hex_bytes(head));
        if (r.has_children_line) {
          ASSERT_EQ(r.children.size(), rc.children.size());
        }
        continue;
      }
      EXPECT_EQ(r.hex, hex_bytes(rc.data));
      // mpy-tool's "line info" runs up to the opcodes, so it includes the closure cells.
      std::span<const std::uint8_t> li(rc.data.data() + rc.line_info_offset,
                                       rc.code_offset - rc.line_info_offset);
      EXPECT_EQ(r.line_info, hex_bytes(li));
      auto ins = decode_bytecode(*file, rc);
      ASSERT_EQ(r.instructions.size(), ins.size());
      // mpy-tool prints no offsets: they follow from the prelude length and the sizes.
      std::size_t offset = r.length;
      for (const auto& ri : r.instructions) offset -= (ri.hex.size() + 1) / 3;
      for (std::size_t i = 0; i < ins.size(); ++i) {
        SCOPED_TRACE("instruction " + std::to_string(i));
        EXPECT_EQ(offset, ins[i].offset);
        EXPECT_EQ(r.instructions[i].hex, hex_bytes({rc.data.data() + ins[i].offset, ins[i].size}));
        EXPECT_EQ(r.instructions[i].text, mnemonic(ins[i]) + " " + operand_text(*file, rc, ins[i]));
        EXPECT_FALSE(ins[i].truncated);
        offset += ins[i].size;
        ++n_instructions;
      }
      ASSERT_EQ(r.children.size(), rc.children.size());
      for (std::size_t i = 0; i < rc.children.size(); ++i) {
        if (rc.children[i].has_prelude) {
          EXPECT_EQ(r.children[i], rc.children[i].name);
        }
      }
    }
  }
  EXPECT_GT(n_instructions, 1000u);
  EXPECT_GT(n_codes, 150u);
}

INSTANTIATE_TEST_SUITE_P(V6, DisassemblyMatchesMpyTool,
                         ::testing::Values("v1.19.1", "v1.20.0", "v1.22.0", "v1.28.0", "cp-9.2.9"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           std::replace(n.begin(), n.end(), '.', '_');
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// ---- v3-v5: mpy-tool.py -f ----

// One byte of a frozen array: a value, or one half of a qstr slot named by MP_QSTR_ id.
struct Token {
  int value = -1;  // -1 for a qstr half
  std::string qstr;
  bool operator==(const Token&) const = default;
};

struct RefArray {
  std::string name;
  std::size_t declared_size = 0;
  std::vector<Token> tokens;
};

// CircuitPython 6's tool writes some opcodes by their py/bc0.h name.
int opcode_by_name(const std::string& name) {
  static const std::map<std::string, int> multi = {{"LOAD_CONST_SMALL_INT_MULTI", 0x70},
                                                   {"LOAD_FAST_MULTI", 0xb0},
                                                   {"STORE_FAST_MULTI", 0xc0},
                                                   {"UNARY_OP_MULTI", 0xd0},
                                                   {"BINARY_OP_MULTI", 0xd7}};
  if (auto it = multi.find(name); it != multi.end()) return it->second;
  const OpcodeTable& t = opcode_table(BytecodeGen::V3);
  for (int c = 0; c < 256; ++c)
    if (t.ops[c].operand != Operand::Implicit && t.ops[c].name == name) return c;
  ADD_FAILURE() << "unknown opcode name " << name;
  return -2;
}

std::vector<RefArray> parse_f(const std::string& text) {
  std::vector<RefArray> out;
  auto ls = lines_of(text);
  for (std::size_t i = 0; i < ls.size(); ++i) {
    const std::string& l = ls[i];
    if (!starts_with(l, "STATIC const byte fun_data_") &&
        !starts_with(l, "STATIC const byte bytecode_data_") &&
        !starts_with(l, "static const byte fun_data_"))
      continue;
    RefArray a;
    a.name = l.substr(18, l.find('[') - 18);
    a.declared_size = std::stoul(l.substr(l.find('[') + 1));
    for (++i; i < ls.size() && ls[i] != "};"; ++i) {
      std::istringstream in(ls[i]);
      std::string item;
      std::string s = ls[i];
      std::size_t start = 0;
      while (start < s.size()) {
        std::size_t comma = s.find(',', start);
        std::string tok =
            s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? s.size() : comma + 1;
        tok.erase(0, tok.find_first_not_of(' '));
        tok.erase(tok.find_last_not_of(' ') + 1);
        if (tok.empty()) continue;
        if (starts_with(tok, "0x")) {
          a.tokens.push_back({std::stoi(tok, nullptr, 16), {}});
        } else if (starts_with(tok, "MP_BC_")) {
          a.tokens.push_back({opcode_by_name(tok.substr(6)), {}});
        } else if (starts_with(tok, "MP_QSTR_")) {
          std::string id = tok.substr(8, tok.find(' ') - 8);
          a.tokens.push_back({-1, id});
        }
      }
    }
    out.push_back(std::move(a));
  }
  return out;
}

// makeqstrdata's escaping of a qstr into a C identifier.
std::string qstr_escape(const std::string& s) {
  static const std::map<char, std::string> names = {{'-', "hyphen"},
                                                    {' ', "space"},
                                                    {'\'', "squot"},
                                                    {',', "comma"},
                                                    {'.', "dot"},
                                                    {':', "colon"},
                                                    {';', "semicolon"},
                                                    {'/', "slash"},
                                                    {'%', "percent"},
                                                    {'#', "hash"},
                                                    {'(', "paren_open"},
                                                    {')', "paren_close"},
                                                    {'[', "bracket_open"},
                                                    {']', "bracket_close"},
                                                    {'{', "brace_open"},
                                                    {'}', "brace_close"},
                                                    {'*', "star"},
                                                    {'!', "bang"},
                                                    {'\\', "backslash"},
                                                    {'+', "plus"},
                                                    {'$', "dollar"},
                                                    {'=', "equals"},
                                                    {'?', "question"},
                                                    {'@', "at_sign"},
                                                    {'^', "caret"},
                                                    {'|', "pipe"},
                                                    {'~', "tilde"},
                                                    {'"', "quot"},
                                                    {'&', "amp"},
                                                    {'<', "lt"},
                                                    {'>', "gt"}};
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      out += c;
    } else {
      auto it = names.find(c);
      out += "_" +
             (it != names.end() ? it->second
                                : fmt::format("0x{:02x}", static_cast<unsigned char>(c))) +
             "_";
    }
  }
  return out;
}

// The raw code's data as tokens: qstr slots (prelude names and qstr operands) by name.
std::vector<Token> tokens_of(const MpyFile& f, const RawCode& rc) {
  std::vector<Token> t;
  for (std::uint8_t b : rc.data) t.push_back({b, {}});
  auto mark = [&](std::size_t at, std::uint32_t q) {
    std::string id = qstr_escape(f.qstrs.at(q).text);
    t[at] = {-1, id};
    t[at + 1] = {-1, id};
  };
  if (!rc.has_prelude) return t;
  std::size_t name_slot = rc.line_info_offset - 4;
  mark(name_slot, rc.prelude.name);
  mark(name_slot + 2, *rc.prelude.source_file);
  for (const Instruction& in : decode_bytecode(f, rc))
    if (in.info->operand == Operand::Qstr) mark(in.offset + 1, static_cast<std::uint32_t>(in.arg));
  return t;
}

class BytesMatchMpyToolFreeze : public ::testing::TestWithParam<std::string> {};

TEST_P(BytesMatchMpyToolFreeze, EveryBytecodeByte) {
  auto refs = files_with(GetParam(), ".mpy-tool-f.txt");
  ASSERT_GE(refs.size(), 7u);
  std::size_t n_bytes = 0, n_arrays = 0;
  for (const auto& ref_path : refs) {
    std::string mpy_name = ref_path.filename().string();
    mpy_name.resize(mpy_name.size() - std::string("-tool-f.txt").size());
    SCOPED_TRACE(GetParam() + "/" + mpy_name);
    auto file = read_mpy_file((ref_path.parent_path() / mpy_name).string());
    ASSERT_TRUE(file) << file.error().message();
    auto arrays = parse_f(slurp(ref_path));
    std::vector<const RawCode*> codes;
    postorder(file->module, codes);
    if (arrays.empty()) {
      // The v1.11 tool cannot read native code (its output is a traceback): the reader must.
      EXPECT_EQ(GetParam(), "v1.11");
      EXPECT_NE(slurp(ref_path).find("AttributeError"), std::string::npos);
      continue;
    }
    ASSERT_EQ(arrays.size(), codes.size());
    for (std::size_t k = 0; k < codes.size(); ++k) {
      const RawCode& rc = *codes[k];
      SCOPED_TRACE(arrays[k].name);
      ASSERT_EQ(arrays[k].declared_size, rc.data.size());
      ++n_arrays;
      if (rc.kind != CodeKind::Bytecode)
        continue;  // native code: lengths only (its qstrs are linked)
      ASSERT_EQ(arrays[k].tokens.size(), rc.data.size());
      auto mine = tokens_of(*file, rc);
      for (std::size_t i = 0; i < mine.size(); ++i) {
        const Token& want = arrays[k].tokens[i];
        if (want.value < 0 && mine[i].value < 0 && mine[i].qstr.find("_0x") != std::string::npos)
          continue;
        ASSERT_EQ(want.value, mine[i].value) << "byte " << i;
        ASSERT_EQ(want.qstr, mine[i].qstr) << "byte " << i;
      }
      n_bytes += mine.size();
      // The opcodes decode exactly up to the end of the data.
      auto ins = decode_bytecode(*file, rc);
      ASSERT_FALSE(ins.empty());
      EXPECT_FALSE(ins.back().truncated);
      EXPECT_EQ(ins.back().offset + ins.back().size, rc.data.size());
    }
  }
  EXPECT_GT(n_bytes, 5000u);
  EXPECT_GT(n_arrays, 100u);
}

INSTANTIATE_TEST_SUITE_P(V3toV5, BytesMatchMpyToolFreeze,
                         ::testing::Values("v1.9.4", "cp-6.3.0", "v1.11", "v1.12", "v1.18",
                                           "cp-8.2.10"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           std::replace(n.begin(), n.end(), '.', '_');
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace mpheap::mpy
