import BudgetEngine
import Foundation

/// Shows a schedule before any compute is spent on it: every step's multiplier as CSV, an SVG
/// chart, or a sketch for the terminal. Values go through `checkedMultiplier`, so a schedule
/// that yields NaN, an infinity or a negative number is rejected here too.
public struct SchedulePreview {
    public let schedule: Schedule
    public let steps: Int
    public let values: [Double]

    public init(schedule: Schedule, steps: Int, fullSteps: Int? = nil, stepsPerEpoch: Int? = nil) throws {
        guard steps > 0 else { throw EngineError.invalidArgument("schedule preview: --steps must be positive, got \(steps)") }
        self.schedule = schedule
        self.steps = steps
        values = try schedule.values(steps: steps, fullSteps: fullSteps, stepsPerEpoch: stepsPerEpoch)
    }

    /// `step,progress,multiplier`, one line per step.
    public func csv() -> String {
        var out = "step,progress,multiplier\n"
        for (step, m) in values.enumerated() {
            out += "\(step),\(MetricsLog.number(Double(step) / Double(steps))),\(MetricsLog.number(m))\n"
        }
        return out
    }

    public func svg() -> String {
        let points = values.enumerated().map { (x: Double($0.offset) / Double(steps), y: $0.element) }
        return SVGChart(title: schedule.summary, xLabel: "progress (step / budget)", yLabel: "multiplier",
                        series: [.init(name: schedule.summary, points: points)]).render() + "\n"
    }

    /// A character plot, `width` columns by `height` rows, with the value range on the left.
    public func text(width: Int = 64, height: Int = 16) -> String {
        let top = max(values.max() ?? 1, 1e-12), bottom = min(values.min() ?? 0, 0)
        var grid = Array(repeating: Array(repeating: Character(" "), count: width), count: height)
        for column in 0..<width {
            let step = min(steps - 1, column * steps / width)
            let fraction = (values[step] - bottom) / (top - bottom)
            let row = height - 1 - min(height - 1, max(0, Int((fraction * Double(height - 1)).rounded())))
            grid[row][column] = "•"
        }
        let label = { (v: Double) in String(format: "%8.3g", v) }
        var lines = ["\(schedule.summary) over \(steps) steps"]
        for (i, row) in grid.enumerated() {
            let axis = i == 0 ? label(top) : (i == height - 1 ? label(bottom) : String(repeating: " ", count: 8))
            lines.append(axis + " │" + String(row))
        }
        lines.append(String(repeating: " ", count: 9) + "└" + String(repeating: "─", count: width))
        lines.append(String(repeating: " ", count: 10) + "p=0" + String(repeating: " ", count: max(1, width - 6)) + "p=1")
        return lines.joined(separator: "\n") + "\n"
    }
}
