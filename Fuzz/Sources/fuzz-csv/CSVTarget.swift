import BudgetEngine
import FuzzSupport

/// CSV files: the first bytes choose the options (header, label column, delimiter, gzip);
/// the rest is the file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.prepare()
    var choices = Choices(Fuzz.bytes(data, size))
    let header: Bool? = choices.pick([nil, true, false])
    let label: CSVLabelColumn = choices.pick([.last, .index(0), .index(2), .index(-1), .index(1 << 40), .name("label"), .name("")])
    let delimiter: UInt8 = choices.pick([UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "\t"), UInt8(ascii: "\""), 0])
    let compressed = choices.byte() & 1 == 1
    let text = choices.rest()
    let path = Fuzz.write(compressed ? GzipWriter.gzip(text) : text, to: "data.csv")
    _ = try? CSVDataset.load(path: path, label: label, header: header, delimiter: delimiter)
    return 0
}
