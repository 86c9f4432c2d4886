/// Which column of a CSV file holds the class label.
public enum CSVLabelColumn: Sendable, Equatable {
    /// The last column (the default).
    case last
    /// A 0-based column index.
    case index(Int)
    /// A column named in the header row.
    case name(String)
}

/// Tabular datasets from CSV files: numeric feature columns and one label column.
///
/// - Fields are separated by commas (or `delimiter`); a field may be wrapped in double quotes
///   (`"a, b"`, with `""` for a quote inside); surrounding spaces are ignored; blank lines are
///   skipped. A record is one line. `.csv.gz` files are decompressed.
/// - The header row is detected unless `header` says otherwise: the first row is a header when
///   one of its feature fields is not a number (or when the label is chosen by name).
/// - Labels that are all non-negative integers are used as they are (`classCount` = largest + 1).
///   Any other labels (strings, negative numbers) are mapped to class indices in sorted order
///   (numeric order when they are all numbers), and the mapping is kept in `Dataset.classNames`.
/// - Every feature must be a finite number; errors name the file, the line and the column.
///
/// Sample shape: `[features]`, the feature columns in file order.
public enum CSVDataset {
    public static func load(
        path: String, label: CSVLabelColumn = .last, header: Bool? = nil, delimiter: UInt8 = UInt8(ascii: ","),
        name: String? = nil
    ) throws -> Dataset {
        let bytes = try DataFileReader(path: path).readAll(limit: maximumTextBytes, what: "a CSV file may hold here (an eighth of the memory)")
        var records = CSVRecords(bytes: bytes, delimiter: delimiter)

        guard let first = records.next() else { throw EngineError.dataFile(path: path, message: "no data: the file is empty") }
        let columns = first.fields.count
        guard columns >= 2 else {
            throw EngineError.dataFile(
                path: path, message: "line \(first.line): \(columns) column; expected at least one feature and one label column")
        }

        let labelIndex: Int
        switch label {
        case .last:
            labelIndex = columns - 1
        case let .index(i):
            guard i >= 0, i < columns else {
                throw EngineError.dataFile(path: path, message: "label column index \(i) is out of range for \(columns) columns (0 ..< \(columns))")
            }
            labelIndex = i
        case let .name(wanted):
            guard header != false else {
                throw EngineError.dataFile(path: path, message: "the label column is named ('\(wanted)') but the file is read without a header")
            }
            guard let i = first.fields.firstIndex(of: wanted) else {
                throw EngineError.dataFile(
                    path: path, message: "no column named '\(wanted)' in the header (columns: \(first.fields.joined(separator: ", ")))")
            }
            labelIndex = i
        }

        let hasHeader: Bool
        if let header {
            hasHeader = header
        } else if case .name = label {
            hasHeader = true
        } else {
            hasHeader = first.fields.indices.contains { $0 != labelIndex && parseFeature(first.fields[$0]) == nil }
        }
        let columnNames = hasHeader ? first.fields : nil
        func describeColumn(_ index: Int) -> String {
            columnNames.map { "column '\($0[index])' (index \(index))" } ?? "column index \(index)"
        }

        var features: [Float] = []
        var labels = LabelTexts()
        func add(_ record: CSVRecords.Record) throws {
            guard record.fields.count == columns else {
                throw EngineError.dataFile(
                    path: path,
                    message: "line \(record.line): \(record.fields.count) fields, expected \(columns) (as on line \(first.line))")
            }
            for (index, field) in record.fields.enumerated() {
                if index == labelIndex {
                    guard labels.add(field) else {
                        throw EngineError.dataFile(
                            path: path, message: "line \(record.line): more than \(LabelTexts.maximumDistinct) distinct labels; a label column holds classes")
                    }
                    continue
                }
                guard let value = parseFeature(field) else {
                    let shown = field.isEmpty ? "an empty value" : "'\(field)'"
                    throw EngineError.dataFile(
                        path: path, message: "line \(record.line), \(describeColumn(index)): \(shown) is not a finite number")
                }
                features.append(value)
            }
        }
        if !hasHeader { try add(first) }
        while let record = records.next() { try add(record) }
        guard !labels.rows.isEmpty else { throw EngineError.dataFile(path: path, message: "no data rows after the header") }

        let (classes, classNames) = labels.classIndices()
        let datasetName = name ?? path.split(separator: "/").last.map(String.init) ?? path
        return try Dataset(
            inputs: features, labels: classes, sampleShape: [columns - 1],
            classCount: classNames?.count, classNames: classNames, name: datasetName)
    }

    /// The most bytes of text a CSV file may decompress to: parsing holds the text, the
    /// features as Float32 (up to twice the text: a value takes at least 2 characters) and a
    /// label index per row, so an eighth of the memory the tensors leave.
    static var maximumTextBytes: Int { max(0, MemoryLimit.machineBytes - MemoryLimit.tensorBytes) / 8 }

    /// A feature value: a finite number.
    static func parseFeature(_ text: String) -> Float? {
        guard let value = Float(text), value.isFinite else { return nil }
        return value
    }
}

/// The label column as it is read: each distinct text once, and per row the index of its text
/// (4 bytes a row, however long the texts).
struct LabelTexts {
    /// More distinct labels than any classification data set has classes.
    static let maximumDistinct = 1 << 20

    private(set) var distinct: [String] = []
    private var index: [String: Int32] = [:]
    /// Per row, the position of its text in `distinct`.
    private(set) var rows: [Int32] = []

    /// Records the next row's label; false when it would be one distinct label too many.
    mutating func add(_ text: String) -> Bool {
        if let i = index[text] {
            rows.append(i)
            return true
        }
        guard distinct.count < Self.maximumDistinct else { return false }
        index[text] = Int32(distinct.count)
        rows.append(Int32(distinct.count))
        distinct.append(text)
        return true
    }

    /// Labels as class indices: used directly when all are non-negative integers, else mapped
    /// through their sorted distinct values (returned as the class names).
    func classIndices() -> (labels: [Int32], classNames: [String]?) {
        let integers = distinct.map { Int32($0) }
        if integers.allSatisfy({ ($0 ?? -1) >= 0 }) {
            return (rows.map { integers[Int($0)] ?? 0 }, nil)
        }
        let numbers = distinct.map { Double($0) }
        let order: [Int]
        if numbers.allSatisfy({ $0 != nil }) {
            order = distinct.indices.sorted { (numbers[$0] ?? 0, distinct[$0]) < (numbers[$1] ?? 0, distinct[$1]) }
        } else {
            order = distinct.indices.sorted { distinct[$0] < distinct[$1] }
        }
        var classOf = [Int32](repeating: 0, count: distinct.count)
        for (rank, i) in order.enumerated() { classOf[i] = Int32(rank) }
        return (rows.map { classOf[Int($0)] }, order.map { distinct[$0] })
    }
}

/// Splits CSV bytes into records (one per non-blank line) of trimmed, unquoted fields.
struct CSVRecords {
    struct Record {
        /// 1-based line number in the file.
        var line: Int
        var fields: [String]
    }

    private let bytes: [UInt8]
    private let delimiter: UInt8
    private var position = 0
    private var line = 0

    init(bytes: [UInt8], delimiter: UInt8) {
        self.bytes = bytes
        self.delimiter = delimiter
        // Skip a UTF-8 byte-order mark.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
    }

    mutating func next() -> Record? {
        while position < bytes.count {
            line += 1
            var end = position
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            let lineRange = position..<end
            position = end + 1
            var content = lineRange
            if let last = content.last, bytes[last] == UInt8(ascii: "\r") { content = content.dropLast() }
            if content.allSatisfy({ bytes[$0] == UInt8(ascii: " ") || bytes[$0] == UInt8(ascii: "\t") }) { continue }
            return Record(line: line, fields: fields(in: content))
        }
        return nil
    }

    private func fields(in range: Range<Int>) -> [String] {
        var fields: [String] = []
        var current: [UInt8] = []
        var quoted = false, wasQuoted = false
        var i = range.lowerBound
        func finish() {
            var text = String(decoding: current, as: UTF8.self)
            if !wasQuoted { text = trimmingSpaces(text) }
            fields.append(text)
            current.removeAll(keepingCapacity: true)
            wasQuoted = false
        }
        while i < range.upperBound {
            let byte = bytes[i]
            if quoted {
                if byte == UInt8(ascii: "\"") {
                    if i + 1 < range.upperBound, bytes[i + 1] == UInt8(ascii: "\"") {
                        current.append(byte)
                        i += 1
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(byte)
                }
            } else if byte == delimiter {
                finish()
            } else if byte == UInt8(ascii: "\""), current.allSatisfy({ $0 == UInt8(ascii: " ") }) {
                current.removeAll(keepingCapacity: true)
                quoted = true
                wasQuoted = true
            } else if !(wasQuoted && (byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t"))) {
                current.append(byte)
            }
            i += 1
        }
        finish()
        return fields
    }
}

/// `text` without leading and trailing spaces and tabs.
private func trimmingSpaces(_ text: String) -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
    guard let start = text.firstIndex(where: { !isSpace($0) }), let end = text.lastIndex(where: { !isSpace($0) }) else { return "" }
    return String(text[start...end])
}
