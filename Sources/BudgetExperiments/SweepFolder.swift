import BudgetEngine
import Foundation

/// A lock on an experiment folder, held by the process that runs its sweep and by its
/// workers: a second sweep of the same folder (another `--resume`, say) fails at once instead
/// of training the same runs twice. An advisory `flock` on `<folder>/.lock`, which the system
/// releases when the last process holding it ends, however it ends.
///
/// Workers inherit the lock (`descriptor`), so a sweep whose parent was killed stays locked
/// until its workers, which notice and checkpoint within about a second, are gone too: a new
/// sweep then waits for them (at most `orphanWait` seconds) rather than failing.
public final class SweepLock {
    public let descriptor: Int32
    public let path: String
    public static let orphanWait = 60.0

    /// Locks `directory` for one sweep (`name` `.lock`), or, with `shared`, alongside other
    /// shards: each shard locks the folder shared and its own part (`.lock-shard-K-of-N`)
    /// exclusively, so shards run together while a plain sweep of the folder is kept out.
    public static func forSweep(directory: String, shard: Shard?) throws -> [SweepLock] {
        guard let shard else { return [try SweepLock(directory: directory)] }
        return [try SweepLock(directory: directory, shared: true), try SweepLock(directory: directory, name: ".lock-shard-\(shard.index)-of-\(shard.count)")]
    }

    public init(directory: String, name: String = ".lock", shared: Bool = false) throws {
        path = directory + "/" + name
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw EngineError.dataFile(path: path, message: "cannot create the sweep's lock file: \(String(cString: strerror(errno)))")
        }
        let deadline = Date().addingTimeInterval(Self.orphanWait)
        while flock(descriptor, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            let holderAlive = holder.map { kill($0, 0) == 0 || errno == EPERM } ?? true
            guard !holderAlive, Date() < deadline else {
                close(descriptor)
                throw EngineError.invalidArgument("\(directory): another budgetrain process\(holder.map { " (pid \($0))" } ?? "") is running this sweep; wait for it to end, or stop it first")
            }
            usleep(100_000)  // the workers of a sweep whose parent died are finishing
        }
        if !shared {
            _ = ftruncate(descriptor, 0)
            _ = LineChannel.writeAll(descriptor, "\(getpid())\n")
        }
    }

    deinit { close(descriptor) }
}

/// Part `index` (0-based) of `count` disjoint parts of every experiment's grid (`--shard K/N`).
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, count <= 100_000, (0..<count).contains(index) else {
            throw EngineError.invalidArgument("--shard K/N needs 0 <= K < N <= 100000, got \(index)/\(count)")
        }
        self.index = index
        self.count = count
    }

    /// `3/8`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else {
            throw EngineError.invalidArgument("--shard takes K/N (part K, from 0, of N), got '\(text)'")
        }
        try self.init(index: k, count: n)
    }

    public var description: String { "\(index)/\(count)" }
}

/// What a sweep is: the script, its arguments, the resolved grid and the settings shared by
/// its runs. Written to `config.lua` (the script) and `sweep.json` when a sweep starts;
/// `--resume` refuses a folder whose sweep differs, and says in what, since continuing would
/// mix two configurations in one results table.
public struct SweepIdentity: Codable, Equatable, Sendable {
    /// The script's text (stored as `config.lua`, not in `sweep.json`).
    public var scriptSource: String?
    public var scriptArguments: [String]
    /// The runs of the grid, in order.
    public var runs: [String]
    /// Everything else the runs share, as text: budgets, optimizer, model, data, ...
    public var settings: [String: String]
    /// The experiment's name and the extra columns of its results.csv (varied fields, then
    /// `message`): what `budgetrain report` needs to rebuild the table from the records.
    public var experiment: String
    public var extraColumns: [String]

    public init(scriptSource: String?, scriptArguments: [String], plan: ExperimentPlan, settings: [String: String]) {
        self.scriptSource = scriptSource
        self.scriptArguments = scriptArguments
        self.runs = plan.cells.map(\.run)
        self.settings = settings
        self.experiment = plan.name
        self.extraColumns = plan.extraFields + ["message"]
    }

    private enum CodingKeys: String, CodingKey {
        case scriptArguments = "script_arguments", runs, settings, experiment, extraColumns = "extra_columns"
    }

    /// The sweep description in `directory`, or nil when it has none.
    public static func read(from directory: String) throws -> SweepIdentity? {
        let path = paths(directory).identity
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard data.count < 64 << 20, let stored = try? JSONDecoder.exact.decode(SweepIdentity.self, from: data) else {
            throw EngineError.dataFile(path: path, message: "is not a sweep description budgetrain wrote")
        }
        return stored
    }

    static func paths(_ directory: String) -> (script: String, identity: String) {
        (directory + "/config.lua", directory + "/sweep.json")
    }

    /// Writes `config.lua` and `sweep.json`; with `ifAbsent` (shards, which may start at
    /// once on several hosts), only those that do not exist yet, each created whole or not at
    /// all (a hard link of a finished temporary file, atomic on NFS too).
    public func write(to directory: String, ifAbsent: Bool = false) throws {
        let (script, identity) = Self.paths(directory)
        let encoder = JSONEncoder.exact
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let files = [(script, scriptSource.map { Array($0.utf8) }), (identity, Array(try encoder.encode(self)) + [UInt8(ascii: "\n")])]
        for case let (path, bytes?) in files {
            if ifAbsent { try AtomicFile.create(bytes, at: path) } else { try AtomicFile.write(bytes, to: path) }
        }
    }

    /// Throws, naming the first difference, unless the folder's sweep is this one. A folder
    /// from before `sweep.json` existed is compared by its script alone.
    public func check(against directory: String) throws {
        let script = Self.paths(directory).script
        func refuse(_ what: String) -> EngineError {
            .invalidArgument("\(directory): \(what); resuming would mix two configurations in one results table (run with --out DIR for a new sweep)")
        }
        if let scriptSource, let previous = try? String(contentsOfFile: script, encoding: .utf8), previous != scriptSource {
            throw refuse("the script differs from \(script), the one this sweep started with")
        }
        guard let stored = try Self.read(from: directory) else { return }
        if stored.scriptArguments != scriptArguments {
            throw refuse("the script's arguments are \(Self.quoted(scriptArguments)) now, \(Self.quoted(stored.scriptArguments)) when the sweep started")
        }
        if stored.runs != runs {
            let first = zip(runs, stored.runs).first { $0 != $1 }.map { "'\($0.0)' now where it had '\($0.1)'" }
                ?? "\(runs.count) runs now, \(stored.runs.count) then"
            throw refuse("the grid differs: \(first)")
        }
        for key in Set(settings.keys).union(stored.settings.keys).sorted() where settings[key] != stored.settings[key] {
            throw refuse("'\(key)' is \(settings[key] ?? "unset") now, \(stored.settings[key] ?? "unset") when the sweep started")
        }
    }

    private static func quoted(_ arguments: [String]) -> String {
        "[" + arguments.map { "'\($0)'" }.joined(separator: " ") + "]"
    }
}
