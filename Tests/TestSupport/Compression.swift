import BudgetEngine
import CZlib

/// Compresses `bytes` as one gzip member with zlib (window bits 15 + 16: gzip wrapper).
public func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    stream.initialize(to: z_stream())
    defer { stream.deallocate() }
    guard deflateInit2_(stream, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw EngineError.invalidArgument("deflateInit2_ failed")
    }
    defer { deflateEnd(stream) }
    var input = bytes
    var output = [UInt8](repeating: 0, count: Int(deflateBound(stream, UInt(bytes.count))) + 64)
    let status = input.withUnsafeMutableBufferPointer { inBuf in
        output.withUnsafeMutableBufferPointer { outBuf in
            stream.pointee.next_in = inBuf.baseAddress
            stream.pointee.avail_in = UInt32(inBuf.count)
            stream.pointee.next_out = outBuf.baseAddress
            stream.pointee.avail_out = UInt32(outBuf.count)
            return deflate(stream, Z_FINISH)
        }
    }
    guard status == Z_STREAM_END else { throw EngineError.invalidArgument("deflate failed: \(status)") }
    return Array(output.prefix(Int(stream.pointee.total_out)))
}
