import BudgetEngine
import BudgetExperiments
import Foundation

/// The fields `experiment{}` and `search{}` read alike: what every run is built from (model
/// factory, loss, optimizer, batch size), the seeds, and the probes. One reader, one message
/// per fault, for both.
enum DeclarationFields {
    /// `model` (a factory, never a module instance: its trained weights would carry from run
    /// to run), `loss` (cross-entropy by default), `optimizer` (required) and `batch_size`.
    static func readRunIngredients(_ o: LuaOptions, host: ScriptHost) throws
        -> (model: ModelSource, makeLoss: () -> Loss, optimizer: OptimizerSpec, batchSize: Int) {
        let model = try ModelSource(o, host: host)
        if model.isModule {
            throw o.bad("model", "a module instance would carry its trained weights from run to run; pass a factory that builds the model, e.g. model = function(cfg) return nn.Sequential { ... } end")
        }
        let makeLoss = try o.object("loss", as: LossHandle.self)?.make ?? { CrossEntropy() }
        guard let optimizer = try o.object("optimizer", as: OptimizerHandle.self) else {
            throw o.mismatch("optimizer", expected: "optimizer (e.g. optim.sgd { lr = 0.1 })")
        }
        let batchSize = try o.integer("batch_size", default: 128)
        guard batchSize > 0 else { throw o.bad("batch_size", "a positive integer expected, got \(batchSize)") }
        return (model, makeLoss, optimizer.spec, batchSize)
    }

    /// `seeds`: integers >= 0, by default the global seed alone.
    static func readSeeds(_ o: LuaOptions, host: ScriptHost) throws -> [UInt64] {
        try (o.numbers("seeds") ?? [Double(host.options.seed)]).map { x -> UInt64 in
            guard let n = UInt64(exactly: x) else { throw o.bad("seeds", "seeds must be integers >= 0, got \(x)") }
            return n
        }
    }

    /// `probes = { grad_norm = {...}, examples = n, step_grad_norm = bool }`: where the
    /// full-batch gradient norm is probed, on which data (the first `n` training examples of a
    /// fixed draw; all of them when `n` is absent or not smaller), and whether every step's
    /// minibatch gradient norm is logged.
    static func readProbes(_ o: LuaOptions, train: Dataset) throws
        -> (gradNormAt: [Double], probeData: Dataset?, logsStepGradientNorm: Bool) {
        var gradNormAt: [Double] = [], probeExamples: Int?, stepGradNorm = false
        try o.nested("probes", fields: ["grad_norm", "examples", "step_grad_norm"]) { p in
            guard let p else { return }
            gradNormAt = try ExperimentDeclaration.progressPoints(p, "grad_norm") ?? []
            probeExamples = try p.integer("examples")
            stepGradNorm = try p.boolean("step_grad_norm", default: false)
        }
        guard let n = probeExamples else { return (gradNormAt, nil, stepGradNorm) }
        guard n > 0 else { throw o.bad("probes.examples", "a positive number of examples expected, got \(n)") }
        return (gradNormAt, n < train.count ? try train.subset(count: n, seed: 0) : nil, stepGradNorm)
    }
}

extension ScriptHost {
    /// The folder of the experiment or search named `name` under the output folder.
    func sweepDirectory(for name: String) -> String {
        options.outputDirectory + "/" + SafeName.folder(for: name)
    }

    /// The script's text as it is now (part of a sweep's identity), nil without a file.
    var scriptSource: String? {
        scriptPath.flatMap { FileManager.default.contents(atPath: $0) }.map { String(decoding: $0, as: UTF8.self) }
    }
}
