// Must not compile: the io layer may not use the target layer (tests/CMakeLists.txt).
#include "mpheap/io/memory_image.h"
#include "mpheap/target/target.h"
