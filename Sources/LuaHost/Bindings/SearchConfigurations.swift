import BudgetEngine
import BudgetExperiments
import Foundation

/// The configurations a `search{}` tries, in a fixed order, each a value for every field
/// (fields in name order). Exactly one of:
///
/// ```lua
/// vary = { lr = { 0.02, 0.1, 0.5 }, width = { 32, 128 } },          -- the grid, as experiment{}'s
/// configurations = { { lr = 0.1, width = 32 }, { lr = 0.5, width = 128 } },  -- a list
/// sample = { count = 27, lr = { log = { 1e-3, 1 } }, weight_decay = { uniform = { 0, 1e-3 } },
///            width = { 32, 64, 128 }, depth = { uniform = { 1, 4 }, integer = true } },
/// ```
/// A `sample` draws `count` distinct configurations from the search's `seed`: a list of values
/// is a uniform choice, `uniform = { a, b }` uniform in `[a, b)` (with `integer = true`, a
/// uniform integer in `a … b`), `log = { a, b }` log-uniform in `[a, b)` (`a > 0`; with
/// `integer = true` rounded down). Drawn numbers keep 4
/// significant digits, so the value a run uses is the one its name shows.
struct SearchConfigurations {
    var fields: [String]
    /// `values[c][f]`: configuration `c`'s value of `fields[f]`.
    var values: [[LuaValue]]

    var count: Int { values.count }

    /// `lr=0.1-width=32`: how configuration `i` reads in run names.
    func runText(_ i: Int) -> String {
        zip(fields, values[i]).map { "\($0)=\(ExperimentDeclaration.text($1))" }.joined(separator: "-")
    }

    /// The `(field, value)` pairs of configuration `i`.
    func pairs(_ i: Int) -> [(name: String, value: LuaValue)] { zip(fields, values[i]).map { ($0, $1) } }

    static func read(_ o: LuaOptions, seed: UInt64) throws -> SearchConfigurations {
        let given = ["vary", "configurations", "sample"].filter { o.has($0) }
        guard given.count == 1 else {
            throw o.bad(given.isEmpty ? "vary" : given[1], "give the configurations in exactly one of vary (a grid), configurations (a list) or sample (random draws); got \(given.isEmpty ? "none" : given.joined(separator: " and "))")
        }
        let read: SearchConfigurations
        switch given[0] {
        case "vary": read = try grid(ExperimentDeclaration.readVaried(o))
        case "configurations": read = try list(o)
        default: read = try sample(o, seed: seed)
        }
        for f in read.fields where VariedFields.reserved.contains(f) || ResultsTable.columns.contains(f) {
            throw o.bad(given[0], "'\(f)' is already a column of results.csv; name the field otherwise")
        }
        let texts = (0..<read.count).map(read.runText)
        if let twice = texts.enumerated().first(where: { texts[..<$0.offset].contains($0.element) }) {
            throw o.bad(given[0], "configuration \(twice.offset + 1) (\(twice.element)) appears twice")
        }
        return read
    }

    /// Every combination, the first field outermost.
    static func grid(_ varied: [(name: String, values: [LuaValue])]) throws -> SearchConfigurations {
        var combos: [[LuaValue]] = [[]]
        for field in varied { combos = combos.flatMap { prefix in field.values.map { prefix + [$0] } } }
        return SearchConfigurations(fields: varied.map(\.name), values: combos)
    }

    static func list(_ o: LuaOptions) throws -> SearchConfigurations {
        let value = try o.withField("configurations") { index in index.map { o.state.value(at: $0) } ?? .null }
        guard case let .array(items) = value, !items.isEmpty else {
            throw o.mismatch("configurations", expected: "non-empty list of { field = value } tables")
        }
        var fields: [String]?
        var values: [[LuaValue]] = []
        for (k, item) in items.enumerated() {
            guard case let .record(pairs) = item, !pairs.isEmpty else {
                throw o.bad("configurations", "entry \(k + 1): a table of field = value expected")
            }
            let names = pairs.map(\.0)  // sorted by name
            if let fields, fields != names {
                throw o.bad("configurations", "entry \(k + 1) has fields \(names.joined(separator: ", ")); entry 1 has \(fields.joined(separator: ", ")) (every configuration needs the same fields)")
            }
            fields = names
            for (name, v) in pairs where !v.isScalar {
                throw o.bad("configurations", "entry \(k + 1): '\(name)' must be a number, string or boolean")
            }
            values.append(pairs.map(\.1))
        }
        return SearchConfigurations(fields: fields ?? [], values: values)
    }

    /// A distribution of `sample`.
    enum Distribution {
        case choice([LuaValue])
        case uniform(Double, Double, integer: Bool)
        case logUniform(Double, Double, integer: Bool)
    }

    static func sample(_ o: LuaOptions, seed: UInt64) throws -> SearchConfigurations {
        let value = try o.withField("sample") { index in index.map { o.state.value(at: $0) } ?? .null }
        guard case let .record(entries) = value else { throw o.mismatch("sample", expected: "table { count = n, field = distribution, ... }") }
        guard let count = value["count"]?.intValue, count >= 1, count <= 100_000 else {
            throw o.bad("sample.count", "the number of configurations to draw, 1 ... 100000, expected")
        }
        var fields: [String] = [], distributions: [Distribution] = []
        for (name, spec) in entries where name != "count" {
            fields.append(name)
            distributions.append(try distribution(spec, field: "sample.\(name)", of: o))
        }
        guard !fields.isEmpty else { throw o.bad("sample", "at least one field to draw expected besides count") }
        var rng = RandomGenerator(seed: seed, stream: 0x5341_4D50)
        var values: [[LuaValue]] = [], seen = Set<String>()
        // Draws until `count` distinct configurations (a bounded number of tries: a space with
        // fewer distinct points than `count` is an error, not a loop).
        var tries = 0
        while values.count < count, tries < count * 100 {
            tries += 1
            let drawn = distributions.map { draw($0, &rng) }
            let key = drawn.map(ExperimentDeclaration.text).joined(separator: "\u{1}")
            if seen.insert(key).inserted { values.append(drawn) }
        }
        guard values.count == count else {
            throw o.bad("sample.count", "only \(values.count) distinct configurations could be drawn; ask for fewer")
        }
        return SearchConfigurations(fields: fields, values: values)
    }

    static func distribution(_ spec: LuaValue, field: String, of o: LuaOptions) throws -> Distribution {
        if case let .array(choices) = spec {
            guard !choices.isEmpty, choices.allSatisfy(\.isScalar) else { throw o.bad(field, "a non-empty list of numbers, strings or booleans expected") }
            return .choice(choices)
        }
        guard case let .record(pairs) = spec else { throw o.bad(field, "a list of values, { uniform = { a, b } } or { log = { a, b } } expected") }
        let keys = Set(pairs.map(\.0))
        guard keys.isSubset(of: ["uniform", "log", "integer"]), keys.contains("uniform") != keys.contains("log") else {
            throw o.bad(field, "exactly one of uniform = { a, b } or log = { a, b } expected (with integer = true to round)")
        }
        let integer = spec["integer"]?.boolValue ?? false
        let isLog = keys.contains("log")
        guard case let .array(bounds)? = spec[isLog ? "log" : "uniform"], bounds.count == 2,
              let a = bounds[0].doubleValue, let b = bounds[1].doubleValue, a.isFinite, b.isFinite, a < b, !isLog || a > 0 else {
            throw o.bad(field, "bounds { a, b } with a < b\(isLog ? " and a > 0" : "") expected")
        }
        return isLog ? .logUniform(a, b, integer: integer) : .uniform(a, b, integer: integer)
    }

    static func draw(_ d: Distribution, _ rng: inout RandomGenerator) -> LuaValue {
        let u = Double(rng.next() >> 11) * 0x1p-53
        func number(_ x: Double, integer: Bool) -> LuaValue {
            if integer { return .integer(Int(x.rounded(.down))) }
            return .number(Double(String(format: "%.4g", x)) ?? x)
        }
        switch d {
        case let .choice(values): return values[min(values.count - 1, Int(u * Double(values.count)))]
        case let .uniform(a, b, integer): return number(a + (b - a + (integer ? 1 : 0)) * u, integer: integer)
        case let .logUniform(a, b, integer): return number(exp(log(a) + (log(b) - log(a)) * u), integer: integer)
        }
    }
}

extension LuaValue {
    /// A number, string or boolean.
    var isScalar: Bool {
        switch self {
        case .integer, .number, .string, .boolean: return true
        default: return false
        }
    }
}
