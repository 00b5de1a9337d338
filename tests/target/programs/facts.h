/* What a test program knows about its own layout, stored in `const uint32_t layout_facts[]`
 * by index. The ELF reader test reads that array back from the compiled file (through nm and
 * readelf, not through mpheap) and compares it with what mpheap found in the DWARF, so no
 * offset is written down anywhere. FACT_ABSENT marks a field the program does not have.
 * Shared by the C programs and the C++ test. */
#ifndef MPHEAP_TEST_FACTS_H
#define MPHEAP_TEST_FACTS_H

#define FACT_ABSENT 0xffffffffu

enum fact_index {
  FACT_CTX_SIZE,
  FACT_MEM_AREA,
  FACT_AREA_SIZE,
  FACT_AREA_ALLOC_TABLE_START,
  FACT_AREA_ALLOC_TABLE_BYTE_LEN,
  FACT_AREA_FINALISER_TABLE_START,
  FACT_AREA_WEAKREF_TABLE_START,
  FACT_AREA_COLLECT_TABLE_START,
  FACT_AREA_POOL_START,
  FACT_AREA_POOL_END,
  FACT_AREA_NEXT,
  FACT_VM_LAST_POOL,
  FACT_VM_DICT_MAIN,
  FACT_VM_LOADED_MODULES_DICT,
  FACT_THREAD_STACK_TOP,
  FACT_POOL_SIZE,
  FACT_POOL_PREV,
  FACT_POOL_TOTAL_PREV_LEN,
  FACT_POOL_ALLOC,
  FACT_POOL_LEN,
  FACT_POOL_HASHES,
  FACT_POOL_LENGTHS,
  FACT_POOL_QSTRS,
  FACT_HASH_BYTES,
  FACT_LEN_BYTES,
  FACT_TYPE_NAME,
  FACT_COUNT
};

#endif
