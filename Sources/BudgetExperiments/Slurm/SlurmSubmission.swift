import BudgetEngine
import Foundation

/// A sweep as a Slurm array job: `sweep.sbatch` runs shard `$SLURM_ARRAY_TASK_ID` of N in each
/// array task, and `report.sbatch`, submitted to start after every task (`afterany`), gathers
/// the shards' records into results.csv and the report.
///
/// Only what the sweep needs is fixed in the scripts (the array, `--requeue`, the stop signal,
/// where the logs go); the rest (`--time`, `--partition`, `--mem`, `--cpus-per-task`, any
/// `--sbatch-arg`) is written only when asked for, so `SBATCH_*` variables and a site's
/// defaults apply as they would to any job. Each task runs with `--resume`: a task that Slurm
/// requeues (preemption, or its own request when its time limit nears) continues its runs from
/// their checkpoints.
public struct SlurmSubmission {
    public var budgetrain: String
    public var workingDirectory: String
    public var script: String
    public var scriptArguments: [String]
    /// The global seed (`--seed`) the tasks run with.
    public var seed: UInt64 = 0
    public var outputDirectory: String
    /// Experiment folders (absolute), in declaration order; the first holds `slurm/`.
    public var experimentDirectories: [String]
    public var name: String
    public var tasks: Int
    public var cpusPerTask: Int?
    public var time: String?
    public var partition: String?
    public var memory: String?
    public var extraArguments: [String] = []
    /// Seconds before the time limit at which Slurm sends SIGTERM (`--signal=B:TERM@grace`).
    public var grace = 120

    public init(budgetrain: String, workingDirectory: String, script: String, scriptArguments: [String],
                outputDirectory: String, experimentDirectories: [String], name: String, tasks: Int) {
        self.budgetrain = budgetrain
        self.workingDirectory = workingDirectory
        self.script = script
        self.scriptArguments = scriptArguments
        self.outputDirectory = outputDirectory
        self.experimentDirectories = experimentDirectories
        self.name = name
        self.tasks = tasks
    }

    public var slurmDirectory: String { (experimentDirectories.first ?? outputDirectory) + "/slurm" }

    /// `sweep.sbatch`.
    public func sweepScript() -> String {
        var lines = [
            "#!/bin/bash",
            "# budgetrain sweep of \(script): array task K trains shard K of \(tasks).",
            "#SBATCH --job-name=\(Self.quoted("budgetrain-" + name))",
            "#SBATCH --array=0-\(tasks - 1)",
            "#SBATCH --requeue",
            "#SBATCH --signal=B:TERM@\(grace)",
            "#SBATCH --output=\(slurmDirectory)/task-%A_%a.out",
            "#SBATCH --open-mode=append",
        ] + options()
        let run = [budgetrain, "run", script, "--out", outputDirectory, "--threads", "\"$threads\"",
                   "--shard", "\"${SLURM_ARRAY_TASK_ID}/\(tasks)\"", "--seed", String(seed), "--resume", "--quiet", "--"].map { $0.hasPrefix("\"") ? $0 : Self.quoted($0) }
            + scriptArguments.map(Self.quoted)
        lines += [
            "set -u",
            "cd \(Self.quoted(workingDirectory))",
            "threads=${SLURM_CPUS_PER_TASK:-1}",
            "# In the background, so that this shell can pass Slurm's SIGTERM on and then requeue.",
            run.joined(separator: " ") + " &",
            "child=$!",
            "trap 'kill -TERM \"$child\" 2>/dev/null' TERM",
            "wait \"$child\"; status=$?",
            "# A trap ends `wait` early: wait on until the runs have checkpointed.",
            "while kill -0 \"$child\" 2>/dev/null; do wait \"$child\"; status=$?; done",
            "if [ \"$status\" -eq 143 ] && [ -n \"${SLURM_ARRAY_JOB_ID:-}\" ]; then",
            "  # Stopped near its time limit or preempted: back to the queue, to continue from its checkpoints.",
            "  scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\" || true",
            "fi",
            "exit \"$status\"",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// `report.sbatch`.
    public func reportScript() -> String {
        var lines = [
            "#!/bin/bash",
            "# Gathers the shards' results once every array task has ended.",
            "#SBATCH --job-name=\(Self.quoted("budgetrain-" + name + "-report"))",
            "#SBATCH --output=\(slurmDirectory)/report-%j.out",
        ]
        if let partition { lines.append("#SBATCH --partition=\(partition)") }
        lines += extraArguments.map { "#SBATCH \($0)" }
        lines += ["set -eu", "cd \(Self.quoted(workingDirectory))"]
        lines += experimentDirectories.map { "\(Self.quoted(budgetrain)) report \(Self.quoted($0))" }
        return lines.joined(separator: "\n") + "\n"
    }

    private func options() -> [String] {
        var lines: [String] = []
        if let cpusPerTask { lines.append("#SBATCH --cpus-per-task=\(cpusPerTask)") }
        if let time { lines.append("#SBATCH --time=\(time)") }
        if let partition { lines.append("#SBATCH --partition=\(partition)") }
        if let memory { lines.append("#SBATCH --mem=\(memory)") }
        return lines + extraArguments.map { "#SBATCH \($0)" }
    }

    /// A word for bash: single-quoted unless it is plainly safe.
    static func quoted(_ word: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/=:+,@%")
        if !word.isEmpty, word.allSatisfy({ safe.contains($0) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// The job ids of a submitted sweep, kept in `slurm/jobs.json` for `budgetrain status`.
public struct SlurmJobs: Codable, Sendable {
    public var array: String
    public var report: String

    public init(array: String, report: String) {
        self.array = array
        self.report = report
    }

    static func path(_ directory: String) -> String { directory + "/slurm/jobs.json" }

    public func write(to directory: String) throws {
        try AtomicFile.write(Array(try JSONEncoder.exact.encode(self)) + [10], to: Self.path(directory))
    }

    public static func read(directory: String) -> SlurmJobs? {
        guard let data = FileManager.default.contents(atPath: path(directory)), data.count < 1 << 16 else { return nil }
        return try? JSONDecoder.exact.decode(SlurmJobs.self, from: data)
    }

    /// The jobs' lines from `squeue` (nil when squeue is not here or does not answer in 10 s).
    public func queueStates() -> String? {
        guard let output = try? Slurm.run("squeue", ["-h", "-r", "-j", "\(array),\(report)", "-o", "%i %T %M %R"]) else { return nil }
        let lines = output.split(separator: "\n").map { "  " + $0 }
        return "slurm jobs \(array) (array) and \(report) (report): " + (lines.isEmpty ? "no longer queued" : "\n" + lines.joined(separator: "\n"))
    }
}

/// Slurm's commands, found on the PATH and run with a bound on their time.
public enum Slurm {
    /// Runs `command` with `arguments`; its stdout, or an error with its stderr.
    public static func run(_ command: String, _ arguments: [String], timeout: Double = 10) throws -> String {
        guard let path = executable(command) else { throw EngineError.invalidArgument("\(command): not found on the PATH (is Slurm installed here?)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Drain both pipes while it runs, so a long answer cannot block it.
        nonisolated(unsafe) var outData = Data(), errData = Data()
        let readers = DispatchGroup()
        DispatchQueue.global().async(group: readers) { outData = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: readers) { errData = err.fileHandleForReading.readDataToEndOfFile() }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            throw EngineError.invalidArgument("\(command) did not answer within \(Int(timeout)) s")
        }
        readers.wait()
        let output = String(decoding: outData, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errData, as: UTF8.self)
            throw EngineError.invalidArgument("\(command) \(arguments.joined(separator: " ")) failed: \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return output
    }

    static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Submits `script` with sbatch (`--parsable`, plus `arguments`); returns the job id.
    public static func submit(_ script: String, arguments: [String] = []) throws -> String {
        let output = try run("sbatch", ["--parsable"] + arguments + [script], timeout: 60)
        guard let id = output.split(separator: "\n").last?.split(separator: ";").first.map(String.init), !id.isEmpty else {
            throw EngineError.invalidArgument("sbatch answered '\(output)' instead of a job id")
        }
        return id.trimmingCharacters(in: .whitespaces)
    }
}
