/// A schedule given as a closure `(p, context) -> multiplier`: how the Lua host turns a user's
/// `function(p, ctx) ... end` into a schedule, and a quick way to try a formula from Swift.
///
/// The closure must be a pure function of its arguments, as every schedule is; what it returns
/// is checked by `checkedMultiplier` like any other schedule's value.
///
/// ```swift
/// let squared = FunctionSchedule(summary: "squared") { p, _ in (1 - p) * (1 - p) }
/// ```
public struct FunctionSchedule: Schedule {
    public let summary: String
    private let body: @Sendable (Double, ScheduleContext) throws -> Double

    public init(summary: String, _ body: @escaping @Sendable (Double, ScheduleContext) throws -> Double) {
        self.summary = summary
        self.body = body
    }

    public func multiplier(at p: Double, context: ScheduleContext) throws -> Double {
        try body(p, context)
    }
}
