import BudgetEngine
import BudgetExperiments
import Foundation
import LuaHost

/// The process exit codes:
/// - 0: success;
/// - 2: a usage or script error — bad command line, script not found, Lua syntax or runtime
///   error, wrong argument to a binding, shape mismatch, missing data: things the user fixes
///   in the command or the script;
/// - 1: any other failure (e.g. the output directory cannot be written).
enum ExitStatus {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let usageOrScriptError: Int32 = 2

    /// The code for an error thrown while running a command.
    static func failure(for error: Error) -> Int32 {
        switch error {
        case is LuaScriptError, is BindingError, is EngineError, is ScriptFileError, is SweepRunsFailed: return usageOrScriptError
        default: return failure
        }
    }

    /// Prints an error for the user on stderr.
    static func report(_ message: String) {
        try? FileHandle.standardError.write(contentsOf: Data(("budgetrain: " + message + "\n").utf8))
    }
}

/// A failure a command reports with a chosen exit status.
struct CommandFailure: Error {
    var message: String
    var status: Int32
}
