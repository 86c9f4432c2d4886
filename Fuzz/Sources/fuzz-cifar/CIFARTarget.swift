import BudgetEngine
import FuzzSupport

/// CIFAR-10 and CIFAR-100 binary batches: the first byte chooses the variant and whether the
/// file is gzip-wrapped; the rest is the batch file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCIFAR(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.prepare()
    var choices = Choices(Fuzz.bytes(data, size))
    let mode = choices.byte()
    let batch = choices.rest()
    let path = Fuzz.write(mode & 2 == 0 ? batch : GzipWriter.gzip(batch), to: "batch.bin")
    _ = try? CIFARDataset.read(mode & 1 == 0 ? .cifar10 : .cifar100, paths: [path], name: "fuzz")
    return 0
}
