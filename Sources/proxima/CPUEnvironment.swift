// CPUEnvironment: process settings that libraries read once, at load time, so they must be in the
// environment before the process starts: OpenBLAS's kernel choice and glibc's allocator limits. When one is
// missing, it is set and the program re-executes itself (once).

import Foundation

enum CPUEnvironment {
    /// - OPENBLAS_CORETYPE=SkylakeX on AVX-512 machines: OpenBLAS 0.3.21's detection picks its Haswell
    ///   kernels there (FACTS.md).
    /// - MALLOC_MMAP_THRESHOLD_ / MALLOC_ARENA_MAX: glibc raises its mmap threshold after large frees, after
    ///   which the many short-lived buffers of a long-running process (KV caches, adapters, training arenas)
    ///   come from heaps that fragment and never shrink. A fixed threshold keeps every buffer of 256 KiB or
    ///   more in its own mapping, returned to the system when freed; fewer arenas bound per-thread heaps.
    static func prepareProcess() {
        let environment = ProcessInfo.processInfo.environment
        var wanted: [(String, String)] = [("MALLOC_MMAP_THRESHOLD_", "262144"), ("MALLOC_ARENA_MAX", "4")]
        if hasAVX512 { wanted.append(("OPENBLAS_CORETYPE", "SkylakeX")) }
        let missing = wanted.filter { environment[$0.0] == nil }
        guard !missing.isEmpty, environment["PROXIMA_REEXECUTED"] == nil else { return }
        for (name, value) in missing { setenv(name, value, 1) }
        setenv("PROXIMA_REEXECUTED", "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returns only on failure: carry on with the defaults.
    }

    static var hasAVX512: Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        return flags.split(separator: " ").contains("avx512f")
    }
}
