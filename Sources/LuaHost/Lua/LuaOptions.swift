import CLua

/// A table of named options given to a binding, e.g. `optim.sgd { lr = 0.1, momentum = 0.9 }`.
///
/// Every key must be one of the binding's fields: a misspelt option is an error (with a
/// suggestion), never silently ignored. Type errors name the field:
/// `bad field 'lr' to 'optim.sgd' (number expected, got string)`.
public struct LuaOptions {
    public let state: LuaState
    /// Stack index of the table, or nil when no table was given (every field absent).
    public let table: Int32?
    public let function: String
    public let fields: [String]
    /// Prepended to field names in messages, for a nested table (`budget.` in
    /// `bad field 'budget.epochs' to 'train'`).
    public let prefix: String

    init(state: LuaState, table: Int32?, function: String, fields: [String], prefix: String = "") {
        self.state = state
        self.table = table.map { state.absolute($0) }
        self.function = function
        self.fields = fields
        self.prefix = prefix
    }

    /// Options from the table at `index`, after checking every key is a known field.
    public init(validating index: Int32, state: LuaState, function: String, fields: [String], prefix: String = "") throws {
        self.init(state: state, table: index, function: function, fields: fields, prefix: prefix)
        let known = Set(fields)
        let listing = fields.joined(separator: ", ")
        if let key = state.firstKey(ofTableAt: index, where: { key in
            if case let .string(s) = key { return !known.contains(s) }
            return true
        }) {
            if case let .string(s) = key {
                throw BindingError("unknown field '\(prefix)\(s)' to '\(function)'\(Spelling.suggestion(for: s, among: fields)) (known fields: \(listing))")
            }
            throw BindingError("bad field \(prefix)\(key) to '\(function)' (options are named fields: \(listing))")
        }
    }

    /// Runs `read` with the field's value pushed (stack index passed), or with nil when the
    /// field is absent or nil. The value is popped afterwards.
    public func withField<T>(_ key: String, _ read: (Int32?) throws -> T) throws -> T {
        guard let table else { return try read(nil) }
        state.getField(key, inTableAt: table)
        defer { state.pop() }
        return try read(state.isNoneOrNil(-1) ? nil : state.top)
    }

    public func has(_ key: String) -> Bool { (try? withField(key) { $0 != nil }) ?? false }

    /// `bad field 'key' to 'f' (what expected, got <type>)` for the field's current value.
    public func mismatch(_ key: String, expected what: String) -> BindingError {
        let got = (try? withField(key) { index in index.map { state.typeName(at: $0) } ?? "nil" }) ?? "nil"
        return .badField(prefix + key, to: function, "\(what) expected, got \(got)")
    }

    /// `bad field 'key' to 'f' (detail)`.
    public func bad(_ key: String, _ detail: String) -> BindingError { .badField(prefix + key, to: function, detail) }

    /// The field converted by `convert` (nil when absent); a value `convert` rejects is a
    /// type error naming `what` was expected.
    public func optional<T>(_ key: String, _ what: String, _ convert: (Int32) -> T?) throws -> T? {
        try withField(key) { index in
            guard let index else { return nil }
            guard let value = convert(index) else { throw BindingError.badField(prefix + key, to: function, "\(what) expected, got \(state.typeName(at: index))") }
            return value
        }
    }

    /// The field converted by `convert`; absent is an error.
    public func required<T>(_ key: String, _ what: String, _ convert: (Int32) -> T?) throws -> T {
        guard let value = try optional(key, what, convert) else {
            throw BindingError.badField(prefix + key, to: function, "\(what) expected, got nil")
        }
        return value
    }

    public func number(_ key: String) throws -> Double? { try optional(key, "number") { state.number(at: $0) } }
    public func number(_ key: String, default value: Double) throws -> Double { try number(key) ?? value }
    public func requiredNumber(_ key: String) throws -> Double { try required(key, "number") { state.number(at: $0) } }

    public func integer(_ key: String) throws -> Int? {
        guard let x = try number(key) else { return nil }
        guard let n = Int(exactly: x) else { throw bad(key, "number has no integer representation (got \(x))") }
        return n
    }
    public func integer(_ key: String, default value: Int) throws -> Int { try integer(key) ?? value }
    public func requiredInteger(_ key: String) throws -> Int {
        _ = try requiredNumber(key)
        return try integer(key) ?? 0
    }

    public func string(_ key: String) throws -> String? { try optional(key, "string") { state.string(at: $0) } }
    public func string(_ key: String, default value: String) throws -> String { try string(key) ?? value }

    public func boolean(_ key: String) throws -> Bool? { try optional(key, "boolean") { state.boolean(at: $0) } }
    public func boolean(_ key: String, default value: Bool) throws -> Bool { try boolean(key) ?? value }

    public func object<T: LuaObject>(_ key: String, as type: T.Type) throws -> T? {
        try optional(key, T.luaTypeName) { state.object(at: $0, as: T.self) }
    }

    /// Runs `read` on the nested option table in field `key` (nil when absent), whose keys must
    /// be among `fields`; its messages name fields `key.field`.
    public func nested<T>(_ key: String, fields: [String], _ read: (LuaOptions?) throws -> T) throws -> T {
        try withField(key) { index in
            guard let index else { return try read(nil) }
            guard state.type(at: index) == LUA_TTABLE else { throw mismatch(key, expected: "table") }
            return try read(LuaOptions(validating: index, state: state, function: function, fields: fields, prefix: prefix + key + "."))
        }
    }

    /// A list of numbers `{0.5, 0.75}`.
    public func numbers(_ key: String) throws -> [Double]? {
        try withField(key) { index in
            guard let index else { return nil }
            guard state.type(at: index) == LUA_TTABLE else {
                throw BindingError.badField(prefix + key, to: function, "table of numbers expected, got \(state.typeName(at: index))")
            }
            var values: [Double] = []
            values.reserveCapacity(LuaState.reservation(forLength: state.rawLength(ofTableAt: index)))
            try state.forEachElement(ofTableAt: index) { k, element in
                guard let x = state.number(at: element) else {
                    throw BindingError.badField(prefix + key, to: function, "number expected at index \(k), got \(state.typeName(at: element))")
                }
                values.append(x)
                return true
            }
            return values
        }
    }

    /// A list of strings `{"linear", "1-sqrt"}`.
    public func strings(_ key: String) throws -> [String]? {
        try withField(key) { index in
            guard let index else { return nil }
            guard state.type(at: index) == LUA_TTABLE else {
                throw BindingError.badField(prefix + key, to: function, "table of strings expected, got \(state.typeName(at: index))")
            }
            let n = Int(lua_rawlen(state.L, index))
            guard n <= 100_000 else { throw BindingError.badField(prefix + key, to: function, "a list of at most 100000 strings expected, got \(n)") }
            var values: [String] = []
            for k in 0..<n {
                lua_rawgeti(state.L, index, lua_Integer(k + 1))
                defer { state.pop() }
                guard state.type(at: -1) == LUA_TSTRING, let x = state.string(at: -1) else {
                    throw BindingError.badField(prefix + key, to: function, "string expected at index \(k + 1), got \(state.typeName(at: -1))")
                }
                values.append(x)
            }
            return values
        }
    }
}
