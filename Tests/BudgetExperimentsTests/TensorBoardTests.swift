import Foundation
import Testing
@testable import BudgetExperiments
import TestSupport

/// The TFRecord framing and the few protocol-buffer fields of an event, against reference
/// values (the reader itself is tested with TensorBoard's own, in scripts/interop).
@Suite struct TensorBoardTests {
    @Test func crc32cReferenceValues() {
        // The check value of CRC-32C (RFC 3720, appendix B.4), and 32 zero bytes.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        let c = CRC32C.checksum([1, 2, 3])
        #expect(CRC32C.masked([1, 2, 3]) == ((c >> 15) | (c << 17)) &+ 0xA282_EAD8)
    }

    @Test func protobufFieldsEncodeAsTheWireFormatSays() {
        var w = ProtobufWriter()
        w.varint(2, 300)          // key 0x10, varint 300 = ac 02
        w.string(1, "lr")         // key 0x0a, length 2
        w.float(2, 1)             // key 0x15, 1.0f little-endian
        w.double(1, 0.5)          // key 0x09, 0.5 little-endian
        #expect(w.bytes == [0x10, 0xAC, 0x02, 0x0A, 0x02, 0x6C, 0x72, 0x15, 0x00, 0x00, 0x80, 0x3F,
                            0x09, 0, 0, 0, 0, 0, 0, 0xE0, 0x3F])
    }

    @Test func recordsAreFramedAndResumeCutsBack() throws {
        let dir = try temporaryDirectory("events")
        let path = dir + "/" + EventFile.fileName
        let events = try EventFile(path: path)
        events.scalars(step: 0, [("train/lr", 0.1)])
        let checkpoint = try events.flush()
        events.scalars(step: 1, [("train/lr", 0.2)])
        try events.flush()
        let resumed = try EventFile(path: path, resumeBytes: checkpoint)
        #expect(try resumed.flush() == checkpoint)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // Walk the records: each length, its masked CRC, the data and the data's masked CRC.
        var offset = 0, records = 0
        while offset < bytes.count {
            let header = Array(bytes[offset..<offset + 8])
            let length = header.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            #expect(Array(bytes[offset + 8..<offset + 12]) == EventFile.littleEndian(CRC32C.masked(header)))
            let data = Array(bytes[offset + 12..<offset + 12 + length])
            #expect(Array(bytes[offset + 12 + length..<offset + 16 + length]) == EventFile.littleEndian(CRC32C.masked(data)))
            offset += 16 + length
            records += 1
        }
        #expect(offset == bytes.count)
        #expect(records == 2)  // the version record and step 0; step 1 was cut back
    }
}
