import CZlib
import Foundation

/// Reads a data file's bytes in order, decompressing gzip transparently.
///
/// A file is gzip when it starts with the magic bytes `1f 8b`; it is then inflated by zlib
/// (window bits 15 + 32: gzip or zlib header, detected). Concatenated gzip members are read one
/// after another, as `gunzip` does. Anything else is read as is.
///
/// Data is read in chunks straight into the caller's buffer, so a loader can convert bytes as
/// they arrive instead of holding the whole decompressed file in memory. Every failure throws
/// `EngineError.dataFile` naming the file.
final class DataFileReader {
    let path: String
    /// Whether the file is gzip-compressed.
    let isGzip: Bool
    /// The size of the file on disk.
    let fileSize: Int

    private let file: UnsafeMutablePointer<FILE>
    /// Compressed input waiting to be inflated (gzip only).
    private let input: UnsafeMutablePointer<UInt8>
    private let inputCapacity = 1 << 20
    /// zlib keeps a pointer back to its stream, so the stream lives at a fixed address.
    private let stream: UnsafeMutablePointer<z_stream>
    private var streamOpen = false
    private var fileExhausted = false
    private var gzipEnded = false
    /// Decompressed (or raw) bytes delivered so far.
    private(set) var bytesRead = 0

    init(path: String) throws {
        self.path = path
        var info = stat()
        guard stat(path, &info) == 0 else {
            let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
            throw EngineError.dataFile(path: path, message: reason)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw EngineError.dataFile(path: path, message: "not a regular file")
        }
        guard let handle = fopen(path, "rb") else {
            throw EngineError.dataFile(path: path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        file = handle
        fileSize = Int(info.st_size)
        input = .allocate(capacity: inputCapacity)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())

        // Peek at the first two bytes for the gzip magic; they stay in the input buffer.
        let peeked = fread(input, 1, 2, file)
        isGzip = peeked == 2 && input[0] == 0x1F && input[1] == 0x8B
        if isGzip {
            stream.pointee.next_in = input
            stream.pointee.avail_in = UInt32(peeked)
            let status = inflateInit2_(stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            guard status == Z_OK else {
                throw EngineError.dataFile(path: path, message: "cannot start gzip decompression (zlib error \(status))")
            }
            streamOpen = true
        } else {
            // A raw file: rewind over the peeked bytes and read it directly.
            rewind(file)
        }
    }

    deinit {
        if streamOpen { inflateEnd(stream) }
        stream.deallocate()
        input.deallocate()
        fclose(file)
    }

    /// Goes back to the first byte of the data.
    func restart() throws {
        rewind(file)
        bytesRead = 0
        fileExhausted = false
        gzipEnded = false
        guard isGzip else { return }
        stream.pointee.avail_in = 0
        guard inflateReset(stream) == Z_OK else {
            throw EngineError.dataFile(path: path, message: "cannot restart gzip decompression")
        }
    }

    /// The most bytes deflate produces per compressed byte (its format's limit, about 1032:1).
    static let maximumDeflateRatio = 1032

    /// The most bytes the data can have, known without reading: the file size for a raw file;
    /// for gzip, `maximumDeflateRatio` times the file size (however many members it holds).
    var sizeBound: Int {
        guard isGzip else { return fileSize }
        let (bound, overflow) = fileSize.multipliedReportingOverflow(by: Self.maximumDeflateRatio)
        return overflow ? Int.max : bound
    }

    /// The uncompressed size, as far as it can be known without reading: the file size for a
    /// raw file, the gzip trailer's ISIZE field (size modulo 2³²) for a gzip file.
    func uncompressedSizeHint() -> Int? {
        guard isGzip else { return fileSize }
        guard fileSize >= 18 else { return nil }
        let position = ftell(file)
        defer { fseek(file, position, SEEK_SET) }
        var trailer = [UInt8](repeating: 0, count: 4)
        guard fseek(file, -4, SEEK_END) == 0, fread(&trailer, 1, 4, file) == 4 else { return nil }
        return Int(trailer[0]) | Int(trailer[1]) << 8 | Int(trailer[2]) << 16 | Int(trailer[3]) << 24
    }

    /// Fills `buffer` with the next bytes of the file; returns how many were written, which is
    /// less than `buffer.count` only at the end of the data.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let n = isGzip ? try inflate(into: base.assumingMemoryBound(to: UInt8.self), count: buffer.count)
                       : fread(base, 1, buffer.count, file)
        if !isGzip, n < buffer.count, ferror(file) != 0 {
            throw EngineError.dataFile(path: path, message: "read error after \(bytesRead + n) bytes")
        }
        bytesRead += n
        return n
    }

    /// Reads exactly `buffer.count` bytes, or throws naming `what` was cut short.
    func readExactly(into buffer: UnsafeMutableRawBufferPointer, what: String) throws {
        let n = try read(into: buffer)
        guard n == buffer.count else {
            throw EngineError.dataFile(path: path, message: "truncated: the \(what) needs \(buffer.count) bytes, got \(n)")
        }
    }

    /// Reads and discards the rest of the data; returns how many bytes there were.
    func skipToEnd() throws -> Int {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { chunk.deallocate() }
        var total = 0
        while true {
            let n = try read(into: chunk)
            total += n
            if n < chunk.count { return total }
        }
    }

    /// Reads all remaining bytes, refusing data of more than `limit` bytes (what the caller's
    /// format and the machine allow) as soon as it is known to be larger: a gzip bomb is
    /// stopped after `limit` bytes, never held whole. `what` says what the limit is for.
    func readAll(limit: Int, what: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        // Reserve by the trailer's hint only within the limit (the hint is the size mod 2³²).
        if let hint = uncompressedSizeHint() { bytes.reserveCapacity(min(max(hint - bytesRead, 0), limit) + 1) }
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { chunk.deallocate() }
        while true {
            let n = try read(into: chunk)
            guard bytes.count + n <= limit else {
                let data = isGzip ? "decompresses to more than" : "holds more than"
                throw EngineError.dataFile(path: path, message: "\(data) \(limit) bytes, more than \(what)")
            }
            bytes.append(contentsOf: chunk.prefix(n))
            if n < chunk.count { return bytes }
        }
    }

    private func inflate(into out: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int {
        var produced = 0
        while produced < count, !gzipEnded {
            if stream.pointee.avail_in == 0, !fileExhausted {
                let n = fread(input, 1, inputCapacity, file)
                if n < inputCapacity { fileExhausted = true }
                if ferror(file) != 0 {
                    throw EngineError.dataFile(path: path, message: "read error in the gzip data")
                }
                stream.pointee.next_in = input
                stream.pointee.avail_in = UInt32(n)
            }
            let room = min(count - produced, Int(UInt32.max))
            stream.pointee.next_out = out + produced
            stream.pointee.avail_out = UInt32(room)
            let status = CZlib.inflate(stream, Z_NO_FLUSH)
            produced += room - Int(stream.pointee.avail_out)
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                try startNextMemberIfAny()
            case Z_BUF_ERROR where stream.pointee.avail_in == 0 && fileExhausted:
                throw EngineError.dataFile(
                    path: path,
                    message: "truncated gzip data: the compressed stream ends early (after \(bytesRead + produced) decompressed bytes)")
            case Z_BUF_ERROR:
                continue
            default:
                let detail = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                throw EngineError.dataFile(path: path, message: "corrupt gzip data: \(detail)")
            }
        }
        return produced
    }

    /// After one gzip member ends: continue with the next member when more data follows.
    private func startNextMemberIfAny() throws {
        if stream.pointee.avail_in == 0, !fileExhausted {
            let n = fread(input, 1, inputCapacity, file)
            if n < inputCapacity { fileExhausted = true }
            stream.pointee.next_in = input
            stream.pointee.avail_in = UInt32(n)
        }
        guard stream.pointee.avail_in > 0 else {
            gzipEnded = true
            return
        }
        guard inflateReset(stream) == Z_OK else {
            throw EngineError.dataFile(path: path, message: "corrupt gzip data after the first member")
        }
    }
}
