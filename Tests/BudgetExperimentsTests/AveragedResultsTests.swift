import Foundation
import Testing
@testable import BudgetEngine
@testable import BudgetExperiments
import TestSupport

/// The averaged model's columns: results.csv (last columns, read by name so older files still
/// read), metrics.jsonl's evaluation lines, and the summary's second table.
@Suite struct AveragedResultsTests {
    func row(_ run: String, accuracy: Double, averaged: Double?) -> ResultRow {
        var r = ResultRow(
            experiment: "e", run: run, schedule: "linear", budget: 1, budgetSteps: 10, seed: 1, status: .ok, steps: 10,
            seconds: 1, finalLR: 0.01, trainLoss: 0.5, testLoss: 0.4, testAccuracy: accuracy, gradNorm: nil, extras: ["width": "8"])
        r.avgTestAccuracy = averaged
        r.avgTestLoss = averaged.map { $0 / 2 }
        return r
    }

    @Test func averagedColumnsRoundTrip() throws {
        let dir = try temporaryDirectory("averaged-results")
        let table = ResultsTable(path: dir + "/results.csv", extraColumns: ["width", "message"])
        try table.write([row("a", accuracy: 0.8, averaged: 0.85), row("b", accuracy: 0.7, averaged: nil)])
        let (header, rows) = try ResultsTable.read(path: table.path)
        #expect(Array(header.suffix(4)) == ["avg_test_accuracy", "avg_test_loss", "width", "message"])
        #expect(rows.map(\.avgTestAccuracy) == [0.85, nil])
        #expect(rows[0].avgTestLoss == 0.425)
        #expect(rows[0].extras == ["width": "8", "message": ""])
    }

    @Test func filesFromBeforeTheAveragedColumnsStillRead() throws {
        let dir = try temporaryDirectory("old-results")
        let old = """
            experiment,run,schedule,budget,budget_steps,seed,status,steps,seconds,final_lr,train_loss,test_loss,test_accuracy,grad_norm,width,message
            e,a,linear,1,10,1,ok,10,1.000,0.01,0.5,0.4,0.8,,8,

            """
        try old.write(toFile: dir + "/results.csv", atomically: true, encoding: .utf8)
        let rows = try ResultsTable.read(path: dir + "/results.csv").rows
        #expect(rows.count == 1 && rows[0].testAccuracy == 0.8 && rows[0].avgTestAccuracy == nil)
        #expect(rows[0].extras == ["width": "8", "message": ""])
    }

    @Test func summaryAddsATableOfTheAveragedModel() throws {
        let with = ExperimentSummary(experiment: "e", rows: [row("a", accuracy: 0.8, averaged: 0.85)]).markdown()
        #expect(with.contains("Test accuracy (%) of the averaged model"))
        #expect(with.contains("**85.00**"))
        let without = ExperimentSummary(experiment: "e", rows: [row("a", accuracy: 0.8, averaged: nil)]).markdown()
        #expect(!without.contains("averaged model"))
    }

    @Test func evaluationLinesCarryTheAverage() {
        var record = EvaluationRecord(step: 10, progress: 1)
        record.testAccuracy = 0.5
        record.avgTestAccuracy = 0.625
        record.avgTestLoss = 0.75
        #expect(MetricsLog.evaluationLine(record)
            == "{\"event\":\"evaluation\",\"step\":10,\"progress\":1,\"test_accuracy\":0.5,\"avg_test_loss\":0.75,\"avg_test_accuracy\":0.625}\n")
    }
}
