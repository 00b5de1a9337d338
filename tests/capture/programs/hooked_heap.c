/* A tiny heap with MicroPython's GC hook: gc_log_change(start_block, length) is called by
 * gc_alloc, gc_free, gc_sweep and gc_realloc in a fixed pattern from a few call chains, so that
 * a log of its calls has known counts (tests/capture/trace_e2e_test.cpp checks them):
 *   allocs 12 (build_a 4 x 2 blocks, build_b 3 x 3 blocks via helper_b, make_garbage 5 x 1),
 *   frees 2 (drop_a), sweeps 5 (gc_collect), reallocs 1 (grow_b: 3 -> 5 blocks in place);
 *   live at the end: 5 allocations, 15 blocks (build_a 4, helper_b 6, grow_b 5).
 * Built with -g -O0 by the test and run under gdbserver; program_done is the end marker.
 * With the argument "loop" it then allocates and frees one block every millisecond for at most
 * 20 seconds (the Ctrl-C test, which also kills it). With "idle" it first sleeps 30 seconds
 * without calling the hook (a target that never stops); with "bench N" it makes N more
 * allocations and frees after the pattern (bench/run_native_trace_bench.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCKS 64
enum { FREE = 0, HEAD = 1, TAIL = 2 };

static unsigned char table[BLOCKS];
static unsigned char keep[BLOCKS];
volatile unsigned gc_log_sink;

__attribute__((noinline)) void gc_log_change(unsigned start_block, unsigned length) {
  gc_log_sink = start_block;
  gc_log_sink += length;
}

static unsigned run_length(unsigned start) {
  unsigned n = 1;
  while (start + n < BLOCKS && table[start + n] == TAIL) ++n;
  return n;
}

__attribute__((noinline)) unsigned gc_alloc(unsigned n) {
  for (unsigned start = 0; start + n <= BLOCKS; ++start) {
    unsigned i = 0;
    while (i < n && table[start + i] == FREE) ++i;
    if (i == n) {
      table[start] = HEAD;
      for (i = 1; i < n; ++i) table[start + i] = TAIL;
      keep[start] = 1;
      gc_log_change(start, n);
      return start;
    }
  }
  return BLOCKS;
}

__attribute__((noinline)) void gc_free(unsigned start) {
  unsigned n = run_length(start);
  for (unsigned i = 0; i < n; ++i) table[start + i] = FREE;
  gc_log_change(start, 0);
}

__attribute__((noinline)) unsigned gc_realloc(unsigned start, unsigned n) {
  unsigned old = run_length(start);
  for (unsigned i = old; i < n; ++i) table[start + i] = TAIL;
  gc_log_change(start, n);
  return start;
}

__attribute__((noinline)) void gc_sweep(void) {
  for (unsigned b = 0; b < BLOCKS; ++b) {
    if (table[b] == HEAD && !keep[b]) {
      unsigned n = run_length(b);
      for (unsigned i = 0; i < n; ++i) table[b + i] = FREE;
      gc_log_change(b, 0);
    }
  }
}

__attribute__((noinline)) void gc_collect(void) { gc_sweep(); }

__attribute__((noinline)) unsigned m_malloc(unsigned n) { return gc_alloc(n); }
__attribute__((noinline)) void m_free(unsigned b) { gc_free(b); }
__attribute__((noinline)) unsigned m_realloc(unsigned b, unsigned n) { return gc_realloc(b, n); }

static unsigned a[4], b[3];

__attribute__((noinline)) void build_a(void) {
  for (int i = 0; i < 4; ++i) a[i] = m_malloc(2);
}

__attribute__((noinline)) unsigned helper_b(void) { return m_malloc(3); }

__attribute__((noinline)) void build_b(void) {
  for (int i = 0; i < 3; ++i) b[i] = helper_b();
}

__attribute__((noinline)) void drop_a(void) {
  m_free(a[0]);
  m_free(a[1]);
}

__attribute__((noinline)) void grow_b(void) { b[2] = m_realloc(b[2], 5); }

__attribute__((noinline)) void make_garbage(void) {
  for (int i = 0; i < 5; ++i) keep[m_malloc(1)] = 0;
}

__attribute__((noinline)) void program_done(void) { gc_log_sink = 0; }

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "idle") == 0) sleep(30); /* a target that never stops */
  build_a();
  build_b();
  drop_a();
  grow_b();
  make_garbage();
  gc_collect();
  program_done();
  printf("hooked_heap done\n");
  /* "bench N": N more allocations and frees, as fast as the tracer lets them run. */
  for (long i = 0, n = argc > 2 && strcmp(argv[1], "bench") == 0 ? atol(argv[2]) : 0; i < n; ++i)
    m_free(m_malloc(1 + (unsigned)(i % 3)));
  for (int i = 0; argc > 1 && strcmp(argv[1], "loop") == 0 && i < 20000; ++i) {
    m_free(m_malloc(1));
    usleep(1000);
  }
  return 0;
}
