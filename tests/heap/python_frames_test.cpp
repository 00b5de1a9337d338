// The Python frame reader on memory laid out as MicroPython 1.19+ lays it out (32-bit, little
// endian): a code_state, its function object, module context, qstr table, bytecode with a
// compressed prelude and line table, and a qstr pool in RAM. The end-to-end tests check it on
// real firmware (tests/capture/native_trace_e2e_test.cpp); these pin each path and its reasons.
#include "mpheap/heap/python_frames.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

namespace mpheap::heap {
namespace {

constexpr std::uint64_t kBase = 0x20000;

class PythonFrames : public ::testing::Test {
 protected:
  void SetUp() override {
    t_.word_size = 4;
    t_.mp_state_ctx = kBase;
    t_.state.vm_last_pool = 0;
    target::QstrPoolLayout& q = t_.qstr_pool;
    q.prev = 0;
    q.total_prev_len = 4;
    q.alloc = 8;
    q.len = 12;
    q.hashes = 16;
    q.lengths = 20;
    q.qstrs = 24;
    q.size = 24;
    t_.rom_qstrs = {"", "__main__", "<module>", "f", "<stdin>"};
    t_.finalize();
    mem_.assign(0x200, 0);
    // code_state at +0x40: {fun_bc, ip, sp, n_state = 3, exc_sp_idx, old_globals, state[3]}.
    word(0x40, kBase + 0x80);
    word(0x44, kBase + 0xC0 + 6 + 3);  // 3 bytes past the first opcode
    mem_[0x4C] = 3;
    // The function object {base, context, child_table, bytecode} and its module context
    // {module, globals, qstr table}.
    word(0x84, kBase + 0xA0);
    word(0x8C, kBase + 0xC0);
    word(0xA8, kBase + 0x100);
    // Bytecode: signature (n_state 1, one positional argument), size (4 bytes of code info),
    // the name (qstr table entry 1), the argument's name (entry 2), the line table: 2 bytes of
    // code on line 1, then +3 lines, then the end.
    const std::uint8_t bytecode[] = {0x01, 0x08, 0x01, 0x02, 0x62, 0x00};
    std::memcpy(&mem_[0xC0], bytecode, sizeof bytecode);
    // The module's qstr table: its file, the function's name, the argument's name.
    half(0x100, 4);
    half(0x102, 3);
    half(0x104, 0x40);  // a qstr interned at run time: in the pool in RAM
  }
  void word(std::size_t at, std::uint64_t v) {
    for (int i = 0; i < 4; ++i) mem_[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  void half(std::size_t at, std::uint64_t v) {
    mem_[at] = static_cast<std::uint8_t>(v);
    mem_[at + 1] = static_cast<std::uint8_t>(v >> 8);
  }
  // A pool in RAM holding qstr 0x40 ("count"): mp_state_ctx.vm.last_pool points at it.
  void add_pool() {
    word(0x00, kBase + 0x140);
    word(0x144, 0x40);           // total_prev_len
    word(0x148, 4);              // alloc
    word(0x14C, 1);              // len
    word(0x154, kBase + 0x160);  // lengths
    word(0x158, kBase + 0x170);  // qstrs[0]
    mem_[0x160] = 5;
    std::memcpy(&mem_[0x170], "count", 5);
  }
  MemoryRead reader() {
    return [this](std::uint64_t a, std::size_t n, std::uint8_t* out) {
      ++reads_;
      if (a < kBase || a - kBase + n > mem_.size()) return false;
      std::memcpy(out, &mem_[a - kBase], n);
      return true;
    };
  }
  target::Target t_;
  std::vector<std::uint8_t> mem_;
  int reads_ = 0;
};

TEST_F(PythonFrames, NamesTheFunctionFileAndLine) {
  add_pool();
  PythonFrameReader r(t_, 0);
  PythonFrame f = r.frame(kBase + 0x40, reader());
  ASSERT_TRUE(f.resolved()) << f.missing;
  EXPECT_EQ(f.function, "f");
  EXPECT_EQ(f.file, "<stdin>");
  EXPECT_EQ(f.line, 4u);  // offset 3 is past the first step (2 bytes): 1 + 3
  EXPECT_EQ(f.describe(), "f (<stdin>:4)");
  EXPECT_EQ(f.arg_names, std::vector<std::string>{"count"});
  // state[] after the 5-word header: local 0 (the argument) is the top slot.
  EXPECT_EQ(f.state, kBase + 0x40 + 20);
  EXPECT_EQ(f.n_state, 3u);
  EXPECT_EQ(f.slot(f.state + 8, 4), "argument `count`");
  EXPECT_EQ(f.slot(f.state, 4), "a local or temporary");
  EXPECT_EQ(f.slot(f.state + 12, 4), "");
  EXPECT_EQ(f.slot(f.state + 2, 4), "");
}

TEST_F(PythonFrames, LineOfTheFirstStep) {
  word(0x44, kBase + 0xC0 + 6 + 1);  // inside the first 2 bytes of code
  add_pool();
  PythonFrameReader r(t_, 0);
  EXPECT_EQ(r.frame(kBase + 0x40, reader()).line, 1u);
}

TEST_F(PythonFrames, KeepsWhatItReadUntilTheBlockIsFreed) {
  add_pool();
  PythonFrameReader r(t_, 0);
  ASSERT_TRUE(r.frame(kBase + 0x40, reader()).resolved());
  const int first = reads_;
  // The same function again: only the code_state is read.
  ASSERT_TRUE(r.frame(kBase + 0x40, reader()).resolved());
  EXPECT_EQ(reads_ - first, 1);
  // The function object's block is freed and another function takes its place: read afresh.
  r.forget(kBase + 0x80);
  half(0x102, 2);  // now named "<module>"
  const int before = reads_;
  PythonFrame f = r.frame(kBase + 0x40, reader());
  EXPECT_GT(reads_ - before, 1);
  EXPECT_EQ(f.function, "<module>");
}

TEST_F(PythonFrames, SaysWhyWhenItCannot) {
  PythonFrameReader r(t_, 0);
  // The argument's name is a qstr of a pool that is not there: the code info does not check out.
  PythonFrame no_pool = r.frame(kBase + 0x40, reader());
  EXPECT_TRUE(no_pool.resolved()) << no_pool.missing;  // an argument name is not required
  EXPECT_EQ(no_pool.arg_names, std::vector<std::string>{"?"});
  EXPECT_EQ(r.frame(kBase + 0x1000, reader()).missing, "code_state 0x21000 not readable");
  // ip before the function's first opcode.
  add_pool();
  word(0x44, kBase + 0xC0);
  PythonFrameReader r2(t_, 0);
  PythonFrame f = r2.frame(kBase + 0x40, reader());
  EXPECT_FALSE(f.resolved());
  EXPECT_EQ(f.missing, "ip 0x200c0 is not in the bytecode of f at 0x200c0");
  // A prelude that does not decode: the name's table entry is past the qstrs there are.
  half(0x102, 0x7fff);
  word(0x44, kBase + 0xC9);
  PythonFrameReader r3(t_, 0);
  PythonFrame g = r3.frame(kBase + 0x40, reader());
  EXPECT_EQ(g.missing, "the prelude of bytecode 0x200c0 does not decode");
  // A function object that cannot be read.
  word(0x40, 0x90000);
  PythonFrameReader r4(t_, 0);
  EXPECT_EQ(r4.frame(kBase + 0x40, reader()).missing, "function object 0x90000 not readable");
}

}  // namespace
}  // namespace mpheap::heap
