import BudgetEngine
import Foundation

/// Where a sweep stands, read from its folder alone (so it works the same for a local
/// `--jobs` sweep and for shards on a cluster): each run's record, heartbeat and checkpoint.
public struct SweepStatus {
    /// A run without a record that has a heartbeat.
    public struct Active {
        public var run: String
        public var beat: RunHeartbeat.Beat
        /// Seconds since the heartbeat was written.
        public var age: Double

        /// Seconds left at the pace so far (nil before the first step or for a wall-clock budget).
        public var eta: Double? {
            guard let total = beat.budgetSteps, beat.step > 0, beat.elapsed > 0 else { return nil }
            return beat.elapsed / Double(beat.step) * Double(max(total - beat.step, 0))
        }
    }

    /// A heartbeat older than this (seconds) belongs to a process that has stopped or died.
    public static let staleAfter = 120.0

    public var experiment: String
    public var total: Int
    public var finished = 0
    public var diverged = 0
    public var failed = 0
    /// Runs training now (a fresh heartbeat).
    public var running: [Active] = []
    /// Runs whose process stopped or died part-way (a stale heartbeat); `--resume` continues them.
    public var stopped: [Active] = []
    public var pending = 0

    public init(directory: String, now: Double = Date().timeIntervalSince1970) throws {
        guard let identity = try SweepIdentity.read(from: directory) else {
            throw EngineError.dataFile(path: directory + "/sweep.json", message: "missing: this folder holds no budgetrain sweep (or one from before sweep.json)")
        }
        experiment = identity.experiment
        total = identity.runs.count
        for run in identity.runs {
            let folder = RunFolder(path: directory + "/" + SafeName.folder(for: run))
            if let row = try? folder.readRecord() {
                switch row.status {
                case .ok, .interrupted: finished += 1
                case .diverged: diverged += 1
                case .failed: failed += 1
                }
            } else if let beat = RunHeartbeat.read(path: folder.heartbeatPath) {
                let active = Active(run: run, beat: beat, age: max(0, now - beat.updated))
                if active.age > Self.staleAfter { stopped.append(active) } else { running.append(active) }
            } else {
                pending += 1
            }
        }
    }

    public var isDone: Bool { running.isEmpty && stopped.isEmpty && pending == 0 }

    /// The status as text: counts, then each running run by owner.
    public func text() -> String {
        var lines = ["\(experiment): \(finished + diverged + failed) of \(total) runs done (\(finished) ok, \(diverged) diverged, \(failed) failed), \(running.count) running, \(stopped.count) stopped, \(pending) pending"]
        for (owner, runs) in Dictionary(grouping: running, by: \.beat.owner).sorted(by: { $0.key < $1.key }) {
            lines.append("  \(owner) (pid \(runs[0].beat.pid)):")
            for r in runs.sorted(by: { $0.run < $1.run }) {
                let progress = r.beat.budgetSteps.map { "step \(r.beat.step)/\($0)" } ?? "step \(r.beat.step)"
                let eta = r.eta.map { ", ETA \(Self.duration($0))" } ?? ""
                lines.append("    \(r.run): \(progress)\(eta), heartbeat \(Self.duration(r.age)) ago")
            }
        }
        for r in stopped.sorted(by: { $0.run < $1.run }) {
            lines.append("  stopped: \(r.run) at step \(r.beat.step) (\(r.beat.owner), last heartbeat \(Self.duration(r.age)) ago); --resume continues it")
        }
        return lines.joined(separator: "\n")
    }

    /// `0:32`, `12:05`, `1:02:03`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, abs(seconds) < 1e9 else { return "?" }
        let s = Int(seconds.rounded())
        let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, sec) : String(format: "%d:%02d", m, sec)
    }
}
