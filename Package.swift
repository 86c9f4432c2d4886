// swift-tools-version:6.0
import PackageDescription

// Release builds skip exclusivity checks: the hot loops work on raw buffers the engine owns,
// and the dynamic checks cost measurable time per step.
let engineSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v5),
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "budgetrain",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "budgetrain", targets: ["budgetrain"]),
        .library(name: "BudgetEngine", targets: ["BudgetEngine"]),
        .library(name: "BudgetExperiments", targets: ["BudgetExperiments"]),
        .library(name: "LuaHost", targets: ["LuaHost"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // System libraries, found through pkg-config; the providers are Debian's -dev packages.
        .systemLibrary(
            name: "CLua", path: "CLua", pkgConfig: "lua5.4",
            providers: [.apt(["liblua5.4-dev"])]),
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),

        // The numerical engine: knows nothing of Lua.
        .target(name: "BudgetEngine", dependencies: ["CBLAS", "CZlib"], swiftSettings: engineSettings),
        // Plans, run state and checkpoints, results, reports and worker processes: knows no Lua.
        .target(name: "BudgetExperiments", dependencies: ["BudgetEngine"], swiftSettings: engineSettings),
        // The Lua embedding and the Lua-facing API.
        .target(
            name: "LuaHost", dependencies: ["CLua", "BudgetEngine", "BudgetExperiments"], swiftSettings: engineSettings),
        .executableTarget(
            name: "budgetrain",
            dependencies: [
                "BudgetEngine", "BudgetExperiments", "LuaHost", "CBLAS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: engineSettings),

        // Fixtures the test targets share (small data sets, model factories, folders).
        .target(name: "TestSupport", dependencies: ["BudgetEngine", "CZlib"], path: "Tests/TestSupport", swiftSettings: engineSettings),
        .testTarget(
            name: "BudgetEngineTests", dependencies: ["BudgetEngine", "TestSupport"], swiftSettings: engineSettings),
        .testTarget(
            name: "BudgetExperimentsTests", dependencies: ["BudgetExperiments", "BudgetEngine", "TestSupport"], exclude: ["Fixtures"], swiftSettings: engineSettings),
        .testTarget(
            name: "LuaHostTests", dependencies: ["LuaHost", "BudgetExperiments", "BudgetEngine", "TestSupport"], swiftSettings: engineSettings),
    ]
)
