import Foundation

/// Sizes that come from users (layer arguments, data file headers, batch sizes, image shapes)
/// are checked here before anything is allocated, so that a huge or overflowing size is an
/// error naming the thing at fault rather than a trap or a process the kernel kills.
///
/// Two limits apply to every such allocation:
/// - a sane bound: a tensor holds at most `maximumElements` = 2³¹ − 1 values (8 GiB of
///   Float32), the largest size OpenBLAS's 32-bit interface takes for a matrix dimension;
/// - the machine: the bytes must fit in its memory (`MemoryLimit`) beside what the engine's
///   tensors already hold.
public enum TensorSize {
    /// The most values one tensor may hold.
    public static let maximumElements = Int(Int32.max)

    /// The product of `shape`, or nil when a dimension is negative or the product overflows.
    public static func product(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            n = p
        }
        return n
    }

    /// The product of `factors`, or nil when one is negative or the product exceeds
    /// `maximumElements`.
    public static func checkedProduct(_ factors: Int...) -> Int? {
        guard let n = product(factors), n <= maximumElements else { return nil }
        return n
    }

    /// The number of values in a tensor of `shape`, after checking that every dimension is
    /// non-negative, that the count is at most `maximumElements`, and that `copies` tensors of
    /// it fit in memory. `what` names the tensor in the error (e.g. `Linear(10 -> 5) weight`).
    public static func elementCount(_ shape: [Int], of what: @autoclosure () -> String, copies: Int = 1) throws -> Int {
        if let negative = shape.first(where: { $0 < 0 }) {
            throw EngineError.invalidArgument("\(what()): shape \(shape.shapeString) has a negative size \(negative)")
        }
        guard let n = product(shape), n <= maximumElements else {
            let count = product(shape).map { "\($0) values" } ?? "more values than an Int can count"
            throw EngineError.invalidArgument(
                "\(what()): shape \(shape.shapeString) holds \(count); a tensor holds at most \(maximumElements) (8 GiB of Float32)")
        }
        try MemoryLimit.check(bytes: n * MemoryLayout<Float>.size * copies, for: what())
        return n
    }
}

/// What the machine can hold: its physical memory (or the control group's limit when that is
/// lower), less what the engine's tensors hold now.
///
/// Linux grants allocations far beyond its memory and kills the process once the pages are
/// touched, so an allocation that cannot fit must be refused before it is made.
public enum MemoryLimit {
    /// Bytes of memory this process may use: physical memory, the cgroup v2 limit
    /// (`/sys/fs/cgroup/memory.max`) or `BUDGETRAIN_MEMORY_LIMIT` (bytes), whichever is
    /// lowest. (The variable is read once; the fuzz targets set it to stay within libFuzzer's
    /// memory limit.)
    public static let machineBytes: Int = {
        var limits = [Int(clamping: ProcessInfo.processInfo.physicalMemory)]
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
           let cgroup = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), cgroup > 0 {
            limits.append(cgroup)
        }
        if let text = ProcessInfo.processInfo.environment["BUDGETRAIN_MEMORY_LIMIT"], let chosen = Int(text), chosen > 0 {
            limits.append(chosen)
        }
        return limits.min() ?? 0
    }()

    nonisolated(unsafe) private static var tensorBytesNow = 0
    private static let lock = NSLock()

    /// Bytes the engine's tensors hold now (their storage, views not counted twice).
    public static var tensorBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return tensorBytesNow
    }

    /// Records storage a tensor took (positive) or gave back (negative).
    static func account(_ bytes: Int) {
        lock.lock()
        tensorBytesNow += bytes
        lock.unlock()
    }

    /// Throws unless `bytes` more fit in the machine's memory beside what tensors hold.
    public static func check(bytes: Int, for what: @autoclosure () -> String) throws {
        let held = tensorBytes
        guard bytes >= 0, bytes <= machineBytes - held else {
            let beside = held > 0 ? ", beside the \(format(held)) the engine's tensors already hold" : ""
            throw EngineError.invalidArgument(
                "\(what()): needs \(format(bytes)), more than this machine's memory (\(format(machineBytes))) can hold\(beside)")
        }
    }

    /// `6.4 GB`, `512 MB`, `300 bytes`.
    public static func format(_ bytes: Int) -> String {
        if bytes >= 1_000_000_000 { return String(format: "%.1f GB", Double(bytes) / 1e9) }
        if bytes >= 1_000_000 { return String(format: "%.0f MB", Double(bytes) / 1e6) }
        return "\(bytes) bytes"
    }
}
