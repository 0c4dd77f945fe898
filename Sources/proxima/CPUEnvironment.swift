// CPUEnvironment: process-level settings read before the compute libraries start: OpenBLAS's kernel choice
// (its runtime detection picks slower kernels on AVX-512 machines; see docs/benchmarks.md).

import Foundation

enum CPUEnvironment {
    /// glibc raises its mmap threshold after large frees, after which the many short-lived buffers of a
    /// long-running process (KV caches, adapters, training arenas) come from heaps that fragment and never
    /// shrink. A fixed threshold keeps every buffer of 256 KiB or more in its own mapping, returned to the
    /// system when freed; fewer arenas bound the per-thread heaps.
    static func prepareAllocator() {
        #if canImport(Glibc)
        mallopt(M_MMAP_THRESHOLD, 256 << 10)
        mallopt(M_ARENA_MAX, 4)
        #endif
    }

    /// OpenBLAS reads OPENBLAS_CORETYPE once, when it loads, which is before main runs. When the CPU has
    /// AVX-512 and the variable is unset, set it and re-execute this program so the library sees it.
    static func prepareOpenBLAS() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil, hasAVX512 else { return }
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returns only on failure: carry on with the default kernels.
    }

    static var hasAVX512: Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        return flags.split(separator: " ").contains("avx512f")
    }
}
