import BudgetEngine
import Foundation

/// Who trains a run and how far it has got, in `<run>/heartbeat.json`, rewritten (atomically)
/// when the run starts and then at most every `interval` seconds while it trains; removed with
/// the checkpoint when the run's record is written. `budgetrain status` reads them: a fresh
/// one is a running run, a stale one a run whose process died.
///
///     {"owner":"shard 2/4","host":"node17","pid":4242,"step":812,"budget_steps":2000,"elapsed":61.2,"updated":1733211111.5}
public final class RunHeartbeat: TrainingObserver {
    public static let interval = 5.0

    public struct Beat: Codable, Sendable, Equatable {
        public var owner: String
        public var host: String
        public var pid: Int32
        /// Steps taken.
        public var step: Int
        public var budgetSteps: Int?
        /// Seconds of training so far.
        public var elapsed: Double
        /// When this was written (seconds since 1970).
        public var updated: Double

        enum CodingKeys: String, CodingKey { case owner, host, pid, step, budgetSteps = "budget_steps", elapsed, updated }
    }

    private let path: String
    private var beat: Beat
    private var lastWrite = 0.0
    public weak var next: TrainingObserver?

    public init(path: String, owner: String, budgetSteps: Int?, startStep: Int, next: TrainingObserver?) {
        self.path = path
        self.next = next
        beat = Beat(owner: owner, host: ProcessInfo.processInfo.hostName, pid: getpid(), step: startStep,
                    budgetSteps: budgetSteps, elapsed: 0, updated: 0)
        write(force: true)
    }

    public func didStep(_ record: StepRecord) {
        beat.step = record.step + 1
        beat.elapsed = record.elapsed
        write(force: false)
        next?.didStep(record)
    }

    public func didEvaluate(_ record: EvaluationRecord) { next?.didEvaluate(record) }

    private func write(force: Bool) {
        let now = Date().timeIntervalSince1970
        guard force || now - lastWrite >= Self.interval else { return }
        lastWrite = now
        beat.updated = now
        // A heartbeat that cannot be written only leaves `status` less informed.
        if let data = try? JSONEncoder.exact.encode(beat) { try? AtomicFile.write(Array(data) + [10], to: path) }
    }

    /// The heartbeat in `path`, if there is a readable one.
    public static func read(path: String) -> Beat? {
        guard let data = FileManager.default.contents(atPath: path), data.count < 1 << 16 else { return nil }
        return try? JSONDecoder.exact.decode(Beat.self, from: data)
    }
}
