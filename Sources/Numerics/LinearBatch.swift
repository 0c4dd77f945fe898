// LinearBatch: several linear layers applied to the same input in one parallel region (q/k/v, gate/up),
// so the pool synchronises once instead of once per layer; the quantised decode path benefits most.

extension LinearWeight {
    /// For each (weight, output) pair: output[m × weight.rows] = x[m × cols] · weightᵀ. All weights must
    /// have the same `cols`.
    public static func applyAll(_ pairs: [(LinearWeight, UnsafeMutablePointer<Float>)], to x: UnsafePointer<Float>,
                                m: Int, pool: ComputePool?) {
        guard let pool, pool.threadCount > 1, pairs.allSatisfy(\.0.usesQuantizedKernel) else {
            for (w, y) in pairs { w.apply(x, y, m: m, pool: pool) }
            return
        }
        // Chunks of rows from all weights, each a task: for one vector a share of all the rows per thread
        // (`piecesPerThread`), for more 64-row tasks.
        let total = pairs.reduce(0) { $0 + $1.0.rows }
        let perThread = LinearWeight.piecesPerThread(vectors: m)
        let chunkRows = perThread == 1 ? pool.chunkSize(total, align: 4, piecesPerThread: perThread) : 64
        var tasks: [(pair: Int, rows: Range<Int>)] = []
        for (i, (w, _)) in pairs.enumerated() {
            var r = 0
            while r < w.rows { tasks.append((i, r..<min(w.rows, r + chunkRows))); r += chunkRows }
        }
        pool.parallelFor(tasks.count) { t in
            let (w, y) = pairs[tasks[t].pair]
            w.packed!.matVec(rows: tasks[t].rows, x: x, xStride: w.cols, vectors: m, y: y, yStride: w.rows)
        }
    }
}
