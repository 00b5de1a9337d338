// The Python function a running bytecode frame executes, and its line, read from target memory:
// mp_execute_bytecode's code_state {fun_bc, ip, ..., n_state, ..., state[]}, the function
// object {base, module context, child_table, bytecode}, the bytecode's prelude and code info
// (heap/code_info) and the qstrs that name the function and its file (ROM qstrs from the
// target, the others from the qstr pools in RAM, found from mp_state_ctx.vm.last_pool).
//
// What was read of a function object and its bytecode is kept by the object's address: the
// collector keeps a running function's object alive, and the tracer tells the reader of every
// block freed (forget), so a later object at the same address is read afresh. qstrs never
// change once interned.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "mpheap/heap/code_info.h"
#include "mpheap/target/target.h"

namespace mpheap::heap {

// Reads `size` bytes at `address` into `out`; false when it cannot.
using MemoryRead = std::function<bool(std::uint64_t address, std::size_t size, std::uint8_t* out)>;

struct PythonFrame {
  std::string function;  // "squares", "<module>"; "" when not resolved
  std::string file;      // "workload.py", "<stdin>"
  std::uint32_t line = 0;
  std::string missing;  // why the frame is not resolved ("fun_bc not readable at 0x...")
  // The frame's state: state[0 .. n_state) (value stack from the bottom, locals from the top:
  // local i is state[n_state - 1 - i]).
  std::uint64_t code_state = 0;
  std::uint64_t state = 0;  // address of state[0]
  std::uint32_t n_state = 0;
  std::vector<std::string> arg_names;  // since 1.19: the positional then keyword-only ones
  [[nodiscard]] bool resolved() const { return missing.empty(); }
  // "squares (workload.py:47)" or "?? (why)".
  [[nodiscard]] std::string describe() const;
  // What state slot `address` is: "local `self`" (an argument), "a local or temporary"; "" when
  // it is not in this frame's state.
  [[nodiscard]] std::string slot(std::uint64_t address, std::uint32_t word_size) const;
};

class PythonFrameReader {
 public:
  PythonFrameReader(const target::Target& t, std::uint64_t load_bias);

  // The frame whose mp_code_state_t is at `code_state` (run-time address).
  PythonFrame frame(std::uint64_t code_state, const MemoryRead& read);

  // The block at `address` was freed: forget what was read from a function object there.
  void forget(std::uint64_t address);

  // Memory reads made so far (each call of `read`).
  [[nodiscard]] std::uint64_t reads() const { return reads_; }

 private:
  struct Function {
    std::string name, file;
    CodeInfo info;
    std::vector<std::uint8_t> bytes;  // the bytecode from its start to the first opcode
    std::uint64_t bytecode = 0;
    std::vector<std::string> arg_names;
    std::string missing;
  };
  Function read_function(std::uint64_t fun_bc, const MemoryRead& read);
  // The qstr pools in RAM, newest first (read once per function read).
  struct Pool {
    std::uint64_t address = 0, first = 0, len = 0, lengths = 0;
  };
  const std::vector<Pool>& pools(const MemoryRead& read);
  std::optional<std::string> qstr(std::uint64_t id, const MemoryRead& read);
  std::optional<std::uint64_t> word(std::uint64_t address, const MemoryRead& read);
  bool bytes(std::uint64_t address, std::size_t n, std::uint8_t* out, const MemoryRead& read);

  const target::Target& t_;
  std::uint64_t bias_ = 0;
  std::unordered_map<std::uint64_t, Function> functions_;  // by function object address
  std::unordered_map<std::uint64_t, std::string> qstrs_;   // qstrs from the pools in RAM
  std::vector<Pool> pools_;
  bool pools_read_ = false;
  std::uint64_t reads_ = 0;
};

}  // namespace mpheap::heap
