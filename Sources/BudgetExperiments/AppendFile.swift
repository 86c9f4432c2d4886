import BudgetEngine
import Foundation

/// A file that only grows, through a buffer: what metrics.jsonl and the TensorBoard event
/// file are. It opens empty or cut back to a length a checkpoint recorded (so a resumed run
/// continues it without doubling anything), and `flush` makes what was appended durable and
/// says how long the file is.
final class AppendFile {
    let path: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    /// Bytes in the file (what has been written out of the buffer).
    private(set) var length: Int
    private static let bufferSize = 1 << 16

    /// Opens `path` (creating it and its folder), cut back to `length` bytes; `what` names the
    /// file in messages.
    init(path: String, length: Int, what: String) throws {
        self.path = path
        self.length = length
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EngineError.dataFile(path: path, message: "cannot write \(what): \(String(cString: strerror(errno)))") }
        var info = stat()
        guard fstat(fd, &info) == 0, Int(info.st_size) >= length else {
            close(fd)
            throw EngineError.dataFile(path: path, message: "is shorter than its checkpoint says (\(length) bytes); the run's folder was changed")
        }
        guard ftruncate(fd, off_t(length)) == 0, lseek(fd, off_t(length), SEEK_SET) >= 0 else {
            close(fd)
            throw EngineError.dataFile(path: path, message: "cannot cut \(what) back to \(length) bytes")
        }
        buffer.reserveCapacity(Self.bufferSize)
    }

    deinit { close(fd) }

    func append(_ bytes: [UInt8]) {
        buffer += bytes
        if buffer.count >= Self.bufferSize { try? writeBuffer() }
    }

    /// Writes out the buffer and syncs the file; returns its length.
    @discardableResult
    func flush() throws -> Int {
        try writeBuffer()
        fsync(fd)
        return length
    }

    /// Writes the buffer; what could not be written stays buffered for the next attempt.
    private func writeBuffer() throws {
        var done = 0
        defer {
            length += done
            buffer.removeFirst(done)
        }
        try buffer.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            while done < bytes.count {
                let n = write(fd, base + done, bytes.count - done)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw EngineError.dataFile(path: path, message: "write failed: \(String(cString: strerror(errno)))") }
                done += n
            }
        }
    }
}
