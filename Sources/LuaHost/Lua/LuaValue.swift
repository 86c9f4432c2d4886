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
    @discardableResult
    public func push(_ value: LuaValue) throws -> Int32 {
        switch value {
        case .null: pushNil()
        case let .boolean(b): push(b)
        case let .integer(n): push(n)
        case let .number(x): push(x)
        case let .string(s): push(s)
        case let .array(items):
            newTable(arrayCount: Int32(items.count))
            for (i, item) in items.enumerated() {
                try push(item)
                lua_rawseti(L, -2, lua_Integer(i + 1))
            }
        case let .record(fields):
            newTable(recordCount: Int32(fields.count))
            for (key, item) in fields {
                try push(item)
                setField(key, inTableAt: -2)
            }
        case let .object(object): try pushObject(object)
        case let .stackValue(index): pushValue(at: index)
        case let .multiple(values):
            var n: Int32 = 0
            for v in values { n += try push(v) }
            return n
        }
        return 1
    }
}
