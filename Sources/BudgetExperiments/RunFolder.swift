import BudgetEngine
import Foundation

/// One run's folder in an experiment, owned by whichever process trains the run:
///
///     <experiment>/<run>/result.json             the run's record, written (atomically) once it ended
///     <experiment>/<run>/metrics.jsonl           its metrics, appended while it trains
///     <experiment>/<run>/events.out.tfevents.budgetrain  the same curves for TensorBoard
///     <experiment>/<run>/checkpoint.safetensors  its latest state while it trains; removed once
///                                                the record is written
///     <experiment>/<run>/heartbeat.json          who trains it, and how far it has got, while it trains
///     <experiment>/<run>/final.safetensors       its state at the end, when a search continues
///                                                from it (`RunSpec.keepsFinalState`)
///
/// The record is the truth: results.csv and the report are derived from the records, so no
/// two processes ever append to one file.
public struct RunFolder: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var recordPath: String { path + "/result.json" }
    public var metricsPath: String { path + "/metrics.jsonl" }
    public var checkpointPath: String { path + "/checkpoint.safetensors" }
    public var eventsPath: String { path + "/" + EventFile.fileName }
    public var heartbeatPath: String { path + "/heartbeat.json" }
    public var finalStatePath: String { path + "/final.safetensors" }

    /// The run's record, or nil when it has not ended.
    public func readRecord() throws -> ResultRow? {
        guard let data = FileManager.default.contents(atPath: recordPath) else { return nil }
        guard data.count < 1 << 20, let row = try? JSONDecoder.exact.decode(ResultRow.self, from: data) else {
            throw EngineError.dataFile(path: recordPath, message: "is not a budgetrain run record; delete it to train this run again")
        }
        return row
    }

    public func writeRecord(_ row: ResultRow) throws {
        try AtomicFile.write(Array(try JSONEncoder.exact.encode(row)) + [UInt8(ascii: "\n")], to: recordPath)
        unlink(checkpointPath)
        unlink(heartbeatPath)
    }

    /// The run's last checkpoint, or nil when it has none.
    public func readCheckpoint() throws -> TrainingState? {
        guard FileManager.default.fileExists(atPath: checkpointPath) else { return nil }
        return try CheckpointFile.read(path: checkpointPath)
    }
}

/// Folder names for experiment and run names: a name that is safe as it stands (letters,
/// digits and `. _ = + -`, not starting with a dot, at most 200 bytes) is its own folder;
/// any other gets its unsafe characters replaced by `_` and, so that two names cannot meet in
/// one folder, `~` and 8 hex digits of a hash of the whole name appended
/// (`x/../p` → `x_.._p~1b2f3c4d`).
public enum SafeName {
    public static func folder(for name: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._=+-")
        let safe = !name.isEmpty && !name.hasPrefix(".") && name.utf8.count <= 200 && name.allSatisfy { allowed.contains($0) }
        if safe { return name }
        var cleaned = String(name.map { allowed.contains($0) ? $0 : "_" }.prefix(180))
        if cleaned.hasPrefix(".") || cleaned.isEmpty { cleaned = "_" + cleaned }
        return cleaned + "~" + String(format: "%08x", fnv1a(name))
    }

    /// FNV-1a, 32 bits: stable across runs and machines (Swift's `hashValue` is seeded).
    static func fnv1a(_ text: String) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        for byte in text.utf8 { h = (h ^ UInt32(byte)) &* 0x0100_0193 }
        return h
    }
}
