import BudgetEngine
import Foundation

/// A TensorBoard event file (`events.out.tfevents.*`): `tensorboard --logdir runs/` shows a
/// sweep's curves, live.
///
/// The file is a sequence of TFRecords, each
///
///     u64 length (little-endian) · u32 masked CRC-32C of those 8 bytes · data · u32 masked CRC-32C of data
///
/// where masked(c) = ((c >> 15) | (c << 17)) + 0xa282ead8, and each record's data is one
/// `tensorflow.Event` protocol buffer (tensorflow/core/util/event.proto):
///
///     Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
///     Summary { repeated Value value = 1; }
///     Value   { string tag = 1; float simple_value = 2; }
///
/// The first record says `file_version: "brain.Event:2"`; each later one carries scalars.
/// Four message fields need no protobuf library: `ProtobufWriter` encodes exactly these.
/// Like `MetricsLog`, the file grows by appends and a resumed run cuts it back to the byte
/// count its checkpoint recorded, so its curves continue without duplicates.
public final class EventFile {
    /// The name every run's file has (TensorBoard reads any name containing `tfevents`).
    public static let fileName = "events.out.tfevents.budgetrain"

    private let file: AppendFile
    public var path: String { file.path }

    /// Opens `path` empty (writing the version record), or cut back to `resumeBytes`.
    public init(path: String, resumeBytes: Int? = nil) throws {
        file = try AppendFile(path: path, length: resumeBytes ?? 0, what: "TensorBoard events")
        if (resumeBytes ?? 0) == 0 {
            var event = ProtobufWriter()
            event.double(1, Date().timeIntervalSince1970)
            event.string(3, "brain.Event:2")
            appendRecord(event.bytes)
        }
    }

    /// Appends one event with scalar `values` (tag, value) at `step`.
    public func scalars(step: Int, _ values: [(String, Double)]) {
        var summary = ProtobufWriter()
        for (tag, value) in values where value.isFinite {
            var v = ProtobufWriter()
            v.string(1, tag)
            v.float(2, Float(value))
            summary.message(1, v.bytes)
        }
        var event = ProtobufWriter()
        event.double(1, Date().timeIntervalSince1970)
        event.varint(2, UInt64(bitPattern: Int64(step)))
        event.message(5, summary.bytes)
        appendRecord(event.bytes)
    }

    /// Writes what is buffered and syncs it; returns the file's length.
    @discardableResult
    public func flush() throws -> Int { try file.flush() }

    private func appendRecord(_ data: [UInt8]) {
        var length = [UInt8](repeating: 0, count: 8)
        for i in 0..<8 { length[i] = UInt8(truncatingIfNeeded: UInt64(data.count) >> (8 * UInt64(i))) }
        file.append(length + Self.littleEndian(CRC32C.masked(length)) + data + Self.littleEndian(CRC32C.masked(data)))
    }

    static func littleEndian(_ x: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: x >> (8 * UInt32($0))) } }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses it.
public enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    /// TFRecord's masked CRC: rotated right by 15 bits, plus a constant.
    public static func masked(_ bytes: [UInt8]) -> UInt32 {
        let c = checksum(bytes)
        return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
    }
}

/// The protocol-buffer wire format, for the few field kinds an event needs: varints (wire
/// type 0), 64-bit (1), length-delimited (2) and 32-bit (5) fields.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ field: Int, _ value: UInt64) {
        key(field, 0)
        rawVarint(value)
    }

    mutating func double(_ field: Int, _ value: Double) {
        key(field, 1)
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value.bitPattern >> (8 * UInt64(i)))) }
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, 5)
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: value.bitPattern >> (8 * UInt32(i)))) }
    }

    mutating func string(_ field: Int, _ value: String) { message(field, Array(value.utf8)) }

    mutating func message(_ field: Int, _ value: [UInt8]) {
        key(field, 2)
        rawVarint(UInt64(value.count))
        bytes += value
    }

    private mutating func key(_ field: Int, _ wireType: UInt64) { rawVarint(UInt64(field) << 3 | wireType) }

    private mutating func rawVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
}
