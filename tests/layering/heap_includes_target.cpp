// Compiles: the heap layer may use the target layer (the control for heap_includes_report.cpp).
#include "mpheap/heap/snapshot.h"
#include "mpheap/target/target.h"
