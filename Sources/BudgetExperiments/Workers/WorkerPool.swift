import BudgetEngine
import Foundation

/// Runs experiment cells in worker processes (and in this one): the way `--jobs N` uses N
/// cores for N runs at once (each run with `cores / N` BLAS threads) while results stay
/// identical to one job.
///
/// Each worker is the same program in its worker mode (`WorkerService`), started with
/// `settings.arguments`. The protocol, one line per message (see `ChildProcess` for the pipes):
///
///     parent → worker (its stdin):  RUN <experiment>\t<run>
///     worker → parent (its fd 3):   READY | HEARTBEAT <step> | RESULT <ResultRow as JSON> | INTERRUPTED
///
/// A busy worker sends a heartbeat at least every second while it trains. One that sends
/// nothing for `heartbeatTimeout` seconds, exceeds the run timeout, or dies, is killed; its
/// run is retried (`retries` times, from the run's checkpoint) and then recorded as failed
/// with the cause. A stop request (`StopRequest`) hands out no further runs; running ones
/// checkpoint and answer `INTERRUPTED` (the parent passes the signal on to its workers).
public final class WorkerPool {
    public struct Job: Sendable {
        public var experiment: String
        public var cell: ExperimentCell
        /// Earlier attempts at this job that a dead or hung worker cut short.
        public var attempt = 0

        public init(experiment: String, cell: ExperimentCell) {
            self.experiment = experiment
            self.cell = cell
        }
    }

    public struct Settings: Sendable {
        /// The program to start (the same program as the parent) and its worker arguments.
        public var executable = "/proc/self/exe"
        public var arguments: [String]
        /// Runs at once, counting the one the parent may train itself.
        public var workers: Int
        /// Seconds a worker may stay silent (starting up or training) before it is killed.
        public var heartbeatTimeout: Double = WorkerPool.defaultHeartbeatTimeout
        /// Seconds one run may take in a worker (nil: no bound).
        public var runTimeout: Double?
        /// How often a run cut short by its worker's death is tried again.
        public var retries = 1
        /// The sweep's lock, which workers hold too (see `SweepLock`).
        public var lock: Int32?

        public init(arguments: [String], workers: Int) {
            self.arguments = arguments
            self.workers = max(1, workers)
        }
    }

    /// Five minutes: far longer than any step or evaluation of the models budgetrain trains
    /// on a CPU, short enough that a hung worker does not hold a sweep for long.
    public static let defaultHeartbeatTimeout = 300.0

    /// How a job ended.
    public enum Outcome: Sendable {
        case finished(ResultRow)
        /// A stop request ended it; it continues from its checkpoint next time.
        case interrupted
        /// Its worker died or hung on every attempt; the message says how.
        case failed(String)
    }

    private let settings: Settings
    private let lock = NSLock()
    private var queue: [Job]

    public init(settings: Settings, jobs: [Job]) {
        self.settings = settings
        self.queue = jobs
    }

    /// Runs every job; `onOutcome` is called serially, from any of the serving threads. With
    /// `local`, the calling thread serves the queue too, running jobs in this process, and only
    /// `workers − 1` processes are started: the parent has the script's data loaded already,
    /// so it trains from the first second while the workers start up.
    public func run(local: ((Job) -> Outcome)? = nil, onOutcome: @escaping (Job, Outcome) -> Void) {
        let group = DispatchGroup()
        let processes = local == nil ? settings.workers : settings.workers - 1
        for _ in 0..<min(processes, lock.withLock { queue.count }) {
            group.enter()
            Thread { [self] in
                serve(onOutcome: onOutcome)
                group.leave()
            }.start()
        }
        if let local {
            while let job = nextJob() { deliver(job, local(job), onOutcome) }
        }
        group.wait()
    }

    /// The next job, or nil when there is none or a stop was requested.
    private func nextJob() -> Job? {
        lock.withLock {
            guard !StopRequest.isRequested, !queue.isEmpty else { return nil }
            return queue.removeFirst()
        }
    }

    private func deliver(_ job: Job, _ outcome: Outcome, _ onOutcome: (Job, Outcome) -> Void) {
        lock.withLock { onOutcome(job, outcome) }
    }

    /// One worker's loop: start a process, feed it jobs one at a time, replace it if it dies.
    private func serve(onOutcome: @escaping (Job, Outcome) -> Void) {
        var worker: WorkerConnection?
        while var job = nextJob() {
            let outcome: WorkerConnection.Answer
            do {
                if worker == nil { worker = try WorkerConnection(settings: settings) }
                outcome = try worker.map { $0.run(job, settings: settings) } ?? .died("no worker")
            } catch {
                outcome = .died("\(error)")
            }
            switch outcome {
            case let .finished(row): deliver(job, .finished(row), onOutcome)
            case .interrupted: deliver(job, .interrupted, onOutcome)
            case let .died(cause):
                worker?.process.kill()
                worker = nil
                if job.attempt < settings.retries, !StopRequest.isRequested {
                    job.attempt += 1
                    lock.withLock { queue.insert(job, at: 0) }
                } else {
                    let tries = job.attempt + 1
                    deliver(job, .failed(tries > 1 ? "\(cause) (on each of \(tries) attempts)" : cause), onOutcome)
                }
            }
        }
        worker?.finish()
    }
}

/// The parent's side of one worker process.
final class WorkerConnection {
    let process: ChildProcess
    private let channel: LineChannel

    enum Answer {
        case finished(ResultRow)
        case interrupted
        case died(String)
    }

    init(settings: WorkerPool.Settings) throws {
        process = try ChildProcess(executable: settings.executable, arguments: settings.arguments, lock: settings.lock)
        channel = LineChannel(fd: process.messages)
        switch channel.readLine(timeout: settings.heartbeatTimeout) {
        case .line(WorkerMessage.ready): return
        case let .line(other): throw EngineError.training("a worker process answered '\(other.prefix(80))' instead of READY")
        case .timedOut:
            process.kill()
            throw EngineError.training("a worker process did not start within \(Int(settings.heartbeatTimeout)) s")
        case .closed:
            let status = process.wait(timeout: 5).map(ChildProcess.describe) ?? "stopped answering"
            throw EngineError.training("a worker process \(status) while running the script")
        }
    }

    func run(_ job: WorkerPool.Job, settings: WorkerPool.Settings) -> Answer {
        guard process.send("\(WorkerMessage.run) \(job.experiment)\t\(job.cell.run)") else { return died() }
        let deadline = settings.runTimeout.map { Date().addingTimeInterval($0) }
        while true {
            let wait = min(settings.heartbeatTimeout, deadline.map { max($0.timeIntervalSinceNow, 0) } ?? .infinity)
            switch channel.readLine(timeout: wait) {
            case let .line(line):
                if line.hasPrefix(WorkerMessage.heartbeat) { continue }
                if line == WorkerMessage.interrupted { return .interrupted }
                if line.hasPrefix(WorkerMessage.result + " ") {
                    let json = Data(line.dropFirst(WorkerMessage.result.count + 1).utf8)
                    guard let row = try? JSONDecoder.exact.decode(ResultRow.self, from: json) else {
                        return .died("the worker sent a result that does not parse")
                    }
                    return .finished(row)
                }
            case .timedOut:
                if let deadline, Date() >= deadline { return .died("the run exceeded --run-timeout \(settings.runTimeout.map { $0.formatted } ?? "") s") }
                return .died("the worker sent no heartbeat for \(Int(settings.heartbeatTimeout)) s")
            case .closed:
                return died()
            }
        }
    }

    private func died() -> Answer {
        let status = process.wait(timeout: 5).map(ChildProcess.describe) ?? "stopped answering"
        return .died("its worker process \(status)")
    }

    /// No more jobs: the worker exits; waits for it (at most 30 s, then kills it).
    func finish() {
        process.closeJobs()
        if process.wait(timeout: 30) == nil { process.kill() }
    }
}

/// The words of the worker protocol.
enum WorkerMessage {
    static let run = "RUN"
    static let ready = "READY"
    static let heartbeat = "HEARTBEAT"
    static let result = "RESULT"
    static let interrupted = "INTERRUPTED"
}
