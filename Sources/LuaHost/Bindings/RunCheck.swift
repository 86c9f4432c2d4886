import BudgetEngine

/// What `train{}` does under `budgetrain check`: everything that can fail before training
/// starts, and nothing that takes long. It builds the model once from the run's seed, pushes
/// one training batch through it (forward, loss, backward) and one test batch (forward) to
/// catch shape errors, makes the optimizer, and evaluates the schedule at the start, at
/// quarters of the budget and at the last step.
enum RunCheck {
    struct Outcome {
        var result: LuaValue
        /// One line for the user, e.g. `Sequential: 203530 parameters, [128, 1, 28, 28] -> [128, 10], 938 steps, schedule linear`.
        var report: String
    }

    static func run(_ spec: RunSpec) throws -> Outcome {
        try spec.budget.validate()
        try spec.fullBudget.validate()
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

        let inputShape = [iterator.currentCount] + spec.train.sampleShape
        let report = "\(model.summary): \(model.parameterCount) parameters, \(inputShape.shapeString) -> \(outputShape.shapeString), "
            + (steps.map { "\($0) steps" } ?? spec.budget.description) + ", schedule \(spec.schedule.summary): OK"
        // The fields of a trained run's table are there too, NaN where only training could tell,
        // so that a script printing its results runs unchanged under `budgetrain check`.
        return Outcome(
            result: .record([
                ("status", .string("checked")),
                ("parameters", .integer(model.parameterCount)),
                ("steps", steps.map { .integer($0) } ?? .null),
                ("output_shape", .array(outputShape.dropFirst().map { .integer($0) })),
                ("seconds", .number(0)),
                ("schedule_seconds", .number(0)),
                ("final_lr", .number(.nan)),
                ("train_loss", .number(.nan)),
                ("test_loss", spec.test == nil ? .null : .number(.nan)),
                ("test_accuracy", spec.test == nil ? .null : .number(.nan)),
                ("seed", .integer(Int(truncatingIfNeeded: spec.seed))),
                ("evaluations", .array([])),
            ]),
            report: report)
    }
}
