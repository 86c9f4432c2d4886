import ArgumentParser
import BudgetEngine
import Foundation
import LuaHost

/// `budgetrain check exp.lua`: runs the script with `train{}` validating instead of training.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a script without training: build every model, push one batch through it.",
        discussion: """
            Runs the script with train{} in check mode (and checks each schedule of every \
            experiment{} the same way): each call builds its model once, pushes \
            one batch through it (forward, loss, backward) to catch shape errors, and evaluates \
            the schedule at a few points. train{} returns { status = "checked", ... }.
            """)

    @OptionGroup var script: ScriptArguments

    @Argument(parsing: .postTerminator, help: .scriptArguments)
    var scriptArguments: [String] = []

    func run() throws {
        BLASLibrary.setThreads(1)
        let host = try ScriptHost(options: script.hostOptions(mode: .check))
        try host.runScript(at: script.file, arguments: scriptArguments)
        try host.runDeclarations()
        for line in host.checkReports { print("checked " + line) }
        let runs = host.checkReports.count + host.declarations.count
        print("\(script.file): OK" + (runs == 0 ? " (the script declares no runs)" : ""))
    }
}
