import BudgetEngine
import Foundation

/// What a learning-rate range test (`LearningRateRangeTest`) writes and prints:
///
///     <dir>/lr-find.csv   step,lr,loss,smoothed   (one line per recorded step; exact numbers)
///     <dir>/lr-find.svg   the smoothed loss against the rate (log-x), the minimum and the suggestion marked
///
/// and a few lines for the terminal: the sweep, why it ended, the minimum, and the suggested
/// rate with the rule that produced it.
public struct RangeTestReport {
    public let result: LearningRateRangeTest.Result
    public let settings: LearningRateRangeTest.Settings
    /// What was swept, for the chart's title and the first line (e.g. `experiment fmnist`).
    public let subject: String

    public init(result: LearningRateRangeTest.Result, settings: LearningRateRangeTest.Settings, subject: String) {
        self.result = result
        self.settings = settings
        self.subject = subject
    }

    public static let csvName = "lr-find.csv"
    public static let svgName = "lr-find.svg"

    /// `step,lr,loss,smoothed`, each number the shortest text that reads back exactly.
    public func csv() -> String {
        "step,lr,loss,smoothed\n" + result.points.map { p in
            "\(p.step),\(MetricsLog.number(p.learningRate)),\(MetricsLog.number(p.loss)),\(MetricsLog.number(p.smoothed))\n"
        }.joined()
    }

    /// The smoothed loss against the rate, log-x, with vertical lines at the minimum and at
    /// the suggested rate.
    public func svg() -> String {
        var series = [SVGChart.Series(name: "smoothed loss", points: result.points.map { ($0.learningRate, $0.smoothed) })]
        let losses = result.points.map(\.smoothed).filter(\.isFinite)
        if let low = losses.min(), let high = losses.max() {
            if let m = result.minimum {
                series.append(SVGChart.Series(name: "minimum \(Self.text(m.learningRate))", points: [(m.learningRate, low), (m.learningRate, high)]))
            }
            if let s = result.suggestion {
                var marker = SVGChart.Series(name: "suggested \(Self.text(s))", points: [(s, low), (s, high)])
                marker.dashed = true
                series.append(marker)
            }
        }
        let low = floor(log10(settings.minLR)), high = ceil(log10(settings.maxLR))
        let decades = stride(from: low, through: high, by: 1).map { pow(10, $0) }
        let chart = SVGChart(
            title: "Learning-rate range test, \(subject)", xLabel: "learning rate (log scale)",
            yLabel: "training loss (smoothed, β = \(settings.beta))", series: series, logX: true,
            xTicks: decades.filter { $0 >= settings.minLR * 0.999 && $0 <= settings.maxLR * 1.001 })
        return chart.render() + "\n"
    }

    /// Writes `lr-find.csv` and `lr-find.svg` into `directory` (created if needed); returns their paths.
    @discardableResult
    public func write(to directory: String) throws -> [String] {
        let paths = [directory + "/" + Self.csvName, directory + "/" + Self.svgName]
        try AtomicFile.write(csv(), to: paths[0])
        try AtomicFile.write(svg(), to: paths[1])
        return paths
    }

    /// Why the sweep ended, in words.
    public var endingText: String {
        let last = result.points.last
        switch result.ending {
        case .completed:
            return "swept all \(settings.steps) rates up to \(Self.text(settings.maxLR))"
        case .lossExploded:
            return "stopped at step \(last?.step ?? 0) (lr \(Self.text(last?.learningRate ?? .nan))): the smoothed loss exceeded \(settings.divergenceFactor.formatted)× its minimum"
        case .lossNotFinite:
            let rates = LearningRateRangeTest.rates(settings), step = result.points.count
            return "stopped at step \(step) (lr \(Self.text(rates.indices.contains(step) ? rates[step] : .nan))): the loss was not finite"
        }
    }

    /// The lines printed after a sweep.
    public var summaryLines: [String] {
        var lines = [
            "lr-find \(subject): \(settings.steps) steps from \(Self.text(settings.minLR)) to \(Self.text(settings.maxLR)), loss smoothed by an exponential moving average (β = \(settings.beta), bias-corrected)",
            endingText,
        ]
        guard let m = result.minimum, let s = result.suggestion else {
            return lines + ["no step was recorded: the loss was not finite at the first rate; lower --min"]
        }
        lines.append("minimum of the smoothed loss: \(Self.text(m.smoothed)) at lr \(Self.text(m.learningRate)) (step \(m.step))")
        lines.append("suggested learning rate: \(Self.text(s)) (\(LearningRateRangeTest.Result.rule))")
        if m.step == result.points.count - 1, result.ending == .completed {
            lines.append("note: the loss was still falling at the largest rate; try a larger --max")
        } else if m.step == 0 {
            lines.append("note: the smoothed loss never fell below its first value; try a smaller --min")
        }
        return lines
    }

    /// A rate or loss in 4 significant digits (`0.005012`, `1e-06`).
    static func text(_ x: Double) -> String { String(format: "%.4g", x) }
}
