import CLua

/// Raw access to the elements of Lua tables, for bindings that read sequences.
///
/// Every function checks the value is a table first: raw access to anything else is undefined
/// behaviour in Lua's C API. A table's length `#t` says nothing about how many elements it
/// holds (`{ [2^40] = 1 }` can have a border there), so nothing here reserves memory or
/// iterates by `#t` alone: readers stop at the first element that is missing.
extension LuaState {
    /// `#t` without metamethods for the table at `index`; 0 for anything else.
    public func rawLength(ofTableAt index: Int32) -> Int {
        guard lua_type(L, index) == LUA_TTABLE else { return 0 }
        return Int(lua_rawlen(L, index))
    }

    /// Pushes `t[i]` (raw) of the table at `table` and returns its type; pushes nil when
    /// `table` holds no table.
    @discardableResult
    public func rawGet(_ i: Int, inTableAt table: Int32) -> Int32 {
        guard lua_type(L, table) == LUA_TTABLE else {
            pushNil()
            return LUA_TNIL
        }
        return lua_rawgeti(L, table, lua_Integer(i))
    }

    /// `t[i] = value` (raw) for the table at `table`, with the value on top of the stack
    /// (popped; dropped when `table` holds no table).
    public func rawSet(_ i: Int, inTableAt table: Int32) {
        let t = absolute(table)
        guard lua_type(L, t) == LUA_TTABLE else { return pop() }
        lua_rawseti(L, t, lua_Integer(i))
    }

    /// Calls `body(k, index)` for `k = 1 ... #t` with `t[k]` pushed at stack index `index`
    /// (popped afterwards), for the table at `table`. Stops early when `body` returns false
    /// or throws; `body` must stop at a nil element, so that a huge `#t` over a sparse table
    /// costs only the elements that are there.
    public func forEachElement(ofTableAt table: Int32, _ body: (Int, Int32) throws -> Bool) rethrows {
        let t = absolute(table)
        let n = rawLength(ofTableAt: t)
        var k = 1
        while k <= n {
            rawGet(k, inTableAt: t)
            defer { pop() }
            guard try body(k, top) else { return }
            k += 1
        }
    }

    /// Capacity worth reserving for a sequence whose `#t` is `length`: the length when small,
    /// else a cap (the array grows as elements prove to exist).
    static func reservation(forLength length: Int) -> Int { min(max(length, 0), 1 << 16) }
}
