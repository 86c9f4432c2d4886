import Foundation
import Testing
@testable import BudgetEngine
@testable import BudgetExperiments

@Suite struct ShardTests {
    let plan = try! ExperimentPlan(
        name: "p", fullBudget: .epochs(10), budgets: [.fraction(0.05), .fraction(0.25), .fraction(0.5), .fraction(1)],
        schedules: ["linear", "cosine", "step"], seeds: [1, 2, 3])

    @Test func shardsAreDisjointCompleteAndBalancedByCost() throws {
        for count in [1, 2, 3, 4, 7, 36, 50] {
            let parts = (0..<count).map { plan.shard($0, of: count) }
            let all = parts.flatMap { $0.map(\.run) }
            #expect(all.count == plan.cells.count)
            #expect(Set(all) == Set(plan.cells.map(\.run)))
            // Each part keeps the plan's order.
            for part in parts {
                let positions = part.map { cell in plan.cells.firstIndex { $0.run == cell.run } ?? -1 }
                #expect(positions == positions.sorted())
            }
            // Longest-first greedy: no part exceeds the ideal share by more than the largest run.
            let costs = parts.map { $0.reduce(0) { $0 + plan.cost(of: $1) } }
            let ideal = plan.cells.reduce(0) { $0 + plan.cost(of: $1) } / Double(count)
            #expect((costs.max() ?? 0) <= ideal + 1 + 1e-9, "\(count) parts: \(costs)")
        }
        // The same plan always gives the same parts.
        #expect(plan.shard(1, of: 4) == plan.shard(1, of: 4))
        // 4 parts of 9 full runs, 9 half runs, ...: costs 9 × (1 + 0.5 + 0.25 + 0.05) / 4 each, give or take a run.
        let four = (0..<4).map { plan.shard($0, of: 4).reduce(0) { $0 + plan.cost(of: $1) } }
        #expect((four.max() ?? 0) - (four.min() ?? 0) <= 0.5 + 1e-9, "\(four)")
    }

    @Test func shardArgumentsAreChecked() throws {
        #expect(try Shard(parsing: "3/8") == Shard(index: 3, count: 8))
        for bad in ["8/8", "-1/4", "1", "a/b", "1/0", "1/2/3"] {
            #expect(throws: EngineError.self) { try Shard(parsing: bad) }
        }
    }

    @Test func folderNamesAreSafeAndUnique() {
        #expect(SafeName.folder(for: "linear-b0.25-s1-lr=0.1") == "linear-b0.25-s1-lr=0.1")
        let names = ["..", ".", "x/../../p", "x/..//p", "a\tb", "a\nb", "", String(repeating: "y", count: 300), "ü"]
        let folders = names.map(SafeName.folder)
        #expect(Set(folders).count == names.count)
        for f in folders {
            #expect(!f.contains("/") && !f.hasPrefix(".") && !f.isEmpty && f.utf8.count <= 200, "\(f)")
            #expect(f.allSatisfy { $0.isASCII && !$0.isWhitespace })
        }
    }
}
