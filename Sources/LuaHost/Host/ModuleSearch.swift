import CLua
import Foundation

/// Where `require` looks, in order:
/// 1. `package.preload` (Lua's own first searcher);
/// 2. Lua files next to the script (`<dir>/?.lua`, `<dir>/?/init.lua`), then on
///    `BUDGETRAIN_PATH`, then on Lua's default path;
/// 3. the standard library compiled into the binary (`budgetrain.models`, ...);
/// 4. Lua's C-module searchers.
/// Files come before the embedded library, so a plugin can stand in for a standard module.
extension ScriptHost {
    /// Splits a `BUDGETRAIN_PATH` value into `?.lua` patterns: an entry with a `?` is taken
    /// as it is, a plain directory `d` becomes `d/?.lua` and `d/?/init.lua`.
    public static func searchPatterns(fromPath value: String) -> [String] {
        value.split(separator: ";", omittingEmptySubsequences: true).flatMap { entry -> [String] in
            let e = String(entry)
            if e.contains("?") { return [e] }
            let dir = e.hasSuffix("/") ? String(e.dropLast()) : e
            return ["\(dir)/?.lua", "\(dir)/?/init.lua"]
        }
    }

    /// Prepends the script's directory and the search path to `package.path`. (In a sandbox
    /// `require` ignores `package.path`: see `Sandbox.swift`.)
    func setModuleSearchPath(scriptDirectory: String) throws {
        let dir = scriptDirectory.isEmpty ? "." : scriptDirectory
        self.scriptDirectory = dir
        let patterns = ["\(dir)/?.lua", "\(dir)/?/init.lua"]
            + options.searchPath.flatMap { Self.searchPatterns(fromPath: $0) }
        try state.run(
            "local prefix = ...; package.path = prefix .. ';' .. package.path",
            chunkName: "=[budgetrain setup]", arguments: [.string(patterns.joined(separator: ";"))])
    }

    /// Inserts the searcher of the embedded standard library into `package.searchers`.
    func installStandardLibrarySearcher() throws {
        state.pushFunction { lua in
            guard let name = lua.string(at: 1) else { return 0 }
            guard let module = StandardLibrary.module(named: name) else {
                lua.push("no module '\(name)' in the embedded budgetrain library")
                return 1
            }
            try lua.loadString(module.source, chunkName: "@" + module.chunkName)
            lua.push(":embedded:" + module.chunkName)
            return 2
        }
        let searcher = state.makeReference()
        try state.preservingStack {
            try state.loadString(
                "local searcher = ...; table.insert(package.searchers, 3, searcher)",
                chunkName: "=[budgetrain setup]")
            searcher.push()
            try state.protectedCall(arguments: 1, results: 0)
        }
    }
}
