import BudgetEngine
import FuzzSupport

/// IDX files read through gzip. The first byte chooses the wrapping (one member or several,
/// a true or a lying size field, or the rest taken as a gzip file as it is); the rest is the
/// IDX file, so that mutations reach the header checks behind decompression.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDXGzip(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.prepare()
    var choices = Choices(Fuzz.bytes(data, size))
    let mode = choices.byte()
    let lie = UInt32(choices.byte()) << 24 | UInt32(choices.byte()) << 16 | UInt32(choices.byte()) << 8 | UInt32(choices.byte())
    let idx = choices.rest()
    let file: [UInt8]
    switch mode % 4 {
    case 0: file = GzipWriter.gzip(idx)
    case 1: file = GzipWriter.gzip(idx, members: Int(mode / 4) % 4 + 2)
    case 2: file = GzipWriter.gzip(idx, sizeField: lie)
    default: file = [0x1F, 0x8B] + idx
    }
    let path = Fuzz.write(file, to: "file-idx.gz")
    _ = try? IDXFile.readImages(path: path)
    _ = try? IDXFile.readLabels(path: path)
    return 0
}
