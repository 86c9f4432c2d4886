import ArgumentParser
import BudgetEngine
import BudgetExperiments
import Foundation
import LuaHost

/// `budgetrain lr-find exp.lua`: the learning-rate range test on an experiment's setup, before
/// a sweep of rates is spent on it.
struct LRFindCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lr-find",
        abstract: "Find a learning rate: an exponential sweep of the rate over a few hundred steps (Smith's range test).",
        discussion: """
            Runs the script in check mode (nothing trains; train{} calls only check themselves) \
            and takes the first experiment{} it declares (or the one --experiment names): its \
            training data, model factory (called as for the experiment's first run), loss, \
            optimizer, batch size and first seed. A fresh model then trains for at most --steps \
            steps, the rate growing exponentially from --min to --max; the loss is smoothed by \
            an exponential moving average (beta 0.98, bias-corrected), and the sweep stops early \
            once the smoothed loss exceeds 4 times its minimum. The suggested rate is the rate \
            at the minimum of the smoothed loss divided by 10. The same script and seed give \
            the same sweep.

            Writes lr-find.csv (step,lr,loss,smoothed) and lr-find.svg (smoothed loss against \
            the rate, log-x) into --out (default runs/<experiment>-lr-find).

            Examples:
              budgetrain lr-find examples/budgeted_training.lua -- --quick
              budgetrain lr-find exp.lua --min 1e-5 --max 1 --steps 300 --out lr
            """)

    @OptionGroup var script: ScriptArguments

    @Option(name: .customLong("min"), help: "The smallest learning rate of the sweep.")
    var minLR: Double = 1e-6

    @Option(name: .customLong("max"), help: "The largest learning rate of the sweep.")
    var maxLR: Double = 10

    @Option(help: "Steps of the sweep (one rate each), at most 100000.")
    var steps: Int = 200

    @Option(help: ArgumentHelp("Where to write lr-find.csv and lr-find.svg (default: runs/<experiment>-lr-find).", valueName: "dir"))
    var out: String?

    @Option(help: ArgumentHelp("The experiment to sweep (default: the first the script declares).", valueName: "name"))
    var experiment: String?

    @Option(help: "Threads for BLAS and the engine's loops (default: the number of cores).")
    var threads: Int?

    @Argument(parsing: .postTerminator, help: .scriptArguments)
    var scriptArguments: [String] = []

    var settings: LearningRateRangeTest.Settings { .init(minLR: minLR, maxLR: maxLR, steps: steps) }

    func validate() throws {
        do { try settings.validate() } catch { throw ValidationError(userMessage(for: error)) }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        BLASLibrary.setThreads(threads ?? ThreadCount.default)
        let host = try ScriptHost(options: script.hostOptions(mode: .check))
        try host.runScript(at: script.file, arguments: scriptArguments)
        let experiments = host.declarations.compactMap { $0 as? ExperimentDeclaration }
        guard let chosen = experiment.map({ name in experiments.first { $0.label == name } }) ?? experiments.first else {
            let known = experiments.map(\.label).joined(separator: ", ")
            throw CommandFailure(
                message: experiment.map { "\(script.file): declares no experiment named '\($0)'" + (known.isEmpty ? "" : " (it declares: \(known))") }
                    ?? "\(script.file): declares no experiment{}; lr-find sweeps an experiment's data, model, optimizer and batch size (in a script, call lr_find{} instead)",
                status: ExitStatus.usageOrScriptError)
        }
        let spec = try chosen.rangeTestSpec()
        let result = try withExtendedLifetime(host) { try LearningRateRangeTest.run(spec, settings: settings) }
        let report = RangeTestReport(result: result, settings: settings, subject: "experiment \(chosen.label)")
        let directory = out ?? "runs/" + SafeName.folder(for: chosen.label) + "-lr-find"
        let paths = try report.write(to: directory)
        for line in report.summaryLines { print(line) }
        print("Wrote " + paths.joined(separator: " and "))
    }
}
