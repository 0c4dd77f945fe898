// ProgressBar: one self-rewriting line on stderr for long work (training phases), or plain lines when stderr
// is not a terminal.

import Foundation

struct ProgressBar {
    let total: Int
    let label: String
    private let started = Date()
    private let isTerminal = isatty(STDERR_FILENO) != 0

    init(total: Int, label: String) {
        self.total = max(total, 1)
        self.label = label
    }

    func update(_ done: Int, _ detail: String) {
        let elapsed = Date().timeIntervalSince(started)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        let width = 24, filled = width * done / total
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = String(format: "%@ [%@] %d/%d  %@  elapsed %@  eta %@", label, bar, done, total, detail,
                          Self.clock(elapsed), Self.clock(eta))
        FileHandle.standardError.write(Data((isTerminal ? "\r\u{1B}[K" + line : line + "\n").utf8))
    }

    func finish() { if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) } }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }
}

/// Prints a line to standard output at once (unbuffered, so progress shows when redirected to a file too).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
