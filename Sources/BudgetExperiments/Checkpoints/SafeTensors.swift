import BudgetEngine
import Foundation

/// Named tensors and string metadata in the safetensors format
/// (https://github.com/huggingface/safetensors), the checkpoint format of run state.
///
/// A file is
///
///     N                  u64, little-endian: the size of the header in bytes
///     header             N bytes of UTF-8 JSON:
///                          {"__metadata__": {"key": "value", ...},              (optional)
///                           "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...}
///     buffer             the tensors' raw little-endian values, row-major
///
/// where `[b, e)` is a tensor's byte range in the buffer (not in the file), `e − b` is its
/// element count (the product of `shape`, 1 for `[]`) times the dtype's size, and the ranges
/// tile the buffer exactly: no overlaps, no holes. The reference writer pads the header with
/// spaces to a multiple of 8 bytes.
///
/// Reading checks all of this and throws `EngineError.dataFile` naming the file and the fault.
/// The header is parsed by a strict parser of its own (no duplicate keys, a nesting depth of at
/// most three, integers read exactly), so a hostile header cannot crash the reader or
/// slip a value through a floating-point conversion; the 100 MB header limit is the Rust
/// crate's. Writing is deterministic: the same tensors and metadata give the same bytes.
///
/// Tensor names are Swift strings: two names that differ only in Unicode normalisation (`é` as
/// one scalar or as `e` + accent) are the same name here, and a file holding both is rejected
/// as holding a duplicate.
public struct SafeTensors: Equatable, Sendable {
    /// The element types budgetrain reads and writes (a subset of the format's).
    public enum DType: String, CaseIterable, Sendable {
        case F32, F64, I64, U64, I32, U8

        /// Bytes per element.
        public var byteSize: Int {
            switch self {
            case .F32, .I32: return 4
            case .F64, .I64, .U64: return 8
            case .U8: return 1
            }
        }
    }

    /// One tensor: its name, element type, shape and raw little-endian bytes.
    public struct Entry: Equatable, Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var bytes: [UInt8]

        /// A tensor from raw little-endian bytes; `encoded()` checks that their count is the
        /// element count of `shape` times the dtype's size.
        public init(name: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        /// An `F32` tensor of `floats`, row-major.
        public init(name: String, floats: [Float], shape: [Int]) {
            self.init(name: name, dtype: .F32, shape: shape, bytes: littleEndianBytes(floats.map(\.bitPattern)))
        }

        /// An `F64` tensor of `doubles`, row-major.
        public init(name: String, doubles: [Double], shape: [Int]) {
            self.init(name: name, dtype: .F64, shape: shape, bytes: littleEndianBytes(doubles.map(\.bitPattern)))
        }

        /// A `U64` tensor of `words` (counters, random generator states), row-major.
        public init(name: String, words: [UInt64], shape: [Int]) {
            self.init(name: name, dtype: .U64, shape: shape, bytes: littleEndianBytes(words))
        }

        /// An `I64` tensor of `integers`, row-major.
        public init(name: String, integers: [Int64], shape: [Int]) {
            self.init(name: name, dtype: .I64, shape: shape, bytes: littleEndianBytes(integers))
        }

        /// The values of an `F32` tensor.
        public func floats() throws -> [Float] {
            try values(.F32, as: UInt32.self).map(Float.init(bitPattern:))
        }

        /// The values of an `F64` tensor.
        public func doubles() throws -> [Double] {
            try values(.F64, as: UInt64.self).map(Double.init(bitPattern:))
        }

        /// The values of a `U64` tensor.
        public func words() throws -> [UInt64] {
            try values(.U64, as: UInt64.self)
        }

        /// The values of an `I64` tensor.
        public func integers() throws -> [Int64] {
            try values(.I64, as: Int64.self)
        }

        private func values<T: FixedWidthInteger>(_ expected: DType, as type: T.Type) throws -> [T] {
            guard dtype == expected else {
                throw EngineError.invalidArgument("safetensors: tensor '\(name)' is \(dtype.rawValue), not \(expected.rawValue)")
            }
            let size = MemoryLayout<T>.size
            guard bytes.count % size == 0 else {
                throw EngineError.invalidArgument(
                    "safetensors: tensor '\(name)' holds \(bytes.count) bytes, not a whole number of \(size)-byte values")
            }
            let count = bytes.count / size
            return bytes.withUnsafeBytes { raw in
                (0..<count).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * size, as: T.self)) }
            }
        }
    }

    /// The largest header accepted, in bytes (the Rust crate's `N_LEN` limit).
    public static let maximumHeaderSize = 100_000_000

    /// The key of the metadata object in the header.
    static let metadataKey = "__metadata__"

    /// The tensors, in name order when decoded.
    public var entries: [Entry]
    /// Free-form string metadata (`__metadata__` in the header).
    public var metadata: [String: String]

    public init(entries: [Entry] = [], metadata: [String: String] = [:]) {
        self.entries = entries
        self.metadata = metadata
    }

    /// The tensor called `name`, if there is one.
    public func entry(named name: String) -> Entry? {
        entries.first { $0.name == name }
    }

    // MARK: Writing

    /// The file's bytes. Tensors are laid out contiguously in name order (Swift `String` `<`);
    /// the header lists `__metadata__` first when there is metadata (keys sorted), then the
    /// tensors in name order, each as `dtype`, `shape`, `data_offsets` like the reference
    /// writer, with no whitespace, padded with spaces to a multiple of 8 bytes.
    ///
    /// Throws `EngineError.invalidArgument` for an empty, duplicate or reserved name, a negative
    /// dimension, a shape too large to count, or bytes that do not fill the shape exactly.
    public func encoded() throws -> [UInt8] {
        let sorted = entries.sorted { $0.name < $1.name }
        var previous: String?
        for entry in sorted {
            guard !entry.name.isEmpty else { throw encodeError("a tensor has an empty name") }
            guard entry.name != Self.metadataKey else { throw encodeError("a tensor is named \(Self.metadataKey), the metadata key") }
            guard entry.name != previous else { throw encodeError("two tensors are named '\(entry.name)'") }
            previous = entry.name
            if let dim = entry.shape.first(where: { $0 < 0 }) {
                throw encodeError("tensor '\(entry.name)' has negative dimension \(dim) in shape \(entry.shape)")
            }
            guard let expected = Self.byteCount(shape: entry.shape, dtype: entry.dtype) else {
                throw encodeError("tensor '\(entry.name)': shape \(entry.shape) of \(entry.dtype.rawValue) is too large to count")
            }
            guard entry.bytes.count == expected else {
                throw encodeError(
                    "tensor '\(entry.name)' holds \(entry.bytes.count) bytes; shape \(entry.shape) of \(entry.dtype.rawValue) needs \(expected)")
            }
        }

        var header = "{"
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { jsonString($0.key) + ":" + jsonString($0.value) }
            fields.append(jsonString(Self.metadataKey) + ":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for entry in sorted {
            let end = offset + entry.bytes.count
            let shape = entry.shape.map(String.init).joined(separator: ",")
            fields.append(
                jsonString(entry.name) + ":{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += fields.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        headerBytes += [UInt8](repeating: UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8)
        guard headerBytes.count <= Self.maximumHeaderSize else {
            throw encodeError("the header would take \(headerBytes.count) bytes, over the limit of \(Self.maximumHeaderSize)")
        }

        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count + offset)
        out += littleEndianBytes([UInt64(headerBytes.count)])
        out += headerBytes
        for entry in sorted { out += entry.bytes }
        return out
    }

    /// Writes the file atomically (through `AtomicFile`: readers never see a torn checkpoint).
    public func write(to path: String) throws {
        let bytes: [UInt8]
        do {
            bytes = try encoded()
        } catch let EngineError.invalidArgument(message) {
            throw EngineError.dataFile(path: path, message: "not written: " + message)
        }
        try AtomicFile.write(bytes, to: path)
    }

    private func encodeError(_ message: String) -> EngineError {
        .invalidArgument("safetensors: " + message)
    }

    // MARK: Reading

    /// Reads the file at `path`. Files larger than half the machine's physical memory are
    /// refused before reading (decoding holds the file and a copy of its tensors at once).
    public static func read(path: String) throws -> SafeTensors {
        try read(path: path, sizeLimit: Int(clamping: ProcessInfo.processInfo.physicalMemory / 2))
    }

    /// Reads the file at `path`, refusing one larger than `sizeLimit` bytes before reading it.
    static func read(path: String, sizeLimit: Int) throws -> SafeTensors {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
            throw EngineError.dataFile(path: path, message: "cannot read checkpoint: \(reason)")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw EngineError.dataFile(path: path, message: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size <= sizeLimit else {
            throw EngineError.dataFile(
                path: path, message: "\(size) bytes is larger than the \(sizeLimit) bytes a checkpoint may take here (half the memory); not read")
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw EngineError.dataFile(path: path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            while initialized < size, let base = buffer.baseAddress {
                let n = Glibc.read(fd, base + initialized, size - initialized)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { failure = errno }
                if n <= 0 { break }
                initialized += n
            }
        }
        guard failure == 0 else {
            throw EngineError.dataFile(path: path, message: "read failed: \(String(cString: strerror(failure)))")
        }
        guard bytes.count == size else {
            throw EngineError.dataFile(path: path, message: "shrank while being read: \(size) bytes, then \(bytes.count)")
        }
        return try SafeTensors(bytes: bytes, source: path)
    }

    /// Decodes a file's bytes; `source` (a path) names the file in error messages.
    public init(bytes: [UInt8], source: String) throws {
        func fault(_ message: String) -> EngineError { .dataFile(path: source, message: message) }

        guard bytes.count >= 8 else {
            throw fault("truncated: \(bytes.count) bytes; a safetensors file starts with an 8-byte header size")
        }
        let declared = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard declared <= UInt64(Self.maximumHeaderSize) else {
            throw fault("header size \(declared) bytes is over the limit of \(Self.maximumHeaderSize)")
        }
        let headerSize = Int(declared)
        guard headerSize <= bytes.count - 8 else {
            throw fault("truncated: the header size \(headerSize) runs past the end of the file (\(bytes.count - 8) bytes after the size)")
        }
        let bufferStart = 8 + headerSize
        let bufferSize = bytes.count - bufferStart
        let header = Array(bytes[8..<bufferStart])
        guard String(bytes: header, encoding: .utf8) != nil else { throw fault("header is not valid UTF-8") }

        let root: JSONValue
        do {
            root = try JSONParser.parse(header, maximumDepth: 3)
        } catch let error as JSONParser.Failure {
            throw fault("header JSON at byte \(error.offset): \(error.message)")
        }
        guard case let .object(fields) = root else { throw fault("header is not a JSON object") }

        var metadata: [String: String] = [:]
        var placed: [(entry: Entry, begin: Int, end: Int)] = []
        for (name, value) in fields {
            if name == Self.metadataKey {
                metadata = try Self.decodeMetadata(value, fault: fault)
                continue
            }
            guard !name.isEmpty else { throw fault("a tensor has an empty name") }
            let (dtype, shape, begin, end) = try Self.decodeTensorInfo(name, value, bufferSize: bufferSize, fault: fault)
            let entry = Entry(name: name, dtype: dtype, shape: shape, bytes: Array(bytes[(bufferStart + begin)..<(bufferStart + end)]))
            placed.append((entry, begin, end))
        }

        // The ranges must tile the buffer: in offset order each starts where the last ended.
        placed.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        var previous: String?
        for tensor in placed {
            if tensor.begin < covered {
                throw fault(
                    "tensor '\(tensor.entry.name)' at bytes \(tensor.begin)..<\(tensor.end) overlaps tensor '\(previous ?? "")', which ends at \(covered)")
            }
            if tensor.begin > covered {
                throw fault("hole in the buffer: bytes \(covered)..<\(tensor.begin) before tensor '\(tensor.entry.name)' belong to no tensor")
            }
            covered = tensor.end
            previous = tensor.entry.name
        }
        guard covered == bufferSize else {
            throw fault("hole in the buffer: bytes \(covered)..<\(bufferSize) at its end belong to no tensor")
        }

        self.init(entries: placed.map(\.entry).sorted { $0.name < $1.name }, metadata: metadata)
    }

    private static func decodeMetadata(_ value: JSONValue, fault: (String) -> EngineError) throws -> [String: String] {
        guard case let .object(pairs) = value else { throw fault("\(metadataKey) is not an object of strings") }
        var metadata: [String: String] = [:]
        for (key, item) in pairs {
            guard case let .string(text) = item else {
                throw fault("metadata value for key '\(key)' is \(item.kind), not a string")
            }
            metadata[key] = text
        }
        return metadata
    }

    /// Checks one tensor's `{"dtype", "shape", "data_offsets"}` object against the buffer.
    private static func decodeTensorInfo(
        _ name: String, _ value: JSONValue, bufferSize: Int, fault: (String) -> EngineError
    ) throws -> (DType, [Int], begin: Int, end: Int) {
        guard case let .object(fields) = value else { throw fault("tensor '\(name)' is \(value.kind), not an object") }
        var dtypeValue: JSONValue?, shapeValue: JSONValue?, offsetsValue: JSONValue?
        for (key, field) in fields {
            switch key {
            case "dtype": dtypeValue = field
            case "shape": shapeValue = field
            case "data_offsets": offsetsValue = field
            default: throw fault("tensor '\(name)' has an unknown field '\(key)'")
            }
        }
        guard let dtypeValue, let shapeValue, let offsetsValue else {
            let missing = [("dtype", dtypeValue), ("shape", shapeValue), ("data_offsets", offsetsValue)].filter { $0.1 == nil }.map(\.0)
            throw fault("tensor '\(name)' lacks \(missing.joined(separator: ", "))")
        }

        guard case let .string(dtypeName) = dtypeValue else { throw fault("tensor '\(name)': dtype is \(dtypeValue.kind), not a string") }
        guard let dtype = DType(rawValue: dtypeName) else {
            let known = DType.allCases.map(\.rawValue).joined(separator: ", ")
            throw fault("tensor '\(name)' has unknown dtype '\(dtypeName)' (supported: \(known))")
        }

        guard case let .array(dims) = shapeValue else { throw fault("tensor '\(name)': shape is \(shapeValue.kind), not an array") }
        var shape: [Int] = []
        for (i, dim) in dims.enumerated() {
            guard let n = dim.nonNegativeInteger else {
                throw fault("tensor '\(name)': shape entry \(i) is \(dim.summary); expected a non-negative integer")
            }
            shape.append(n)
        }
        guard let byteCount = byteCount(shape: shape, dtype: dtype) else {
            throw fault("tensor '\(name)': shape \(shape) of \(dtype.rawValue) overflows: too many bytes to count")
        }

        guard case let .array(offsets) = offsetsValue, offsets.count == 2,
              let begin = offsets[0].nonNegativeInteger, let end = offsets[1].nonNegativeInteger
        else {
            throw fault("tensor '\(name)': data_offsets is \(offsetsValue.summary); expected two non-negative integers [begin, end]")
        }
        guard begin <= end, end <= bufferSize else {
            throw fault("tensor '\(name)': data_offsets [\(begin), \(end)] out of range of the \(bufferSize)-byte buffer")
        }
        guard end - begin == byteCount else {
            throw fault("tensor '\(name)': data_offsets [\(begin), \(end)] span \(end - begin) bytes; shape \(shape) of \(dtype.rawValue) needs \(byteCount)")
        }
        return (dtype, shape, begin, end)
    }

    /// product(shape) × dtype size in bytes, or nil when a dimension is negative or the product
    /// overflows `Int`.
    static func byteCount(shape: [Int], dtype: DType) -> Int? {
        var count = dtype.byteSize
        for dim in shape {
            guard dim >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }
}

// MARK: - Byte and JSON helpers

/// `values` as little-endian bytes, one after another.
private func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    let size = MemoryLayout<T>.size
    return [UInt8](unsafeUninitializedCapacity: values.count * size) { buffer, initialized in
        let raw = UnsafeMutableRawBufferPointer(buffer)
        for (i, value) in values.enumerated() {
            raw.storeBytes(of: value.littleEndian, toByteOffset: i * size, as: T.self)
        }
        initialized = values.count * size
    }
}

/// `text` as a JSON string literal (RFC 8259 §7): quote, backslash and the control characters
/// U+0000–U+001F escaped, everything else as its UTF-8.
private func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// A parsed JSON value. Objects keep their fields in file order; numbers keep their text, so an
/// integer is read exactly however large it is.
private enum JSONValue: Equatable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.array(x), .array(y)): return x == y
        case let (.string(x), .string(y)), let (.number(x), .number(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    /// The value when it is an integer literal (no fraction or exponent) in 0...Int.max.
    var nonNegativeInteger: Int? {
        guard case let .number(text) = self, !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) }) else { return nil }
        var value = 0
        for digit in text.utf8 {
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = shifted.addingReportingOverflow(Int(digit - 48))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value
    }

    /// What kind of value this is, for messages.
    var kind: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }

    /// A short rendering for messages: the literal for scalars and arrays of scalars.
    var summary: String {
        switch self {
        case let .number(text): return text.count <= 40 ? text : String(text.prefix(40)) + "…"
        case let .string(text): return jsonString(text.count <= 40 ? text : String(text.prefix(40)) + "…")
        case let .bool(value): return String(value)
        case .null: return "null"
        case let .array(items) where items.count <= 8:
            return "[" + items.map(\.summary).joined(separator: ", ") + "]"
        case .array, .object: return kind
        }
    }
}

/// A strict RFC 8259 parser over UTF-8 bytes (already checked to be valid UTF-8), for headers
/// of bounded shape: nesting deeper than `maximumDepth` and duplicate keys in an object are
/// errors, so a header cannot blow the stack or hide a field behind its twin. Every loop
/// consumes at least one byte per pass, so the work is linear in the header size.
private enum JSONParser {
    struct Failure: Error {
        var message: String
        var offset: Int
    }

    static func parse(_ bytes: [UInt8], maximumDepth: Int) throws -> JSONValue {
        var parser = State(bytes: bytes, maximumDepth: maximumDepth)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw parser.failure("unexpected text after the top-level value") }
        return value
    }

    private struct State {
        let bytes: [UInt8]
        let maximumDepth: Int
        var position = 0

        init(bytes: [UInt8], maximumDepth: Int) {
            self.bytes = bytes
            self.maximumDepth = maximumDepth
        }

        func failure(_ message: String) -> Failure { Failure(message: message, offset: position) }

        var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipWhitespace() {
            while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws {
            guard current == byte else { throw failure(current == nil ? "unexpected end, expected \(what)" : "expected \(what)") }
            position += 1
        }

        mutating func value(depth: Int) throws -> JSONValue {
            guard let byte = current else { throw failure("unexpected end, expected a value") }
            switch byte {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw failure("unexpected character '\(Character(Unicode.Scalar(byte)))'")
            }
        }

        mutating func literal(_ word: String) throws {
            for expected in word.utf8 {
                guard current == expected else { throw failure("invalid literal, expected \(word)") }
                position += 1
            }
        }

        mutating func object(depth: Int) throws -> JSONValue {
            guard depth <= maximumDepth else { throw failure("nested more than \(maximumDepth) levels deep") }
            position += 1
            var fields: [(String, JSONValue)] = []
            var keys = Set<String>()
            skipWhitespace()
            if current == UInt8(ascii: "}") { position += 1; return .object(fields) }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw failure("expected a string key") }
                let keyStart = position
                let key = try string()
                guard keys.insert(key).inserted else {
                    throw Failure(message: "duplicate key \(jsonString(key))", offset: keyStart)
                }
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':'")
                skipWhitespace()
                fields.append((key, try value(depth: depth)))
                skipWhitespace()
                if current == UInt8(ascii: "}") { position += 1; return .object(fields) }
                try expect(UInt8(ascii: ","), "',' or '}'")
            }
        }

        mutating func array(depth: Int) throws -> JSONValue {
            guard depth <= maximumDepth else { throw failure("nested more than \(maximumDepth) levels deep") }
            position += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") { position += 1; return .array(items) }
            while true {
                skipWhitespace()
                items.append(try value(depth: depth))
                skipWhitespace()
                if current == UInt8(ascii: "]") { position += 1; return .array(items) }
                try expect(UInt8(ascii: ","), "',' or ']'")
            }
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, returned as its text.
        mutating func number() throws -> String {
            let start = position
            func digits(_ state: inout State) -> Int {
                let from = state.position
                while let byte = state.current, (48...57).contains(byte) { state.position += 1 }
                return state.position - from
            }
            if current == UInt8(ascii: "-") { position += 1 }
            if current == UInt8(ascii: "0") {
                position += 1
            } else if digits(&self) == 0 {
                throw failure("invalid number")
            }
            if current == UInt8(ascii: ".") {
                position += 1
                guard digits(&self) > 0 else { throw failure("invalid number: no digits after '.'") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                position += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
                guard digits(&self) > 0 else { throw failure("invalid number: no digits in the exponent") }
            }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        mutating func string() throws -> String {
            position += 1  // the opening quote
            var out: [UInt8] = []
            while true {
                guard let byte = current else { throw failure("unterminated string") }
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escape = current else { throw failure("unterminated string") }
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"): out += Array(String(try unicodeEscape()).utf8)
                    default: throw failure("invalid escape '\\\(Character(Unicode.Scalar(escape)))'")
                    }
                case 0x00..<0x20:
                    throw failure("unescaped control character 0x\(String(byte, radix: 16)) in a string")
                default:
                    out.append(byte)
                }
            }
        }

        /// The scalar of `\uXXXX` (the `\u` already read), joining a surrogate pair.
        mutating func unicodeEscape() throws -> Unicode.Scalar {
            let high = try hex4()
            if (0xDC00...0xDFFF).contains(high) { throw failure("lone low surrogate in a \\u escape") }
            guard (0xD800...0xDBFF).contains(high) else {
                guard let scalar = Unicode.Scalar(high) else { throw failure("invalid \\u escape") }
                return scalar
            }
            guard current == UInt8(ascii: "\\") else { throw failure("lone high surrogate in a \\u escape") }
            position += 1
            guard current == UInt8(ascii: "u") else { throw failure("lone high surrogate in a \\u escape") }
            position += 1
            let low = try hex4()
            guard (0xDC00...0xDFFF).contains(low),
                  let scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
            else { throw failure("high surrogate not followed by a low one in a \\u escape") }
            return scalar
        }

        mutating func hex4() throws -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let byte = current, let digit = Character(Unicode.Scalar(byte)).hexDigitValue else {
                    throw failure("invalid \\u escape: expected four hex digits")
                }
                value = value << 4 | UInt32(digit)
                position += 1
            }
            return value
        }
    }
}
