// Must not compile: the heap layer may not use the report layer (tests/CMakeLists.txt).
#include "mpheap/heap/snapshot.h"
#include "mpheap/report/output.h"
