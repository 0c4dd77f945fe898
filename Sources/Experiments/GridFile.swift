// GridFile: a grid of experiment runs read from YAML — `base` settings, `seeds`, and named `variants` whose
// settings override the base (keys are `proxima experiment`'s option names with underscores):
//
//     base: {steps: 100, prompts_per_step: 16, lr: 2e-4}
//     seeds: [0, 1, 2]
//     variants:
//       offline-dpo: {frequency: 1, reference: initial}
//       bpo:         {reference: behavior}
//
// Every run's settings are checked when the file is read, so a mistake anywhere is reported before any run
// starts.

import Foundation
import ProximaCore
import Service
import Yams

public struct GridFile: Sendable, Equatable {
    public struct Variant: Sendable, Equatable {
        public var name: String
        /// The variant's own keys (over the base), as written.
        public var overrides: JSONObject
        /// Base + overrides, seed not yet set.
        public var settings: ExperimentSettings
    }

    public var base: JSONObject
    public var seeds: [UInt64]
    public var variants: [Variant]

    /// One run: a variant at a seed.
    public struct Run: Sendable, Equatable {
        public var variant: String
        public var seed: UInt64
        public var settings: ExperimentSettings
        /// Where its files go under the grid's directory.
        public var directory: String { "runs/\(variant)/seed-\(seed)" }
    }

    /// Every run, seed by seed (all variants at the first seed, then at the next, …): a grid stopped early has
    /// compared every variant.
    public var runs: [Run] {
        seeds.flatMap { seed in
            variants.map { v in
                var s = v.settings
                s.phase.seed = seed
                return Run(variant: v.name, seed: seed, settings: s)
            }
        }
    }

    public static func read(path: String) throws(GridError) -> GridFile {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw GridError("cannot read the grid file \(path)")
        }
        return try parse(text, name: path)
    }

    public static func parse(_ text: String, name: String = "the grid file") throws(GridError) -> GridFile {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            let first = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw GridError("\(name) is not YAML: \(first)")
        }
        guard let mapping = root?.mapping else { throw GridError("\(name) must be a YAML map with base, seeds and variants") }
        for key in mapping.keys.compactMap(\.string) where !["base", "seeds", "variants"].contains(key) {
            throw GridError("\(name): unknown key '\(key)' (known: base, seeds, variants)")
        }
        let base = try object(mapping["base"], in: "base")
        var seeds: [UInt64] = [0]
        if let node = mapping["seeds"] {
            guard let list = node.sequence, !list.isEmpty else { throw GridError("\(name): seeds must be a non-empty list of whole numbers") }
            seeds = try list.map { n throws(GridError) in
                guard let text = n.scalar?.string, let seed = UInt64(text) else {
                    throw GridError("\(name): seeds must be whole numbers ≥ 0 (got \(n.scalar?.string ?? "a non-number"))")
                }
                return seed
            }
            if Set(seeds).count != seeds.count { throw GridError("\(name): a seed is listed twice") }
        }
        guard let variantNodes = mapping["variants"]?.mapping, !variantNodes.isEmpty else {
            throw GridError("\(name): variants must be a map of at least one name to its settings")
        }
        let defaults = ExperimentSettings()
        let baseSettings: ExperimentSettings
        do { baseSettings = try defaults.applying(base) } catch { throw GridError("\(name): base: \(error.description)") }
        var variants: [Variant] = []
        for (key, value) in variantNodes {
            guard let variant = key.string, !variant.isEmpty,
                  variant.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }), variant.first != "." else {
                throw GridError("\(name): variant names are letters, digits, '-', '_' and '.' (got '\(key.string ?? "")')")
            }
            let overrides = try object(value, in: "variants.\(variant)")
            if overrides["seed"] != nil { throw GridError("\(name): variant \(variant) sets seed; the grid's seeds list sets it") }
            do {
                variants.append(Variant(name: variant, overrides: overrides, settings: try baseSettings.applying(overrides)))
            } catch {
                throw GridError("\(name): variant \(variant): \(error.description)")
            }
        }
        return GridFile(base: base, seeds: seeds, variants: variants)
    }

    /// A YAML map of scalars as a JSON object (numbers stay numbers, everything else is a string).
    private static func object(_ node: Node?, in place: String) throws(GridError) -> JSONObject {
        guard let node else { return [:] }
        if node.null != nil { return [:] }
        guard let mapping = node.mapping else { throw GridError("\(place) must be a map of settings") }
        var o: JSONObject = [:]
        for (k, v) in mapping {
            guard let key = k.string else { throw GridError("\(place): a key is not a string") }
            guard let scalar = v.scalar else { throw GridError("\(place).\(key) must be a single value") }
            if scalar.style == .plain, let number = Double(scalar.string) {
                o[key] = .number(number)
            } else {
                o[key] = .string(scalar.string)
            }
        }
        return o
    }
}

public struct GridError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
