/// Readers for the IDX format of MNIST and Fashion-MNIST, raw or gzip-compressed.
///
/// An IDX file is a big-endian header followed by the values:
///
///     images: magic 0x00000803, count, rows, columns (u32 each), then count·rows·columns bytes
///     labels: magic 0x00000801, count (u32), then count bytes
///
/// The third byte of the magic is the value type (0x08: unsigned byte), the fourth the number of
/// dimensions. Both readers insist on the exact payload length: a file that is cut short or has
/// extra bytes is an error naming the file and both lengths.
public enum IDXFile {
    public static let imagesMagic: UInt32 = 0x0000_0803
    public static let labelsMagic: UInt32 = 0x0000_0801

    /// Images of an IDX file as Float32 in [0, 1] (each byte divided by 255), row-major
    /// `[count, rows, columns]`.
    public struct Images {
        public var values: [Float]
        public var count: Int
        public var rows: Int
        public var columns: Int
    }

    /// Reads an IDX image file (`*-images-idx3-ubyte`, optionally `.gz`).
    public static func readImages(path: String) throws -> Images {
        let reader = try DataFileReader(path: path)
        let header = try readHeader(reader, magic: imagesMagic, kind: "image", dimensions: 3)
        let count = header[0], rows = header[1], columns = header[2]
        guard rows > 0, columns > 0 else {
            throw EngineError.dataFile(path: path, message: "images of \(rows)×\(columns) pixels; expected positive sizes")
        }
        let (perImage, overflow1) = rows.multipliedReportingOverflow(by: columns)
        let (pixels, overflow2) = count.multipliedReportingOverflow(by: perImage)
        guard !overflow1, !overflow2 else {
            throw EngineError.dataFile(path: path, message: "header declares \(count) images of \(rows)×\(columns): too large")
        }
        try checkPayloadLength(reader, expected: pixels, headerBytes: 16, what: "\(count) images of \(rows)×\(columns) pixels")
        // Twice: `normalize = true` makes a standardised copy.
        try checkMemory(reader, values: pixels, bytesEach: 2 * MemoryLayout<Float>.size, what: "\(count) images of \(rows)×\(columns) pixels")

        let values = try [Float](unsafeUninitializedCapacity: pixels) { floats, initialized in
            try forEachChunk(reader, count: pixels, what: "\(count) images of \(rows)×\(columns) pixels") { bytes, n, offset in
                guard let out = floats.baseAddress else { return }
                let dst = out + offset
                for i in 0..<n { dst[i] = Float(bytes[i]) / 255 }
            }
            initialized = pixels
        }
        try expectEnd(reader, expected: pixels, headerBytes: 16)
        return Images(values: values, count: count, rows: rows, columns: columns)
    }

    /// Reads an IDX label file (`*-labels-idx1-ubyte`, optionally `.gz`).
    public static func readLabels(path: String) throws -> [Int32] {
        let reader = try DataFileReader(path: path)
        let count = try readHeader(reader, magic: labelsMagic, kind: "label", dimensions: 1)[0]
        try checkPayloadLength(reader, expected: count, headerBytes: 8, what: "\(count) labels")
        try checkMemory(reader, values: count, bytesEach: MemoryLayout<Int32>.size, what: "\(count) labels")
        let labels = try [Int32](unsafeUninitializedCapacity: count) { out, initialized in
            try forEachChunk(reader, count: count, what: "\(count) labels") { bytes, n, offset in
                for i in 0..<n { out[offset + i] = Int32(bytes[i]) }
            }
            initialized = count
        }
        try expectEnd(reader, expected: count, headerBytes: 8)
        return labels
    }

    /// Reads the magic number and the dimension sizes, checking the magic.
    private static func readHeader(_ reader: DataFileReader, magic: UInt32, kind: String, dimensions: Int) throws -> [Int] {
        var words = [UInt32](repeating: 0, count: 1 + dimensions)
        let wanted = words.count * 4
        let got = try words.withUnsafeMutableBytes { try reader.read(into: $0) }
        let values = words.map { UInt32(bigEndian: $0) }
        // A wrong magic says more than a short header when both apply (e.g. a 3-byte text file).
        if got >= 4, values[0] != magic {
            let hint = reader.isGzip ? "" : " (a gzip file must start with bytes 1f 8b)"
            throw EngineError.dataFile(
                path: reader.path,
                message: "not an IDX \(kind) file: magic number \(hex(values[0])), expected \(hex(magic))\(hint)")
        }
        guard got == wanted else {
            throw EngineError.dataFile(
                path: reader.path, message: "truncated: the IDX \(kind) header needs \(wanted) bytes, got \(got)")
        }
        return values.dropFirst().map { Int($0) }
    }

    /// Before allocating memory for the payload, checks that the file can hold it: exactly for a
    /// raw file; for gzip, first against the most the compressed size can decompress to, then
    /// through the trailer's size field, and when that cannot confirm the length, by
    /// decompressing (without storing) to count it.
    ///
    /// The size field is the length modulo 2³²: it confirms only a payload below 4 GiB (a
    /// header claiming 2³² more bytes than the file holds agrees with it just as well), and
    /// it is wrong for a file of several gzip members.
    private static func checkPayloadLength(_ reader: DataFileReader, expected: Int, headerBytes: Int, what: String) throws {
        let total = headerBytes + expected
        if reader.isGzip {
            guard total <= reader.sizeBound else {
                throw EngineError.dataFile(
                    path: reader.path,
                    message: "the header declares \(total) bytes (header + \(what)), more than a gzip file of \(reader.fileSize) bytes can hold (at most \(DataFileReader.maximumDeflateRatio) times its size)")
            }
            if total < 1 << 32, reader.uncompressedSizeHint() == total { return }
            // Count the real length, then start over after the header.
            let actual = headerBytes + (try reader.skipToEnd())
            guard actual == total else { throw lengthError(reader, expected: total, actual: actual, what: what) }
            try reader.restart()
            let header = UnsafeMutableRawBufferPointer.allocate(byteCount: headerBytes, alignment: 4)
            defer { header.deallocate() }
            try reader.readExactly(into: header, what: "header")
            return
        }
        guard reader.fileSize == total else { throw lengthError(reader, expected: total, actual: reader.fileSize, what: what) }
    }

    /// Checks that `values` values of `bytesEach` bytes fit in memory before they are allocated.
    private static func checkMemory(_ reader: DataFileReader, values: Int, bytesEach: Int, what: String) throws {
        let (bytes, overflow) = values.multipliedReportingOverflow(by: bytesEach)
        try MemoryLimit.check(bytes: overflow ? Int.max : bytes, for: "\(reader.path): \(what)")
    }

    private static func expectEnd(_ reader: DataFileReader, expected: Int, headerBytes: Int) throws {
        let extra = try reader.skipToEnd()
        guard extra == 0 else {
            throw EngineError.dataFile(
                path: reader.path,
                message: "\(extra) unexpected bytes after the \(headerBytes + expected) bytes the header declares")
        }
    }

    private static func lengthError(_ reader: DataFileReader, expected: Int, actual: Int, what: String) -> EngineError {
        let message = actual < expected
            ? "truncated: expected \(expected) bytes (header + \(what)), got \(actual)"
            : "too long: expected \(expected) bytes (header + \(what)), got \(actual)"
        return .dataFile(path: reader.path, message: message + (reader.isGzip ? " after decompression" : ""))
    }

    /// Reads the `count` payload bytes a chunk at a time, handing each chunk to `body` with its
    /// length and offset in the payload: the whole decompressed file never sits in memory as
    /// bytes, and the conversion loop runs over a plain buffer.
    private static func forEachChunk(
        _ reader: DataFileReader, count: Int, what: String,
        _ body: (UnsafePointer<UInt8>, Int, Int) -> Void
    ) throws {
        let chunkSize = 1 << 18
        let chunk = UnsafeMutablePointer<UInt8>.allocate(capacity: chunkSize)
        defer { chunk.deallocate() }
        var done = 0
        while done < count {
            let n = min(chunkSize, count - done)
            let got = try reader.read(into: UnsafeMutableRawBufferPointer(start: chunk, count: n))
            body(chunk, got, done)
            done += got
            guard got == n else {
                throw EngineError.dataFile(
                    path: reader.path,
                    message: "truncated: expected \(count) bytes of \(what) after the header, got \(done)")
            }
        }
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
