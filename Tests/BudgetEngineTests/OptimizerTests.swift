import Foundation
import Testing
@testable import BudgetEngine
import TestSupport

/// A parameter holding `values`.
func parameter(_ values: [Float]) -> Parameter {
    let p = Parameter(name: "weight", shape: [values.count])
    for (i, v) in values.enumerated() { p.value[i] = v }
    return p
}

func setGradient(_ p: Parameter, _ values: [Double]) {
    for (i, v) in values.enumerated() { p.gradient[i] = Float(v) }
}

func expectClose(_ actual: [Float], _ expected: [Double], tolerance: Double = 1e-6, _ what: String) {
    #expect(actual.count == expected.count, "\(what): count")
    for (a, e) in zip(actual, expected) {
        #expect(abs(Double(a) - e) <= tolerance * max(1, abs(e)), "\(what): \(a) vs \(e)")
    }
}

/// Fixed numbers shared by the reference tests: starting values, two gradients with sign
/// changes (so the second step depends on the state the first one left), and two learning
/// rates (the trainer passes a scheduled rate each step).
enum Reference {
    static let theta0: [Double] = [0.5, -1.5, 2.0, 0.0]
    static let gradients: [[Double]] = [[0.1, -0.2, 0.3, 1e-3], [-0.4, 0.05, 0.2, -2.0]]
    static let rates: [Double] = [0.1, 0.05]
}

@Suite struct OptimizerReferenceTests {
    /// `torch.optim.SGD(momentum=0.9, nesterov=True, weight_decay=0.01)` (dampening 0), by hand.
    @Test func sgdNesterovWithWeightDecay() throws {
        let mu = 0.9, wd = 0.01
        var theta = Reference.theta0
        var buffer = [Double](repeating: 0, count: theta.count)
        for step in 0..<2 {
            for i in theta.indices {
                let g = Reference.gradients[step][i] + wd * theta[i]
                buffer[i] = step == 0 ? g : mu * buffer[i] + g
                theta[i] -= Reference.rates[step] * (g + mu * buffer[i])
            }
        }

        let p = parameter(Reference.theta0.map(Float.init))
        let sgd = try SGD.Options(learningRate: 0.1, momentum: mu, nesterov: true, weightDecay: wd).make(for: [p])
        for step in 0..<2 {
            setGradient(p, Reference.gradients[step])
            sgd.step(learningRate: Float(Reference.rates[step]))
        }
        expectClose(p.value.values, theta, "sgd")
    }

    /// Every optimizer leaves the gradients zero after its step: the trainer relies on it
    /// instead of zeroing them before each backward pass.
    @Test func stepsLeaveGradientsZero() throws {
        let specs: [OptimizerSpec] = [
            try SGD.Options(learningRate: 0.1), try SGD.Options(learningRate: 0.1, momentum: 0.9),
            try SGD.Options(learningRate: 0.1, momentum: 0.9, nesterov: true), try Adam.Options(learningRate: 0.1),
            try AdamW.Options(learningRate: 0.1, weightDecay: 0.1),
            try SGDScheduleFree.Options(learningRate: 0.1, weightDecay: 0.1), try AdamWScheduleFree.Options(weightDecay: 0.1),
        ]
        for spec in specs {
            let p = parameter(Reference.theta0.map(Float.init))
            let optimizer = spec.make(for: [p])
            for step in 0..<2 {
                setGradient(p, Reference.gradients[step])
                optimizer.step(learningRate: 0.1)
                #expect(p.gradient.values.allSatisfy { $0 == 0 }, "\(spec)")
            }
        }
    }

    /// The textbook Adam of Kingma & Ba with PyTorch's coupled weight decay, by hand in Double.
    /// eps is large (1e-3) so that where it sits in the formula shows in the result.
    func adamReference(weightDecay wd: Double, decoupled: Bool) -> [Double] {
        let beta1 = 0.9, beta2 = 0.999, eps = 1e-3
        var theta = Reference.theta0
        var m = [Double](repeating: 0, count: theta.count), v = m
        for step in 0..<2 {
            let t = Double(step + 1), lr = Reference.rates[step]
            for i in theta.indices {
                var g = Reference.gradients[step][i]
                if decoupled { theta[i] *= 1 - lr * wd } else { g += wd * theta[i] }
                m[i] = beta1 * m[i] + (1 - beta1) * g
                v[i] = beta2 * v[i] + (1 - beta2) * g * g
                let mHat = m[i] / (1 - pow(beta1, t)), vHat = v[i] / (1 - pow(beta2, t))
                // PyTorch's eps sits outside the corrected square root: √v / √(1 − β₂ᵗ) + ε.
                theta[i] -= lr * mHat / (vHat.squareRoot() + eps)
            }
        }
        return theta
    }

    @Test func adamTwoStepsWithCoupledDecay() throws {
        let p = parameter(Reference.theta0.map(Float.init))
        let adam = try Adam.Options(learningRate: 0.1, epsilon: 1e-3, weightDecay: 0.1).make(for: [p])
        for step in 0..<2 {
            setGradient(p, Reference.gradients[step])
            adam.step(learningRate: Float(Reference.rates[step]))
        }
        expectClose(p.value.values, adamReference(weightDecay: 0.1, decoupled: false), "adam")
        #expect(adam.state().step == 2)
    }

    @Test func adamWTwoStepsWithDecoupledDecay() throws {
        let p = parameter(Reference.theta0.map(Float.init))
        let adamw = try AdamW.Options(learningRate: 0.1, epsilon: 1e-3, weightDecay: 0.1).make(for: [p])
        for step in 0..<2 {
            setGradient(p, Reference.gradients[step])
            adamw.step(learningRate: Float(Reference.rates[step]))
        }
        let expected = adamReference(weightDecay: 0.1, decoupled: true)
        expectClose(p.value.values, expected, "adamw")
        // Decoupled and coupled decay differ on these numbers: the test tells them apart.
        let coupled = adamReference(weightDecay: 0.1, decoupled: false)
        #expect(zip(expected, coupled).contains { abs($0 - $1) > 1e-4 })
    }

    @Test func defaultsAreTorchs() throws {
        let adam = try Adam.Options(), adamw = try AdamW.Options()
        #expect(adam.learningRate == 1e-3 && adam.beta1 == 0.9 && adam.beta2 == 0.999 && adam.epsilon == 1e-8)
        #expect(adam.weightDecay == 0 && adamw.weightDecay == 1e-2 && adamw.learningRate == 1e-3)
        #expect(adamw.settings["weight_decay"] == 1e-2)
        #expect(adam.description.hasPrefix("Adam(") && adamw.description.hasPrefix("AdamW("))
    }

    @Test func rejectsBadSettings() {
        #expect(throws: EngineError.self) { try Adam.Options(beta1: 1) }
        #expect(throws: EngineError.self) { try Adam.Options(beta2: -0.1) }
        #expect(throws: EngineError.self) { try AdamW.Options(learningRate: -1) }
        #expect(throws: EngineError.self) { try AdamW.Options(epsilon: .nan) }
        #expect(throws: EngineError.self) { try Adam.Options(weightDecay: -1e-4) }
    }

    @Test func largeParametersTakeTheParallelPathToTheSameResult() throws {
        // Above the parallel threshold: every element must still get the scalar formula.
        let n = 1 << 17
        let saved = ComputeThreads.count
        ComputeThreads.count = 2
        defer { ComputeThreads.count = saved }
        let big = Parameter(name: "w", shape: [n]), small = parameter([0.25])
        for i in 0..<n {
            big.value[i] = 0.25
            big.gradient[i] = 0.5
        }
        small.gradient[0] = 0.5
        let a = try AdamW.Options(learningRate: 0.01).make(for: [big])
        let b = try AdamW.Options(learningRate: 0.01).make(for: [small])
        a.step(learningRate: 0.01)
        b.step(learningRate: 0.01)
        #expect(big.value.values.allSatisfy { $0 == small.value[0] })
    }
}

@Suite struct OptimizerTrainingTests {
    /// Both Adam variants train a small MLP on normalised synthetic data through the trainer.
    @Test(arguments: ["adam", "adamw"])
    func adamTrainsThroughTheTrainer(kind: String) throws {
        let raw = try SyntheticData.gaussianBlobs(count: 1200, classes: 3, dimensions: 4, spread: 2, seed: 1)
        let statistics = raw.channelStatistics()
        let train = try raw.normalized(with: statistics)
        let test = try SyntheticData.gaussianBlobs(count: 300, classes: 3, dimensions: 4, spread: 2, seed: 2).normalized(with: statistics)
        let optimizer: OptimizerSpec = kind == "adam" ? try Adam.Options(learningRate: 1e-2) : try AdamW.Options(learningRate: 1e-2)
        let result = try Trainer(spec: RunSpec(
            makeModel: mlp([4, 16, 3]), optimizer: optimizer, train: train, test: test, batchSize: 32,
            budget: .epochs(3), schedule: LinearSchedule(), seed: 4)).run()
        #expect(result.status == .ok)
        #expect((result.testAccuracy ?? 0) >= 0.9)
    }
}

@Suite struct OptimizerStateTests {
    /// Steps an optimizer twice, saves its state through JSON, loads it into a fresh optimizer
    /// over copies of the parameters, and steps both once more: they must agree bit for bit.
    func roundTrip(_ spec: OptimizerSpec) throws {
        let weights = parameter([0.3, -0.7, 1.1]), bias = parameter([0.05])
        let optimizer = spec.make(for: [weights, bias])
        let grads: [[Double]] = [[0.2, -0.1, 0.4], [-0.3, 0.6, 0.1], [0.05, 0.05, -0.5]]
        for step in 0..<2 {
            setGradient(weights, grads[step])
            setGradient(bias, [Double(step) - 0.5])
            optimizer.step(learningRate: 0.1)
        }
        let json = try JSONEncoder().encode(optimizer.state())
        let restored = try JSONDecoder().decode(OptimizerState.self, from: json)
        #expect(restored == optimizer.state())

        let weights2 = parameter(weights.value.values), bias2 = parameter(bias.value.values)
        let resumed = spec.make(for: [weights2, bias2])
        try resumed.load(restored)
        let fresh = spec.make(for: [parameter(weights.value.values), parameter(bias.value.values)])
        for (params, opt) in [([weights, bias], optimizer), ([weights2, bias2], resumed), (fresh.parameters, fresh)] {
            setGradient(params[0], grads[2])
            setGradient(params[1], [0.25])
            opt.step(learningRate: 0.1)
        }
        #expect(weights2.value.values == weights.value.values, "\(spec)")
        #expect(bias2.value.values == bias.value.values, "\(spec)")
        #expect(resumed.state() == optimizer.state())
        // Without the state the third step differs: the test can tell.
        #expect(fresh.parameters[0].value.values != weights.value.values, "\(spec)")
    }

    @Test func roundTripsContinueIdentically() throws {
        try roundTrip(try SGD.Options(learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3))
        try roundTrip(try Adam.Options(learningRate: 0.01, weightDecay: 1e-3))
        try roundTrip(try AdamW.Options(learningRate: 0.01))
        try roundTrip(try SGDScheduleFree.Options(learningRate: 0.1, weightDecay: 1e-3, warmup: 2))
        try roundTrip(try AdamWScheduleFree.Options(learningRate: 0.01, weightDecay: 1e-3, warmup: 3))
    }

    @Test func loadRejectsOtherKindsAndShapes() throws {
        let p = parameter([1, 2, 3])
        let adam = try Adam.Options().make(for: [p]), adamw = try AdamW.Options().make(for: [p])
        let sgd = try SGD.Options(learningRate: 0.1, momentum: 0.9).make(for: [p])
        #expect(throws: EngineError.self) { try adam.load(adamw.state()) }
        #expect(throws: EngineError.self) { try adamw.load(sgd.state()) }
        let other = try Adam.Options().make(for: [parameter([1, 2])])
        let message = try #require(errorMessage { try adam.load(other.state()) })
        #expect(message.contains("exp_avg"))
        var missing = adam.state()
        missing.buffers["exp_avg_sq"] = nil
        #expect(try #require(errorMessage { try adam.load(missing) }).contains("exp_avg_sq"))
    }
}
