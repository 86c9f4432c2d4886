import BudgetEngine
import Dispatch
import Foundation

/// What SIGINT (Ctrl-C) and SIGTERM (`kill`, Slurm's preemption and time limit) do to a
/// `budgetrain run`:
/// - the first asks every run to stop at its next step boundary (`StopRequest`): each saves a
///   checkpoint, the sweep writes what it has, and the process exits with 128 + the signal
///   (130, 143); the signal is passed on to the workers as SIGTERM, so they do the same;
/// - a second SIGINT stops at once: the workers are killed and the process exits with 130.
///
/// Handlers run on a dispatch queue, not in signal context, so they may take locks.
public enum StopSignals {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
    nonisolated(unsafe) private static var received = 0
    nonisolated(unsafe) private static var announces = true

    /// Installs the handlers; `announce` says on stderr what the first signal does (a worker
    /// keeps quiet: its parent says it).
    public static func install(announce: Bool = true) {
        announces = announce
        StopRequest.prepare()
        let queue = DispatchQueue(label: "budgetrain.signals")
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { handle(signalNumber) }
            source.resume()
            sources.append(source)
        }
    }

    private static func handle(_ signalNumber: Int32) {
        received += 1
        if received > 1, signalNumber == SIGINT {
            WorkerRegistry.shared.signalAll(SIGKILL)
            try? FileHandle.standardError.write(contentsOf: Data("\nbudgetrain: stopped at once (second interrupt); runs continue from their last checkpoints with --resume\n".utf8))
            _exit(128 + SIGINT)
        }
        if received == 1, announces {
            let name = signalNumber == SIGINT ? "interrupt" : "SIGTERM"
            try? FileHandle.standardError.write(contentsOf: Data("\nbudgetrain: \(name): checkpointing at the next step (Ctrl-C again to stop at once)\n".utf8))
        }
        StopRequest.request(signal: signalNumber)
        WorkerRegistry.shared.signalAll(SIGTERM)
    }
}
