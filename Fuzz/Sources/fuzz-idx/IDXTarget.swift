import BudgetEngine
import FuzzSupport

/// IDX image and label files read raw: the input is the file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.prepare()
    let path = Fuzz.write(Fuzz.bytes(data, size), to: "file-idx")
    _ = try? IDXFile.readImages(path: path)
    _ = try? IDXFile.readLabels(path: path)
    return 0
}
