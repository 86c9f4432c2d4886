import CLua

/// A Lua 5.4 interpreter, owned by Swift.
///
/// The rules that keep Lua's `longjmp`-based errors away from Swift frames live here:
/// - every call into Lua goes through `protectedCall`, i.e. `lua_pcall` with the traceback
///   handler, and comes back as a thrown `LuaScriptError`;
/// - the stack is only read with API functions that cannot raise (`lua_rawget`, `lua_rawgeti`,
///   `lua_rawlen`, `lua_next`, `lua_type`, `lua_to*` on values of the right type);
/// - Swift functions Lua calls report errors by returning `BR_RAISE` and let the C trampoline
///   raise (see `SwiftFunction.swift`).
///
/// A `LuaState` is either the interpreter itself (the *main* state, which owns the Lua
/// universe and closes it) or a view of one of its coroutines: a Swift function called from
/// inside a coroutine must read its arguments from that coroutine's stack, and anything Swift
/// calls back into Lua while it runs goes on that stack too (`current`).
///
/// Not thread-safe: a state and everything holding it belong to one thread.
public final class LuaState {
    /// The raw `lua_State *` (of the main thread, or of the coroutine this view shows).
    public let L: OpaquePointer
    /// The main state, for a coroutine's view; nil for the main state itself.
    private let owner: LuaState?
    /// Closures registered as Lua functions. Lua holds them as light userdata, so they must
    /// live exactly as long as the state does (kept by the main state).
    var functionBoxes: [SwiftFunctionBox] = []
    /// The states of the Swift functions running now, innermost last (kept by the main state).
    var activeCalls: [LuaState] = []

    /// The Lua release linked in, e.g. `Lua 5.4.4`.
    public static var versionString: String { String(cString: br_release()) }

    public init() throws {
        guard let state = luaL_newstate() else { throw HostError("cannot create a Lua state (out of memory)") }
        L = state
        owner = nil
        guard br_openlibs(state) == LUA_OK else {
            lua_close(state)
            throw HostError("cannot open the Lua standard libraries (out of memory)")
        }
    }

    /// A view of the coroutine `thread` of `main`.
    init(thread: OpaquePointer, of main: LuaState) {
        L = thread
        owner = main
    }

    deinit { if owner == nil { lua_close(L) } }

    /// The main state (the interpreter).
    public var main: LuaState { owner ?? self }

    /// Where Swift code that was not handed a state should work: the stack of the innermost
    /// Swift function running now (a coroutine's, inside one), else the main stack.
    public var current: LuaState { main.activeCalls.last ?? main }

    // MARK: Stack

    public var top: Int32 { lua_gettop(L) }
    public func setTop(_ index: Int32) { lua_settop(L, index) }
    public func pop(_ n: Int32 = 1) { br_pop(L, n) }

    /// The absolute position of a (possibly negative, relative) stack index.
    public func absolute(_ index: Int32) -> Int32 { lua_absindex(L, index) }

    /// Runs `body` and restores the stack height afterwards, whatever `body` left on it.
    public func preservingStack<T>(_ body: () throws -> T) rethrows -> T {
        let saved = top
        defer { setTop(saved) }
        return try body()
    }

    // MARK: Room on the stack

    /// The most values a Lua stack holds (`LUAI_MAXSTACK` of Lua 5.4).
    public static let maximumStackSize = 1_000_000

    /// Free slots every Swift function gets on entry, beyond its arguments: room for the
    /// fixed-size work of any binding (a table, a key, a value, a metatable, a message).
    /// Lua itself guarantees a C function only `LUA_MINSTACK` (20).
    static let bindingStackRoom = 40

    /// Whether `count` more values fit on this stack, growing it if need be. Never raises.
    public func hasStackRoom(_ count: Int) -> Bool {
        count <= 0 || (count < Self.maximumStackSize && lua_checkstack(L, Int32(count)) != 0)
    }

    /// Makes room for `count` more values, or throws naming `what` needed them. Every push of a
    /// number of values that depends on data (script arguments, several results, the levels
    /// of a nested table) asks first: pushing past the end of the stack corrupts memory.
    public func reserveStack(_ count: Int, for what: @autoclosure () -> String) throws {
        guard !hasStackRoom(count) else { return }
        throw BindingError("\(what()): \(count) values do not fit on the Lua stack (it holds at most \(Self.maximumStackSize))")
    }

    // MARK: Reading values (never raises)

    public func type(at index: Int32) -> Int32 { lua_type(L, index) }
    public func isNoneOrNil(_ index: Int32) -> Bool { lua_type(L, index) <= LUA_TNIL }

    /// The string at `index`, only if the value *is* a string (numbers are not converted, so
    /// this is safe during a `lua_next` traversal).
    public func string(at index: Int32) -> String? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let chars = lua_tolstring(L, index, &length) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: chars, count: length), as: UTF8.self)
    }

    /// The number at `index`, only if the value is a number.
    public func number(at index: Int32) -> Double? {
        guard lua_type(L, index) == LUA_TNUMBER else { return nil }
        return br_tonumber(L, index)
    }

    /// The integer at `index`: a Lua integer, or a float with an exact integer value.
    public func integer(at index: Int32) -> Int? {
        guard lua_type(L, index) == LUA_TNUMBER else { return nil }
        if lua_isinteger(L, index) != 0 { return Int(lua_tointegerx(L, index, nil)) }
        let x = br_tonumber(L, index)
        guard x.rounded() == x, abs(x) < 0x1p62 else { return nil }
        return Int(x)
    }

    public func boolean(at index: Int32) -> Bool? {
        guard lua_type(L, index) == LUA_TBOOLEAN else { return nil }
        return lua_toboolean(L, index) != 0
    }

    /// What users call the type of the value at `index`: Lua's basic type name, or for a
    /// budgetrain object the name its metatable declares (`Module`, `Dataset`, ...). A value
    /// that only wears an object's metatable (`debug.setmetatable`) is named as what it is.
    public func typeName(at index: Int32) -> String {
        let t = lua_type(L, index)
        if t == LUA_TNONE { return "no value" }
        if t == LUA_TUSERDATA, let name = objectTypeName(at: index) {
            return anyObject(at: index) != nil ? name : "userdata (not a budgetrain \(name))"
        }
        return String(cString: lua_typename(L, t))
    }

    // MARK: Pushing values

    public func pushNil() { lua_pushnil(L) }
    /// Pushes `s` with its exact length (embedded zero bytes included).
    public func push(_ s: String) {
        var s = s
        s.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
    }
    public func push(_ x: Double) { lua_pushnumber(L, x) }
    public func push(_ n: Int) { lua_pushinteger(L, lua_Integer(n)) }
    public func push(_ b: Bool) { lua_pushboolean(L, b ? 1 : 0) }
    public func pushValue(at index: Int32) { lua_pushvalue(L, index) }
    public func newTable(arrayCount: Int32 = 0, recordCount: Int32 = 0) { lua_createtable(L, arrayCount, recordCount) }

    /// Pushes the globals table (without going through `_G`, which a script may replace).
    public func pushGlobals() { br_pushglobaltable(L) }

    /// `t[key] = value` for the table at `table`, with the value on top of the stack (popped).
    /// Raw: no metamethods run. When `table` holds no table (a registry entry a script
    /// replaced through `debug`), the value is dropped: raw access to anything else is
    /// undefined behaviour in Lua's C API.
    public func setField(_ key: String, inTableAt table: Int32) {
        let t = absolute(table)
        guard lua_type(L, t) == LUA_TTABLE else { return pop() }
        push(key)
        lua_rotate(L, -2, 1)  // key below value
        lua_rawset(L, t)
    }

    /// Pushes `t[key]` (raw) of the table at `table` and returns its type; pushes nil when
    /// `table` holds no table.
    @discardableResult
    public func getField(_ key: String, inTableAt table: Int32) -> Int32 {
        let t = absolute(table)
        guard lua_type(L, t) == LUA_TTABLE else {
            pushNil()
            return LUA_TNIL
        }
        push(key)
        return lua_rawget(L, t)
    }

    // MARK: Calling Lua

    /// Calls the function below `arguments` values on top of the stack, in protected mode
    /// with the traceback handler. Leaves `results` values (or all, for `br_multret()`) on
    /// the stack; on error pops everything it was given and throws the message and traceback.
    public func protectedCall(arguments: Int32, results: Int32) throws {
        // The message handler, and the results beyond what the arguments free.
        try reserveStack(1 + max(Int(results) - Int(arguments) - 1, 0), for: "calling a Lua function")
        let functionIndex = top - arguments
        br_push_traceback_handler(L)
        lua_rotate(L, functionIndex, 1)  // handler below the function
        let status = br_pcall(L, arguments, results, functionIndex)
        if status != LUA_OK {
            let message = string(at: -1) ?? "(error object is a \(typeName(at: -1)) value)"
            setTop(functionIndex - 1)
            throw LuaScriptError(message: message)
        }
        br_remove(L, functionIndex)
    }

    /// Compiles the file at `path` and pushes the chunk as a function. Error messages and
    /// tracebacks name it `path` (the chunk name is `@path`).
    public func loadFile(_ path: String) throws {
        let status = path.withCString { luaL_loadfilex(L, $0, "t") }
        guard status == LUA_OK else {
            let message = string(at: -1) ?? "cannot load \(path)"
            pop()
            throw LuaScriptError(message: message)
        }
    }

    /// Compiles `source` under `chunkName` (e.g. `@budgetrain/models.lua`) and pushes it.
    public func loadString(_ source: String, chunkName: String) throws {
        let status = source.utf8CString.withUnsafeBufferPointer { chars in
            br_loadbuffer(L, chars.baseAddress, chars.count - 1, chunkName)
        }
        guard status == LUA_OK else {
            let message = string(at: -1) ?? "cannot load \(chunkName)"
            pop()
            throw LuaScriptError(message: message)
        }
    }

    /// Runs `source` as a chunk with the given arguments, discarding its results.
    public func run(_ source: String, chunkName: String, arguments: [LuaValue] = []) throws {
        try preservingStack {
            try loadString(source, chunkName: chunkName)
            try reserveStack(arguments.count, for: "the arguments of \(chunkName)")
            var count: Int32 = 0
            for a in arguments { count += try push(a) }
            try protectedCall(arguments: count, results: 0)
        }
    }

    /// `file:line` of the Lua code running `level` calls up the stack (1: the code that called
    /// the current Swift function), or nil when that is not Lua code.
    public func position(level: Int32 = 1) -> String? {
        luaL_where(L, level)
        defer { pop() }
        guard let s = string(at: -1), s.hasSuffix(": ") else { return nil }
        return String(s.dropLast(2))
    }

    // MARK: References

    /// Pops the value on top of the stack and keeps it in the registry until the returned
    /// reference is released.
    public func makeReference() -> LuaReference {
        LuaReference(state: main, id: luaL_ref(L, br_registryindex()))
    }

    func release(reference id: Int32) { luaL_unref(current.L, br_registryindex(), id) }
}

/// A value kept alive in the Lua registry on behalf of Swift (a script's function, a table).
/// Released when the reference is deinitialised, if the state still exists.
public final class LuaReference {
    /// The main state.
    weak var state: LuaState?
    let id: Int32

    init(state: LuaState, id: Int32) {
        self.state = state
        self.id = id
    }

    /// Pushes the referenced value on the `current` stack of its state.
    public func push() {
        guard let state else { return }
        lua_rawgeti(state.current.L, br_registryindex(), lua_Integer(id))
    }

    deinit { state?.release(reference: id) }
}
