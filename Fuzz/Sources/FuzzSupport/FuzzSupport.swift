import Foundation

/// What every fuzz target shares: a memory limit the engine respects (below libFuzzer's own,
/// so that a size the engine allows is never reported as a crash), a scratch file for the
/// readers that take a path, and a reader of choices from the input bytes.
public enum Fuzz {
    /// The engine's memory limit under fuzzing: 256 MB (libFuzzer stops at 2 GB of RSS).
    public static let memoryLimit = 256 << 20

    /// Sets `BUDGETRAIN_MEMORY_LIMIT` before the engine first reads it. Call at the start of
    /// every input (it does the work once).
    public static func prepare() { _ = prepared }

    private static let prepared: Void = {
        setenv("BUDGETRAIN_MEMORY_LIMIT", String(memoryLimit), 1)
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }()

    /// A folder of this process's own for scratch files.
    public static let directory = NSTemporaryDirectory() + "budgetrain-fuzz-\(getpid())"

    /// Writes `bytes` to the scratch file `name` and returns its path.
    @discardableResult
    public static func write(_ bytes: [UInt8], to name: String) -> String {
        let path = directory + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    /// The input as an array.
    public static func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
        Array(UnsafeBufferPointer(start: data, count: size))
    }
}

/// Reads decisions from fuzz input bytes, one at a time (0 once they run out).
public struct Choices {
    private let bytes: [UInt8]
    private var position = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isExhausted: Bool { position >= bytes.count }

    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// An element of `options`, chosen by the next byte.
    public mutating func pick<T>(_ options: [T]) -> T { options[Int(byte()) % options.count] }

    /// The bytes not yet read.
    public mutating func rest() -> [UInt8] {
        defer { position = bytes.count }
        return position < bytes.count ? Array(bytes[position...]) : []
    }
}
