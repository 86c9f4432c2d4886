/// What `budgetrain check` does instead of training: everything that can fail before training
/// starts, and nothing that takes long. It builds the model once from the run's seed, pushes
/// one training batch through it (forward, loss, backward) and one test batch (forward) to
/// catch shape errors, makes the optimizer, and evaluates the schedule at the start, at
/// quarters of the budget and at the last step.
public enum DryRun {
    public struct Report: Sendable {
        public var modelSummary: String
        public var parameterCount: Int
        /// Shape of the first training batch and of the model's output for it.
        public var inputShape: [Int]
        public var outputShape: [Int]
        /// Steps of the budget (nil for a wall-clock budget).
        public var steps: Int?

        /// One line for the user, e.g. `Sequential: 203530 parameters, [128, 1, 28, 28] -> [128, 10], 938 steps, schedule linear: OK`.
        public func line(budget: Budget, schedule: Schedule) -> String {
            "\(modelSummary): \(parameterCount) parameters, \(inputShape.shapeString) -> \(outputShape.shapeString), "
                + (steps.map { "\($0) steps" } ?? budget.description) + ", schedule \(schedule.summary): OK"
        }
    }

    public static func run(_ given: RunSpec) throws -> Report {
        try given.budget.validate()
        try given.fullBudget.validate()
        let spec = try given.resolvingBudgets()
        try spec.budget.validate()
        try spec.fullBudget.validate()
        try spec.validateAveraging()
        let iterator = try BatchIterator(dataset: spec.train, batchSize: spec.batchSize, shuffle: true, seed: spec.seed, augment: true)
        iterator.start(epoch: 0)
        iterator.next()

        var rng = RandomGenerator(seed: spec.seed, stream: RunSpec.initialisationStream)
        let model = try spec.makeModel(&rng)
        let loss = spec.makeLoss()
        model.setTraining(true)
        model.zeroGradients()
        let output = try model.forward(iterator.inputs)
        let outputShape = output.shape
        _ = try loss.forward(output, labels: iterator.labels)
        _ = try model.backward(loss.backward())
        model.zeroGradients()
        _ = spec.optimizer.make(for: model.parameters)

        if let test = spec.test {
            let testBatch = try BatchIterator(dataset: test, batchSize: spec.batchSize, shuffle: false, seed: 0, augment: false)
            testBatch.start(epoch: 0)
            testBatch.next()
            model.setTraining(false)
            _ = try loss.forward(try model.forward(testBatch.inputs), labels: testBatch.labels)
        }

        let perEpoch = iterator.batchesPerEpoch
        let steps = spec.budget.steps(perEpoch: perEpoch)
        let planned = steps ?? 1000
        let full = spec.fullBudget.steps(perEpoch: perEpoch) ?? planned
        for step in Set([0, planned / 4, planned / 2, 3 * planned / 4, planned - 1]).sorted() {
            let context = ScheduleContext(
                step: step, budget: planned, fullBudget: full, epoch: step / perEpoch,
                stepsPerEpoch: perEpoch, baseLearningRate: spec.optimizer.learningRate)
            _ = try spec.schedule.checkedMultiplier(at: Double(step) / Double(planned), context: context)
        }
        return Report(
            modelSummary: model.summary, parameterCount: model.parameterCount,
            inputShape: [iterator.currentCount] + spec.train.sampleShape, outputShape: outputShape, steps: steps)
    }
}
