import BudgetEngine
import Foundation
import Testing
@testable import BudgetExperiments
import TestSupport

@Suite struct SafeTensorsTests {
    /// One tensor of each dtype, with metadata that needs escaping.
    static func sample() -> SafeTensors {
        SafeTensors(
            entries: [
                .init(name: "w", floats: [1, -2.5, .infinity, 0x1p-149], shape: [2, 2]),
                .init(name: "d", doubles: [0.1, -0.0], shape: [2]),
                .init(name: "rng", words: [0, .max, 0x0123_4567_89AB_CDEF], shape: [3]),
                .init(name: "step", integers: [-9_007_199_254_740_993], shape: []),
                .init(name: "i32", dtype: .I32, shape: [1, 2], bytes: [1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]),
                .init(name: "mask", dtype: .U8, shape: [3], bytes: [0, 1, 255]),
                .init(name: "none", floats: [], shape: [0, 5]),
            ],
            metadata: ["schedule": "cosine", "quote\"and\\": "tab\tnew\nline\u{01} é ✓", "": "empty key"])
    }

    @Test func roundTripsEveryDtypeWithMetadata() throws {
        let original = Self.sample()
        let decoded = try SafeTensors(bytes: try original.encoded(), source: "memory")
        #expect(decoded.entries.map(\.name) == ["d", "i32", "mask", "none", "rng", "step", "w"])
        #expect(decoded.metadata == original.metadata)
        for entry in original.entries { #expect(decoded.entry(named: entry.name) == entry) }
        #expect(try decoded.entry(named: "w")?.floats() == [1, -2.5, .infinity, 0x1p-149])
        #expect(try decoded.entry(named: "d")?.doubles().map(\.bitPattern) == [0.1, -0.0].map(\.bitPattern))
        #expect(try decoded.entry(named: "rng")?.words() == [0, .max, 0x0123_4567_89AB_CDEF])
        #expect(try decoded.entry(named: "step")?.integers() == [-9_007_199_254_740_993])
        #expect(decoded.entry(named: "missing") == nil)
        // An accessor of the wrong dtype names the tensor and both dtypes.
        #expect(throws: EngineError.invalidArgument("safetensors: tensor 'rng' is U64, not F32")) {
            try decoded.entry(named: "rng")?.floats()
        }
    }

    @Test func encodingIsStableAndAligned() throws {
        let bytes = try Self.sample().encoded()
        var reordered = Self.sample()
        reordered.entries.reverse()
        #expect(try reordered.encoded() == bytes)
        let headerSize = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        #expect(headerSize % 8 == 0)
        let header = String(decoding: bytes[8..<(8 + headerSize)], as: UTF8.self)
        #expect(header.hasPrefix(#"{"__metadata__":{"":"empty key","quote\"and\\":"tab\tnew\nline\u0001 é ✓","schedule":"cosine"},"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"#))
        #expect(header.contains(#""step":{"dtype":"I64","shape":[],"data_offsets":[51,59]}"#))
        // Only the padding follows the JSON's closing brace.
        #expect(header.reversed().prefix { $0 != "}" }.allSatisfy { $0 == " " })

        // Exactly the bytes of a known small file.
        let tiny = try SafeTensors(entries: [.init(name: "a", floats: [1], shape: [1])]).encoded()
        let json = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        #expect(json.utf8.count == 54)
        #expect(tiny == [56, 0, 0, 0, 0, 0, 0, 0] + Array(json.utf8) + Array("  ".utf8) + [0, 0, 0x80, 0x3F])
        // No metadata, no __metadata__ entry.
        #expect(!String(decoding: tiny, as: UTF8.self).contains("__metadata__"))
    }

    @Test func encodingRejectsInconsistentEntries() throws {
        func message(_ entries: [SafeTensors.Entry]) -> String {
            do { _ = try SafeTensors(entries: entries).encoded() } catch { return "\(error)" }
            return "encoded"
        }
        let ok = SafeTensors.Entry(name: "a", floats: [1, 2], shape: [2])
        #expect(message([ok, ok]).contains("two tensors are named 'a'"))
        #expect(message([.init(name: "", floats: [], shape: [0])]).contains("empty name"))
        #expect(message([.init(name: "__metadata__", floats: [], shape: [0])]).contains("metadata key"))
        #expect(message([.init(name: "n", floats: [], shape: [2, -1])]).contains("negative dimension -1"))
        #expect(message([.init(name: "s", floats: [1, 2, 3], shape: [2])]).contains("holds 12 bytes; shape [2] of F32 needs 8"))
        #expect(message([.init(name: "o", floats: [], shape: [Int.max, 2])]).contains("too large to count"))
    }

    // MARK: Malformed files

    /// A file with `header` (padded to 8 bytes unless `pad` is false) and `buffer`.
    static func file(_ header: String, buffer: [UInt8] = [], pad: Bool = true) -> [UInt8] {
        var json = Array(header.utf8)
        if pad { json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8) }
        return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + buffer
    }

    struct Malformed: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        var fault: String
        var testDescription: String { name }
    }

    static let malformed: [Malformed] = [
        .init(name: "truncated size", bytes: [1, 2, 3], fault: "truncated: 3 bytes"),
        .init(name: "header past the end", bytes: [200, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8),
              fault: "header size 200 runs past the end of the file (2 bytes after the size)"),
        .init(name: "header over the limit", bytes: [0, 0, 0, 0, 0, 0, 0, 1] + Array("{}".utf8),
              fault: "header size 72057594037927936 bytes is over the limit of 100000000"),
        .init(name: "not UTF-8", bytes: file("{\"\u{FF}\":1}").map { $0 == 0xC3 ? 0xFF : $0 }, fault: "not valid UTF-8"),
        .init(name: "bad JSON", bytes: file(#"{"a":{"dtype":"F32",}}"#), fault: "header JSON at byte 20: expected a string key"),
        .init(name: "trailing garbage", bytes: file("{} x"), fault: "header JSON at byte 3: unexpected text after the top-level value"),
        .init(name: "deep nesting", bytes: file(String(repeating: "[", count: 100_000)), fault: "nested more than 3 levels deep"),
        .init(name: "not an object", bytes: file("[]"), fault: "header is not a JSON object"),
        .init(name: "tensor not an object", bytes: file(#"{"a":[1]}"#), fault: "tensor 'a' is an array, not an object"),
        .init(name: "duplicate name", bytes: file(#"{"a":{},"a":{}}"#), fault: #"duplicate key "a""#),
        .init(name: "unknown dtype", bytes: file(#"{"h":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}"#, buffer: [0, 0]),
              fault: "tensor 'h' has unknown dtype 'BF16'"),
        .init(name: "missing field", bytes: file(#"{"a":{"dtype":"F32"}}"#), fault: "tensor 'a' lacks shape, data_offsets"),
        .init(name: "unknown field", bytes: file(#"{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4],"x":1}}"#, buffer: [0, 0, 0, 0]),
              fault: "tensor 'a' has an unknown field 'x'"),
        .init(name: "negative shape", bytes: file(#"{"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,0]}}"#),
              fault: "tensor 'a': shape entry 1 is -1; expected a non-negative integer"),
        .init(name: "fractional shape", bytes: file(#"{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#, buffer: [0, 0, 0, 0]),
              fault: "shape entry 0 is 1.0; expected a non-negative integer"),
        .init(name: "huge shape entry", bytes: file(#"{"a":{"dtype":"U8","shape":[99999999999999999999],"data_offsets":[0,0]}}"#),
              fault: "shape entry 0 is 99999999999999999999"),
        .init(name: "overflowing shape", bytes: file(#"{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#),
              fault: "tensor 'a': shape [4294967296, 4294967296] of F64 overflows"),
        .init(name: "offsets not a pair", bytes: file(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0]}}"#, buffer: [0]),
              fault: "data_offsets is [0]; expected two non-negative integers"),
        .init(name: "offsets out of range", bytes: file(#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#, buffer: [1, 2]),
              fault: "tensor 'a': data_offsets [0, 4] out of range of the 2-byte buffer"),
        .init(name: "offsets reversed", bytes: file(#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[2,1]}}"#, buffer: [1, 2]),
              fault: "data_offsets [2, 1] out of range"),
        .init(name: "size mismatch", bytes: file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, buffer: [0, 0, 0, 0]),
              fault: "tensor 'a': data_offsets [0, 4] span 4 bytes; shape [2] of F32 needs 8"),
        .init(name: "overlap", bytes: file(#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#,
                                            buffer: [1, 2, 3]),
              fault: "tensor 'b' at bytes 1..<3 overlaps tensor 'a', which ends at 2"),
        .init(name: "hole", bytes: file(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}"#,
                                         buffer: [1, 2, 3]),
              fault: "hole in the buffer: bytes 1..<2 before tensor 'b'"),
        .init(name: "trailing bytes", bytes: file(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, buffer: [1, 2]),
              fault: "hole in the buffer: bytes 1..<2 at its end"),
        .init(name: "non-string metadata", bytes: file(#"{"__metadata__":{"epoch":3}}"#),
              fault: "metadata value for key 'epoch' is a number, not a string"),
        .init(name: "metadata not an object", bytes: file(#"{"__metadata__":"x"}"#), fault: "__metadata__ is not an object of strings"),
        .init(name: "control character", bytes: file("{\"a\u{01}\":{}}"), fault: "unescaped control character 0x1"),
        .init(name: "lone surrogate", bytes: file(#"{"\ud800":{}}"#), fault: "lone high surrogate"),
    ]

    @Test(arguments: malformed) func malformedInputNamesTheFault(_ input: Malformed) {
        do {
            let decoded = try SafeTensors(bytes: input.bytes, source: "bad.safetensors")
            Issue.record("decoded \(decoded.entries.map(\.name)); expected an error with \"\(input.fault)\"")
        } catch let EngineError.dataFile(path, message) {
            #expect(path == "bad.safetensors")
            #expect(message.contains(input.fault), "message: \(message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func readerAcceptsWhatTheFormatAllows() throws {
        // Unpadded header, escapes, whitespace, zero-size tensors anywhere in the order.
        let header = #" { "z\u00e9\n" : { "shape" : [ ] , "data_offsets" : [ 0 , 1 ] , "dtype" : "U8" } , "e" : {"dtype":"F32","shape":[3,0],"data_offsets":[1,1]} }"#
        let decoded = try SafeTensors(bytes: Self.file(header, buffer: [7], pad: false), source: "ok")
        #expect(decoded.entries.map(\.name) == ["e", "zé\n"])
        #expect(decoded.entry(named: "zé\n")?.bytes == [7])
        #expect(decoded.entry(named: "e")?.shape == [3, 0])
        #expect(decoded.metadata.isEmpty)
        #expect(try SafeTensors(bytes: Self.file("{}"), source: "empty") == SafeTensors())
    }

    // MARK: Files

    @Test func writesAndReadsFilesAtomically() throws {
        let dir = try temporaryDirectory("safetensors")
        let path = dir + "/run/step-10.safetensors"
        try Self.sample().write(to: path)
        #expect(try SafeTensors.read(path: path) == SafeTensors(bytes: try Self.sample().encoded(), source: path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/run") == ["step-10.safetensors"])

        #expect(throws: EngineError.dataFile(path: dir + "/nope.safetensors", message: "cannot read checkpoint: no such file")) {
            try SafeTensors.read(path: dir + "/nope.safetensors")
        }
        #expect(throws: EngineError.dataFile(path: dir, message: "not a regular file")) { try SafeTensors.read(path: dir) }
        let size = try Self.sample().encoded().count
        #expect(throws: EngineError.dataFile(
            path: path, message: "\(size) bytes is larger than the 100 bytes a checkpoint may take here (half the memory); not read")) {
            try SafeTensors.read(path: path, sizeLimit: 100)
        }
        // An invalid checkpoint is not written, and the old file stays.
        let bad = SafeTensors(entries: [.init(name: "x", floats: [1], shape: [2])])
        #expect(throws: EngineError.dataFile(path: path, message: "not written: safetensors: tensor 'x' holds 4 bytes; shape [2] of F32 needs 8")) {
            try bad.write(to: path)
        }
        #expect(try SafeTensors.read(path: path).entries.count == 7)
    }

    /// The file `scripts/interop/make_safetensors_fixture.py` wrote with Python's
    /// `safetensors.numpy.save_file`.
    @Test func readsTheFileThatPythonWrote() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/python-written.safetensors").path
        let file = try SafeTensors.read(path: path)
        #expect(file.entries.map(\.name) == ["counts", "empty", "layer.bias", "layer.weight", "step"])
        #expect(file.metadata == ["format": "np", "writer": "make_safetensors_fixture.py", "note": #"quotes " and backslash \ and é"#])

        let weight = try #require(file.entry(named: "layer.weight"))
        #expect(weight.dtype == .F32 && weight.shape == [2, 3])
        #expect(try weight.floats() == [0, 0.5, -1.5, 2.25, 3, -4.125])
        let bias = try #require(file.entry(named: "layer.bias"))
        #expect(bias.dtype == .F64 && bias.shape == [3])
        #expect(try bias.doubles() == [0.1, -2.5, 1e300])
        let step = try #require(file.entry(named: "step"))
        #expect(step.shape == [])
        #expect(try step.integers() == [1_234_567_890_123])
        let counts = try #require(file.entry(named: "counts"))
        #expect(counts.shape == [2, 2])
        #expect(try counts.integers() == [-1, 0, 1, 9_007_199_254_740_993])
        let empty = try #require(file.entry(named: "empty"))
        #expect(empty.dtype == .F32 && empty.shape == [0, 4] && empty.bytes.isEmpty)

        // Re-encoded in budgetrain's layout, it reads back the same.
        #expect(try SafeTensors(bytes: file.encoded(), source: "re-encoded") == file)
    }
}
