import CLua

/// A Lua value as Swift sees it, for passing results to Lua and reading plain data from it.
///
/// Tables come in two shapes: `array` (a sequence `{a, b, c}`) and `record` (string keys, in
/// the order given, so that printed tables are stable). Engine objects travel as `object`.
public enum LuaValue {
    case null
    case boolean(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([LuaValue])
    case record([(String, LuaValue)])
    /// A Swift object in a userdata whose metatable was registered for its type.
    case object(LuaObject)
    /// A value Swift cannot represent (a function, a foreign userdata, a coroutine), kept
    /// alive in the Lua registry.
    case reference(LuaReference)
    /// The value already at this stack index of the running call (e.g. `self`, to return the
    /// very userdata a method was called on rather than a new one for the same object).
    case stackValue(Int32)
    /// Several results of a function (only meaningful as a binding's return value).
    case multiple([LuaValue])

    /// `value` if present, otherwise `nil` in Lua.
    public static func optional(_ value: Double?) -> LuaValue { value.map { .number($0) } ?? .null }
}

extension LuaState {
    /// Pushes `value` (all results of a `.multiple`) and returns how many values were pushed.
    /// Makes room on the stack first: a table takes three slots per level of nesting while it
    /// is filled (table, key, value), several results one each.
    @discardableResult
    public func push(_ value: LuaValue) throws -> Int32 {
        switch value {
        case .array, .record: try reserveStack(3, for: "a nested table")
        case let .multiple(values): try reserveStack(values.count, for: "\(values.count) results")
        default: try reserveStack(1, for: "a value")
        }
        switch value {
        case .null: pushNil()
        case let .boolean(b): push(b)
        case let .integer(n): push(n)
        case let .number(x): push(x)
        case let .string(s): push(s)
        case let .array(items):
            newTable(arrayCount: Int32(clamping: items.count))
            for (i, item) in items.enumerated() {
                try push(item)
                rawSet(i + 1, inTableAt: -2)
            }
        case let .record(fields):
            newTable(recordCount: Int32(clamping: fields.count))
            for (key, item) in fields {
                try push(item)
                setField(key, inTableAt: -2)
            }
        case let .object(object): try pushObject(object)
        case let .reference(r): r.push()
        case let .stackValue(index): pushValue(at: index)
        case let .multiple(values):
            var n: Int32 = 0
            for v in values { n += try push(v) }
            return n
        }
        return 1
    }
}

extension LuaState {
    /// The value at `index` as Swift sees it. Tables become `array` when their keys are
    /// exactly 1 ... n (an empty table is an empty array), otherwise `record` with the string
    /// keys sorted (other keys are skipped); nesting deeper than `depth` (or a cycle), or
    /// deeper than the stack has room for, is cut off with `.null`.
    public func value(at index: Int32, depth: Int = 32) -> LuaValue {
        let i = absolute(index)
        switch lua_type(L, i) {
        case LUA_TNIL, LUA_TNONE: return .null
        case LUA_TBOOLEAN: return .boolean(lua_toboolean(L, i) != 0)
        case LUA_TNUMBER:
            return lua_isinteger(L, i) != 0 ? .integer(Int(lua_tointegerx(L, i, nil))) : .number(br_tonumber(L, i))
        case LUA_TSTRING: return .string(string(at: i) ?? "")
        case LUA_TTABLE:
            // A level holds an element while the traversal of its keys holds a key and value.
            guard depth > 0, hasStackRoom(3) else { return .null }
            return tableValue(at: i, depth: depth - 1)
        case LUA_TUSERDATA:
            if let object = anyObject(at: i) as? LuaObject { return .object(object) }
            fallthrough
        default:
            guard hasStackRoom(1) else { return .null }
            pushValue(at: i)
            return .reference(makeReference())
        }
    }

    private func tableValue(at t: Int32, depth: Int) -> LuaValue {
        let n = Int(lua_rawlen(L, t))
        let keys = self.keys(ofTableAt: t)
        if keys.count == n {
            var items: [LuaValue] = []
            forEachElement(ofTableAt: t) { _, element in
                items.append(value(at: element, depth: depth))
                return true
            }
            return .array(items)
        }
        var fields: [(String, LuaValue)] = []
        for case let .string(key) in keys {
            getField(key, inTableAt: t)
            fields.append((key, value(at: -1, depth: depth)))
            pop()
        }
        return .record(fields.sorted { $0.0 < $1.0 })
    }
}

extension LuaValue {
    /// Field `key` of a record (nil for anything else or a missing key).
    public subscript(key: String) -> LuaValue? {
        guard case let .record(fields) = self else { return nil }
        return fields.first { $0.0 == key }?.1
    }

    /// Element `i` (0-based) of an array.
    public subscript(i: Int) -> LuaValue? {
        guard case let .array(items) = self, items.indices.contains(i) else { return nil }
        return items[i]
    }

    public var doubleValue: Double? {
        switch self {
        case let .number(x): return x
        case let .integer(n): return Double(n)
        default: return nil
        }
    }

    public var intValue: Int? {
        switch self {
        case let .integer(n): return n
        case let .number(x): return Int(exactly: x)
        default: return nil
        }
    }

    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case let .boolean(b) = self { return b }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}
