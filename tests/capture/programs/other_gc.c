/* Collector functions with another signature than MicroPython's (gc_alloc without its flags):
 * `mpheap capture trace` must refuse to trace them without the hook, naming the one it knows. */
#include <stdlib.h>
__attribute__((noinline)) void *gc_alloc(unsigned long n) { return malloc(n); }
__attribute__((noinline)) void gc_free(void *p) { free(p); }
__attribute__((noinline)) void gc_collect_end(void) {}
int main(void) {
  gc_free(gc_alloc(8));
  gc_collect_end();
  return 0;
}
