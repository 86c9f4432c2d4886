import CLua

extension LuaState {
    /// `file:line` where the Lua function at `index` is defined (`[C]` for a C function).
    func definitionPosition(ofFunctionAt index: Int32) -> String {
        guard lua_type(L, index) == LUA_TFUNCTION else { return "?" }
        var info = lua_Debug()
        pushValue(at: index)
        guard lua_getinfo(L, ">S", &info) != 0 else { return "?" }
        let source = withUnsafeBytes(of: &info.short_src) { raw -> String in
            let chars = raw.bindMemory(to: CChar.self)
            let length = chars.firstIndex(of: 0) ?? chars.count
            return String(decoding: raw.prefix(length), as: UTF8.self)
        }
        return info.linedefined > 0 ? "\(source):\(info.linedefined)" : source
    }
}
