import BudgetEngine
import Foundation

/// An error raised by Lua code (or a binding) and caught by `lua_pcall`: the message carries
/// the script position (`exp.lua:12: ...`) and a traceback.
public struct LuaScriptError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// A failure of the host itself rather than of the user's script (cannot create the Lua state,
/// a binding registered twice, ...).
public struct HostError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A wrong argument or option given to a binding, worded as Lua words its own:
/// `bad argument #1 to 'nn.Linear' (number expected, got string)`.
public struct BindingError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    public static func badArgument(_ position: Int, to function: String, _ detail: String) -> BindingError {
        BindingError("bad argument #\(position) to '\(function)' (\(detail))")
    }

    public static func badField(_ field: String, to function: String, _ detail: String) -> BindingError {
        BindingError("bad field '\(field)' to '\(function)' (\(detail))")
    }
}

/// Errors whose `description` is written for the user (as opposed to Foundation's errors,
/// whose `localizedDescription` is).
public protocol UserFacingError: Error, CustomStringConvertible {}

extension LuaScriptError: UserFacingError {}
extension HostError: UserFacingError {}
extension BindingError: UserFacingError {}
extension EngineError: UserFacingError {}

/// The message a user reads for any error a binding throws.
public func userMessage(for error: Error) -> String {
    if let e = error as? UserFacingError { return e.description }
    return error.localizedDescription
}
