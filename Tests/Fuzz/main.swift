// proxima-fuzz: runs one parser's fuzz target for many inputs (outside CI; FuzzTests runs a short, fixed
// stretch of each inside). A crash or a hang writes the input to Tests/FuzzTargets/Regressions/<target>/ (kept
// there, it is replayed by every test run from then on) before the process dies.
//
//   swift run -c release proxima-fuzz gguf --runs 1000000 [--seed N] [--hang-seconds S (of CPU, default 10)]

import Foundation
import FuzzTargets
#if canImport(Glibc)
import Glibc
#endif

func usage() -> Never {
    let names = FuzzTargets.all.map(\.name).joined(separator: "|")
    FileHandle.standardError.write(Data("usage: proxima-fuzz \(names) [--runs N] [--seed N] [--hang-seconds S]\n".utf8))
    exit(2)
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, let target = FuzzTargets.named(name) else { usage() }
arguments.removeFirst()
var runs = 100_000, seed: UInt64 = UInt64(Date().timeIntervalSince1970), hangSeconds = 10.0
while !arguments.isEmpty {
    let flag = arguments.removeFirst()
    guard let value = arguments.first else { usage() }
    arguments.removeFirst()
    switch flag {
    case "--runs": runs = Int(value) ?? { usage() }()
    case "--seed": seed = UInt64(value) ?? { usage() }()
    case "--hang-seconds": hangSeconds = Double(value) ?? { usage() }()
    default: usage()
    }
}

// Where a crashing or hanging input goes: paths made now, written from a signal handler with write(2) only.
let directory = FuzzTargets.regressions(of: target.name)
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
nonisolated(unsafe) let crashPath = strdup(directory.appendingPathComponent("crash-seed\(seed)-\(getpid())").path)!
nonisolated(unsafe) let hangPath = strdup(directory.appendingPathComponent("hang-seed\(seed)-\(getpid())").path)!

@Sendable func keepCurrentInput(_ path: UnsafePointer<CChar>) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    if fd >= 0 {
        _ = write(fd, CurrentInput.bytes.baseAddress, CurrentInput.count)
        close(fd)
    }
}

for caught in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { sig in
        keepCurrentInput(crashPath)
        let note = "\nproxima-fuzz: signal \(sig); the input is kept in the regressions folder\n"
        _ = note.withCString { write(2, $0, strlen($0)) }
        signal(sig, SIG_DFL)
        raise(sig)
    }
    action.sa_flags = Int32(SA_NODEFER)
    sigaction(caught, &action, nil)
}

nonisolated(unsafe) let hangLimit = hangSeconds
/// The CPU time of the whole process: an input's time is counted in it, so that a run paused (SIGSTOP, a busy
/// machine) is not taken for a hang.
@Sendable func processCPUNanoseconds() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}
CurrentInput.clock = processCPUNanoseconds

let watchdog = Thread {
    while true {
        sleep(1)
        let started = CurrentInput.startedNanoseconds.load(ordering: .relaxed)
        if started != 0, Double(processCPUNanoseconds() &- started) / 1e9 > hangLimit {
            keepCurrentInput(hangPath)
            FileHandle.standardError.write(Data("proxima-fuzz: an input took more than \(hangLimit) s of CPU; kept as \(String(cString: hangPath))\n".utf8))
            exit(3)
        }
    }
}
watchdog.start()

print("proxima-fuzz \(target.name): \(runs) mutated inputs, seed \(seed)")
let report = try await FuzzRunner.run(target, runs: runs, seed: seed) { r in
    print("  \(r.runs) inputs, \(r.accepted) accepted, corpus \(r.corpus), \(Int(Double(r.runs) / max(r.seconds, 1e-9)))/s, \(r.findings.count) findings")
}
print("\(target.name): \(report.runs) inputs in \(Int(report.seconds)) s, \(report.accepted) accepted, \(report.findings.count) findings, no crash")
for (i, finding) in report.findings.prefix(20).enumerated() {
    let path = directory.appendingPathComponent("finding-seed\(seed)-\(i)")
    try Data(finding.input).write(to: path)
    print("  finding: \(finding.finding) (input kept as \(path.lastPathComponent))")
}
exit(report.findings.isEmpty ? 0 : 1)
