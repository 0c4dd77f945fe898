// FreedMemory: what a phase frees goes back to the system when the phase ends. glibc keeps freed blocks in its
// heaps (one per thread that allocated, and a phase's work runs on threads of its own) and returns only what
// lies at a heap's top, so without this the server's resident size after a phase depended on how the phase's
// gigabyte of buffers happened to be laid out, not on what the server still holds.

#if canImport(CMalloc) && os(Linux)
import CMalloc
#endif

/// Returns the free pages of every malloc heap to the system (glibc's `malloc_trim`; elsewhere a no-op).
func returnFreedMemory() {
    #if canImport(CMalloc) && os(Linux)
    _ = malloc_trim(0)
    #endif
}
