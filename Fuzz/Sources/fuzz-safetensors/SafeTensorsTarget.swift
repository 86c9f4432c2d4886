import BudgetExperiments
import FuzzSupport

/// safetensors checkpoints, decoded from bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.prepare()
    _ = try? SafeTensors(bytes: Fuzz.bytes(data, size), source: "fuzz.safetensors")
    return 0
}
