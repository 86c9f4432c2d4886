import BudgetEngine
import Foundation

/// The worker's side of the `WorkerPool` protocol: reads `RUN` lines from stdin until it
/// closes, runs each, and answers on fd 3 (`READY`, then per job heartbeats and a `RESULT` or
/// `INTERRUPTED`).
///
/// A worker never outlives its parent: a watchdog notices when the parent is gone (the worker
/// is handed to another process) and requests a stop, so the run in progress checkpoints at
/// its next step and the worker exits.
public enum WorkerService {
    /// The file descriptor the parent reads messages from.
    static let channel: Int32 = 3

    /// Serves jobs; `runJob(experiment, run, heartbeat)` trains one cell with `heartbeat`
    /// observing its steps, and returns its record (nil when a stop request interrupted it).
    /// Returns when the parent closes the job pipe or a stop was requested.
    public static func serve(runJob: (String, String, TrainingObserver) -> ResultRow?) {
        // Nothing the script starts inherits the channel or the sweep's lock (fd 4).
        for fd in [channel, 4] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        watchParent()
        guard send(WorkerMessage.ready) else { return }
        let heartbeat = Heartbeat()
        while !StopRequest.isRequested, let line = Swift.readLine() {
            guard line.hasPrefix(WorkerMessage.run + " ") else { continue }
            let parts = line.dropFirst(WorkerMessage.run.count + 1).split(separator: "\t", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let row = runJob(parts[0], parts[1], heartbeat)
            fflush(stdout)  // what the script printed comes first
            guard let row, let json = try? JSONEncoder.exact.encode(row) else {
                send(WorkerMessage.interrupted)
                return
            }
            guard send(WorkerMessage.result + " " + String(decoding: json, as: UTF8.self)) else { return }
        }
    }

    @discardableResult
    static func send(_ message: String) -> Bool { LineChannel.writeAll(channel, message + "\n") }

    /// Requests a stop once the parent process is gone (polled twice a second).
    private static func watchParent() {
        let parent = getppid()
        Thread {
            while getppid() == parent { usleep(500_000) }
            StopRequest.request(signal: SIGTERM)
        }.start()
    }

    /// Tells the parent the worker is alive, at most once a second, from the training loop
    /// itself (so a worker stuck in a step stops sending them).
    final class Heartbeat: TrainingObserver {
        private var last = DispatchTime.now().uptimeNanoseconds

        func didStep(_ record: StepRecord) { beat(step: record.step) }
        func didEvaluate(_ record: EvaluationRecord) { beat(step: record.step) }

        private func beat(step: Int) {
            let now = DispatchTime.now().uptimeNanoseconds
            guard now - last >= 1_000_000_000 else { return }
            last = now
            WorkerService.send("\(WorkerMessage.heartbeat) \(step)")
        }
    }
}
