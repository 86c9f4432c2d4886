import Foundation

/// The Lua modules compiled into the binary: `require` finds them with no files at run time.
/// Each module's source is a raw string literal in a Swift file of its own in this folder.
public enum StandardLibrary {
    public struct Module: Sendable {
        /// The name `require` takes, e.g. `budgetrain.models`.
        public let name: String
        public let source: String
        /// How error messages and tracebacks name the module's code.
        public var chunkName: String { name.replacingOccurrences(of: ".", with: "/") + ".lua" }
    }

    public static let modules: [Module] = [
        Module(name: "budgetrain.models", source: ModelsModule.source),
        Module(name: "budgetrain.args", source: ArgsModule.source),
    ]

    public static func module(named name: String) -> Module? { modules.first { $0.name == name } }
}
