import BudgetEngine
import CLua

/// A Lua function `f(p, ctx)` used as a learning-rate schedule (through the engine's
/// `FunctionSchedule`): the multiplier at progress `p`, with `ctx` giving `step`, `budget`,
/// `full_budget`, `epoch`, `steps_per_epoch`, `base_lr` and `wall_clock` (true under a
/// budget in seconds).
///
/// The trainer calls it once per step, so the call is kept cheap: one `ctx` table made once
/// and updated in place with raw sets, one `lua_pcall` with the traceback handler. A result
/// that is not a number stops the run naming the step and the value (NaN, infinities and
/// negative numbers are caught by `Schedule.checkedMultiplier`).
///
/// Unchecked `Sendable`: it calls into its Lua state, so it must be used on the thread that
/// runs the script, like everything holding that state.
final class LuaScheduleFunction: @unchecked Sendable {
    private let function: LuaReference
    private let context: LuaReference
    let summary: String

    /// Wraps the function at stack index `index`.
    init(function index: Int32, in state: LuaState) {
        summary = "function (\(state.definitionPosition(ofFunctionAt: index)))"
        state.pushValue(at: index)
        function = state.makeReference()
        state.newTable(recordCount: 7)
        context = state.makeReference()
    }

    func call(_ p: Double, _ c: ScheduleContext) throws -> Double {
        guard let state = function.state?.current else {
            throw EngineError.training("schedule \(summary): its Lua state no longer exists")
        }
        // The function, p, ctx, and a key and value while ctx is filled.
        try state.reserveStack(5, for: "schedule \(summary)")
        let saved = state.top
        defer { state.setTop(saved) }
        function.push()
        state.push(p)
        context.push()
        let table = state.top
        state.push(c.step); state.setField("step", inTableAt: table)
        state.push(c.budget); state.setField("budget", inTableAt: table)
        state.push(c.fullBudget); state.setField("full_budget", inTableAt: table)
        state.push(c.epoch); state.setField("epoch", inTableAt: table)
        state.push(c.stepsPerEpoch); state.setField("steps_per_epoch", inTableAt: table)
        state.push(c.baseLearningRate); state.setField("base_lr", inTableAt: table)
        state.push(c.isWallClock); state.setField("wall_clock", inTableAt: table)
        try state.protectedCall(arguments: 2, results: 1)
        guard let m = state.number(at: -1) else {
            let got = state.type(at: -1) == LUA_TSTRING ? "the string \"\(state.string(at: -1) ?? "")\"" : state.typeName(at: -1)
            throw EngineError.training("schedule '\(summary)' returned \(got) at step \(c.step) (progress \(p)); a multiplier must be a finite number >= 0")
        }
        return m
    }
}
