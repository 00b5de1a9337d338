/* A test program of mpheap (not MicroPython code): globals shaped like the state of a
 * MicroPython build with a split heap (areas chained by `next`), weak references and a
 * CircuitPython-style collect table. Hash and length typedefs have other sizes than the
 * defaults (1-byte hashes, 2-byte lengths); two ROM pools (static -> const), no frozen pool;
 * mp_state_ctx is volatile. */
#include <stddef.h>
#include <stdint.h>

#include "facts.h"

typedef uint8_t byte;
typedef uint8_t qstr_hash_t;
typedef uint16_t qstr_len_t;
typedef void *mp_obj_t;

struct _mp_obj_type_t;
typedef struct _mp_obj_base_t {
  const struct _mp_obj_type_t *type;
} mp_obj_base_t;

typedef struct _mp_obj_type_t {
  mp_obj_base_t base;
  uint16_t flags;
  uint16_t name;
  uint8_t slot_index_make_new;
  uint8_t slot_index_print;
  const void *slots[];
} mp_obj_type_t;

typedef struct _mp_map_t {
  size_t all_keys_are_qstrs : 1;
  size_t used : (8 * sizeof(size_t) - 1);
  size_t alloc;
  void *table;
} mp_map_t;

typedef struct _mp_obj_dict_t {
  mp_obj_base_t base;
  mp_map_t map;
} mp_obj_dict_t;

typedef struct _qstr_pool_t {
  const struct _qstr_pool_t *prev;
  size_t total_prev_len : (8 * sizeof(size_t) - 1);
  size_t is_sorted : 1;
  size_t alloc;
  size_t len;
  qstr_hash_t *hashes;
  qstr_len_t *lengths;
  const char *qstrs[];
} qstr_pool_t;

typedef struct _mp_state_mem_area_t {
  struct _mp_state_mem_area_t *next;
  byte *gc_alloc_table_start;
  size_t gc_alloc_table_byte_len;
  byte *gc_finaliser_table_start;
  byte *gc_weakref_table_start;
  byte *gc_collect_table_start;
  byte *gc_pool_start;
  byte *gc_pool_end;
  size_t gc_last_free_atb_index;
  size_t gc_last_used_block;
} mp_state_mem_area_t;

typedef struct _mp_state_mem_t {
  size_t total_bytes_allocated;
  size_t current_bytes_allocated;
  size_t peak_bytes_allocated;
  mp_state_mem_area_t area;
  mp_state_mem_area_t *gc_last_free_area;
  int gc_stack_overflow;
  size_t gc_block_stack[8];
  uint16_t gc_auto_collect_enabled;
} mp_state_mem_t;

typedef struct _mp_state_thread_t {
  char *stack_top;
  size_t stack_limit;
  uint16_t gc_lock_depth;
  volatile mp_obj_t mp_pending_exception;
} mp_state_thread_t;

typedef struct _mp_state_vm_t {
  qstr_pool_t *last_pool;
  mp_obj_t mp_emergency_exception_buf[3];
  mp_obj_dict_t mp_loaded_modules_dict;
  union {
    uint32_t sched_word;
    uint8_t sched_bytes[4];
  } sched;
  mp_obj_dict_t dict_main;
  const char *readline_hist[4];
} mp_state_vm_t;

typedef struct _mp_state_ctx_t {
  mp_state_thread_t thread;
  mp_state_vm_t vm;
  mp_state_mem_t mem;
} mp_state_ctx_t;

typedef mp_state_ctx_t mp_state_ctx_alias_t;

volatile mp_state_ctx_t mp_state_ctx;
byte gc_heap[1024];
uint32_t gc_log_counts[4];
int initialised_counter = 7;

/* The qstrs: id, string, 8-bit hash (MicroPython's djb2-xor, computed offline). */
#define STATIC_QSTRS(X)              \
  X(null, "", 0x05)                \
  X(empty, "", 0x05)               \
  X(__dir__, "__dir__", 0x7a)      \
  X(newline, "\n", 0xaf)           \
  X(list, "list", 0x27)            \
  X(dict, "dict", 0x3f)            \
  X(int, "int", 0x16)              \
  X(type, "type", 0x9d)
#define CONST_QSTRS(X)               \
  X(object, "object", 0x90)        \
  X(OrderedDict, "OrderedDict", 0xf0) \
  X(bytearray, "bytearray", 0x76)  \
  X(hello_world, "hello world", 0x45)

#define QENUM(id, s, h) MP_QSTR_##id,
#define QHASH(id, s, h) h,
#define QLEN(id, s, h) sizeof(s) - 1,
#define QSTR(id, s, h) s,
#define QCOUNT(id, s, h) +1

enum { STATIC_QSTRS(QENUM) CONST_QSTRS(QENUM) };
enum { N_STATIC = 0 STATIC_QSTRS(QCOUNT), N_CONST = 0 CONST_QSTRS(QCOUNT) };

const qstr_hash_t mp_qstr_const_hashes_static[] = {STATIC_QSTRS(QHASH)};
const qstr_len_t mp_qstr_const_lengths_static[] = {STATIC_QSTRS(QLEN)};
const qstr_pool_t mp_qstr_const_pool_static = {
    NULL,
    0,
    1,
    N_STATIC,
    N_STATIC,
    (qstr_hash_t *)mp_qstr_const_hashes_static,
    (qstr_len_t *)mp_qstr_const_lengths_static,
    {STATIC_QSTRS(QSTR)}};

const qstr_hash_t mp_qstr_const_hashes[] = {CONST_QSTRS(QHASH)};
const qstr_len_t mp_qstr_const_lengths[] = {CONST_QSTRS(QLEN)};
const qstr_pool_t mp_qstr_const_pool = {&mp_qstr_const_pool_static,
                                        N_STATIC,
                                        1,
                                        N_CONST,
                                        N_CONST,
                                        (qstr_hash_t *)mp_qstr_const_hashes,
                                        (qstr_len_t *)mp_qstr_const_lengths,
                                        {CONST_QSTRS(QSTR)}};

/* Type objects: some with slots (bigger than the struct), one static, one not named
 * mp_type_*, and a decoy named like a type that is not one. */
extern const mp_obj_type_t mp_type_type;
const mp_obj_type_t mp_type_type = {{&mp_type_type}, 0, MP_QSTR_type, 0, 0};
const mp_obj_type_t mp_type_list = {{&mp_type_type}, 0, MP_QSTR_list, 1, 0, {(const void *)&gc_heap}};
const mp_obj_type_t mp_type_dict = {{&mp_type_type}, 1, MP_QSTR_dict, 1, 2, {0, 0}};
const mp_obj_type_t mp_type_int = {{&mp_type_type}, 0, MP_QSTR_int, 0, 0};
static const mp_obj_type_t mp_type_ordereddict __attribute__((used)) = {
    {&mp_type_type}, 0, MP_QSTR_OrderedDict, 0, 0};
const mp_obj_type_t machine_pin_type = {{&mp_type_type}, 0, MP_QSTR_object, 0, 0};
int mp_type_fake_counter = 3;

const uint32_t layout_facts[FACT_COUNT] = {
    [FACT_CTX_SIZE] = sizeof(mp_state_ctx_t),
    [FACT_MEM_AREA] = offsetof(mp_state_ctx_t, mem.area),
    [FACT_AREA_SIZE] = sizeof(mp_state_mem_area_t),
    [FACT_AREA_ALLOC_TABLE_START] = offsetof(mp_state_mem_area_t, gc_alloc_table_start),
    [FACT_AREA_ALLOC_TABLE_BYTE_LEN] = offsetof(mp_state_mem_area_t, gc_alloc_table_byte_len),
    [FACT_AREA_FINALISER_TABLE_START] = offsetof(mp_state_mem_area_t, gc_finaliser_table_start),
    [FACT_AREA_WEAKREF_TABLE_START] = offsetof(mp_state_mem_area_t, gc_weakref_table_start),
    [FACT_AREA_COLLECT_TABLE_START] = offsetof(mp_state_mem_area_t, gc_collect_table_start),
    [FACT_AREA_POOL_START] = offsetof(mp_state_mem_area_t, gc_pool_start),
    [FACT_AREA_POOL_END] = offsetof(mp_state_mem_area_t, gc_pool_end),
    [FACT_AREA_NEXT] = offsetof(mp_state_mem_area_t, next),
    [FACT_VM_LAST_POOL] = offsetof(mp_state_ctx_t, vm.last_pool),
    [FACT_VM_DICT_MAIN] = offsetof(mp_state_ctx_t, vm.dict_main),
    [FACT_VM_LOADED_MODULES_DICT] = offsetof(mp_state_ctx_t, vm.mp_loaded_modules_dict),
    [FACT_THREAD_STACK_TOP] = offsetof(mp_state_ctx_t, thread.stack_top),
    [FACT_POOL_SIZE] = sizeof(qstr_pool_t),
    [FACT_POOL_PREV] = offsetof(qstr_pool_t, prev),
    /* total_prev_len is a bit field: its storage unit is the size_t after prev. */
    [FACT_POOL_TOTAL_PREV_LEN] = offsetof(qstr_pool_t, prev) + sizeof(void *),
    [FACT_POOL_ALLOC] = offsetof(qstr_pool_t, alloc),
    [FACT_POOL_LEN] = offsetof(qstr_pool_t, len),
    [FACT_POOL_HASHES] = offsetof(qstr_pool_t, hashes),
    [FACT_POOL_LENGTHS] = offsetof(qstr_pool_t, lengths),
    [FACT_POOL_QSTRS] = offsetof(qstr_pool_t, qstrs),
    [FACT_HASH_BYTES] = sizeof(qstr_hash_t),
    [FACT_LEN_BYTES] = sizeof(qstr_len_t),
    [FACT_TYPE_NAME] = offsetof(mp_obj_type_t, name),
};

int main(void) {
  mp_state_ctx.vm.last_pool = (qstr_pool_t *)&mp_qstr_const_pool;
  mp_state_ctx.mem.area.next = 0;
  return (int)mp_state_ctx.mem.area.gc_alloc_table_byte_len + mp_type_fake_counter;
}
