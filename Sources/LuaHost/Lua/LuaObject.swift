import CLua

/// A Swift object a script holds: a userdata containing one retained reference, whose
/// metatable (registered once per type, see `LuaTypeBinding`) gives it methods, properties,
/// `tostring` and `__gc`. The object's memory (tensors, datasets) stays Swift-owned; Lua's
/// collector only sees the small userdata and releases the reference in `__gc`.
public protocol LuaObject: AnyObject {
    /// The type's name in scripts and messages, e.g. `Module`, `Dataset`.
    static var luaTypeName: String { get }
}

extension LuaObject {
    /// Name of the type's metatable in the Lua registry.
    static var metatableName: String { "budgetrain." + luaTypeName }
}

/// What the userdata of a Swift object holds, 24 bytes:
///
///     offset  0: tag   (UInt64, `tag`: the userdata is one of the host's objects)
///     offset  8: zero
///     offset 16: the opaque pointer of the retained Swift object (nil once collected)
///
/// The metatable alone does not say a userdata is ours: `debug.setmetatable` gives any
/// userdata (a file handle, a light userdata) an object type's metatable. The tag and the exact
/// size do, since no script can write a userdata's bytes. The zero word guards the other way
/// round: Lua's io library reads a userdata given the file-handle metatable as
/// `{ FILE *f; lua_CFunction closef }` and takes `closef == NULL` for a closed file, so one of
/// ours passed off as a file is never written through.
private enum ObjectSlot {
    static let size = 24
    static let pointerOffset = 16
    /// "budgetra" in ASCII.
    static let tag: UInt64 = 0x6275_6467_6574_7261

    /// The object pointer of the userdata at `index` when it is one of the host's objects.
    static func pointer(in L: OpaquePointer, at index: Int32) -> UnsafeMutableRawPointer? {
        guard br_userdata_size(L, index) == size, let block = lua_touserdata(L, index),
              block.load(as: UInt64.self) == tag else { return nil }
        return block.load(fromByteOffset: pointerOffset, as: UnsafeMutableRawPointer?.self)
    }

    /// Fills a new userdata block for `object` (retained).
    static func fill(_ block: UnsafeMutableRawPointer, with object: AnyObject) {
        block.storeBytes(of: tag, as: UInt64.self)
        block.storeBytes(of: 0, toByteOffset: 8, as: UInt64.self)
        block.storeBytes(of: Unmanaged.passRetained(object).toOpaque(), toByteOffset: pointerOffset, as: UnsafeMutableRawPointer?.self)
    }
}

extension LuaState {
    /// Pushes a new userdata holding a retained reference to `object`.
    public func pushObject(_ object: LuaObject) throws {
        try reserveStack(2, for: "an object")
        let name = Swift.type(of: object).metatableName
        guard br_getmetatable_named(L, name) == LUA_TTABLE else {
            pop()
            // Registered at start-up: only a script changing the registry through `debug`
            // takes it away.
            throw BindingError("cannot make a \(Swift.type(of: object).luaTypeName): its metatable '\(name)' is no longer in the Lua registry (changed through debug.getregistry)")
        }
        guard let block = br_newuserdata(L, ObjectSlot.size) else {
            pop()
            throw HostError("out of memory")
        }
        ObjectSlot.fill(block, with: object)
        lua_rotate(L, -2, 1)  // userdata below its metatable
        lua_setmetatable(L, -2)
    }

    /// The object of type `T` at `index`, or nil when the value is anything else.
    public func object<T: LuaObject>(at index: Int32, as type: T.Type) -> T? {
        guard luaL_testudata(L, index, T.metatableName) != nil, let raw = ObjectSlot.pointer(in: L, at: index) else { return nil }
        return Unmanaged<AnyObject>.fromOpaque(raw).takeUnretainedValue() as? T
    }

    /// The Swift object of any registered type at `index`.
    func anyObject(at index: Int32) -> AnyObject? {
        guard objectTypeName(at: index) != nil, let raw = ObjectSlot.pointer(in: L, at: index) else { return nil }
        return Unmanaged<AnyObject>.fromOpaque(raw).takeUnretainedValue()
    }

    /// `Module` for a budgetrain object: the `__name` of its metatable without the prefix.
    func objectTypeName(at index: Int32) -> String? {
        guard lua_getmetatable(L, index) != 0 else { return nil }
        defer { pop(2) }
        getField("__name", inTableAt: -1)
        guard let name = string(at: -1), name.hasPrefix("budgetrain.") else { return nil }
        return String(name.dropFirst("budgetrain.".count))
    }

}

/// The `__gc` of every object type: releases the userdata's reference, exactly once. A
/// userdata that is not one of ours (given the metatable by `debug.setmetatable`) is left alone.
private let releaseObjectFinalizer: lua_CFunction = { L in
    guard let L, let raw = ObjectSlot.pointer(in: L, at: 1), let block = lua_touserdata(L, 1) else { return 0 }
    block.storeBytes(of: nil, toByteOffset: ObjectSlot.pointerOffset, as: UnsafeMutableRawPointer?.self)
    Unmanaged<AnyObject>.fromOpaque(raw).release()
    return 0
}

/// How a type of Swift object looks from Lua: its methods (`obj:name(...)`), read-only
/// properties (`obj.name`), `tostring`, and optionally `#obj`. Registered with
/// `BindingRegistry.type(_:_:)`.
public final class LuaTypeBinding<Object: LuaObject> {
    public typealias Method = (Object, LuaArguments) throws -> LuaValue
    var methods: [(name: String, body: Method)] = []
    var properties: [String: (Object) throws -> LuaValue] = [:]
    var describe: (Object) -> String = { _ in Object.luaTypeName }
    var length: ((Object) -> Int)?

    init() {}

    /// `obj:name(...)`. Arguments are numbered from 1 after `self`, as Lua does.
    public func method(_ name: String, _ body: @escaping Method) { methods.append((name, body)) }
    /// `obj.name`.
    public func property(_ name: String, _ get: @escaping (Object) throws -> LuaValue) { properties[name] = get }
    /// `tostring(obj)` and `print(obj)`.
    public func description(_ describe: @escaping (Object) -> String) { self.describe = describe }
    /// `#obj`.
    public func length(_ count: @escaping (Object) -> Int) { length = count }

    var memberNames: [String] { methods.map(\.name) + properties.keys.sorted() }
}

extension LuaState {
    /// Creates the metatable of `Object` from its binding.
    func register<Object: LuaObject>(_ binding: LuaTypeBinding<Object>) throws {
        let typeName = Object.luaTypeName
        guard luaL_newmetatable(L, Object.metatableName) == 1 else {
            pop()
            throw HostError("internal: Lua type '\(typeName)' registered twice")
        }
        // Methods live in a table of their own, which __index consults after the properties.
        newTable(recordCount: Int32(binding.methods.count))
        for (name, body) in binding.methods {
            let qualified = "\(typeName):\(name)"
            pushFunction { lua in
                let args = LuaArguments(state: lua, function: qualified, base: 2)
                guard let object = lua.object(at: 1, as: Object.self) else {
                    throw BindingError("calling '\(qualified)' on bad self (\(typeName) expected, got \(lua.typeName(at: 1))); use a colon: obj:\(name)(...)")
                }
                return try lua.push(body(object, args))
            }
            setField(name, inTableAt: -2)
        }
        pushValue(at: -1)
        let methods = makeReference()
        setField("__methods", inTableAt: -2)

        let properties = binding.properties, members = binding.memberNames
        pushFunction { lua in
            guard let object = lua.object(at: 1, as: Object.self) else {
                throw BindingError("a value that is not a budgetrain \(typeName) has the \(typeName) metatable (set with debug.setmetatable): it has no fields")
            }
            guard let key = lua.string(at: 2) else {
                lua.pushNil()
                return 1
            }
            if let get = properties[key] { return try lua.push(get(object)) }
            methods.push()
            lua.getField(key, inTableAt: -1)  // nil if a script replaced the table in the registry
            if !lua.isNoneOrNil(-1) { return 1 }
            throw BindingError("\(typeName) has no field '\(key)'\(Spelling.suggestion(for: key, among: members)) (it has: \(members.joined(separator: ", ")))")
        }
        setField("__index", inTableAt: -2)

        // A plain C function rather than a Swift closure: finalizers also run while the state
        // closes, when the Swift side of the state is already gone.
        lua_pushcclosure(L, releaseObjectFinalizer, 0)
        setField("__gc", inTableAt: -2)

        let describe = binding.describe
        pushFunction { lua in
            guard let object = lua.object(at: 1, as: Object.self) else {
                lua.push("\(typeName) (released)")
                return 1
            }
            lua.push(describe(object))
            return 1
        }
        setField("__tostring", inTableAt: -2)

        // Two userdata for the same Swift object (a method returning `self`, a module fetched
        // twice) compare equal.
        pushFunction { lua in
            let a = lua.anyObject(at: 1), b = lua.anyObject(at: 2)
            lua.push(a != nil && a === b)
            return 1
        }
        setField("__eq", inTableAt: -2)

        if let length = binding.length {
            pushFunction { lua in
                guard let object = lua.object(at: 1, as: Object.self) else { return 0 }
                lua.push(length(object))
                return 1
            }
            setField("__len", inTableAt: -2)
        }
        pop()
    }
}
