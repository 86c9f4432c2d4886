import ArgumentParser
import BudgetEngine
import BudgetExperiments
import Foundation
import LuaHost

/// `budgetrain`: budgeted training of neural networks, driven by Lua scripts.
struct BudgetrainCommand: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "budgetrain",
            abstract: "Budgeted training of neural networks, driven by Lua scripts.",
            discussion: """
                A script describes data, models, optimizers and learning-rate schedules with the \
                Lua API (nn, optim, data, schedule, train; see docs/lua-api.md) and trains them \
                under a budget of epochs, iterations or seconds. The learning rate is a function of \
                progress p = step / budget.

                Exit status: 0 on success; 2 for a usage or script error (syntax, runtime error, \
                bad argument, bad shapes, missing data, failed runs); 130 or 143 when SIGINT or \
                SIGTERM stopped it (runs checkpointed: --resume continues); 1 for any other failure.
                """,
            version: versionText,
            subcommands: [
                RunCommand.self, CheckCommand.self, SubmitCommand.self, StatusCommand.self, ReportCommand.self, RankCommand.self,
                ScheduleCommand.self, LRFindCommand.self, PeakCommand.self,
            ])
    }

    /// `--version`: the version, the BLAS kernels in use and the default thread count.
    static var versionText: String {
        "budgetrain \(BudgetrainVersion.string)\n"
            + "BLAS: OpenBLAS, \(BLASLibrary.coreName) kernels; "
            + "threads: \(ThreadCount.default) (the number of cores; --threads changes it)"
    }

    /// Parses the arguments, runs the command and exits.
    static func runAndExit() -> Never {
        // Make OpenBLAS use this processor's fast kernels (may re-execute the program once).
        // A worker process that dies must become an error in its parent, not kill it.
        signal(SIGPIPE, SIG_IGN)
        KernelSelection.relaunchIfBeneficial()
        KernelSelection.verifyOrFallBack()
        do {
            var command = try parseAsRoot()
            try command.run()
            Foundation.exit(ExitStatus.success)
        } catch let error where StopRequest.isRequested {
            // A signal stopped the work: runs have checkpointed; 128 + the signal, as a shell
            // reports it. The message's first line says where things stand (no traceback).
            ExitStatus.report(String(userMessage(for: error).prefix { $0 != "\n" }))
            Foundation.exit(128 + (StopRequest.signal ?? SIGTERM))
        } catch let error as CommandFailure {
            ExitStatus.report(error.message)
            Foundation.exit(error.status)
        } catch let error where isScriptOrHostError(error) {
            ExitStatus.report(userMessage(for: error))
            Foundation.exit(ExitStatus.failure(for: error))
        } catch {
            // The argument parser's own outcomes: --help and --version (code 0, printed on
            // stdout), usage errors (printed with the usage, exit code 2).
            if exitCode(for: error) == .success { exit(withError: error) }
            if exitCode(for: error) == .validationFailure {
                try? FileHandle.standardError.write(contentsOf: Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usageOrScriptError)
            }
            ExitStatus.report(userMessage(for: error))
            Foundation.exit(ExitStatus.failure)
        }
    }

    private static func isScriptOrHostError(_ error: Error) -> Bool { error is UserFacingError }
}

/// How many threads BLAS and the engine's loops use.
enum ThreadCount {
    static var `default`: Int { ProcessInfo.processInfo.activeProcessorCount }
}
