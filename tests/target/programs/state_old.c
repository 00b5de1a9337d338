/* A test program of mpheap (not MicroPython code): globals shaped like the state of an older
 * MicroPython build (before v1.20): qstr pools without hashes/lengths arrays, each string
 * pointer points at its hash bytes, its length bytes and then the characters. This build uses
 * 1-byte hashes (MICROPY_QSTR_BYTES_IN_HASH 1) and 1-byte lengths, which are macros and not in
 * the DWARF. No finaliser table and no stack_top: the reader reports them absent. */
#include <stddef.h>
#include <stdint.h>

#include "facts.h"

#define QSTR_BYTES_IN_HASH 1
#define QSTR_BYTES_IN_LEN 1

typedef unsigned char byte;
typedef void *mp_obj_t;

struct _mp_obj_type_t;
typedef struct _mp_obj_base_t {
  const struct _mp_obj_type_t *type;
} mp_obj_base_t;

typedef struct _mp_obj_type_t {
  mp_obj_base_t base;
  uint16_t flags;
  uint16_t name;
  void (*print)(void);
  mp_obj_t (*make_new)(void);
  const void *locals_dict;
  const void *parent;
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
  struct _qstr_pool_t *prev;
  size_t total_prev_len;
  size_t alloc;
  size_t len;
  const byte *qstrs[];
} qstr_pool_t;

typedef struct _mp_state_mem_area_t {
  byte *gc_alloc_table_start;
  size_t gc_alloc_table_byte_len;
  byte *gc_pool_start;
  byte *gc_pool_end;
  int gc_stack_overflow;
} mp_state_mem_area_t;

typedef struct _mp_state_mem_t {
  mp_state_mem_area_t area;
  size_t gc_block_stack[4];
  uint16_t gc_auto_collect_enabled;
} mp_state_mem_t;

typedef struct _mp_state_thread_t {
  size_t stack_limit;
  mp_obj_dict_t *dict_locals;
} mp_state_thread_t;

typedef struct _mp_state_vm_t {
  mp_obj_t root_pointers[2];
  mp_obj_dict_t dict_main;
  mp_obj_dict_t mp_loaded_modules_dict;
  qstr_pool_t *last_pool;
} mp_state_vm_t;

typedef struct _mp_state_ctx_t {
  mp_state_mem_t mem;
  mp_state_vm_t vm;
  mp_state_thread_t thread;
} mp_state_ctx_t;

mp_state_ctx_t mp_state_ctx;
byte gc_heap[512];

enum {
  N_CONST = 10,
  N_FROZEN = 3
};

/* Index 0 is MP_QSTRnull, with a zero hash. Type names below are indices into these pools:
 * 4 list, 7 type, 9 str, 12 NoneType. */
const qstr_pool_t mp_qstr_const_pool = {NULL, 0, N_CONST, N_CONST, {
    (const byte *)"\x00\x00" "",
    (const byte *)"\x05\x00" "",
    (const byte *)"\x7a\x07" "__dir__",
    (const byte *)"\xaf\x01" "\n",
    (const byte *)"\x27\x04" "list",
    (const byte *)"\x3f\x04" "dict",
    (const byte *)"\x16\x03" "int",
    (const byte *)"\x9d\x04" "type",
    (const byte *)"\x90\x06" "object",
    (const byte *)"\x50\x03" "str",
}};

const qstr_pool_t mp_qstr_frozen_const_pool = {(qstr_pool_t *)&mp_qstr_const_pool, N_CONST, N_FROZEN, N_FROZEN, {
    (const byte *)"\xc2\x08" "workload",
    (const byte *)"\x12\x03" "Pin",
    (const byte *)"\x17\x08" "NoneType",
}};

extern const mp_obj_type_t mp_type_type;
const mp_obj_type_t mp_type_type = {{&mp_type_type}, 0, 7, 0, 0, 0, 0};
const mp_obj_type_t mp_type_list = {{&mp_type_type}, 0, 4, 0, 0, 0, 0};
const mp_obj_type_t mp_type_str = {{&mp_type_type}, 0, 9, 0, 0, 0, &mp_type_list};
const mp_obj_type_t mp_type_NoneType = {{&mp_type_type}, 0, 12, 0, 0, 0, 0};

const uint32_t layout_facts[FACT_COUNT] = {
    [FACT_CTX_SIZE] = sizeof(mp_state_ctx_t),
    [FACT_MEM_AREA] = offsetof(mp_state_ctx_t, mem.area),
    [FACT_AREA_SIZE] = sizeof(mp_state_mem_area_t),
    [FACT_AREA_ALLOC_TABLE_START] = offsetof(mp_state_mem_area_t, gc_alloc_table_start),
    [FACT_AREA_ALLOC_TABLE_BYTE_LEN] = offsetof(mp_state_mem_area_t, gc_alloc_table_byte_len),
    [FACT_AREA_FINALISER_TABLE_START] = FACT_ABSENT,
    [FACT_AREA_WEAKREF_TABLE_START] = FACT_ABSENT,
    [FACT_AREA_COLLECT_TABLE_START] = FACT_ABSENT,
    [FACT_AREA_POOL_START] = offsetof(mp_state_mem_area_t, gc_pool_start),
    [FACT_AREA_POOL_END] = offsetof(mp_state_mem_area_t, gc_pool_end),
    [FACT_AREA_NEXT] = FACT_ABSENT,
    [FACT_VM_LAST_POOL] = offsetof(mp_state_ctx_t, vm.last_pool),
    [FACT_VM_DICT_MAIN] = offsetof(mp_state_ctx_t, vm.dict_main),
    [FACT_VM_LOADED_MODULES_DICT] = offsetof(mp_state_ctx_t, vm.mp_loaded_modules_dict),
    [FACT_THREAD_STACK_TOP] = FACT_ABSENT,
    [FACT_POOL_SIZE] = sizeof(qstr_pool_t),
    [FACT_POOL_PREV] = offsetof(qstr_pool_t, prev),
    [FACT_POOL_TOTAL_PREV_LEN] = offsetof(qstr_pool_t, total_prev_len),
    [FACT_POOL_ALLOC] = offsetof(qstr_pool_t, alloc),
    [FACT_POOL_LEN] = offsetof(qstr_pool_t, len),
    [FACT_POOL_HASHES] = FACT_ABSENT,
    [FACT_POOL_LENGTHS] = FACT_ABSENT,
    [FACT_POOL_QSTRS] = offsetof(qstr_pool_t, qstrs),
    [FACT_HASH_BYTES] = QSTR_BYTES_IN_HASH,
    [FACT_LEN_BYTES] = QSTR_BYTES_IN_LEN,
    [FACT_TYPE_NAME] = offsetof(mp_obj_type_t, name),
};

int main(void) {
  mp_state_ctx.vm.last_pool = (qstr_pool_t *)&mp_qstr_frozen_const_pool;
  return (int)mp_state_ctx.mem.area.gc_alloc_table_byte_len;
}
