import Foundation
import Testing
@testable import BudgetEngine
@testable import BudgetExperiments
import TestSupport

@Suite struct ExperimentTests {
    let train: Dataset
    let test: Dataset

    init() throws {
        train = try gaussianBlobs(count: 400, seed: 1)
        test = try gaussianBlobs(count: 200, seed: 2)
    }

    func runner(_ plan: ExperimentPlan, _ dir: String, schedules: [String: Schedule]) -> ExperimentRunner {
        ExperimentRunner(plan: plan, directory: dir) { cell in
            RunSpec(
                makeModel: mlp([2, 8, 4]), optimizer: try SGD.Options(learningRate: 0.1, momentum: 0.9),
                train: train, test: test, batchSize: 40,
                budget: cell.budget.resolve(full: plan.fullBudget), fullBudget: plan.fullBudget,
                schedule: schedules[cell.schedule] ?? ConstantSchedule(), seed: cell.seed, gradNormAt: [1.0])
        }
    }

    @Test func gridOrderAndNames() throws {
        let plan = try ExperimentPlan(name: "g", fullBudget: .epochs(2), budgets: [.fraction(0.5), .fraction(1)],
                                      schedules: ["linear", "constant"], seeds: [1, 2])
        #expect(plan.cells.count == 8)
        #expect(plan.cells.first?.run == "linear-b0.5-s1")
        #expect(plan.cells.last?.run == "constant-b1-s2")
        #expect(throws: EngineError.self) {
            try ExperimentPlan(name: "g", fullBudget: .epochs(2), budgets: [.fraction(1), .fraction(1)], schedules: ["a"], seeds: [1])
        }
    }

    @Test func resultsContractAndResume() throws {
        let dir = try temporaryDirectory("exp")
        let plan = try ExperimentPlan(name: "blobs", fullBudget: .epochs(2), budgets: [.fraction(0.5), .fraction(1)],
                                      schedules: ["linear", "constant"], seeds: [1])
        let r = runner(plan, dir, schedules: ["linear": LinearSchedule(), "constant": ConstantSchedule()])
        let pending = try r.pending(retryFailed: false)
        #expect(pending.count == 4)
        #expect(!r.hasResults())
        // Finish two runs, as if the sweep were killed after them.
        for cell in pending.prefix(2) { _ = r.run(cell) }
        #expect(r.hasResults())
        let rest = try r.pending(retryFailed: true)
        #expect(rest.map(\.run) == pending.dropFirst(2).map(\.run))
        // Train the rest in the other order: results.csv follows the plan, not the finishing order.
        for cell in rest.reversed() { _ = r.run(cell) }
        #expect(try r.pending(retryFailed: true).isEmpty)
        try r.writeResultsTable()

        let text = try String(contentsOfFile: dir + "/results.csv", encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.first == "experiment,run,schedule,budget,budget_steps,seed,status,steps,seconds,final_lr,train_loss,test_loss,test_accuracy,grad_norm,flops,val_loss,val_accuracy,avg_test_accuracy,avg_test_loss,message")
        let rows = try ResultsTable.read(path: dir + "/results.csv").rows
        #expect(rows.count == 4)
        #expect(Set(rows.map(\.run)).count == 4)
        for row in rows {
            #expect(row.status == .ok)
            #expect(row.steps == row.budgetSteps)
            #expect(row.gradNorm != nil)
            let metrics = try String(contentsOfFile: dir + "/\(row.run)/metrics.jsonl", encoding: .utf8)
            #expect(metrics.split(separator: "\n").count == row.steps + 1)  // every step + one evaluation
        }
        let full = try #require(rows.first { $0.run == "linear-b1-s1" })
        #expect(full.budgetSteps == 20)
        #expect(abs(full.finalLR - 0.1 / 20) < 1e-12)

        let summary = try ExperimentReport.write(directories: [dir], to: dir)
        #expect(summary.contains("| linear |"))
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        #expect(html.contains("<svg"))
        #expect(!html.contains("http://") || html.contains("xmlns=\"http://www.w3.org/2000/svg\""))
    }

    @Test func divergingRunIsRecordedAndSweepGoesOn() throws {
        let dir = try temporaryDirectory("diverge")
        let plan = try ExperimentPlan(name: "d", fullBudget: .iterations(30), budgets: [.fraction(1)],
                                      schedules: ["huge", "fine"], seeds: [1])
        let huge = FunctionScheduleForTest { _ in 1e9 }
        let r = runner(plan, dir, schedules: ["huge": huge, "fine": LinearSchedule()])
        for cell in try r.pending(retryFailed: false) { _ = r.run(cell) }
        let rows = try r.writeResultsTable()
        #expect(rows.map(\.status) == [.diverged, .ok])
        #expect(rows[0].extras["message"]?.contains("became") == true)
    }

    @Test func wallClockMetricsStayBounded() throws {
        let dir = try temporaryDirectory("metrics")
        let log = try MetricsLog(path: dir + "/m.jsonl", thinning: .thinned(budgetSteps: nil))
        for step in 0..<10_000 {
            log.didStep(StepRecord(step: step, progress: Double(step) / 10_000, epoch: 0, learningRate: 0.1,
                                   loss: 1, budgetSteps: nil, elapsed: 0))
        }
        try log.flush()
        let steps = try String(contentsOfFile: dir + "/m.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["step"] as? Int }
        // Every step up to 2,000, every 2nd up to 6,000, then every 4th: 5,000 lines, not 10,000.
        #expect(steps.count == 5000)
        #expect(steps.prefix(3) == [0, 1, 2])
        #expect(steps[2000..<2003] == [2000, 2002, 2004])
        #expect(steps.suffix(2) == [9992, 9996])
    }

    @Test func metricsResumeCutsBackToTheCheckpoint() throws {
        let dir = try temporaryDirectory("metrics-resume")
        func record(_ step: Int) -> StepRecord {
            StepRecord(step: step, progress: Double(step) / 10, epoch: 0, learningRate: 0.1, loss: Double(step), budgetSteps: 10, elapsed: 0)
        }
        let first = try MetricsLog(path: dir + "/m.jsonl", thinning: .thinned(budgetSteps: 10))
        for step in 0..<4 { first.didStep(record(step)) }
        let checkpoint = try first.flush()
        for step in 4..<7 { first.didStep(record(step)) }  // written after the checkpoint: cut back on resume
        try first.flush()
        let resumed = try MetricsLog(path: dir + "/m.jsonl", thinning: .thinned(budgetSteps: 10), resume: checkpoint)
        for step in 4..<10 { resumed.didStep(record(step)) }
        resumed.didEvaluate(EvaluationRecord(step: 10, progress: 1, testLoss: 0.5, testAccuracy: 0.75))
        try resumed.flush()

        let whole = try MetricsLog(path: dir + "/whole.jsonl", thinning: .thinned(budgetSteps: 10))
        for step in 0..<10 { whole.didStep(record(step)) }
        whole.didEvaluate(EvaluationRecord(step: 10, progress: 1, testLoss: 0.5, testAccuracy: 0.75))
        try whole.flush()
        let text = try String(contentsOfFile: dir + "/m.jsonl", encoding: .utf8)
        #expect(text == (try String(contentsOfFile: dir + "/whole.jsonl", encoding: .utf8)))
        #expect(text.hasSuffix("{\"event\":\"evaluation\",\"step\":10,\"progress\":1,\"test_loss\":0.5,\"test_accuracy\":0.75}\n"))
    }

    @Test func rankCorrelationOnHandMadeResults() throws {
        func row(_ s: String, _ b: Double, _ a: Double) -> ResultRow {
            ResultRow(experiment: "e", run: "\(s)-\(b)", schedule: s, budget: b, budgetSteps: 1, seed: 1, status: .ok, steps: 1,
                      seconds: 0, finalLR: 0, trainLoss: 0, testLoss: 0, testAccuracy: a, gradNorm: nil)
        }
        // Small-budget ranking a > b > c > d; reference ranking a > c > b > d: one discordant pair of six.
        let rows = [row("a", 0.25, 0.9), row("b", 0.25, 0.8), row("c", 0.25, 0.7), row("d", 0.25, 0.6),
                    row("a", 1, 0.95), row("b", 1, 0.85), row("c", 1, 0.9), row("d", 1, 0.5)]
        let rank = try RankCorrelation(rows: rows, budget: 0.25, reference: 1)
        #expect(abs(rank.kendallTau - (5.0 - 1.0) / 6.0) < 1e-12)
        // Spearman: rank differences d = (0, 1, -1, 0): rho = 1 - 6·2 / (4·15) = 0.8.
        #expect(abs(rank.spearmanRho - 0.8) < 1e-12)
    }
}

/// A schedule from a closure, for tests that need odd values.
struct FunctionScheduleForTest: Schedule {
    let f: @Sendable (Double) -> Double
    init(_ f: @escaping @Sendable (Double) -> Double) { self.f = f }
    var summary: String { "test-function" }
    func multiplier(at p: Double, context: ScheduleContext) -> Double { f(p) }
}
