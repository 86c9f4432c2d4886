import ArgumentParser
import BudgetEngine
import BudgetExperiments
import Foundation
import LuaHost

/// `budgetrain schedule EXPR`: shows a decay shape before any compute is spent on it.
struct ScheduleCommand: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case csv, svg, text }

    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Preview a learning-rate schedule: every step's multiplier as CSV, SVG or a terminal sketch.",
        discussion: """
            EXPR is a Lua expression yielding a schedule, evaluated with budgetrain's Lua API \
            in a sandbox (as `run --sandbox`: no io, os.execute, debug or C modules).

            Examples:
              budgetrain schedule 'schedule.linear()' --steps 10
              budgetrain schedule 'schedule.warmup(0.05, schedule.cosine())' --format text
              budgetrain schedule 'function(p) return (1 - p)^2 end' --format svg > squared.svg
              budgetrain schedule 'schedule.truncated(schedule.step{})' --steps 100 --full-steps 1000
            """)

    @Argument(help: ArgumentHelp("A Lua expression yielding a schedule or a function(p, ctx).", valueName: "expr"))
    var expression: String

    @Option(help: "Steps in the budget.")
    var steps: Int = 100

    @Option(help: "Steps in the full budget (for truncated schedules; default: --steps).")
    var fullSteps: Int?

    @Option(help: "Steps per epoch (for epoch-sampled schedules; default: --steps).")
    var stepsPerEpoch: Int?

    @Option(help: "Output format: csv (step,progress,multiplier), svg, or text.")
    var format: Format = .csv

    func validate() throws {
        guard steps > 0 else { throw ValidationError("--steps must be positive, got \(steps)") }
        if let fullSteps, fullSteps <= 0 { throw ValidationError("--full-steps must be positive, got \(fullSteps)") }
        if let stepsPerEpoch, stepsPerEpoch <= 0 { throw ValidationError("--steps-per-epoch must be positive, got \(stepsPerEpoch)") }
    }

    func run() throws {
        var options = ScriptHost.Options(mode: .check)
        options.sandbox = true
        let host = try ScriptHost(options: options)
        let schedule = try host.schedule(fromExpression: expression)
        let preview = try withExtendedLifetime(host) {
            try SchedulePreview(schedule: schedule, steps: steps, fullSteps: fullSteps, stepsPerEpoch: stepsPerEpoch)
        }
        switch format {
        case .csv: print(preview.csv(), terminator: "")
        case .svg: print(preview.svg(), terminator: "")
        case .text: print(preview.text(), terminator: "")
        }
    }
}
