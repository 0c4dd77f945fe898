// swift-tools-version:6.1
// Proxima: a self-improving chat model service. See README.md and ../shared/design/ARCHITECTURE.md.
import PackageDescription
import Foundation

/// The hot numeric loops are written with Swift SIMD types and, for the decode matvec, C intrinsics; the compilers
/// only emit AVX2/AVX-512 code when they may assume the instruction set. Every machine builds from source
/// (ops/run, ops/test), so the build targets the CPU it runs on, read from /proc/cpuinfo. PROXIMA_TARGET_CPU
/// overrides the choice (any CPU name both `swiftc -target-cpu` and `clang -march` accept, or `generic` for none).
func targetCPU() -> String? {
    if let forced = ProcessInfo.processInfo.environment["PROXIMA_TARGET_CPU"] {
        return forced == "generic" ? nil : forced
    }
    #if arch(x86_64)
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
    let flags = Set(flagsLine.split(separator: " ").map(String.init))
    if ["avx512f", "avx512bw", "avx512vl", "avx512dq", "fma", "f16c"].allSatisfy(flags.contains) { return "skylake-avx512" }
    if ["avx2", "fma", "f16c"].allSatisfy(flags.contains) { return "haswell" }
    #endif
    return nil
}

let cpu = targetCPU()
let hotLoops: [SwiftSetting] = [.unsafeFlags((cpu.map { ["-target-cpu", $0] } ?? []) + ["-Ounchecked"], .when(configuration: .release))]
let hotC: [CSetting] = [.unsafeFlags((cpu.map { ["-march=\($0)"] } ?? []) + ["-O3"])]

let package = Package(
    name: "Proxima",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "proxima", targets: ["proxima"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // MARK: Pure (no IO, no clock, no environment)
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        // Not "Numerics": swift-numerics (reached through Hummingbird → swift-nio-extras → swift-algorithms) declares
        // a target of that name, and target names must be unique across the package graph.
        .target(name: "CKernels", cSettings: hotC),
        .target(name: "ProximaNumerics", dependencies: ["COpenBLAS", "CKernels"], path: "Sources/Numerics", swiftSettings: hotLoops),
        // The vocabulary every layer shares (chat messages, records, verdicts) and the ports the edges implement
        // (the store, the preference judge), with their in-memory twins.
        .target(name: "ProximaCore", path: "Sources/Core"),
        .target(name: "Tokenizer"),
        .target(name: "ChatTemplate", dependencies: ["ProximaCore"]),
        .target(name: "Sampling", dependencies: ["ProximaNumerics"], swiftSettings: hotLoops),
        .target(name: "Llama", dependencies: ["ProximaNumerics"], swiftSettings: hotLoops),
        .target(name: "Inference", dependencies: ["Llama", "Sampling", "ProximaNumerics", "ProximaCore", "Tokenizer", "ChatTemplate"]),
        .target(name: "Learning", dependencies: ["Llama", "ProximaNumerics"], swiftSettings: hotLoops),

        // MARK: The application layer: owns the ports (store, judge and version files in the core or here)
        .target(name: "Service", dependencies: [
            "ProximaCore", "Inference", "Learning", "Llama", "ProximaNumerics", "Sampling", "Tokenizer", "CMalloc",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // The paper's comparisons: experiment runs (resumable), grids of them from YAML, their report and plots.
        .target(name: "Experiments", dependencies: [
            "Service", "Learning", "Llama", "Inference", "ProximaCore", "ProximaNumerics", "Sampling",
            .product(name: "Yams", package: "Yams"),
        ]),

        // MARK: Edges: they implement the ports (and HTTPAPI drives the services); none imports another
        .target(name: "ModelFiles", dependencies: ["ProximaNumerics", "Llama", "Tokenizer", "ChatTemplate", "ProximaCore", "Inference", "Learning", "Service", "CZlib"]),
        .target(name: "Simulators", dependencies: ["ProximaCore", "Inference"]),
        .target(name: "Store", dependencies: ["ProximaCore", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "PostgresStore", dependencies: [
            "ProximaCore",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "HTTPAPI", dependencies: [
            "Service", "ProximaCore", "Sampling", "CZlib",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),

        // MARK: Composition: settings, the application builder
        .target(name: "ProximaApp", dependencies: [
            "ProximaCore", "Service", "HTTPAPI", "Inference", "ModelFiles", "Simulators", "Learning", "ProximaNumerics",
            .product(name: "Configuration", package: "swift-configuration"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/App"),

        // MARK: The executable
        .executableTarget(name: "proxima", dependencies: [
            "ProximaApp", "ProximaCore", "ModelFiles", "Llama", "Tokenizer", "Sampling", "Inference", "Learning", "Service", "Simulators", "Store", "PostgresStore", "HTTPAPI",
            "ProximaNumerics", "Experiments",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),

        // MARK: Tests
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .target(name: "TestModels", dependencies: ["ModelFiles", "Llama", "ProximaNumerics"], path: "Tests/TestModels"),
        // The fuzz targets of the parsers that take outside input, their long-run driver and their short CI run.
        .target(name: "FuzzTargets", dependencies: [
            "TestModels", "ModelFiles", "ChatTemplate", "ProximaApp", "HTTPAPI", "Service", "ProximaCore", "Inference", "Llama",
            "ProximaNumerics", "Simulators", "Learning",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], path: "Tests/FuzzTargets", exclude: ["Regressions"]),
        .executableTarget(name: "proxima-fuzz", dependencies: ["FuzzTargets"], path: "Tests/Fuzz"),
        .testTarget(name: "FuzzTests", dependencies: ["FuzzTargets"]),
        .testTarget(name: "NumericsTests", dependencies: ["TestSupport", "ProximaNumerics"], exclude: ["Fixtures", "Scripts"]),
        .testTarget(name: "ModelFilesTests", dependencies: ["TestSupport", "TestModels", "ModelFiles", "CZlib", "ProximaNumerics", "Llama", "Learning"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "TokenizerTests", dependencies: ["TestSupport", "Tokenizer", "ModelFiles"], exclude: ["Fixtures"]),
        .testTarget(name: "ChatTemplateTests", dependencies: ["TestSupport", "ChatTemplate", "ProximaCore"], exclude: ["Fixtures"]),
        .testTarget(name: "SamplingTests", dependencies: ["TestSupport", "Sampling"]),
        .testTarget(name: "LlamaTests", dependencies: ["TestSupport", "TestModels", "Llama", "ProximaNumerics", "ModelFiles", "Tokenizer", "Sampling", "Inference", "ProximaCore", "ChatTemplate"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "SimulatorsTests", dependencies: [
            "TestSupport", "Simulators", "ProximaCore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
        ], exclude: ["Fixtures"]),
        .testTarget(name: "StoreTests", dependencies: ["TestSupport", "Store", "PostgresStore", "ProximaCore",
                                                   .product(name: "PostgresNIO", package: "postgres-nio"),
                                                   .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "LearningTests", dependencies: ["TestSupport", "TestModels", "Learning", "Llama", "ProximaNumerics", "ModelFiles", "Inference"],
                    exclude: ["Fixtures", "Scripts"]),
        .testTarget(name: "AppTests", dependencies: [
            "TestSupport", "TestModels", "ProximaApp", "ProximaCore", "Service", "HTTPAPI", "Learning", "Llama", "Inference", "ModelFiles", "ProximaNumerics", "Simulators",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .testTarget(name: "ServiceTests", dependencies: ["TestSupport", "TestModels", "Service", "Tokenizer", "ModelFiles", "Inference", "Learning",
                                                     "Llama", "ProximaCore", "ProximaNumerics", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "HTTPAPITests", dependencies: [
            "TestSupport", "HTTPAPI", "Service", "Store", "ProximaCore", "Inference", "ModelFiles", "ProximaNumerics",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .testTarget(name: "ExperimentsTests", dependencies: ["TestSupport", "TestModels", "Experiments", "Service", "Simulators", "Learning", "Llama",
                                                         "Inference", "ProximaCore", "ProximaNumerics", "ModelFiles"]),
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport", "Store", "ProximaCore", "Inference", "ModelFiles", "Learning", "Llama", "ProximaNumerics"],
                    exclude: ["Scripts"]),
    ]
)
