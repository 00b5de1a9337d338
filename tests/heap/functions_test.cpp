// Functions defined in Python, named from their bytecode: name, source file and the lines their
// statements span (the prelude's line table), checked against the fixture workloads' source.
#include "mpheap/heap/functions.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>

#include "heap/snapshot_fixture.h"

namespace mpheap::heap {
namespace {

using Lines = std::tuple<std::string, std::uint32_t, std::uint32_t>;  // file, first, last

std::map<std::string, Lines> by_name(const std::vector<FunctionInfo>& functions) {
  std::map<std::string, Lines> out;
  for (const FunctionInfo& f : functions) {
    EXPECT_FALSE(f.name.empty()) << "function at 0x" << std::hex << f.object;
    out[f.name] = {f.source_file, f.first_line, f.last_line};
  }
  return out;
}

// unix-x64/workload_a.py (MicroPython 1.28: compressed prelude, qstr table of the module):
// Sprite.__init__'s body is lines 14-16, move's 19-20, make_counter's 27-33 with its inner
// counter at 30-31, the generator function squares (an mp_type_gen_wrap object) 41-42, and
// the module's statements run from `import gc` (2) to the last mem_info call (54).
TEST(Functions, UnixWorkloadNamesAndLines) {
  auto l = testing::load_fixture_snapshot(
      "unix-x64", false, "rom_qstrs.txt",
      {"snap2_mp_state_ctx.bin@0x5555555f2440", "snap2_heap.bin@0x5555555f32d0"});
  ObjectReader reader(l.t, l.ram, l.snap);
  std::vector<FunctionInfo> functions = name_objects(l.snap, reader, l.t);
  auto f = by_name(functions);
  ASSERT_EQ(functions.size(), 6u);
  EXPECT_EQ(f["<module>"], Lines("workload_a.py", 2, 54));
  EXPECT_EQ(f["__init__"], Lines("workload_a.py", 14, 16));
  EXPECT_EQ(f["move"], Lines("workload_a.py", 19, 20));
  EXPECT_EQ(f["make_counter"], Lines("workload_a.py", 27, 33));
  EXPECT_EQ(f["counter"], Lines("workload_a.py", 30, 31));
  EXPECT_EQ(f["squares"], Lines("workload_a.py", 41, 42));
  for (const FunctionInfo& fn : functions) {
    if (fn.name == "__init__") {
      EXPECT_EQ(fn.arg_names, (std::vector<std::string>{"self", "name", "x", "y"}));
      EXPECT_EQ(fn.n_pos_args, 4u);
    }
    if (fn.name == "make_counter") {
      EXPECT_EQ(fn.object, 0x5555555f3dc0u);  // globals' value
    }
    // Its bytecode block is labelled as such.
    const HeapObject* bc = reader.object_at(fn.bytecode);
    ASSERT_NE(bc, nullptr) << fn.name;
    EXPECT_EQ(l.snap.type_name(*bc), "bytecode") << fn.name;
    const HeapObject* obj = reader.object_at(fn.object);
    ASSERT_NE(obj, nullptr);
    EXPECT_EQ(l.snap.function_name(*obj), describe(fn));
  }
  EXPECT_EQ(reader.repr(0x5555555f3dc0), "<function make_counter at 0x5555555f3dc0>");

  // What the functions point at: the module context (its globals are __main__'s), the module's
  // qstr table (source file first, then "<module>"), and child tables of raw codes.
  auto type_at = [&](std::uint64_t a) {
    const HeapObject* o = reader.object_at(a);
    return o != nullptr && o->address == a ? l.snap.type_name(*o) : std::string("(none)");
  };
  EXPECT_EQ(type_at(0x5555555f3980), "module context");
  EXPECT_EQ(type_at(0x5555555f57a0), "qstr table");
  auto q0 = reader.bytes(0x5555555f57a0, 4);
  ASSERT_TRUE(q0);
  auto qstr16 = [&](std::size_t i) {
    return static_cast<std::uint64_t>(static_cast<std::uint8_t>((*q0)[2 * i]) |
                                      (static_cast<std::uint8_t>((*q0)[2 * i + 1]) << 8));
  };
  EXPECT_EQ(reader.qstr(qstr16(0)), "workload_a.py");
  EXPECT_EQ(reader.qstr(qstr16(1)), "<module>");
  // <module> defines Sprite, make_counter and squares: three raw codes whose bytecode is that
  // of the live functions; make_counter's own child table holds counter's raw code.
  EXPECT_EQ(type_at(0x5555555f3ea0), "child table");
  for (std::uint64_t rc : {0x5555555f39a0u, 0x5555555f3ba0u, 0x5555555f3c20u})
    EXPECT_EQ(type_at(rc), "raw code") << std::hex << rc;
  EXPECT_EQ(reader.read_word(0x5555555f3ba0 + 8), 0x5555555f5200u);  // make_counter's bytecode
  EXPECT_EQ(reader.read_word(0x5555555f3c20 + 8), 0x5555555f5360u);  // squares'
  EXPECT_EQ(type_at(0x5555555f51e0), "child table");
  EXPECT_EQ(type_at(0x5555555f3a80), "raw code");
  EXPECT_EQ(reader.read_word(0x5555555f3a80 + 8), 0x5555555f5780u);  // counter's bytecode
  // Sprite's class body is no live function, but its raw code names its bytecode.
  EXPECT_EQ(type_at(0x5555555f4d40), "bytecode");
  // TAGS = {'red', 'green', 'blue'}: the set's table; BIG = 2 ** 100 + 12345: its digits.
  EXPECT_EQ(type_at(0x5555555f3fe0), "set table");
  EXPECT_EQ(type_at(0x5555555f4d00), "int digits");
}

// circuitpython-unix/workload.py (CircuitPython 10): Sprite.__init__ 18-20, move 23-24, the
// module from `import gc` (3) to the last print (70). Its other functions were collected.
TEST(Functions, CircuitPythonWorkloadNamesAndLines) {
  auto l = testing::load_fixture_snapshot(
      "circuitpython-unix", false, "rom_qstrs.txt",
      {"snap2_mp_state_ctx.bin@0x5555555de3a0", "snap2_heap.bin@0x5555555df2d0"});
  ObjectReader reader(l.t, l.ram, l.snap);
  std::vector<FunctionInfo> functions = name_objects(l.snap, reader, l.t);
  auto f = by_name(functions);
  ASSERT_EQ(functions.size(), 3u);
  EXPECT_EQ(f["<module>"], Lines("workload.py", 3, 70));
  EXPECT_EQ(f["__init__"], Lines("workload.py", 18, 20));
  EXPECT_EQ(f["move"], Lines("workload.py", 23, 24));
  EXPECT_EQ(describe(functions[1]), "move (workload.py, lines 23-24)");
}

// qemu-microbit (MicroPython 1.28, the workload frozen into flash): the bytecode is not in the
// RAM dump, so the functions stay unnamed, but the module context the compiler allocated for
// the frozen module ({module NULL, __main__'s globals, constants}, which every function object
// points at) is labelled, and with it every block of snap2 has a type.
TEST(Functions, FrozenCodeKeepsItsModuleContextLabelled) {
  auto l = testing::load_fixture_snapshot("qemu-microbit", true, "qstr_static.txt",
                                          {"snap2_ram.bin@0x20000000"});
  ObjectReader reader(l.t, l.ram, l.snap);
  std::vector<FunctionInfo> functions = name_objects(l.snap, reader, l.t);
  EXPECT_EQ(functions.size(), 6u);
  for (const FunctionInfo& f : functions) EXPECT_TRUE(f.name.empty()) << f.name;
  const HeapObject* context = reader.object_at(0x20000470);
  ASSERT_NE(context, nullptr);
  EXPECT_EQ(l.snap.type_name(*context), "module context");
  EXPECT_EQ(reader.read_word(0x20000474), 0x2000006cu);  // &mp_state_ctx.vm.dict_main
  for (const HeapObject& o : l.snap.objects)
    EXPECT_FALSE(l.snap.type_name(o).empty()) << std::hex << o.address;
}

}  // namespace
}  // namespace mpheap::heap
