// swift-tools-version:6.0
// libFuzzer targets for every reader of outside data. A package of its own so that its
// executables, which have no main (libFuzzer supplies it), never enter the main build; it
// links budgetrain's libraries from the package one folder up. Build and run with
// scripts/fuzz, which passes -sanitize=fuzzer,address to every target (see the README).
import PackageDescription

let settings: [SwiftSetting] = [.swiftLanguageMode(.v5), .unsafeFlags(["-parse-as-library"])]

func fuzzTarget(_ name: String, _ products: [String]) -> Target {
    .executableTarget(
        name: name,
        dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: "budgetrain") },
        path: "Sources/\(name)", swiftSettings: settings)
}

let package = Package(
    name: "BudgetrainFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "budgetrain", path: "..")],
    targets: [
        .target(name: "FuzzSupport", path: "Sources/FuzzSupport", swiftSettings: [.swiftLanguageMode(.v5)]),
        fuzzTarget("fuzz-idx", ["BudgetEngine"]),
        fuzzTarget("fuzz-idx-gzip", ["BudgetEngine"]),
        fuzzTarget("fuzz-cifar", ["BudgetEngine"]),
        fuzzTarget("fuzz-csv", ["BudgetEngine"]),
        fuzzTarget("fuzz-safetensors", ["BudgetExperiments"]),
        fuzzTarget("fuzz-results", ["BudgetExperiments"]),
        fuzzTarget("fuzz-lua-options", ["LuaHost"]),
    ]
)
