import Foundation
import Testing

/// Every script in `examples/` runs, through the built executable, on a small budget
/// (`-- --quick`), and prints what it promises.
@Suite struct ExampleTests {
    /// The repository's `examples/` folder, found from this source file's location.
    static let examplesDirectory: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("examples").path
    }()

    static var exampleNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: examplesDirectory)) ?? [])
            .filter { $0.hasSuffix(".lua") }.sorted()
    }

    @Test func theExamplesFolderHasExamples() {
        #expect(Self.exampleNames.contains("quickstart.lua"))
    }

    @Test(arguments: exampleNames)
    func exampleRunsOnASmallBudget(_ name: String) throws {
        // Experiments write their results under --out: a fresh folder, so runs never collide.
        let out = try TemporaryDirectory()
        let r = try runBudgetrain(["run", "examples/\(name)", "--quiet", "--out", out.path, "--", "--quick"],
                                  in: (Self.examplesDirectory as NSString).deletingLastPathComponent)
        #expect(r.status == 0, "\(name): \(r.stderr)")
        #expect(!r.stdout.isEmpty, "\(name) printed nothing")
    }

    /// `budgetrain check` runs every example too (train{} validates instead of training).
    @Test(arguments: exampleNames)
    func exampleChecks(_ name: String) throws {
        let r = try runBudgetrain(["check", "examples/\(name)", "--", "--quick"],
                                  in: (Self.examplesDirectory as NSString).deletingLastPathComponent)
        #expect(r.status == 0, "\(name): \(r.stderr)")
        #expect(r.stdout.contains("examples/\(name): OK"), "\(name): \(r.stdout)")
    }

    @Test func quickstartReportsAResult() throws {
        let r = try runBudgetrain(["run", "examples/quickstart.lua", "--quiet", "--", "--quick"],
                                  in: (Self.examplesDirectory as NSString).deletingLastPathComponent)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("status ok:"), "\(r.stdout)")
        #expect(r.stdout.contains("test accuracy"), "\(r.stdout)")
        #expect(r.stdout.contains("(6): Linear(256 -> 10)"), "\(r.stdout)")
    }
}
