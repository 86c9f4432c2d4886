import BudgetEngine
import Foundation

/// File writes that never leave a half-written result behind.
public enum AtomicFile {
    /// Writes `contents` (as UTF-8) to `path` atomically, as `write(_:to:)` for bytes does.
    public static func write(_ contents: String, to path: String) throws {
        try write(Array(contents.utf8), to: path)
    }

    /// Writes `bytes` to a temporary file beside `path`, flushes it, then renames it over
    /// `path`: readers see the old file or the new one, never a torn one. The containing
    /// folder is flushed after the rename too, so the new name survives a power loss (POSIX
    /// makes a rename durable only once its directory is synced).
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw fileError(path, "cannot create \(temp)") }
        do {
            try writeAll(fd, bytes, path: temp)
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        fsync(fd)
        close(fd)
        guard rename(temp, path) == 0 else {
            unlink(temp)
            throw fileError(path, "cannot rename \(temp) into place")
        }
        syncDirectory(directory.isEmpty ? "." : directory)
    }

    /// Creates `path` holding `bytes` unless it exists: written to a temporary file, synced,
    /// then hard-linked into place, so that of several processes creating it at once (on one
    /// host or over NFS) exactly one succeeds and no reader sees it half written.
    public static func create(_ bytes: [UInt8], at path: String) throws {
        if FileManager.default.fileExists(atPath: path) { return }
        let temp = path + ".new-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try write(bytes, to: temp)
        defer { unlink(temp) }
        if link(temp, path) != 0, errno != EEXIST {
            throw fileError(path, "cannot create: \(String(cString: strerror(errno)))")
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        let total = bytes.count
        var done = 0
        try bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while done < total {
                let n = Glibc.write(fd, base + done, total - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw fileError(path, "write failed: \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
    }

    /// Flushes a folder's entries (best effort, like the file's own `fsync`: a file system that
    /// cannot open or sync a directory still has the renamed file).
    private static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    private static func fileError(_ path: String, _ message: String) -> EngineError {
        .dataFile(path: path, message: message)
    }
}
