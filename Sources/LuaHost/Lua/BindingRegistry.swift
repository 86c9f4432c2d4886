import CLua

/// Where the Lua API is declared: each function a script can call and each type of object it
/// can hold is one registration here.
///
/// ```swift
/// try registry.function("nn.ReLU") { args in .object(ModuleHandle(ReLU())) }
/// try registry.type(DatasetHandle.self) { t in
///     t.length { $0.dataset.count }
///     t.property("classes") { .integer($0.dataset.classCount) }
/// }
/// ```
/// A dotted name (`nn.ReLU`) puts the function in the global namespace table `nn` (created on
/// first use and also registered as `package.loaded.nn`); a plain name is a global.
public final class BindingRegistry {
    public let state: LuaState
    private var names: Set<String> = []
    /// The body of every registered function, by qualified name (for `restrict`).
    private var bodies: [String: (LuaArguments) throws -> LuaValue] = [:]

    public init(state: LuaState) { self.state = state }

    /// Every function registered so far, by qualified name.
    public var registeredFunctions: [String] { names.sorted() }

    /// Registers `body` as the Lua function `qualifiedName`. The body reads its arguments
    /// from `LuaArguments` and returns its result (`.multiple` for several, `.null` for nil).
    public func function(_ qualifiedName: String, _ body: @escaping (LuaArguments) throws -> LuaValue) throws {
        guard names.insert(qualifiedName).inserted else {
            throw HostError("internal: '\(qualifiedName)' is registered twice")
        }
        let parts = qualifiedName.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }) else {
            throw HostError("internal: '\(qualifiedName)' is not a valid binding name (use 'name' or 'namespace.name')")
        }
        bodies[qualifiedName] = body
        install(qualifiedName, parts, body)
    }

    /// Replaces the registered function `qualifiedName` by one that runs `check` on the
    /// arguments first (a restriction of `--sandbox`), then the function as it was. Errors
    /// keep the caller's position, as the function's own do.
    public func restrict(_ qualifiedName: String, _ check: @escaping (LuaArguments) throws -> Void) throws {
        guard let body = bodies[qualifiedName] else {
            throw HostError("internal: '\(qualifiedName)' is not registered, so it cannot be restricted")
        }
        let restricted: (LuaArguments) throws -> LuaValue = { args in
            try check(args)
            return try body(args)
        }
        bodies[qualifiedName] = restricted
        install(qualifiedName, qualifiedName.split(separator: ".").map(String.init), restricted)
    }

    /// Sets the global or namespace field of `parts` to a Lua function running `body`.
    private func install(_ qualifiedName: String, _ parts: [String], _ body: @escaping (LuaArguments) throws -> LuaValue) {
        state.preservingStack {
            if parts.count == 2 { pushNamespace(parts[0]) } else { state.pushGlobals() }
            state.pushFunction { lua in
                try lua.push(body(LuaArguments(state: lua, function: qualifiedName)))
            }
            state.setField(parts[parts.count - 1], inTableAt: -2)
        }
    }

    /// Registers a type of Swift object: its metatable with the methods and properties that
    /// `configure` declares.
    public func type<Object: LuaObject>(_ type: Object.Type, _ configure: (LuaTypeBinding<Object>) -> Void) throws {
        let binding = LuaTypeBinding<Object>()
        configure(binding)
        try state.register(binding)
    }

    /// Sets the global `name` to `value`.
    public func global(_ name: String, _ value: LuaValue) throws {
        try state.preservingStack {
            state.pushGlobals()
            try state.push(value)
            state.setField(name, inTableAt: -2)
        }
    }

    /// Pushes the namespace table `name`, creating it (as a global and as `package.loaded[name]`,
    /// so that `require "nn"` works too) when it does not exist yet.
    private func pushNamespace(_ name: String) {
        state.pushGlobals()
        if state.getField(name, inTableAt: -1) == LUA_TTABLE {
            br_remove(state.L, -2)
            return
        }
        state.pop()
        state.newTable()
        state.pushValue(at: -1)
        state.setField(name, inTableAt: -3)  // _G[name] = t
        br_remove(state.L, -2)
        let namespace = state.top
        state.pushGlobals()
        if state.getField("package", inTableAt: -1) == LUA_TTABLE,
           state.getField("loaded", inTableAt: -1) == LUA_TTABLE {
            state.pushValue(at: namespace)
            state.setField(name, inTableAt: -2)  // package.loaded[name] = t
        }
        state.setTop(namespace)
    }
}
