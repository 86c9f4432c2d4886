import Foundation
import Testing
@testable import BudgetEngine
@testable import BudgetExperiments
import TestSupport

/// What a range test writes: the CSV's exact numbers, the chart's markers, and the lines that
/// name the rule beside the suggested rate.
@Suite struct RangeTestReportTests {
    func report(_ losses: [Double], steps: Int? = nil) throws -> RangeTestReport {
        let settings = LearningRateRangeTest.Settings(minLR: 1e-4, maxLR: 1, steps: steps ?? losses.count)
        let result = try LearningRateRangeTest.sweep(settings) { i, _ in i < losses.count ? losses[i] : .nan }
        return RangeTestReport(result: result, settings: settings, subject: "test")
    }

    @Test func csvHoldsEveryRecordedStepExactly() throws {
        let r = try report([2.0, 1.0, 0.5, 0.25, 0.125])
        let lines = r.csv().split(separator: "\n")
        #expect(lines.first == "step,lr,loss,smoothed")
        #expect(lines.count == 6)
        for (line, p) in zip(lines.dropFirst(), r.result.points) {
            let cells = line.split(separator: ",").map { Double($0) }
            #expect(cells == [Double(p.step), p.learningRate, p.loss, p.smoothed])
        }
        #expect(lines[1] == "0,0.0001,2,2")
    }

    @Test func linesNameTheRuleAndTheValue() throws {
        // Falling, then exploding: the minimum is at step 2 (lr 1e-2), so the suggestion is 1e-3.
        let r = try report([1.0, 0.5, 0.1, 50, 500], steps: 5)
        #expect(r.result.ending == .lossExploded)
        let text = r.summaryLines.joined(separator: "\n")
        #expect(text.contains("suggested learning rate: \(RangeTestReport.text(try #require(r.result.suggestion))) (the learning rate at the minimum of the smoothed loss, divided by 10)"))
        #expect(text.contains("exceeded 4× its minimum"))
        let falling = try report([1.0, 0.9, 0.8])
        #expect(falling.summaryLines.joined().contains("still falling at the largest rate"))
        let notFinite = try report([1.0, 0.9], steps: 4)
        #expect(notFinite.summaryLines.contains("stopped at step 2 (lr 0.04642): the loss was not finite"), "\(notFinite.summaryLines)")
        let none = try report([], steps: 3)
        #expect(none.result.suggestion == nil)
        #expect(none.summaryLines.joined().contains("no step was recorded"))
    }

    @Test func filesAreWritten() throws {
        let dir = try temporaryDirectory("lr-find")
        let r = try report([1.0, 0.5, 0.1, 50, 500])
        let paths = try r.write(to: dir + "/out")
        #expect(paths == [dir + "/out/lr-find.csv", dir + "/out/lr-find.svg"])
        let svg = try String(contentsOfFile: paths[1], encoding: .utf8)
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.contains("smoothed loss") && svg.contains("suggested ") && svg.contains("minimum "))
        #expect(svg.contains(">1e-04<") && svg.contains(">1<"))
    }
}
