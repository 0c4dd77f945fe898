// GridReport: DIR/report.md and its plots from what a grid's runs recorded (finished or not): per variant
// the win rate against the initial policy at each evaluation (mean and 95 % interval over seeds), paired
// bootstrap differences between variants on the same prompts at their last common evaluation, and SVG plots
// of win rate, KL to behavior against win rate, loss and reward accuracy.

import Foundation
import ProximaCore

public struct GridReport {
    public let grid: GridFile
    public let directory: URL
    /// Records per run directory (`runs/<variant>/seed-<n>`).
    public let records: [String: [StepRecord]]

    public init(grid: GridFile, directory: String) {
        self.grid = grid
        self.directory = URL(fileURLWithPath: directory)
        var records: [String: [StepRecord]] = [:]
        for run in grid.runs {
            let r = GridRunner.records(in: self.directory.appendingPathComponent(run.directory))
            if !r.isEmpty { records[run.directory] = r }
        }
        self.records = records
    }

    private func runs(of variant: String) -> [(seed: UInt64, records: [StepRecord])] {
        grid.runs.filter { $0.variant == variant }.compactMap { run in records[run.directory].map { (run.seed, $0) } }
    }

    /// Win rate per evaluation step of `variant`: the seeds that reached it.
    private func evaluations(of variant: String) -> [(step: Int, rates: [Double])] {
        var byStep: [Int: [Double]] = [:]
        for (_, records) in runs(of: variant) {
            for r in records { if let e = r.evaluation { byStep[r.step, default: []].append(e.winRate) } }
        }
        return byStep.keys.sorted().map { ($0, byStep[$0]!) }
    }

    private static func interval(_ values: [Double]) -> String {
        let (mean, half) = Statistics.meanInterval(values)
        return half.map { String(format: "%.3f ± %.3f", mean, $0) } ?? String(format: "%.3f", mean)
    }

    /// Writes report.md and the SVG files; returns the report's text.
    @discardableResult
    public func write() throws -> String {
        var md = "# Grid report\n\n"
        let finished = grid.runs.filter { FileManager.default.fileExists(atPath: directory.appendingPathComponent($0.directory + "/finished").path) }
        md += "\(finished.count) of \(grid.runs.count) runs finished (\(grid.variants.count) variants × seeds \(grid.seeds.map(String.init).joined(separator: ", "))). "
        md += "Win rate: greedy replies to the held-out prompts against the initial policy's, judged by the rubric (whatever judge labelled the run's pairs), ties ½; "
        md += "mean ± half-width of the 95 % interval over seeds (Student's t), with the number of seeds.\n\n"

        let steps = Set(grid.variants.flatMap { v in evaluations(of: v.name).map(\.step) }).sorted()
        md += "| variant | settings | " + steps.map { "step \($0)" }.joined(separator: " | ") + " |\n"
        md += "| --- | --- | " + steps.map { _ in "---" }.joined(separator: " | ") + " |\n"
        for v in grid.variants {
            let evals = Dictionary(uniqueKeysWithValues: evaluations(of: v.name).map { ($0.step, $0.rates) })
            let settings = v.overrides.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.plain)" }.joined(separator: " ")
            md += "| \(v.name) | \(settings) | " + steps.map { s in evals[s].map { "\(Self.interval($0)) (\($0.count))" } ?? "" }.joined(separator: " | ") + " |\n"
        }

        md += "\n## Final replies\n\nAt each variant's last evaluation: share of replies that finished on their own, mean words.\n\n"
        md += "| variant | step | finished | words |\n| --- | --- | --- | --- |\n"
        for v in grid.variants {
            let last = runs(of: v.name).compactMap { $0.records.last(where: { $0.evaluation != nil }) }
            guard let step = last.map(\.step).max() else { continue }
            let atStep = last.filter { $0.step == step }.compactMap(\.evaluation)
            md += String(format: "| %@ | %d | %.0f %% | %.1f |\n", v.name, step, 100 * atStep.map(\.finished).reduce(0, +) / Double(atStep.count),
                         atStep.map(\.words).reduce(0, +) / Double(atStep.count))
        }

        md += "\n## Paired differences\n\n"
        md += "Win rate of the row variant minus the column variant's on the same held-out prompts and seeds, at the last "
        md += "evaluation step both reached (outcomes averaged over the common seeds per prompt), with a 95 % paired "
        md += "bootstrap interval over prompts (2,000 resamples). ✱: the interval excludes 0.\n\n"
        let names = grid.variants.map(\.name)
        md += "| | " + names.joined(separator: " | ") + " |\n|" + String(repeating: " --- |", count: names.count + 1) + "\n"
        for a in names {
            md += "| \(a) | " + names.map { b in a == b ? "" : difference(a, b) }.joined(separator: " | ") + " |\n"
        }

        let charts: [(String, SVGChart)] = [
            ("win-rate.svg", winRateChart()), ("kl-vs-win-rate.svg", klChart()),
            ("loss.svg", stepChart("Loss per step", "loss", \.loss)),
            ("reward-accuracy.svg", stepChart("Reward accuracy per step", "reward accuracy", \.rewardAccuracy)),
        ]
        md += "\n## Plots\n\n"
        for (file, chart) in charts {
            try chart.render().write(to: directory.appendingPathComponent(file), atomically: true, encoding: .utf8)
            md += "![\(chart.title)](\(file))\n\n"
        }
        md += "Loss and reward accuracy: mean over seeds, moving average over 5 steps. KL to behavior: mean over the "
        md += "steps since the previous evaluation of log π_β(y) − log π_θ(y) per response, mean over seeds.\n"
        try md.write(to: directory.appendingPathComponent("report.md"), atomically: true, encoding: .utf8)
        return md
    }

    /// "+0.041 [+0.012, +0.070] ✱ (step 100, 3 seeds)" for variant a minus variant b.
    func difference(_ a: String, _ b: String) -> String {
        let ra = Dictionary(uniqueKeysWithValues: runs(of: a).map { ($0.seed, $0.records) })
        let rb = Dictionary(uniqueKeysWithValues: runs(of: b).map { ($0.seed, $0.records) })
        let seeds = Set(ra.keys).intersection(rb.keys)
        func evals(_ r: [StepRecord]) -> [Int: String] {
            Dictionary(uniqueKeysWithValues: r.compactMap { rec in rec.evaluation.map { (rec.step, $0.outcomes) } })
        }
        let common = seeds.map { Set(evals(ra[$0]!).keys).intersection(evals(rb[$0]!).keys) }
        guard let step = common.reduce(common.first, { $0?.intersection($1) })?.max() else { return "" }
        func score(_ c: Character) -> Double { c == "w" ? 1 : c == "t" ? 0.5 : 0 }
        var diffs: [Double]?
        for seed in seeds {
            let oa = Array(evals(ra[seed]!)[step]!), ob = Array(evals(rb[seed]!)[step]!)
            guard oa.count == ob.count else { return "" }
            let d = zip(oa, ob).map { score($0) - score($1) }
            diffs = diffs.map { zip($0, d).map { $0 + $1 } } ?? d
        }
        guard let sums = diffs, !sums.isEmpty else { return "" }
        let r = Statistics.pairedBootstrap(sums.map { $0 / Double(seeds.count) })
        let mark = r.low > 0 || r.high < 0 ? " ✱" : ""
        return String(format: "%+.3f [%+.3f, %+.3f]%@ (step %d, %d)", r.mean, r.low, r.high, mark, step, seeds.count)
    }

    private func winRateChart() -> SVGChart {
        let series = grid.variants.compactMap { v -> SVGChart.Series? in
            let evals = evaluations(of: v.name)
            guard !evals.isEmpty else { return nil }
            // Step 0: the initial policy against itself, whose identical replies all tie (½).
            var points: [(x: Double, y: Double)] = [(0, 0.5)], band: [(x: Double, low: Double, high: Double)] = [(0, 0.5, 0.5)]
            for (step, rates) in evals {
                let (mean, half) = Statistics.meanInterval(rates)
                points.append((Double(step), mean))
                band.append((Double(step), mean - (half ?? 0), mean + (half ?? 0)))
            }
            return SVGChart.Series(name: v.name, points: points, band: band)
        }
        return SVGChart(title: "Win rate vs the initial policy", xLabel: "step", yLabel: "win rate", series: series)
    }

    private func klChart() -> SVGChart {
        let series = grid.variants.compactMap { v -> SVGChart.Series? in
            var points: [(x: Double, y: Double)] = []
            var byStep: [Int: [(kl: Double, rate: Double)]] = [:]
            for (_, records) in runs(of: v.name) {
                var window: [Double] = []
                for r in records {
                    if let kl = r.klToBehavior { window.append(kl) }
                    if let e = r.evaluation, !window.isEmpty {
                        byStep[r.step, default: []].append((window.reduce(0, +) / Double(window.count), e.winRate))
                        window = []
                    }
                }
            }
            for step in byStep.keys.sorted() {
                let values = byStep[step]!
                points.append((values.map(\.kl).reduce(0, +) / Double(values.count), values.map(\.rate).reduce(0, +) / Double(values.count)))
            }
            return points.isEmpty ? nil : SVGChart.Series(name: v.name, points: points)
        }
        return SVGChart(title: "KL to behavior against win rate", xLabel: "KL to behavior (nats per response)", yLabel: "win rate",
                        series: series, lines: false)
    }

    private func stepChart(_ title: String, _ label: String, _ value: KeyPath<StepRecord, Double?>) -> SVGChart {
        let series = grid.variants.compactMap { v -> SVGChart.Series? in
            var byStep: [Int: [Double]] = [:]
            for (_, records) in runs(of: v.name) { for r in records { if let x = r[keyPath: value] { byStep[r.step, default: []].append(x) } } }
            let steps = byStep.keys.sorted()
            let means = steps.map { byStep[$0]!.reduce(0, +) / Double(byStep[$0]!.count) }
            let points = steps.indices.map { i -> (x: Double, y: Double) in
                let window = means[max(0, i - 4)...i]
                return (Double(steps[i]), window.reduce(0, +) / Double(window.count))
            }
            return points.isEmpty ? nil : SVGChart.Series(name: v.name, points: points)
        }
        return SVGChart(title: title, xLabel: "step", yLabel: label, series: series)
    }
}

extension JSONValue {
    /// The value as written in a grid file (strings unquoted).
    var plain: String {
        if case let .string(s) = self { return s }
        return text
    }
}
