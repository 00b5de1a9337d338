// libFuzzer target for the Python frame reader (heap/python_frames): target memory is outside
// data, read at every stop of a native trace and in snapshots. The input is the memory at
// 0x20000 (mp_state_ctx first, so vm.last_pool is its first word); its first byte picks the word
// size and where the code_state is. Every answer is a frame or a reason, never a crash or a
// hang, and a resolved frame has a name and a line.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "mpheap/heap/python_frames.h"
#include "mpheap/target/target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  constexpr std::uint64_t kBase = 0x20000;
  mpheap::target::Target t;
  t.word_size = (data[0] & 1) != 0 ? 8 : 4;
  const std::uint64_t W = t.word_size;
  t.mp_state_ctx = kBase;
  t.state.vm_last_pool = 0;
  mpheap::target::QstrPoolLayout& q = t.qstr_pool;  // the 1.19+ layout
  q.prev = 0;
  q.total_prev_len = W;
  q.alloc = 2 * W;
  q.len = 3 * W;
  q.hashes = 4 * W;
  q.lengths = 5 * W;
  q.qstrs = 6 * W;
  q.size = 6 * W;
  t.rom_qstrs = {"", "__main__", "<module>", "f", "<stdin>"};
  t.finalize();
  const std::uint8_t* memory = data + 1;
  const std::size_t n = size - 1;
  std::uint64_t reads = 0;
  mpheap::heap::MemoryRead read = [&](std::uint64_t a, std::size_t len, std::uint8_t* out) {
    ++reads;
    if (a < kBase || a - kBase > n || len > n - (a - kBase)) return false;
    std::memcpy(out, memory + (a - kBase), len);
    return true;
  };
  mpheap::heap::PythonFrameReader reader(t, 0);
  const std::uint64_t code_state = kBase + ((data[0] >> 1) * W) % n;
  for (int pass = 0; pass < 2; ++pass) {
    mpheap::heap::PythonFrame f = reader.frame(code_state, read);
    if (f.resolved() && (f.function.empty() || f.line == 0)) __builtin_trap();
    if (!f.resolved() && f.missing.empty()) __builtin_trap();
    (void)f.describe();
    (void)f.slot(f.state, t.word_size);
    (void)f.slot(f.state + 3 * W, t.word_size);
    if (pass == 0) reader.forget(kBase);
  }
  // Bounded work. Per function read: a few words, at most 9 reads of its prelude, at most 65 pool
  // headers, and 4 reads per distinct qstr index it names (the name and at most 158 argument
  // names): under 1,000. Two passes here.
  if (reads > 2000) __builtin_trap();
  return 0;
}
