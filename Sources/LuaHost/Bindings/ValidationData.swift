import BudgetEngine
import CLua

/// `data = { train = ds, validation = held_out, test = ds2 }`: the validation split that
/// `train{}` and `experiment{}` evaluate at every evaluation point beside the test set, so a
/// rule that picks a hyperparameter (the best learning rate of each schedule, say) can pick
/// it on data the reported test accuracy never saw. Hold it out of the training set:
///
/// ```lua
/// local train_part, held_out = fm.train:split(0.9, 1)   -- 90% / 10%, shuffled with seed 1
/// data = { train = train_part, validation = held_out, test = fm.test }
/// ```
extension TrainRequest {
    /// The fields a `data` table may hold.
    static let dataFields = ["train", "validation", "test"]

    /// The validation set of `data`, if it names one; its examples must have the training
    /// set's shape, and it may not be the test set itself.
    static func readValidation(_ o: LuaOptions) throws -> Dataset? {
        let state = o.state
        return try o.withField("data") { index in
            guard let index, state.type(at: index) == LUA_TTABLE else { return nil }
            let sets = try LuaOptions(validating: index, state: state, function: o.function, fields: dataFields, prefix: "data.")
            guard let validation = try sets.object("validation", as: DatasetHandle.self)?.dataset else { return nil }
            if let train = try sets.object("train", as: DatasetHandle.self)?.dataset, validation.sampleShape != train.sampleShape {
                throw o.bad("data", "validation examples are \(validation.sampleShape.shapeString) but training examples are \(train.sampleShape.shapeString)")
            }
            if let test = try sets.object("test", as: DatasetHandle.self)?.dataset,
               test.storage === validation.storage, test.indices == validation.indices {
                throw o.bad("data", "the validation set is the test set; hold part of the training set out instead (local train, validation = ds:split(0.9, 1))")
            }
            return validation
        }
    }
}
