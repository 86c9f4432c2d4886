import BudgetEngine
import BudgetExperiments
import CLua
import Foundation

/// The version the CLI and scripts (`budgetrain.version`) report.
public enum BudgetrainVersion {
    public static let string = "0.1.0"
}

/// Runs budgetrain scripts: a Lua state with the budgetrain API (`nn`, `optim`, `data`,
/// `schedule`, `train`, ...), the module search path and the embedded standard library.
///
/// ```swift
/// let host = try ScriptHost(options: .init(seed: 1))
/// try host.runScript(at: "exp.lua", arguments: ["--quick"])
/// try host.runDeclarations()
/// ```
public final class ScriptHost {
    public enum Mode: String, Sendable {
        /// Train what the script asks for.
        case run
        /// Build every model and push one batch through it, train nothing.
        case check
    }

    public struct Options {
        /// The global seed (`--seed`): default seed of `train{}` and of weights built outside a run.
        public var seed: UInt64
        public var mode: Mode
        /// Where runs write their outputs (`--out`).
        public var outputDirectory: String
        /// Extra module directories or `?.lua` patterns (`BUDGETRAIN_PATH`), searched after
        /// the script's own directory.
        public var searchPath: [String]
        /// How experiment sweeps run: resume, jobs, threads per run, worker arguments, bounds.
        public var sweep = SweepSettings()
        /// Runs the script without the parts of Lua that reach outside budgetrain (`--sandbox`,
        /// and always for `budgetrain schedule`'s expressions; see `Sandbox.swift`). Its
        /// worker processes run sandboxed too.
        public var sandbox = false

        public init(seed: UInt64 = 0, mode: Mode = .run, outputDirectory: String = "runs", searchPath: [String] = []) {
            self.seed = seed
            self.mode = mode
            self.outputDirectory = outputDirectory
            self.searchPath = searchPath
        }
    }

    /// The script `runScript` ran and its arguments (recorded with experiment results).
    public private(set) var scriptPath: String?
    public private(set) var scriptArguments: [String] = []

    public let options: Options
    public let state: LuaState
    public let registry: BindingRegistry

    /// Draws the initial weights of the layers a script builds. `train{}` reseeds it from the
    /// run's seed before calling the model factory, so a factory builds the same weights for
    /// the same seed; outside a run it continues from the global seed.
    public var initialisation: RandomGenerator

    /// Shows the progress of runs (the CLI's progress bar); nil shows nothing.
    public var progress: RunProgressReporter?

    /// What the script declared for the host to carry out after it has run (see
    /// `ScriptDeclaration`), in order.
    public private(set) var declarations: [ScriptDeclaration] = []

    /// One line per `train{}` validated in check mode.
    public internal(set) var checkReports: [String] = []

    /// Runs `train{}` has completed (all modes).
    public internal(set) var completedRuns = 0

    /// The folder of the script `runScript` runs (where `require` looks first).
    var scriptDirectory: String?

    public init(options: Options = Options()) throws {
        try Self.validate(options)
        var options = options
        let workers = options.sweep.workerArguments
        if options.sandbox, !workers.isEmpty, !workers.contains("--sandbox") {
            options.sweep.workerArguments.insert("--sandbox", at: workers.firstIndex(of: "--") ?? workers.endIndex)
        }
        self.options = options
        state = try LuaState()
        registry = BindingRegistry(state: state)
        initialisation = RandomGenerator(seed: options.seed, stream: RunSpec.initialisationStream)
        try registerBindings()
        try installStandardLibrarySearcher()
        if options.sandbox { try applySandbox() }
    }

    /// The most worker processes a sweep may start (`--jobs`).
    public static let maximumJobs = 256

    /// Checks the options a user sets on the command line (`--threads`, `--jobs`).
    public static func validate(_ options: Options) throws {
        guard (1...ComputeThreads.maximum).contains(options.sweep.threadsPerRun) else {
            throw EngineError.invalidArgument("--threads must be in 1 ... \(ComputeThreads.maximum), got \(options.sweep.threadsPerRun)")
        }
        guard (1...maximumJobs).contains(options.sweep.jobs) else {
            throw EngineError.invalidArgument("--jobs must be in 1 ... \(maximumJobs), got \(options.sweep.jobs)")
        }
    }

    /// Every namespace of the Lua API. A new engine type is one registration in one of these.
    private func registerBindings() throws {
        try registerObjectTypes()
        try NNBindings.register(in: registry, host: self)
        try LayerBindings.register(in: registry, host: self)
        try OptimBindings.register(in: registry)
        try ScheduleBindings.register(in: registry)
        try RefinedScheduleBinding.register(in: registry, host: self)
        try DataBindings.register(in: registry)
        try DataLoaderBindings.register(in: registry)
        try TrainBinding.register(in: registry, host: self)
        try ExperimentBinding.register(in: registry, host: self)
        try LRFindBinding.register(in: registry, host: self)
        try SearchBinding.register(in: registry, host: self)
        try registry.global("budgetrain", .record([
            ("version", .string(BudgetrainVersion.string)),
            ("seed", .integer(Int(truncatingIfNeeded: options.seed))),
            ("mode", .string(options.mode.rawValue)),
            ("out_dir", .string(options.outputDirectory)),
            ("pid", .integer(Int(getpid()))),
        ]))
    }

    private func registerObjectTypes() throws {
        try NNBindings.registerTypes(in: registry)
        try OptimBindings.registerTypes(in: registry)
        try ScheduleBindings.registerTypes(in: registry)
        try DataBindings.registerTypes(in: registry)
    }

    /// Runs the script at `path` with its command-line `arguments`: they arrive in the global
    /// `arg` (`arg[0]` the script path, `arg[1] ...` the arguments) and as the chunk's `...`,
    /// as with the `lua` interpreter. `require` looks next to the script first.
    public func runScript(at path: String, arguments: [String] = []) throws {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ScriptFileError(path: path)
        }
        scriptPath = path
        scriptArguments = arguments
        try setModuleSearchPath(scriptDirectory: (path as NSString).deletingLastPathComponent)
        // The chunk, its arguments and the message handler go on the stack at once.
        try state.reserveStack(arguments.count + 2, for: "\(arguments.count) script arguments")
        state.preservingStack {
            state.newTable(arrayCount: Int32(clamping: arguments.count), recordCount: 1)
            state.push(path)
            state.rawSet(0, inTableAt: -2)
            for (i, a) in arguments.enumerated() {
                state.push(a)
                state.rawSet(i + 1, inTableAt: -2)
            }
            state.pushGlobals()
            state.pushValue(at: -2)
            state.setField("arg", inTableAt: -2)
        }
        try state.preservingStack {
            try state.loadFile(path)
            for a in arguments { state.push(a) }
            try state.protectedCall(arguments: Int32(clamping: arguments.count), results: 0)
        }
    }

    /// The value of the global `name` (for tests and tools that read what a script left).
    public func global(_ name: String) -> LuaValue {
        state.preservingStack {
            state.pushGlobals()
            state.getField(name, inTableAt: -1)
            return state.value(at: -1)
        }
    }

    /// Runs a chunk of Lua source (for tools and tests), with `chunkName` in its messages.
    public func runString(_ source: String, chunkName: String = "=[string]") throws {
        try state.run(source, chunkName: chunkName)
    }

    /// Runs Lua's garbage collector to completion. Lua sees only small handles of the engine's
    /// objects, not the megabytes of buffers behind them, so it feels no pressure to collect
    /// a finished run's model: the host collects after every run, or a sweep of many runs
    /// would keep every model's buffers alive.
    public func collectGarbage() { br_collect_garbage(state.main.L) }

    /// The schedule a Lua expression yields (`budgetrain schedule EXPR`), e.g.
    /// `schedule.warmup(0.05, schedule.cosine())` or `function(p) return (1 - p)^2 end`.
    /// Run it in a sandboxed host (`Options.sandbox`) when the expression is not the user's own
    /// script (the CLI always does).
    public func schedule(fromExpression expression: String) throws -> Schedule {
        try state.preservingStack {
            try state.loadString("return " + expression, chunkName: "=(expression)")
            try state.protectedCall(arguments: 0, results: 1)
            guard let s = state.schedule(at: -1) else {
                throw BindingError("the expression yields \(state.typeName(at: -1)), a schedule or function(p, ctx) expected")
            }
            return s
        }
    }

    /// Records a declaration for `runDeclarations` (bindings such as `experiment{}` call this).
    public func declare(_ declaration: ScriptDeclaration) { declarations.append(declaration) }

    /// Carries out (or, in check mode, validates) everything the script declared, in order.
    public func runDeclarations() throws {
        for d in declarations {
            switch options.mode {
            case .run: try d.run(in: self)
            case .check: try d.check(in: self)
            }
        }
    }
}

/// The script file given on the command line cannot be read.
public struct ScriptFileError: Error, UserFacingError {
    public let path: String
    public var description: String {
        FileManager.default.fileExists(atPath: path) ? "cannot read \(path)" : "\(path): no such file"
    }
}

/// A declaration whose runs worker processes of a `--jobs` sweep train by name.
public protocol CellServing: ScriptDeclaration {
    /// Runs the run named `run` in `directory` (a worker process's job): its record, or nil
    /// when a stop request interrupted it. A name the declaration does not have becomes a
    /// failed record.
    func runCell(named run: String, observer: TrainingObserver?, directory: String) -> ResultRow?
}

/// Something a script declares for the host to carry out after the script itself has run,
/// such as an experiment grid. The binding that creates it calls `ScriptHost.declare`; the CLI
/// calls `ScriptHost.runDeclarations` once the script returns.
public protocol ScriptDeclaration: AnyObject {
    /// How messages and progress name it (e.g. the experiment's name).
    var label: String { get }
    func run(in host: ScriptHost) throws
    /// Validates without training (`budgetrain check`).
    func check(in host: ScriptHost) throws
}
