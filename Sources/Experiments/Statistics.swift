// Statistics: what a grid's report says about its runs — means with 95 % intervals over seeds (Student's t)
// and paired bootstrap intervals of the difference between two variants on the same prompts. Pure.

import ProximaNumerics

public enum Statistics {
    /// Mean and the half-width of its 95 % interval (Student's t over the values; nil for fewer than two).
    public static func meanInterval(_ values: [Double]) -> (mean: Double, halfWidth: Double?) {
        let n = values.count
        precondition(n > 0)
        let mean = values.reduce(0, +) / Double(n)
        guard n > 1 else { return (mean, nil) }
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)
        return (mean, tQuantile975(degreesOfFreedom: n - 1) * (variance / Double(n)).squareRoot())
    }

    /// The 0.975 quantile of Student's t with `df` degrees of freedom (table to 30, then the normal's 1.96).
    public static func tQuantile975(degreesOfFreedom df: Int) -> Double {
        let table: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                               2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                               2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
        precondition(df >= 1)
        return df <= table.count ? table[df - 1] : 1.96
    }

    /// The mean over prompts of `differences` (one per prompt) and its 95 % percentile interval from `resamples`
    /// bootstrap resamples of the prompts, drawn with a fixed seed.
    public static func pairedBootstrap(_ differences: [Double], resamples: Int = 2000, seed: UInt64 = 0)
        -> (mean: Double, low: Double, high: Double) {
        let n = differences.count
        precondition(n > 0 && resamples > 0)
        var generator = SplitMix64(seed: seed)
        var means: [Double] = []
        means.reserveCapacity(resamples)
        for _ in 0..<resamples {
            var sum = 0.0
            for _ in 0..<n { sum += differences[Int(generator.next() % UInt64(n))] }
            means.append(sum / Double(n))
        }
        means.sort()
        func percentile(_ q: Double) -> Double { means[min(resamples - 1, max(0, Int((q * Double(resamples)).rounded(.down))))] }
        return (differences.reduce(0, +) / Double(n), percentile(0.025), percentile(0.975))
    }
}
