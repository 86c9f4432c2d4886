import BudgetEngine
import CLua
import Foundation

/// `--sandbox` (and every `budgetrain schedule` expression): the script keeps the budgetrain
/// API and Lua's pure libraries, and loses what reaches outside the process:
///
/// - `os` keeps only `os.time`, `os.clock` and `os.date` (no `execute`, `remove`, `rename`,
///   `exit`, `getenv`, `tmpname`);
/// - `io` and `debug` are gone (so is `package.loadlib`; `package.cpath` is empty and the two
///   searchers of C modules are removed);
/// - `load`, `loadfile` and `dofile` load text chunks only (never precompiled bytecode, which
///   can break the interpreter's memory safety);
/// - `require` finds Lua files only in the script's folder (names of letters, digits, `_` and
///   `-` separated by dots: no `..`, no `/`) and the embedded standard library;
/// - `train { log = ... }` writes only below the current folder (a relative path without `..`).
///
/// It bounds neither memory nor time, and data loaders and `loadfile` still read any file the
/// user can read.
extension ScriptHost {
    func applySandbox() throws {
        try installSandboxedSearcher()
        try state.run(Self.sandboxSetup, chunkName: "=[budgetrain sandbox]")
        try registry.restrict("train") { args in
            guard args.state.type(at: args.index(1)) == LUA_TTABLE else { return }
            let state = args.state
            let log = state.preservingStack { () -> String? in
                state.getField("log", inTableAt: args.index(1))
                return state.string(at: -1)
            }
            if let log, !Self.isConfinedPath(log) {
                throw BindingError.badField("log", to: "train", "under --sandbox a log is written below the current folder: a relative path without '..' expected, got \"\(log)\"")
            }
        }
    }

    /// A relative path none of whose components is `..`.
    static func isConfinedPath(_ path: String) -> Bool {
        !path.isEmpty && !path.hasPrefix("/") && !path.hasPrefix("~")
            && !path.split(separator: "/", omittingEmptySubsequences: false).contains("..")
    }

    /// A module name the sandboxed searcher accepts: dot-separated parts of letters, digits,
    /// `_` and `-`.
    static func isConfinedModuleName(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.allSatisfy { part in
            !part.isEmpty && part.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D
            }
        }
    }

    /// Replaces Lua's file searcher (which follows `package.path`, which a script may change)
    /// by one that looks only in the script's folder; the C searchers go.
    private func installSandboxedSearcher() throws {
        state.pushFunction { [weak self] lua in
            guard let name = lua.string(at: 1) else { return 0 }
            guard Self.isConfinedModuleName(name) else {
                lua.push("no module '\(name)' under --sandbox (module names are letters, digits, '_' and '-', separated by '.')")
                return 1
            }
            guard let dir = self?.scriptDirectory else {
                lua.push("no script folder to look for '\(name)' in")
                return 1
            }
            let relative = name.replacingOccurrences(of: ".", with: "/")
            let candidates = ["\(dir)/\(relative).lua", "\(dir)/\(relative)/init.lua"]
            for path in candidates where FileManager.default.isReadableFile(atPath: path) {
                try lua.loadFile(path)
                lua.push(path)
                return 2
            }
            lua.push(candidates.map { "no file '\($0)'" }.joined(separator: "\n\t"))
            return 1
        }
        let searcher = state.makeReference()
        try state.preservingStack {
            try state.loadString(
                """
                local searcher = ...
                local embedded = package.searchers[3]
                package.searchers = { package.searchers[1], searcher, embedded }
                """, chunkName: "=[budgetrain sandbox]")
            searcher.push()
            try state.protectedCall(arguments: 1, results: 0)
        }
    }

    /// Removes `io`, `debug`, most of `os` and C module loading; text-only chunk loading.
    static let sandboxSetup = """
        local load, loadfile, select, error = load, loadfile, select, error
        local time, clock, date = os.time, os.clock, os.date
        os = { time = time, clock = clock, date = date }
        package.loaded.os = os
        io, debug = nil, nil
        package.loaded.io, package.loaded.debug = nil, nil
        package.loadlib = nil
        package.cpath = ""
        -- The mode argument is replaced by "t"; an environment passed (even nil) is kept.
        _G.load = function(chunk, name, mode, ...)
          if select("#", ...) > 0 then return load(chunk, name, "t", (...)) end
          return load(chunk, name, "t")
        end
        _G.loadfile = function(filename, mode, ...)
          if select("#", ...) > 0 then return loadfile(filename, "t", (...)) end
          return loadfile(filename, "t")
        end
        _G.dofile = function(filename)
          local chunk, message = loadfile(filename, "t")
          if not chunk then error(message, 0) end
          return chunk()
        end
        """
}
