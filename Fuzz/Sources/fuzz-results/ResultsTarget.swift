import BudgetExperiments
import FuzzSupport

/// results.csv files, as `budgetrain report` and `--resume` read them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzResults(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.prepare()
    let path = Fuzz.write(Fuzz.bytes(data, size), to: "results.csv")
    _ = try? ResultsTable.read(path: path)
    return 0
}
