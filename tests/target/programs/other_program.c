/* A test program of mpheap: an ordinary program with debug info and no MicroPython state,
 * which the ELF reader must refuse with a clear message. */
int counter = 3;
int main(void) { return counter - 3; }
