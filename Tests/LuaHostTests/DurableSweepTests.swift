import BudgetEngine
import BudgetExperiments
import Foundation
import Testing

/// Sweeps that are stopped, killed and resumed, through the built binary: nothing lost or
/// doubled, every result and metrics file bit for bit that of an uninterrupted sweep, no
/// process left behind.
@Suite(.serialized) struct DurableSweepTests {
    /// The grid of `ExperimentCommandTests` with a checkpoint every 10% of each run; its Lua
    /// schedule spins `delay` iterations a step so that kills land mid-run.
    static func script(delay: Int, extra: String = "") -> String {
        ExperimentCommandTests.gridScript(delay: delay, extra: "checkpoint = { every = 0.1 },\n" + extra)
    }

    /// The comparable part of a results.csv: every column but `seconds` (wall time).
    static func withoutSeconds(_ csv: String) -> [String] {
        csv.split(separator: "\n").map { line in
            var cells = line.split(separator: ",", omittingEmptySubsequences: false)
            if cells.count > 8 { cells.remove(at: 8) }
            return cells.joined(separator: ",")
        }
    }

    static func assertSameSweep(_ dir: TemporaryDirectory, _ a: String, _ b: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let rowsA = withoutSeconds(try dir.read(a + "/grid/results.csv"))
        #expect(rowsA.count == 9, sourceLocation: sourceLocation)
        #expect(rowsA == withoutSeconds(try dir.read(b + "/grid/results.csv")), sourceLocation: sourceLocation)
        for row in try ResultsTable.read(path: dir.path + "/" + a + "/grid/results.csv").rows {
            let metrics = "/grid/\(row.run)/metrics.jsonl"
            #expect(try dir.read(a + metrics) == dir.read(b + metrics), "\(row.run)", sourceLocation: sourceLocation)
        }
    }

    @Test func killedAtTenRandomMomentsAndResumedEqualsAnUninterruptedSweep() throws {
        let dir = try TemporaryDirectory()
        // The reference sweep runs without the delay: the schedule's values are the same.
        try dir.write("fast.lua", Self.script(delay: 0))
        let reference = try runBudgetrain(["run", "fast.lua", "--quiet", "--jobs", "1", "--threads", "1", "--out", "whole"], in: dir.path)
        #expect(reference.status == 0, "\(reference.stderr)")
        try dir.write("grid.lua", Self.script(delay: 3_000_000))

        var rng = RandomGenerator(seed: 2024)
        var killedWorkers = 0
        for round in 0..<10 {
            let sweep = try SweepProcess(["run", "grid.lua", "--quiet", "--jobs", "2", "--threads", "2", "--out", "killed"] + (round > 0 ? ["--resume"] : []), in: dir.path)
            usleep(UInt32(150_000 + rng.nextInt(below: 700_000)))
            // Every other round a worker dies first (its run is retried from its checkpoint),
            // then the whole sweep.
            // (A slow machine may take a while to start the worker: wait for it, a little.)
            var workers = childProcesses(of: sweep.pid)
            let wait = Date().addingTimeInterval(5)
            while round % 2 == 1, workers.isEmpty, Date() < wait, sweep.process.isRunning {
                usleep(20_000)
                workers = childProcesses(of: sweep.pid)
            }
            if round % 2 == 1, let worker = workers.first {
                kill(worker, SIGKILL)
                killedWorkers += 1
                usleep(UInt32(50_000 + rng.nextInt(below: 300_000)))
            }
            kill(sweep.pid, SIGKILL)
            sweep.wait()
        }
        #expect(killedWorkers > 0)
        let finish = try runBudgetrain(["run", "grid.lua", "--quiet", "--jobs", "2", "--threads", "2", "--out", "killed", "--resume"], in: dir.path)
        #expect(finish.status == 0, "\(finish.stderr)")
        try Self.assertSameSweep(dir, "killed", "whole")
        let records = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/killed/grid").compactMap {
            try RunFolder(path: dir.path + "/killed/grid/" + $0).readRecord()
        }
        #expect(records.contains { ($0.resumedFromStep ?? 0) > 0 }, "some run should have continued from a checkpoint")
    }

    @Test func sigtermCheckpointsStopsEveryProcessAndResumes() throws {
        let dir = try TemporaryDirectory()
        try dir.write("grid.lua", Self.script(delay: 20_000_000))
        let sweep = try SweepProcess(["run", "grid.lua", "--jobs", "2", "--threads", "2", "--out", "stopped"], in: dir.path)
        let deadline = Date().addingTimeInterval(30)
        var workers: [pid_t] = []
        while workers.isEmpty, Date() < deadline {
            usleep(50_000)
            workers = childProcesses(of: sweep.pid)
        }
        try #require(!workers.isEmpty, "the sweep should start a worker")
        usleep(800_000)
        kill(sweep.pid, SIGTERM)
        let status = sweep.wait()
        #expect(status == 143, "\(sweep.stderr)")
        #expect(sweep.stderr.contains("--resume"))
        for worker in workers { #expect(kill(worker, 0) != 0, "worker \(worker) outlived its sweep") }
        let checkpoints = try FileManager.default.subpathsOfDirectory(atPath: dir.path + "/stopped/grid").filter { $0.hasSuffix("checkpoint.safetensors") }
        #expect(!checkpoints.isEmpty)

        try dir.write("grid.lua", Self.script(delay: 0))  // another script: resuming must refuse it
        let refused = try runBudgetrain(["run", "grid.lua", "--quiet", "--out", "stopped", "--resume"], in: dir.path)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("the script differs"))
    }

    @Test func scriptOutputWithoutNewlinesPassesThroughAndTheSweepEnds() throws {
        let dir = try TemporaryDirectory()
        try dir.write("grid.lua", ExperimentCommandTests.gridScript().replacingOccurrences(of: "return 1 - p", with: "io.write('.') return 1 - p"))
        let outcome = try runBudgetrain(["run", "grid.lua", "--quiet", "--jobs", "2"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        // 4 linear runs of 20 or 40 steps, one dot a step (plus the check's few calls).
        #expect(outcome.stdout.filter { $0 == "." }.count >= 120)
        #expect(try ResultsTable.read(path: dir.path + "/runs/grid/results.csv").rows.count == 8)
    }

    @Test func aLongRunKilledAtSixtyPercentContinuesFromItsCheckpoint() throws {
        let dir = try TemporaryDirectory()
        // One run of 2,500 steps, checkpointed every 10%.
        let script = luaPrelude + """
            local delay = tonumber(arg[1])
            experiment {
              name = "long", data = { train = blobs(400, 1), test = blobs(200, 2) }, model = mlp,
              optimizer = optim.sgd { lr = 0.05, momentum = 0.9 }, batch_size = 16,
              full_budget = { iterations = 2500 }, schedules = { linear = function(p)
                local x = 0
                for i = 1, delay do x = x + i end
                return 1 - p
              end },
              seeds = { 3 }, eval_at = { 0.5, 1 }, checkpoint = { every = 0.1 },
            }
            """
        try dir.write("long.lua", script)
        let whole = try runBudgetrain(["run", "long.lua", "--quiet", "--out", "whole", "--", "0"], in: dir.path)
        #expect(whole.status == 0, "\(whole.stderr)")

        let sweep = try SweepProcess(["run", "long.lua", "--quiet", "--out", "killed", "--", "200000"], in: dir.path)
        let checkpoint = dir.path + "/killed/long/linear-b1-s3/checkpoint.safetensors"
        let deadline = Date().addingTimeInterval(120)
        var savedStep = 0
        while Date() < deadline, savedStep < 1500 {
            usleep(20_000)
            savedStep = (try? CheckpointFile.read(path: checkpoint))?.info["run.step"].flatMap { Int($0) } ?? savedStep
        }
        kill(sweep.pid, SIGKILL)
        sweep.wait()
        try #require(savedStep >= 1500, "a checkpoint at 60% of the run should exist (step \(savedStep))")

        let refused = try runBudgetrain(["run", "long.lua", "--quiet", "--out", "killed", "--resume", "--", "0"], in: dir.path)
        #expect(refused.status == 2, "resuming with other script arguments must be refused")
        #expect(refused.stderr.contains("the script's arguments are ['0'] now, ['200000'] when the sweep started"), "\(refused.stderr)")
        let finish = try runBudgetrain(["run", "long.lua", "--quiet", "--out", "killed", "--resume", "--", "200000"], in: dir.path)
        #expect(finish.status == 0, "\(finish.stderr)")
        let record = try #require(try RunFolder(path: dir.path + "/killed/long/linear-b1-s3").readRecord())
        let from = try #require(record.resumedFromStep)
        #expect(from >= 1500 && from < 2500, "resumed from step \(from)")
        #expect(Self.withoutSeconds(try dir.read("killed/long/results.csv")) == Self.withoutSeconds(try dir.read("whole/long/results.csv")))
        #expect(try dir.read("killed/long/linear-b1-s3/metrics.jsonl") == dir.read("whole/long/linear-b1-s3/metrics.jsonl"))
    }

    @Test func aSecondSweepOfTheSameFolderFailsAtOnce() throws {
        let dir = try TemporaryDirectory()
        try dir.write("grid.lua", Self.script(delay: 20_000_000))
        let first = try SweepProcess(["run", "grid.lua", "--quiet"], in: dir.path)
        defer {
            kill(first.pid, SIGKILL)
            first.wait()
        }
        let lock = dir.path + "/runs/grid/.lock"
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: lock), Date() < deadline { usleep(20_000) }
        let started = Date()
        let second = try runBudgetrain(["run", "grid.lua", "--quiet", "--resume"], in: dir.path)
        #expect(second.status == 2)
        #expect(second.stderr.contains("another budgetrain process (pid \(first.pid)) is running this sweep"))
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test func failedRunsAreTriedAgainOnResume() throws {
        let dir = try TemporaryDirectory()
        // Under BREAK the schedule returns NaN once the check's five calls are past.
        // (Without trunks, which would evaluate the schedule while planning.)
        let script = ExperimentCommandTests.gridScript(extra: "share_trunks = false,").replacingOccurrences(
            of: "return 1 - p", with: "calls = (calls or 0) + 1 if os.getenv('BREAK') and calls > 5 then return 0/0 end return 1 - p")
        try dir.write("grid.lua", script)
        let broken = try runBudgetrain(["run", "grid.lua", "--quiet", "--jobs", "2"], in: dir.path, environment: ["BREAK": "1"])
        #expect(broken.status == 2)
        #expect(try ResultsTable.read(path: dir.path + "/runs/grid/results.csv").rows.filter { $0.status == .failed }.count == 4)
        let fixed = try runBudgetrain(["run", "grid.lua", "--quiet", "--jobs", "2", "--resume"], in: dir.path)
        #expect(fixed.status == 0, "\(fixed.stderr)")
        let rows = try ResultsTable.read(path: dir.path + "/runs/grid/results.csv").rows
        #expect(rows.count == 8 && rows.allSatisfy { $0.status == .ok })
    }

    @Test func aHungRunIsKilledRetriedAndRecordedFailed() throws {
        let dir = try TemporaryDirectory()
        // The schedule hangs once the check's five calls are past; a run timeout (long here)
        // puts every run in a worker, whose silence then gives it away.
        let script = ExperimentCommandTests.gridScript(extra: "share_trunks = false,").replacingOccurrences(
            of: "return 1 - p", with: "calls = (calls or 0) + 1 if calls > 5 then while true do end end return 1 - p")
        try dir.write("grid.lua", script.replacingOccurrences(of: "seeds = { 1, 2 }", with: "seeds = { 1 }"))
        let started = Date()
        let outcome = try runBudgetrain(["run", "grid.lua", "--quiet", "--jobs", "2", "--run-timeout", "1000", "--heartbeat-timeout", "2"], in: dir.path)
        #expect(outcome.status == 2)
        let rows = try ResultsTable.read(path: dir.path + "/runs/grid/results.csv").rows
        #expect(rows.count == 4)
        let hung = rows.filter { $0.schedule == "linear" }
        #expect(hung.count == 2 && hung.allSatisfy { $0.status == .failed })
        #expect(hung.allSatisfy { ($0.extras["message"] ?? "").contains("no heartbeat for 2 s (on each of 2 attempts)") }, "\(hung.map(\.extras))")
        #expect(rows.filter { $0.schedule == "constant" }.allSatisfy { $0.status == .ok })
        #expect(Date().timeIntervalSince(started) < 60)

        let timed = try runBudgetrain(["run", "grid.lua", "--quiet", "--run-timeout", "2", "--out", "timed"], in: dir.path)
        #expect(timed.status == 2)
        let timedRows = try ResultsTable.read(path: dir.path + "/timed/grid/results.csv").rows
        #expect(timedRows.filter { ($0.extras["message"] ?? "").contains("exceeded --run-timeout 2 s (on each of 2 attempts)") }.count == 2)
    }

    @Test func aModuleInstanceAsTheModelIsRefused() throws {
        let dir = try TemporaryDirectory()
        try dir.write("grid.lua", ExperimentCommandTests.gridScript().replacingOccurrences(of: "model = mlp,", with: "model = mlp(),"))
        let outcome = try runBudgetrain(["run", "grid.lua", "--quiet"], in: dir.path)
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("bad field 'model' to 'experiment'"))
        #expect(outcome.stderr.contains("pass a factory"))
    }
}

/// A `budgetrain` process running in the background, its outputs collected.
final class SweepProcess {
    let process = Process()
    private let errorPipe = Pipe()
    private var errorData = Data()
    private let reader = DispatchGroup()

    var pid: pid_t { process.processIdentifier }
    var stderr: String { String(decoding: errorData, as: UTF8.self) }

    init(_ arguments: [String], in directory: String) throws {
        process.executableURL = URL(fileURLWithPath: try budgetrainExecutable())
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errorPipe
        try process.run()
        reader.enter()
        DispatchQueue.global().async { [self] in
            errorData = errorPipe.fileHandleForReading.readDataToEndOfFile()
            reader.leave()
        }
    }

    /// Waits for the process and its output; returns its exit status (128 + n for signal n).
    @discardableResult
    func wait() -> Int32 {
        process.waitUntilExit()
        reader.wait()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }
}

/// The processes `pid` started that are still running.
func childProcesses(of pid: pid_t) -> [pid_t] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.flatMap { task -> [pid_t] in
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").compactMap { pid_t($0) }
    }
}
