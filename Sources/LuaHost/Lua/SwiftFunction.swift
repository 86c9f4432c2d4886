import CLua

/// A Swift closure Lua can call. The closure reads its arguments from the stack, pushes its
/// results and returns how many; it reports errors by throwing.
public typealias LuaFunctionBody = (LuaState) throws -> Int32

/// Holds a closure registered with Lua. Lua sees its address in the slot that is the one
/// upvalue of the `br_trampoline` closure, so `LuaState.functionBoxes` keeps it alive.
final class SwiftFunctionBox {
    /// Weak: while the state closes (`lua_close` runs finalizers) it is already gone, and a
    /// script's own `__gc` calling a binding then gets an error rather than a dangling state.
    weak var state: LuaState?
    let body: LuaFunctionBody

    init(state: LuaState, body: @escaping LuaFunctionBody) {
        self.state = state
        self.body = body
    }

    /// Runs the closure; turns a thrown error into a message on the stack and the code that
    /// tells the trampoline to raise it. Errors that already carry a position and traceback
    /// (they came back through a nested `lua_pcall`) are raised as they are.
    func invoke(_ L: OpaquePointer) -> Int32 {
        guard let main = state else {
            lua_pushstring(L, "budgetrain is shutting down: bindings cannot be called from finalizers")
            return BR_RAISE
        }
        // Called from a coroutine: work on its stack.
        let state = L == main.L ? main : LuaState(thread: L, of: main)
        guard state.hasStackRoom(LuaState.bindingStackRoom) else {
            lua_pushstring(L, "stack overflow (no room on the Lua stack to call a budgetrain function)")
            return BR_RAISE
        }
        main.activeCalls.append(state)
        defer { main.activeCalls.removeLast() }
        do {
            return try body(state)
        } catch let error as LuaScriptError {
            state.push(error.message)
            return BR_RAISE_AS_IS
        } catch {
            state.push(userMessage(for: error))
            return BR_RAISE
        }
    }
}

/// The one C-callable entry point of every Swift function: the trampoline hands it the box
/// from the closure's slot.
private let dispatchSwiftFunction: br_swift_function = { L, raw in
    guard let L, let raw else { return 0 }
    return Unmanaged<SwiftFunctionBox>.fromOpaque(raw).takeUnretainedValue().invoke(L)
}

extension LuaState {
    /// Pushes a Lua function that runs `body`. The closure lives as long as this state.
    public func pushFunction(_ body: @escaping LuaFunctionBody) {
        let box = SwiftFunctionBox(state: main, body: body)
        main.functionBoxes.append(box)
        br_push_swift_function(L, dispatchSwiftFunction, Unmanaged.passUnretained(box).toOpaque())
    }
}
