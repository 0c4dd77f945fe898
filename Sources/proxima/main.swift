import Numerics
import Glibc
import Foundation
func cpuNow() -> Double { var ts = timespec(); clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9 }
func bench(_ type: QuantType, rows: Int, cols: Int, vectors: Int) {
    let bytes = type.byteCount(values: rows * cols)!
    let w = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    for i in 0..<bytes { w.storeBytes(of: UInt8(truncatingIfNeeded: i &* 2654435761 >> 7), toByteOffset: i, as: UInt8.self) }
    for b in 0..<(bytes / type.blockBytes) { w.storeBytes(of: Float16(0.01).bitPattern, toByteOffset: b * type.blockBytes, as: UInt16.self); if type == .q4_1 { w.storeBytes(of: Float16(-0.05).bitPattern, toByteOffset: b * type.blockBytes + 2, as: UInt16.self) } }
    let p = PackedMatrix(type: type, rows: rows, cols: cols, bytes: w)!
    let x = UnsafeMutablePointer<Float>.allocate(capacity: cols * vectors)
    for i in 0..<(cols*vectors) { x[i] = Float(i % 7) * 0.1 }
    let y = UnsafeMutablePointer<Float>.allocate(capacity: rows * vectors)
    let iters = 20
    let t0 = cpuNow()
    for _ in 0..<iters { p.matVec(rows: 0..<rows, x: x, xStride: cols, vectors: vectors, y: y, yStride: rows) }
    let dt: Double = (cpuNow() - t0) / Double(iters)
    let nblocks = Double(rows * cols / 32)
    print("\(type) \(rows)x\(cols) v=\(vectors): \(String(format: "%.2f", dt * 1e9 / nblocks)) ns/block (cpu time), \(String(format: "%.1f", Double(p.byteCount)/dt/1e9)) GB/s")
}
for v in [1, 2, 4, 8] { bench(.q4_1, rows: 160000, cols: 576, vectors: v) }
bench(.q8_0, rows: 49152, cols: 576, vectors: 1)
bench(.q4_1, rows: 4000, cols: 576, vectors: 1)
bench(.q8_0, rows: 4000, cols: 576, vectors: 1)
bench(.q8_0, rows: 49152, cols: 576, vectors: 1)
bench(.q4_1, rows: 49152, cols: 576, vectors: 1)
