import BudgetEngine
import Foundation

/// Runs experiment cells in worker processes (and in this one): the way `--jobs N` uses N
/// cores for N runs at once (each run with `cores / N` BLAS threads) while results stay
/// identical to one job.
///
/// The parent process owns the results files; workers only train. The conversation is one
/// line each way over the worker's stdin and stdout:
///
///     parent → worker:  RUN <experiment>\t<run>
///     worker → parent:  <marker>{ResultRow as JSON}
///
/// Anything else a worker prints (a script's `print`) is passed through to the parent's
/// stderr. A worker that dies mid-run has that run recorded as `failed` and is replaced.
public final class WorkerPool {
    /// Prefix of a result line, chosen so that no user output is mistaken for one.
    public static let resultMarker = "\u{1}budgetrain-result "
    /// Printed once a worker has run the script and serves jobs: what the script printed
    /// before it (the parent has printed the same already) is not repeated.
    public static let readyMarker = "\u{1}budgetrain-ready"

    public struct Job {
        public var experiment: String
        public var cell: ExperimentCell
        public init(experiment: String, cell: ExperimentCell) {
            self.experiment = experiment
            self.cell = cell
        }
    }

    private let executable: String
    private let arguments: [String]
    private let workers: Int
    private let lock = NSLock()
    private var queue: [Job]

    /// `arguments` start a worker (the same program in its worker mode).
    public init(executable: String, arguments: [String], workers: Int, jobs: [Job]) {
        self.executable = executable
        self.arguments = arguments
        self.workers = max(1, workers)
        self.queue = jobs
    }

    /// Runs every job; `onResult` is called serially, from any of the serving threads, with
    /// each row. With `local`, the calling thread serves the queue too, running jobs in this
    /// process, and only `workers − 1` processes are started: the parent has the script's
    /// data loaded already, so it trains from the first second while the workers start up.
    public func run(local: ((Job) -> ResultRow)? = nil, onResult: @escaping (Job, ResultRow) -> Void) {
        let group = DispatchGroup()
        let processes = local == nil ? workers : workers - 1
        for _ in 0..<min(processes, queue.count) {
            group.enter()
            let thread = Thread { [self] in
                serve(onResult: onResult)
                group.leave()
            }
            thread.start()
        }
        if let local {
            while let job = nextJob() { deliver(job, local(job), onResult) }
        }
        group.wait()
    }

    private func nextJob() -> Job? {
        lock.lock()
        defer { lock.unlock() }
        return queue.isEmpty ? nil : queue.removeFirst()
    }

    /// One worker's loop: start a process, feed it jobs one at a time, restart it if it dies.
    private func serve(onResult: @escaping (Job, ResultRow) -> Void) {
        var worker: WorkerProcess?
        while let job = nextJob() {
            do {
                if worker == nil { worker = try WorkerProcess(executable: executable, arguments: arguments) }
                guard let w = worker else { continue }
                let row = try w.run(job)
                deliver(job, row, onResult)
            } catch {
                worker?.terminate()
                worker = nil
                deliver(job, Self.failedRow(job, message: "\(error)"), onResult)
            }
        }
        worker?.finish()
    }

    private func deliver(_ job: Job, _ row: ResultRow, _ onResult: (Job, ResultRow) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        onResult(job, row)
    }

    /// The row recording a job that could not run.
    public static func failedRow(_ job: Job, message: String) -> ResultRow {
        ResultRow(experiment: job.experiment, run: job.cell.run, schedule: job.cell.schedule, budget: 0, budgetSteps: nil,
                  seed: job.cell.seed, status: .failed, steps: 0, seconds: 0, finalLR: 0, trainLoss: nil, testLoss: nil,
                  testAccuracy: nil, gradNorm: nil,
                  extras: Dictionary(uniqueKeysWithValues: job.cell.extras.map { ($0.name, $0.value) } + [("message", message)]))
    }

    /// The worker side: reads `RUN` lines from stdin until it closes, runs each through
    /// `runCell`, and answers with a result line on stdout.
    public static func serveRequests(runCell: (String, String) -> ResultRow) {
        fflush(stdout)
        guard (try? FileHandle.standardOutput.write(contentsOf: Data((readyMarker + "\n").utf8))) != nil else { return }
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        while let line = readLine() {
            guard line.hasPrefix("RUN ") else { continue }
            let parts = line.dropFirst(4).split(separator: "\t", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let row = runCell(parts[0], parts[1])
            fflush(stdout)  // the script's own output first
            let json = (try? encoder.encode(row)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
            guard (try? FileHandle.standardOutput.write(contentsOf: Data((resultMarker + json + "\n").utf8))) != nil else { return }
        }
    }
}

/// One worker process and the pipes to it.
final class WorkerProcess {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffer = Data()
    private var ready = false
    private let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }()

    init(executable: String, arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
    }

    /// Sends one job and waits for its result line; other output is passed to stderr.
    func run(_ job: WorkerPool.Job) throws -> ResultRow {
        // The throwing write: a worker that died leaves a broken pipe, which must become an
        // error here (the CLI ignores SIGPIPE), not a crash of the parent.
        try input.fileHandleForWriting.write(contentsOf: Data("RUN \(job.experiment)\t\(job.cell.run)\n".utf8))
        while true {
            guard let line = readLine() else {
                process.waitUntilExit()
                throw EngineError.training("worker process ended (status \(process.terminationStatus)) while running \(job.cell.run)")
            }
            if line.hasPrefix(WorkerPool.resultMarker) {
                return try decoder.decode(ResultRow.self, from: Data(line.dropFirst(WorkerPool.resultMarker.count).utf8))
            }
            if line == WorkerPool.readyMarker { ready = true }
            guard ready, line != WorkerPool.readyMarker else { continue }
            try? FileHandle.standardError.write(contentsOf: Data((line + "\n").utf8))
        }
    }

    private func readLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                return line
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }

    /// Closes the worker's input (it exits when its input ends) and waits for it.
    func finish() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    func terminate() {
        if process.isRunning { process.terminate() }
        try? input.fileHandleForWriting.close()
    }
}
