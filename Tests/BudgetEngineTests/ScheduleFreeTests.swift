import Foundation
import Testing
@testable import BudgetEngine
import TestSupport

/// Schedule-free SGD and AdamW against the published update rules, transcribed here in Double
/// from Algorithm 1 of Defazio et al. (2024) and the reference implementation's `step`
/// (`SGDScheduleFreeReference`, `AdamWScheduleFreeReference`), independently of the engine's code.
@Suite struct ScheduleFreeReferenceTests {
    static let theta0: [Double] = [0.5, -1.5, 2.0, 0.0]
    /// Five steps of gradients with sign changes, so each step depends on the state before it.
    static let gradients: [[Double]] = [
        [0.1, -0.2, 0.3, 1e-3], [-0.4, 0.05, 0.2, -2.0], [0.3, 0.3, -0.1, 0.5], [0.02, -0.6, 0.4, 0.1], [-0.2, 0.1, 0.1, -0.3],
    ]
    /// Scheduled rates: they rise, then fall (so the largest rate so far, not the current one,
    /// weighs the average after step 3).
    static let rates: [Double] = [0.5, 1.0, 0.8, 0.4, 0.4]

    /// The rate and averaging weight of each step: warm-up over `warmup` steps, c = γmax² / Σ γmax².
    static func weights(warmup: Int) -> [(gamma: Double, c: Double)] {
        var lrMax = -1.0, sum = 0.0
        return rates.indices.map { k in
            let gamma = rates[k] * (k < warmup ? Double(k + 1) / Double(warmup) : 1)
            lrMax = max(lrMax, gamma)
            sum += lrMax * lrMax
            return (gamma, sum > 0 ? lrMax * lrMax / sum : 0)
        }
    }

    /// Runs `optimizer` over one parameter through the five steps; returns (y, x).
    func run(_ optimizer: Optimizer, _ p: Parameter) throws -> (y: [Float], x: [Float]) {
        for (k, g) in Self.gradients.enumerated() {
            setGradient(p, g)
            optimizer.step(learningRate: Float(Self.rates[k]))
        }
        let x = try #require((optimizer as? EvaluationWeights)?.evaluationWeights?.first)
        return (p.value.values, x.values)
    }

    @Test func sgdScheduleFreeFollowsAlgorithm1() throws {
        let beta = 0.9, wd = 0.01, warmup = 2
        var z = Self.theta0, x = Self.theta0, y = Self.theta0
        for (k, (gamma, c)) in Self.weights(warmup: warmup).enumerated() {
            for i in y.indices {
                let g = Self.gradients[k][i] + wd * y[i]  // weight decay at y
                z[i] -= gamma * g
                x[i] = (1 - c) * x[i] + c * z[i]
                y[i] = (1 - beta) * z[i] + beta * x[i]
            }
        }
        let p = parameter(Self.theta0.map(Float.init))
        let optimizer = try SGDScheduleFree.Options(learningRate: 1, momentum: beta, weightDecay: wd, warmup: warmup).make(for: [p])
        let (yFound, xFound) = try run(optimizer, p)
        expectClose(yFound, y, tolerance: 1e-5, "y (the parameters)")
        expectClose(xFound, x, tolerance: 1e-5, "x (the evaluated average)")
        #expect(optimizer.state().step == 5)
    }

    @Test func adamWScheduleFreeFollowsAlgorithm1() throws {
        let beta1 = 0.9, beta2 = 0.999, eps = 1e-3, wd = 0.1, warmup = 3
        var z = Self.theta0, x = Self.theta0, y = Self.theta0
        var v = [Double](repeating: 0, count: y.count)
        for (k, (gamma, c)) in Self.weights(warmup: warmup).enumerated() {
            let t = Double(k + 1)
            for i in y.indices {
                let g = Self.gradients[k][i]
                z[i] -= gamma * wd * y[i]  // decoupled decay, at y
                v[i] = beta2 * v[i] + (1 - beta2) * g * g
                // The reference's bias correction: ε outside the corrected square root.
                z[i] -= gamma * g / ((v[i] / (1 - pow(beta2, t))).squareRoot() + eps)
                x[i] = (1 - c) * x[i] + c * z[i]
                y[i] = (1 - beta1) * z[i] + beta1 * x[i]
            }
        }
        let p = parameter(Self.theta0.map(Float.init))
        let optimizer = try AdamWScheduleFree.Options(learningRate: 1, epsilon: eps, weightDecay: wd, warmup: warmup).make(for: [p])
        let (yFound, xFound) = try run(optimizer, p)
        expectClose(yFound, y, tolerance: 1e-5, "y (the parameters)")
        expectClose(xFound, x, tolerance: 1e-5, "x (the evaluated average)")
    }

    /// At a constant rate without warm-up every z weighs the same: x is the plain mean of the z's
    /// after each step (the first step's weight is 1, so the initial weights drop out).
    @Test func aConstantRateAveragesTheIteratesUniformly() throws {
        let p = parameter(Self.theta0.map(Float.init))
        let optimizer = try SGDScheduleFree.Options(learningRate: 0.3, momentum: 0.5).make(for: [p])
        var z = Self.theta0, zs: [[Double]] = []
        var y = Self.theta0
        for g in Self.gradients {
            setGradient(p, g)
            optimizer.step(learningRate: 0.3)
            for i in z.indices { z[i] -= 0.3 * g[i] }
            zs.append(z)
            let mean = z.indices.map { i in zs.map { $0[i] }.reduce(0, +) / Double(zs.count) }
            for i in y.indices { y[i] = 0.5 * z[i] + 0.5 * mean[i] }
            expectClose(try #require((optimizer as? EvaluationWeights)?.evaluationWeights?.first).values, mean, tolerance: 1e-5, "x after \(zs.count) steps")
            expectClose(p.value.values, y, tolerance: 1e-5, "y after \(zs.count) steps")
        }
    }

    /// A rate of 0 (the first step of a schedule that starts at 0) moves nothing and gives the
    /// average no weight, as the reference implementation's division guard does.
    @Test func aZeroRateMovesNothing() throws {
        let p = parameter(Self.theta0.map(Float.init))
        let optimizer = try AdamWScheduleFree.Options(learningRate: 0).make(for: [p])
        setGradient(p, Self.gradients[0])
        optimizer.step(learningRate: 0)
        #expect(optimizer.state().buffers["z"] == [Self.theta0.map(Float.init)])
        #expect((optimizer as? EvaluationWeights)?.evaluationWeights?.first?.values == Self.theta0.map(Float.init))
        #expect(optimizer.state().scalars["weight_sum"] == 0)
        // y = β·x + (1 − β)·z of equal x and z: the same value, to Float's rounding.
        expectClose(p.value.values, Self.theta0, tolerance: 1e-7, "y")
    }

    @Test func settingsAreCheckedAndDescribed() throws {
        #expect(throws: EngineError.self) { try SGDScheduleFree.Options(learningRate: -1) }
        #expect(throws: EngineError.self) { try SGDScheduleFree.Options(learningRate: 1, momentum: 1.5) }
        #expect(throws: EngineError.self) { try SGDScheduleFree.Options(learningRate: 1, warmup: -3) }
        #expect(throws: EngineError.self) { try AdamWScheduleFree.Options(beta2: 1) }
        #expect(throws: EngineError.self) { try AdamWScheduleFree.Options(weightDecay: .infinity) }
        let adamw = try AdamWScheduleFree.Options()
        #expect(adamw.learningRate == 0.0025 && adamw.beta1 == 0.9 && adamw.beta2 == 0.999 && adamw.epsilon == 1e-8)
        #expect(adamw.weightDecay == 0 && adamw.warmup == 0 && adamw.providesEvaluationWeights)
        #expect(try SGDScheduleFree.Options(learningRate: 2, warmup: 10).description
            == "SGDScheduleFree(lr=2.0, momentum=0.9, weight_decay=0.0, warmup=10)")
        #expect(try !SGD.Options(learningRate: 0.1).providesEvaluationWeights)
    }

    /// The state names a checkpoint uses: z, x (and exp_avg_sq), and the weight sum exactly.
    @Test func checkpointNames() throws {
        let p = parameter([0.1, 0.2])
        let optimizer = try AdamWScheduleFree.Options(learningRate: 0.5, warmup: 2).make(for: [p])
        setGradient(p, [0.3, -0.1])
        optimizer.step(learningRate: 0.5)
        let (arrays, info) = optimizer.state().arrays(names: ["model.0.weight"], shapes: [[2]])
        #expect(Set(arrays.keys) == ["optim.model.0.weight.z", "optim.model.0.weight.x", "optim.model.0.weight.exp_avg_sq"])
        #expect(info["optim.kind"] == "adamw_schedulefree" && info["optim.step"] == "1")
        #expect(info["optim.lr_max"] == "0.25" && info["optim.weight_sum"] == "0.0625")
    }
}
