import BudgetEngine
import BudgetExperiments
import Dispatch
import Foundation
import LuaHost

/// Shows runs as they train.
///
/// On a terminal (stderr, or else stdout): one line redrawn in place at most 10 times a second,
/// `label  [=========>          ]  45%  1234/2700  loss 0.4123  lr 0.0512  ETA 0:32`.
/// Otherwise (a log file, CI): one plain line on stderr every 5 seconds. Each run ends with
/// one line saying how it went.
final class ProgressDisplay: RunProgressReporter {
    private let interactive: Bool
    private let output: FileHandle
    private let interval: UInt64
    private var run: RunState?

    private struct RunState {
        var label: String
        var budget: Budget
        var lastDraw: UInt64 = 0
        var smoothedLoss: Double?
    }

    init() {
        if isatty(STDERR_FILENO) != 0 {
            (interactive, output) = (true, .standardError)
        } else if isatty(STDOUT_FILENO) != 0 {
            (interactive, output) = (true, .standardOutput)
        } else {
            (interactive, output) = (false, .standardError)
        }
        interval = interactive ? 100_000_000 : 5_000_000_000
    }

    func runWillStart(label: String, budget: Budget) -> TrainingObserver? {
        run = RunState(label: label, budget: budget, lastDraw: DispatchTime.now().uptimeNanoseconds)
        return StepObserver(self)
    }

    func runDidFinish(label: String, result: RunResult?) {
        if interactive { write("\r\u{1B}[K") }
        if let result {
            var line = "\(label): \(result.status.rawValue), \(result.steps) steps in \(Self.duration(result.seconds))"
            if let a = result.testAccuracy { line += ", test accuracy \(String(format: "%.4f", a))" }
            write(line + "\n")
        }
        run = nil
    }

    func note(_ line: String) {
        if interactive, run != nil { write("\r\u{1B}[K") }
        write(line + "\n")
    }

    fileprivate func didStep(_ r: StepRecord) {
        guard var state = run else { return }
        state.smoothedLoss = state.smoothedLoss.map { 0.9 * $0 + 0.1 * r.loss } ?? r.loss
        let now = DispatchTime.now().uptimeNanoseconds
        let finished = r.budgetSteps.map { r.step + 1 >= $0 } ?? false
        guard now - state.lastDraw >= interval || finished else {
            run = state
            return
        }
        state.lastDraw = now
        run = state
        let status = Self.status(r, smoothedLoss: state.smoothedLoss, budget: state.budget)
        write(interactive ? "\r\u{1B}[K" + fitted(label: state.label, status) : "\(state.label)  \(status)\n")
    }

    /// The progress text for the step just taken (without the run's label).
    private static func status(_ r: StepRecord, smoothedLoss: Double?, budget: Budget) -> String {
        let done: Double, counter: String
        if let total = r.budgetSteps {
            done = Double(r.step + 1) / Double(total)
            counter = "\(r.step + 1)/\(total)"
        } else {
            done = min(r.elapsed / max(wallClock(budget), 1e-9), 1)
            counter = "step \(r.step + 1)"
        }
        let width = 24, filled = Int(done * Double(width))
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" + String(repeating: " ", count: width - filled - 1) : "")
        let remaining = done > 0 ? r.elapsed * (1 - done) / done : 0
        let loss = smoothedLoss.map { String(format: "%.4f", $0) } ?? "-"
        return "[\(bar)] \(String(format: "%3d", Int(done * 100)))%  \(counter)  loss \(loss)  lr \(String(format: "%.4g", r.learningRate))  ETA \(duration(remaining))"
    }

    /// `label  status` within the terminal's width (a line that wrapped could not be redrawn in
    /// place): the label is shortened first, then the status cut.
    private func fitted(label: String, _ status: String) -> String {
        let line = "\(label)  \(status)"
        var size = winsize()
        let fd = output === FileHandle.standardOutput ? STDOUT_FILENO : STDERR_FILENO
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 1 else { return line }
        let width = Int(size.ws_col) - 1
        guard line.count > width else { return line }
        let room = width - status.count - 2
        if room >= 4 { return String(label.prefix(room - 1)) + "…  " + status }
        return String(status.prefix(width))
    }

    private static func wallClock(_ budget: Budget) -> Double {
        if case let .seconds(s) = budget { return s }
        return 0
    }

    /// `0:32`, `12:05`, `1:02:03`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, abs(seconds) < 1e12 else { return "?" }
        let s = Int(seconds.rounded())
        let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, sec) : String(format: "%d:%02d", m, sec)
    }

    private func write(_ text: String) {
        if output === FileHandle.standardOutput { fflush(stdout) }  // after whatever the script printed
        // A closed pipe (output piped into `head`) must not stop training: ignore the failure.
        try? output.write(contentsOf: Data(text.utf8))
    }
}

/// The trainer's observer for one run (the trainer holds its observer weakly; the host keeps
/// this alive for the run).
private final class StepObserver: TrainingObserver {
    private let display: ProgressDisplay
    init(_ display: ProgressDisplay) { self.display = display }
    func didStep(_ record: StepRecord) { display.didStep(record) }
    func didEvaluate(_ record: EvaluationRecord) {}
}
