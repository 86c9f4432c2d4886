import BudgetEngine
import Foundation

/// One row of `results.csv`: a finished run.
public struct ResultRow: Sendable, Equatable, Codable {
    public var experiment: String
    public var run: String
    public var schedule: String
    /// Fraction of the experiment's full budget.
    public var budget: Double
    public var budgetSteps: Int?
    public var seed: UInt64
    public var status: RunStatus
    public var steps: Int
    public var seconds: Double
    public var finalLR: Double
    public var trainLoss: Double?
    public var testLoss: Double?
    public var testAccuracy: Double?
    public var gradNorm: Double?
    /// Loss and accuracy on the validation set at the end, when the run had one.
    public var valLoss: Double?
    public var valAccuracy: Double?
    /// Training FLOPs of the run's own steps (see `FLOPCount`); nil when not counted.
    public var flops: Double?
    /// Extra columns (varied fields, then `message`), by name.
    public var extras: [String: String] = [:]
    /// The step its last process continued from, when it was resumed from a checkpoint (in
    /// the run's record, not in results.csv: it depends on when the run was stopped).
    public var resumedFromStep: Int?
    /// Steps of this run that the trunk it branched from trained (see `TrunkPlan`).
    public var trunkSteps: Int?
    /// Test accuracy and loss of the run's weight average (`average = ...`), when it has one.
    public var avgTestAccuracy: Double?
    public var avgTestLoss: Double?

    public init(experiment: String, run: String, schedule: String, budget: Double, budgetSteps: Int?, seed: UInt64,
                status: RunStatus, steps: Int, seconds: Double, finalLR: Double, trainLoss: Double?,
                testLoss: Double?, testAccuracy: Double?, gradNorm: Double?, extras: [String: String] = [:], flops: Double? = nil) {
        self.experiment = experiment; self.run = run; self.schedule = schedule; self.budget = budget
        self.budgetSteps = budgetSteps; self.seed = seed; self.status = status; self.steps = steps
        self.seconds = seconds; self.finalLR = finalLR; self.trainLoss = trainLoss; self.testLoss = testLoss
        self.testAccuracy = testAccuracy; self.gradNorm = gradNorm; self.extras = extras; self.flops = flops
    }
}

/// The `results.csv` contract: a header, then one row per finished run, in the plan's order.
/// The table is derived from the runs' records (see `RunFolder`) and rewritten whole.
///
/// Columns, in this order, then any extras: `experiment, run, schedule, budget, budget_steps,
/// seed, status, steps, seconds, final_lr, train_loss, test_loss, test_accuracy, grad_norm,
/// flops, val_loss, val_accuracy, avg_test_accuracy, avg_test_loss`. Missing values (no test set, a
/// diverged loss, no validation set, no weight average) are empty cells. Columns after the
/// first 14 were added later and are read by name, so files written before them still read.
public struct ResultsTable {
    public static let columns = [
        "experiment", "run", "schedule", "budget", "budget_steps", "seed", "status", "steps", "seconds",
        "final_lr", "train_loss", "test_loss", "test_accuracy", "grad_norm",
        "flops", "val_loss", "val_accuracy", "avg_test_accuracy", "avg_test_loss",
    ]
    /// The columns every results file has had, in this order.
    static let baseColumnCount = 14

    /// The columns before `flops` was added (such files still read).
    /// The columns of a results file from before `flops` (and the later ones) existed.
    static var columnsWithoutFLOPs: [String] { Array(columns.prefix(baseColumnCount)) }

    public let path: String
    public let extraColumns: [String]

    public init(path: String, extraColumns: [String]) {
        self.path = path
        self.extraColumns = extraColumns
    }

    public var header: [String] { Self.columns + extraColumns }

    /// Rebuilds `<directory>/results.csv` from the run records, in the grid's order, when the
    /// folder holds a sweep description (`sweep.json`): how the results of shards, trained by
    /// several processes on several hosts, come together. Returns the number of rows; nil for
    /// a folder without a sweep description (its results.csv is used as it is).
    @discardableResult
    public static func gather(directory: String) throws -> Int? {
        guard let identity = try SweepIdentity.read(from: directory) else { return nil }
        var rows: [ResultRow] = []
        for run in identity.runs {
            if let row = try RunFolder(path: directory + "/" + SafeName.folder(for: run)).readRecord() { rows.append(row) }
        }
        try ResultsTable(path: directory + "/results.csv", extraColumns: identity.extraColumns).write(rows)
        return rows.count
    }

    /// Writes the whole table (header and rows) atomically.
    public func write(_ rows: [ResultRow]) throws {
        let lines = [CSV.line(header)] + rows.map { CSV.line(cells(of: $0)) }
        try AtomicFile.write(lines.joined(separator: "\n") + "\n", to: path)
    }

    func cells(of r: ResultRow) -> [String] {
        [r.experiment, r.run, r.schedule, Self.number(r.budget), r.budgetSteps.map(String.init) ?? "", String(r.seed),
         r.status.rawValue, String(r.steps), Self.number(r.seconds, digits: 3), Self.number(r.finalLR),
         Self.number(r.trainLoss), Self.number(r.testLoss), Self.number(r.testAccuracy), Self.number(r.gradNorm),
         Self.number(r.flops), Self.number(r.valLoss), Self.number(r.valAccuracy), Self.number(r.avgTestAccuracy), Self.number(r.avgTestLoss)]
            + extraColumns.map { r.extras[$0] ?? "" }
    }

    static func number(_ x: Double?, digits: Int? = nil) -> String {
        guard let x, x.isFinite else { return x.map { $0.isNaN ? "nan" : ($0 > 0 ? "inf" : "-inf") } ?? "" }
        if let digits { return String(format: "%.\(digits)f", x) }
        return String(format: "%.9g", x)
    }

    /// Reads a results file: its header and its rows (rows that do not parse are reported).
    public static func read(path: String) throws -> (header: [String], rows: [ResultRow]) {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw EngineError.dataFile(path: path, message: "cannot read results file")
        }
        var lines = CSV.parse(text)
        guard !lines.isEmpty else { throw EngineError.dataFile(path: path, message: "is empty (expected a header line)") }
        let header = lines.removeFirst()
        guard Array(header.prefix(baseColumnCount)) == Array(columns.prefix(baseColumnCount)) else {
            throw EngineError.dataFile(path: path, message: "line 1: not a budgetrain results header (expected \(columns.joined(separator: ",")))")
        }
        // The later columns the file has, found by name; what follows them are extras.
        let fixed = baseColumnCount + header.dropFirst(baseColumnCount).prefix { columns.contains($0) }.count
        let position = Dictionary(header.prefix(fixed).enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var rows: [ResultRow] = []
        for (i, cells) in lines.enumerated() where !(cells.count == 1 && cells[0].isEmpty) {
            guard cells.count == header.count else {
                throw EngineError.dataFile(path: path, message: "line \(i + 2): \(cells.count) cells, header has \(header.count)")
            }
            func double(_ k: Int) -> Double? { cells[k].isEmpty ? nil : Double(cells[k]) }
            guard let budget = double(3), let seed = UInt64(cells[5]), let status = RunStatus(rawValue: cells[6]),
                  let steps = Int(cells[7]) else {
                throw EngineError.dataFile(path: path, message: "line \(i + 2): malformed budget, seed, status or steps")
            }
            var extras: [String: String] = [:]
            for k in fixed..<header.count { extras[header[k]] = cells[k] }
            func named(_ column: String) -> Double? { position[column].flatMap(double) }
            rows.append(ResultRow(
                experiment: cells[0], run: cells[1], schedule: cells[2], budget: budget, budgetSteps: Int(cells[4]),
                seed: seed, status: status, steps: steps, seconds: double(8) ?? 0, finalLR: double(9) ?? 0,
                trainLoss: double(10), testLoss: double(11), testAccuracy: double(12), gradNorm: double(13), extras: extras))
            rows[rows.count - 1].avgTestAccuracy = named("avg_test_accuracy")
            rows[rows.count - 1].avgTestLoss = named("avg_test_loss")
            rows[rows.count - 1].valLoss = named("val_loss")
            rows[rows.count - 1].valAccuracy = named("val_accuracy")
            rows[rows.count - 1].flops = named("flops")
        }
        return (header, rows)
    }
}

/// Minimal RFC 4180 CSV: quotes cells that need it, parses quoted cells back.
enum CSV {
    static func line(_ cells: [String]) -> String {
        cells.map { cell in
            guard cell.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return cell }
            return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ",")
    }

    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], cell = ""
        var quoted = false, afterQuote = false
        var chars = text.makeIterator()
        while let c = chars.next() {
            if quoted {
                if c == "\"" { quoted = false; afterQuote = true } else { cell.append(c) }
                continue
            }
            switch c {
            case "\"":
                if afterQuote { cell.append("\"") }
                quoted = true
            case ",": row.append(cell); cell = ""
            case "\n": row.append(cell); rows.append(row); row = []; cell = ""
            case "\r": break
            default: cell.append(c)
            }
            afterQuote = false
        }
        if !cell.isEmpty || !row.isEmpty { row.append(cell); rows.append(row) }
        return rows
    }
}
