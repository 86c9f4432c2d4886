import BudgetEngine

/// A layer or whole model, as `nn.*` returns it. Several handles may share one layer.
public final class ModuleHandle: LuaObject {
    public static let luaTypeName = "Module"
    public let layer: Layer
    public init(_ layer: Layer) { self.layer = layer }
}

/// A dataset (a view of shared storage: subsets and splits copy no examples).
public final class DatasetHandle: LuaObject {
    public static let luaTypeName = "Dataset"
    public let dataset: Dataset
    public init(_ dataset: Dataset) { self.dataset = dataset }
}

/// An optimizer's settings; each run makes a fresh optimizer from them.
public final class OptimizerHandle: LuaObject {
    public static let luaTypeName = "Optimizer"
    public let spec: OptimizerSpec
    public init(_ spec: OptimizerSpec) { self.spec = spec }
}

/// A learning-rate schedule (a multiplier of the base rate as a function of progress).
public final class ScheduleHandle: LuaObject {
    public static let luaTypeName = "Schedule"
    public let schedule: Schedule
    public init(_ schedule: Schedule) { self.schedule = schedule }
}

/// A loss; each run makes a fresh instance (losses keep per-batch buffers).
public final class LossHandle: LuaObject {
    public static let luaTypeName = "Loss"
    public let summary: String
    public let make: () -> Loss
    public init(make: @escaping () -> Loss) {
        self.make = make
        self.summary = make().summary
    }
}
