import Foundation
import Testing
@testable import BudgetEngine
@testable import BudgetExperiments
import TestSupport

/// Each schedule at its best learning rate: the rate is picked on validation accuracy, the
/// table reports test accuracy there, and without a validation split it says so instead.
@Suite struct BestRateTableTests {
    /// A row of experiment `e` for `schedule` at `lr`, budget `budget`, seed `seed`.
    func row(_ schedule: String, lr: String, budget: Double = 1, seed: UInt64, val: Double?, test: Double,
             status: RunStatus = .ok, valLoss: Double? = nil, extras: [String: String] = [:]) -> ResultRow {
        var r = ResultRow(
            experiment: "e", run: "\(schedule)-b\(budget)-s\(seed)-lr=\(lr)", schedule: schedule, budget: budget, budgetSteps: 10,
            seed: seed, status: status, steps: 10, seconds: 0, finalLR: 0, trainLoss: 0.1, testLoss: 0.2,
            testAccuracy: status == .ok ? test : nil, gradNorm: nil, extras: extras.merging(["lr": lr, "message": ""]) { a, _ in a })
        r.valAccuracy = status == .ok ? val : nil
        r.valLoss = status == .ok ? (valLoss ?? val.map { 1 - $0 }) : nil
        return r
    }

    /// Linear is best on validation at 0.1 but best on test at 0.3: the table must report 0.1's
    /// test accuracy, not the test set's maximum.
    var rows: [ResultRow] {
        [
            row("linear", lr: "0.03", seed: 1, val: 0.70, test: 0.71), row("linear", lr: "0.03", seed: 2, val: 0.72, test: 0.73),
            row("linear", lr: "0.1", seed: 1, val: 0.90, test: 0.80), row("linear", lr: "0.1", seed: 2, val: 0.92, test: 0.82),
            row("linear", lr: "0.3", seed: 1, val: 0.85, test: 0.95), row("linear", lr: "0.3", seed: 2, val: 0.86, test: 0.97),
            // cosine: 0.3 is best on validation for one seed but diverged for the other, so it is not eligible.
            row("cosine", lr: "0.03", seed: 1, val: 0.60, test: 0.61), row("cosine", lr: "0.03", seed: 2, val: 0.62, test: 0.63),
            row("cosine", lr: "0.1", seed: 1, val: 0.80, test: 0.81), row("cosine", lr: "0.1", seed: 2, val: 0.80, test: 0.83),
            row("cosine", lr: "0.3", seed: 1, val: 0.99, test: 0.99), row("cosine", lr: "0.3", seed: 2, val: nil, test: 0, status: .diverged),
        ]
    }

    @Test func picksTheRateOnValidationAndReportsTestThere() throws {
        let table = try #require(BestRateTable(experiment: "e", rows: rows, order: ["linear lr=0.03", "cosine lr=0.03"]))
        #expect(table.configurations == ["linear", "cosine"])
        #expect(table.rates == [0.03, 0.1, 0.3])
        #expect(table.hasValidation)
        let linear = try #require(table.choices["linear"]?[1])
        #expect(linear.rate == 0.1)
        #expect(abs(linear.test.mean - 0.81) < 1e-12)
        #expect(linear.test.count == 2)
        #expect(!linear.atEdge)
        let cosine = try #require(table.choices["cosine"]?[1])
        #expect(cosine.rate == 0.1)
        #expect(table.bestByBudget[1] == "cosine")
        let text = table.markdown()
        #expect(text.contains("| linear | 81.00 ± 1.41 (lr 0.1) |"), "\(text)")
        #expect(text.contains("| cosine | **82.00 ± 1.41** (lr 0.1) |"), "\(text)")
        #expect(!text.contains("96.00"))
    }

    @Test func tiesGoToTheLowerValidationLossThenTheSmallerRate() throws {
        let tied = [
            row("linear", lr: "0.01", seed: 1, val: 0.9, test: 0.5, valLoss: 0.30), row("linear", lr: "0.1", seed: 1, val: 0.9, test: 0.6, valLoss: 0.20),
            row("linear", lr: "1", seed: 1, val: 0.9, test: 0.7, valLoss: 0.20),
        ]
        let table = try #require(BestRateTable(experiment: "e", rows: tied))
        let choice = try #require(table.choices["linear"]?[1])
        #expect(choice.rate == 0.1)
        #expect(!choice.atEdge)
        let edge = try #require(BestRateTable(experiment: "e", rows: [tied[0], tied[2]]))
        #expect(edge.choices["linear"]?[1]?.rate == 1)
        #expect(edge.choices["linear"]?[1]?.atEdge == true)
        #expect(edge.markdown().contains("(lr 1 †)"))
    }

    @Test func withoutValidationItSaysSoAndPicksNothing() throws {
        let noValidation = rows.map { r -> ResultRow in
            var r = r
            r.valAccuracy = nil
            r.valLoss = nil
            return r
        }
        let table = try #require(BestRateTable(experiment: "e", rows: noValidation))
        #expect(!table.hasValidation)
        #expect(table.choices.isEmpty)
        let text = table.markdown()
        #expect(text.contains("needs a validation split"))
        #expect(!text.contains("| linear |"))
        // Rows that vary no rate have no such table.
        var plain = rows[0]
        plain.extras = [:]
        #expect(BestRateTable(experiment: "e", rows: [plain]) == nil)
    }

    @Test func otherVariedFieldsKeepTheirOwnCells() throws {
        let wide = rows.filter { $0.schedule == "linear" }.map { r -> ResultRow in
            var r = r
            r.extras["width"] = "64"
            r.valAccuracy = r.valAccuracy.map { 1 - $0 }  // reversed: 0.03 is best on validation
            return r
        }
        let table = try #require(BestRateTable(experiment: "e", rows: rows.filter { $0.schedule == "linear" } + wide))
        #expect(table.configurations == ["linear", "linear width=64"])
        #expect(table.choices["linear width=64"]?[1]?.rate == 0.03)
        #expect(table.choices["linear"]?[1]?.rate == 0.1)
    }

    /// The report: summary.md gains the table, report.html too, and figures/ one accuracy
    /// against rate chart per budget with validation and test curves.
    @Test func reportHasTheTableAndOneChartPerBudget() throws {
        let dir = try temporaryDirectory("best-rate")
        let twoBudgets = rows + rows.map { r -> ResultRow in
            var r = r
            r.budget = 0.5
            r.run = r.run.replacingOccurrences(of: "-b1.0-", with: "-b0.5-")
            return r
        }
        try ResultsTable(path: dir + "/results.csv", extraColumns: ["lr", "message"]).write(twoBudgets)
        let summary = try ExperimentReport.write(directories: [dir], to: dir)
        #expect(summary.contains("### Each schedule at its best learning rate"))
        #expect(summary.contains("**82.00 ± 1.41** (lr 0.1)"))
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        #expect(html.contains("Each schedule at its best learning rate"))
        for budget in ["0.5", "1"] {
            let svg = try String(contentsOfFile: dir + "/figures/e-accuracy-vs-lr-budget-\(budget).svg", encoding: .utf8)
            #expect(svg.contains("linear validation") && svg.contains("linear test") && svg.contains("stroke-dasharray"))
            #expect(svg.contains(">0.03<") && svg.contains(">0.3<"))
        }
    }

    /// val_loss and val_accuracy are the last columns before the extras, and read back.
    @Test func validationColumnsRoundTrip() throws {
        let dir = try temporaryDirectory("val-columns")
        let table = ResultsTable(path: dir + "/results.csv", extraColumns: ["lr", "message"])
        try table.write(Array(rows.prefix(2)))
        let text = try String(contentsOfFile: dir + "/results.csv", encoding: .utf8)
        #expect(text.hasPrefix(ResultsTable.columns.joined(separator: ",") + ",lr,message\n"))
        #expect(ResultsTable.columns.contains("val_loss") && ResultsTable.columns.contains("val_accuracy"))
        let back = try ResultsTable.read(path: dir + "/results.csv").rows
        #expect(back.map(\.valAccuracy) == [0.70, 0.72])
        for (a, b) in zip(back.map(\.valLoss), rows.prefix(2).map(\.valLoss)) { #expect(abs((a ?? 0) - (b ?? 1)) < 1e-9) }
        #expect(back[0].extras["lr"] == "0.03")
        // A file from before the validation columns still reads, without them.
        let old = ResultsTable.columns.prefix(14).joined(separator: ",") + ",lr,message\n"
            + "e,linear-b1-s1,linear,1,10,1,ok,10,0.5,0.01,0.1,0.2,0.9,,0.03,\n"
        try old.write(toFile: dir + "/old.csv", atomically: true, encoding: .utf8)
        let oldRows = try ResultsTable.read(path: dir + "/old.csv").rows
        #expect(oldRows.count == 1 && oldRows[0].valAccuracy == nil && oldRows[0].testAccuracy == 0.9)
        #expect(oldRows[0].extras == ["lr": "0.03", "message": ""])
        try "experiment,run,schedule\n".write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        #expect(throws: EngineError.self) { try ResultsTable.read(path: dir + "/bad.csv") }
    }
}
