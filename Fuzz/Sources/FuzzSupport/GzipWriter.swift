/// Writes gzip files (RFC 1952) whose deflate data are stored blocks (RFC 1951, BTYPE 00):
/// valid gzip without a compressor, so that a fuzz target can wrap the bytes the fuzzer
/// mutates and reach the reader's checks behind decompression.
public enum GzipWriter {
    /// `data` as one gzip member, or split into `members` members one after another; the
    /// trailer's ISIZE is `sizeField` when given (a lie, as a corrupt or hostile file tells).
    public static func gzip(_ data: [UInt8], members: Int = 1, sizeField: UInt32? = nil) -> [UInt8] {
        let count = max(1, members)
        let step = max(1, (data.count + count - 1) / count)
        var out: [UInt8] = []
        var start = 0
        repeat {
            let end = min(data.count, start + step)
            out += member(Array(data[start..<end]), sizeField: sizeField)
            start = end
        } while start < data.count
        return out
    }

    private static func member(_ data: [UInt8], sizeField: UInt32?) -> [UInt8] {
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
        var start = 0
        repeat {
            let end = min(data.count, start + 0xFFFF)
            let length = UInt16(end - start)
            out.append(end == data.count ? 1 : 0)  // BFINAL, BTYPE 00
            out += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
            out += data[start..<end]
            start = end
        } while start < data.count
        out += littleEndian(crc32(data))
        out += littleEndian(sizeField ?? UInt32(truncatingIfNeeded: data.count))
        return out
    }

    private static func littleEndian(_ x: UInt32) -> [UInt8] { (0..<4).map { UInt8((x >> (8 * $0)) & 0xFF) } }

    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 of gzip (polynomial 0xEDB88320, reflected).
    static func crc32(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in data { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
