import CLua

/// The arguments of a call from Lua into a binding, read with Lua's own error wording:
/// `bad argument #2 to 'nn.Linear' (number expected, got string)`.
///
/// Positions are what the user counts: for a method `obj:f(a, b)`, `a` is #1.
public struct LuaArguments {
    public let state: LuaState
    /// The binding as users call it, e.g. `nn.Linear` or `Dataset:subset`.
    public let function: String
    /// Stack index of argument #1.
    let base: Int32

    public init(state: LuaState, function: String, base: Int32 = 1) {
        self.state = state
        self.function = function
        self.base = base
    }

    /// Number of arguments given (trailing nils included).
    public var count: Int { max(0, Int(state.top - base + 1)) }

    /// Stack index of argument `position`.
    public func index(_ position: Int) -> Int32 { base + Int32(position) - 1 }

    public func isNil(_ position: Int) -> Bool { position > count || state.isNoneOrNil(index(position)) }

    /// `bad argument #n to 'f' (what expected, got <type>)`.
    public func mismatch(_ position: Int, expected what: String) -> BindingError {
        .badArgument(position, to: function, "\(what) expected, got \(state.typeName(at: index(position)))")
    }

    /// `bad argument #n to 'f' (detail)`.
    public func bad(_ position: Int, _ detail: String) -> BindingError {
        .badArgument(position, to: function, detail)
    }

    public func number(_ position: Int) throws -> Double {
        guard let x = state.number(at: index(position)) else { throw mismatch(position, expected: "number") }
        return x
    }

    public func number(_ position: Int, default value: Double) throws -> Double {
        isNil(position) ? value : try number(position)
    }

    public func integer(_ position: Int) throws -> Int {
        let i = index(position)
        guard state.number(at: i) != nil else { throw mismatch(position, expected: "number") }
        guard let n = state.integer(at: i) else { throw bad(position, "number has no integer representation") }
        return n
    }

    public func integer(_ position: Int, default value: Int) throws -> Int {
        isNil(position) ? value : try integer(position)
    }

    public func string(_ position: Int) throws -> String {
        guard let s = state.string(at: index(position)) else { throw mismatch(position, expected: "string") }
        return s
    }

    public func boolean(_ position: Int) throws -> Bool {
        guard let b = state.boolean(at: index(position)) else { throw mismatch(position, expected: "boolean") }
        return b
    }

    /// The object of type `T` (a module, a dataset, ...) at `position`.
    public func object<T: LuaObject>(_ position: Int, as type: T.Type) throws -> T {
        guard let o = state.object(at: index(position), as: T.self) else { throw mismatch(position, expected: T.luaTypeName) }
        return o
    }

    /// The option table at `position` (an absent argument reads as an empty table); fields
    /// other than `fields` are rejected.
    public func options(_ position: Int, fields: [String]) throws -> LuaOptions {
        if isNil(position) { return LuaOptions(state: state, table: nil, function: function, fields: fields) }
        guard state.type(at: index(position)) == LUA_TTABLE else { throw mismatch(position, expected: "table") }
        return try LuaOptions(validating: index(position), state: state, function: function, fields: fields)
    }

    /// Rejects arguments after `maximum` (catches e.g. `nn.Linear(784, 256, 10)`); nils
    /// there are fine, as in Lua.
    public func noMore(than maximum: Int) throws {
        guard count > maximum else { return }
        for position in (maximum + 1)...count where !isNil(position) {
            let takes = maximum == 0 ? "no arguments" : "\(maximum) argument\(maximum == 1 ? "" : "s")"
            throw bad(position, "no value expected, got \(state.typeName(at: index(position))); '\(function)' takes \(takes)")
        }
    }

    /// The elements `t[1] ... t[#t]` of the sequence at `position`, each converted by `read`
    /// (given the element's stack index, or throwing `mismatch` for it). Keys other than
    /// 1 ... n are rejected.
    public func sequence<T>(_ position: Int, element what: String, _ read: (Int32) throws -> T?) throws -> [T] {
        let t = index(position)
        guard state.type(at: t) == LUA_TTABLE else { throw mismatch(position, expected: "table") }
        let n = state.rawLength(ofTableAt: t)
        var result: [T] = []
        result.reserveCapacity(LuaState.reservation(forLength: n))
        try state.forEachElement(ofTableAt: t) { k, element in
            guard let value = try read(element) else {
                throw bad(position, "\(what) expected at index \(k), got \(state.typeName(at: element))")
            }
            result.append(value)
            return true
        }
        if let key = state.firstKey(ofTableAt: t, where: { !$0.isSequenceIndex(upTo: n) }) {
            throw bad(position, "\(what)s expected at indices 1 ... \(n), got a field \(key)")
        }
        return result
    }
}

/// A table key, for messages about unexpected keys.
public enum LuaKey: CustomStringConvertible {
    case string(String)
    case integer(Int)
    case other(String)

    func isSequenceIndex(upTo n: Int) -> Bool {
        if case let .integer(i) = self { return i >= 1 && i <= n }
        return false
    }

    public var description: String {
        switch self {
        case let .string(s): return "'\(s)'"
        case let .integer(i): return "[\(i)]"
        case let .other(t): return "[\(t)]"
        }
    }
}

extension LuaState {
    /// The keys of the table at `index`, in traversal order (raw; no metamethods).
    func keys(ofTableAt index: Int32) -> [LuaKey] {
        var keys: [LuaKey] = []
        _ = firstKey(ofTableAt: index) { keys.append($0); return false }
        return keys
    }

    /// The first key of the table at `index` for which `predicate` holds.
    func firstKey(ofTableAt index: Int32, where predicate: (LuaKey) -> Bool) -> LuaKey? {
        let t = absolute(index)
        guard lua_type(L, t) == LUA_TTABLE else { return nil }
        pushNil()
        while lua_next(L, t) != 0 {
            pop()  // the value; the key stays for the next lua_next
            let key: LuaKey
            if let s = string(at: -1) {
                key = .string(s)
            } else if lua_type(L, -1) == LUA_TNUMBER, lua_isinteger(L, -1) != 0 {
                key = .integer(Int(lua_tointegerx(L, -1, nil)))
            } else {
                key = .other(typeName(at: -1))
            }
            if predicate(key) {
                pop()
                return key
            }
        }
        return nil
    }
}
