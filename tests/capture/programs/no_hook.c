/* A program without the GC hook: mpheap capture trace must refuse it with a clear message. */
int main(void) { return 0; }
