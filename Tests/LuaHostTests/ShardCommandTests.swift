import BudgetEngine
import BudgetExperiments
import Foundation
import Testing

/// `--shard K/N`, `report` gathering the shards, `status`, and `submit --dry-run`, through the
/// built binary.
@Suite struct ShardCommandTests {
    @Test func threeShardsGatheredEqualOneSweep() throws {
        let dir = try TemporaryDirectory()
        try dir.write("grid.lua", ExperimentCommandTests.gridScript())
        let whole = try runBudgetrain(["run", "grid.lua", "--quiet", "--threads", "1", "--out", "whole"], in: dir.path)
        #expect(whole.status == 0, "\(whole.stderr)")
        for k in [2, 0, 1] {
            let shard = try runBudgetrain(["run", "grid.lua", "--quiet", "--threads", "1", "--out", "sharded", "--shard", "\(k)/3"], in: dir.path)
            #expect(shard.status == 0, "\(shard.stderr)")
            #expect(shard.stdout.contains("shard \(k)/3 has finished"))
        }
        // Shards leave results.csv to `report`, which gathers every shard's records.
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/sharded/grid/results.csv"))
        let status = try runBudgetrain(["status", "sharded/grid"], in: dir.path)
        #expect(status.status == 0)
        #expect(status.stdout.contains("grid: 8 of 8 runs done (8 ok, 0 diverged, 0 failed), 0 running, 0 stopped, 0 pending"), "\(status.stdout)")
        let report = try runBudgetrain(["report", "sharded/grid"], in: dir.path)
        #expect(report.status == 0, "\(report.stderr)")
        #expect(DurableSweepTests.withoutSeconds(try dir.read("sharded/grid/results.csv")) == DurableSweepTests.withoutSeconds(try dir.read("whole/grid/results.csv")))
        for run in try ResultsTable.read(path: dir.path + "/whole/grid/results.csv").rows.map(\.run) {
            #expect(try dir.read("sharded/grid/\(run)/metrics.jsonl") == dir.read("whole/grid/\(run)/metrics.jsonl"))
        }
        // A plain sweep of a folder that shards wrote refuses without --resume.
        let plain = try runBudgetrain(["run", "grid.lua", "--quiet", "--out", "sharded"], in: dir.path)
        #expect(plain.status == 2)
    }

    @Test func statusShowsRunningAndPendingRuns() throws {
        let dir = try TemporaryDirectory()
        try dir.write("grid.lua", DurableSweepTests.script(delay: 20_000_000))
        let sweep = try SweepProcess(["run", "grid.lua", "--quiet"], in: dir.path)
        defer {
            kill(sweep.pid, SIGKILL)
            sweep.wait()
        }
        let deadline = Date().addingTimeInterval(30)
        var text = ""
        while Date() < deadline {
            usleep(100_000)
            let status = try runBudgetrain(["status", "runs/grid"], in: dir.path)
            text = status.stdout
            if text.contains(" running"), text.contains("linear-b0.5-s1: step") { break }
        }
        #expect(text.contains("1 running"), "\(text)")
        #expect(text.contains("pid \(sweep.pid) on"), "\(text)")
        #expect(text.contains("heartbeat 0:0"), "\(text)")
        kill(sweep.pid, SIGKILL)
        sweep.wait()
    }

    @Test func submitDryRunWritesAnArrayJobAndAReportJob() throws {
        let dir = try TemporaryDirectory()
        try dir.write("grid.lua", ExperimentCommandTests.gridScript())
        let outcome = try runBudgetrain(
            ["submit", "grid.lua", "--slurm", "--tasks", "4", "--cpus-per-task", "2", "--time", "1:00:00", "--partition", "gpu",
             "--sbatch-arg=--account=proj", "--dry-run", "--", "--quick"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let text = outcome.stdout
        for line in ["#SBATCH --array=0-3", "#SBATCH --requeue", "#SBATCH --signal=B:TERM@120", "#SBATCH --cpus-per-task=2",
                     "#SBATCH --time=1:00:00", "#SBATCH --partition=gpu", "#SBATCH --account=proj",
                     "--shard \"${SLURM_ARRAY_TASK_ID}/4\"", "--resume", "-- --quick", "scontrol requeue", "report \(dir.path)/runs/grid"] {
            #expect(text.contains(line), "missing \(line)")
        }
        #expect(!text.contains("--mem"), "an option not asked for is left to the site")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/runs/grid/slurm/sweep.sbatch"), "a dry run writes nothing")
        let noScheduler = try runBudgetrain(["submit", "grid.lua"], in: dir.path)
        #expect(noScheduler.status == 2)
        #expect(noScheduler.stderr.contains("--slurm"))
    }
}
