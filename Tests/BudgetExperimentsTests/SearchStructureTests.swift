import Foundation
import Testing
@testable import BudgetEngine
@testable import BudgetExperiments

/// Successive halving's and Hyperband's brackets and rungs (Li et al. 2018, Algorithm 1), and
/// the search carried out over made-up metrics.
@Suite struct SearchStructureTests {
    @Test func successiveHalvingOf27ConfigurationsWithEta3() throws {
        let s = try SearchStructure(configurationCount: 27, eta: 3, maxHalvings: 3, hyperband: false)
        #expect(s.brackets.count == 1)
        let rungs = try #require(s.brackets.first).rungs
        #expect(rungs.map(\.size) == [27, 9, 3, 1])
        #expect(rungs.map(\.keep) == [9, 3, 1, 0])
        for (rung, expected) in zip(rungs, [1.0 / 27, 1.0 / 9, 1.0 / 3, 1]) { #expect(abs(rung.fraction - expected) < 1e-15) }
        #expect(s.brackets[0].configurations == Array(0..<27))
    }

    @Test func hyperbandBracketsFollowLiEtAl() throws {
        let s = try SearchStructure(configurationCount: 100, eta: 3, maxHalvings: 3, hyperband: true, seed: 1)
        #expect(s.brackets.map(\.halvings) == [3, 2, 1, 0])
        // n_s = ⌈(s_max + 1)/(s + 1) · η^s⌉ = 27, 12, 6, 4; their rungs halve by ⌊n/η⌋.
        #expect(s.brackets.map(\.configurations.count) == [27, 12, 6, 4])
        #expect(s.brackets.map { $0.rungs.map(\.size) } == [[27, 9, 3, 1], [12, 4, 1], [6, 2], [4]])
        #expect(s.brackets[3].rungs[0].fraction == 1)
        // Each bracket draws distinct configurations; the same seed draws the same ones.
        #expect(Set(s.brackets[0].configurations).count == 27)
        #expect(try SearchStructure(configurationCount: 100, eta: 3, maxHalvings: 3, hyperband: true, seed: 1) == s)
        #expect(try SearchStructure(configurationCount: 100, eta: 3, maxHalvings: 3, hyperband: true, seed: 2) != s)
        // A finite list caps each bracket.
        let small = try SearchStructure(configurationCount: 5, eta: 3, maxHalvings: 3, hyperband: true)
        #expect(small.brackets.map(\.configurations.count) == [5, 5, 5, 4])
    }

    @Test func halvingsBetweenTwoBudgets() {
        #expect(SearchStructure.maxHalvings(eta: 3, ratio: 27) == 3)
        #expect(SearchStructure.maxHalvings(eta: 3, ratio: 1 / (1.0 / 27)) == 3)
        #expect(SearchStructure.maxHalvings(eta: 3, ratio: 26.5) == 2)
        #expect(SearchStructure.maxHalvings(eta: 2, ratio: 1) == 0)
    }

    @Test func badStructuresAreRefused() {
        #expect(throws: EngineError.self) { try SearchStructure(configurationCount: 0, eta: 3, maxHalvings: 1, hyperband: false) }
        #expect(throws: EngineError.self) { try SearchStructure(configurationCount: 3, eta: 1, maxHalvings: 1, hyperband: false) }
        #expect(throws: EngineError.self) { try SearchStructure(configurationCount: 3, eta: 3, maxHalvings: 2, hyperband: false, bracket: 3) }
    }

    @Test func bestKeepsTiesInOrderAndFailuresLast() {
        let metrics: [Int: Double] = [0: 0.5, 1: .nan, 2: 0.9, 3: 0.5]
        #expect(SearchStructure.best([0, 1, 2, 3, 4], metrics: metrics, count: 3) == [2, 0, 3])
        #expect(SearchStructure.best([1, 4], metrics: metrics, count: 1) == [1])
    }

    /// Each configuration's metric is its index at the first rung and minus its index later:
    /// the survivors are the largest indices, the winner the smallest of them.
    @Test func aSearchKeepsTheBestOfEachRung() throws {
        let s = try SearchStructure(configurationCount: 9, eta: 3, maxHalvings: 2, hyperband: false)
        var seen: [[Int]] = []
        let outcome = s.run { _, rung, trained in
            seen.append(trained)
            return Dictionary(uniqueKeysWithValues: trained.map { ($0, rung.index == 0 ? Double($0) : -Double($0)) })
        }
        // Survivors train in the bracket's order; the ranking picks them.
        #expect(seen == [Array(0..<9), [6, 7, 8], [6]])
        #expect(outcome.winner == 6)
        #expect(outcome.rungs.map(\.survivors) == [[8, 7, 6], [6], []])
        #expect(outcome.bracketWinners.map(\.configuration) == [6])
    }
}
