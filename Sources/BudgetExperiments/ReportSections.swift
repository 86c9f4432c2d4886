import BudgetEngine
import Foundation

/// The report's sections beyond the accuracy table: a search's rungs, survivors, winner and
/// compute (`SearchSummary`), steps and seconds to target accuracies (`TimeToTarget`) and the
/// performance profiles across experiments (`PerformanceProfile`). Each is derived from the
/// results folders alone, as the rest of the report.
struct ReportSections {
    private var searches: [String: SearchSummary] = [:]
    private var times: [String: TimeToTarget] = [:]
    private let profile: PerformanceProfile

    /// - Parameter targets: target test accuracies (default: each folder's config.json `targets`).
    init(sources: [ExperimentReport.Source], experiments: [String], targets override: [Double]?) {
        let configs = sources.map { ExperimentReport.configuration(directory: $0.directory) }
        var tables: [TimeToTarget] = []
        for experiment in experiments {
            let owners = sources.indices.filter { sources[$0].rows.contains { $0.experiment == experiment } }
            let runs = owners.flatMap { i in sources[i].rows.filter { $0.experiment == experiment }.map { (directory: sources[i].directory, row: $0) } }
            if let owner = owners.first, var search = SearchSummary(experiment: experiment, rows: runs.map(\.row), config: configs[owner]) {
                // The grid to measure its winner against: an experiment folder beside it.
                if let grid = search.description.reference {
                    let path = (sources[owner].directory as NSString).deletingLastPathComponent + "/" + SafeName.folder(for: grid) + "/results.csv"
                    if let rows = try? ResultsTable.read(path: path).rows { search.compare(with: grid, rows: rows) }
                }
                searches[experiment] = search
                continue
            }
            let declared = owners.flatMap { i in (configs[i]["targets"] as? [NSNumber])?.map(\.doubleValue) ?? [] }
            let targets = (override ?? declared).filter { $0 > 0 && $0 <= 1 }
            guard !targets.isEmpty else { continue }
            let table = TimeToTarget(experiment: experiment, runs: runs, targets: Array(Set(targets)).sorted())
            if table.hasData {
                times[experiment] = table
                tables.append(table)
            }
        }
        profile = PerformanceProfile(tables)
    }

    func markdown(for experiment: String) -> String {
        (searches[experiment]?.markdown() ?? "") + (times[experiment]?.markdown() ?? "")
    }

    func html(for experiment: String) -> String {
        (searches[experiment]?.html() ?? "") + Self.html(fromMarkdown: times[experiment]?.markdown() ?? "")
    }

    var profileMarkdown: String { profile.problems.count > 1 || profile.configurations.count > 1 ? profile.markdown() : "" }

    var profileHTML: String {
        let text = profileMarkdown
        guard !text.isEmpty else { return "" }
        return Self.html(fromMarkdown: text) + "<div class=\"charts\">" + profile.chart().render() + "</div>\n"
    }

    /// The profile's chart, when there is a profile.
    var profileChart: SVGChart? { profileMarkdown.isEmpty ? nil : profile.chart() }

    /// Markdown tables, headings and paragraphs (as these sections write them) as HTML.
    static func html(fromMarkdown text: String) -> String {
        var out = "", inTable = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("|") {
                let cells = line.dropFirst().dropLast().split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                if cells.allSatisfy({ $0.allSatisfy { "-:".contains($0) } }) { continue }
                let tag = inTable ? "td" : "th"
                if !inTable { out += "<table>"; inTable = true }
                out += "<tr>" + cells.map { "<\(tag)>\(escape($0))</\(tag)>" }.joined() + "</tr>\n"
                continue
            }
            if inTable { out += "</table>\n"; inTable = false }
            if line.hasPrefix("## ") { out += "<h2>\(escape(String(line.dropFirst(3))))</h2>\n" } else if !line.isEmpty {
                out += "<p>\(escape(line))</p>\n"
            }
        }
        if inTable { out += "</table>\n" }
        return out
    }
}

extension ExperimentReport {
    /// A results folder's config.json (empty when absent or unreadable).
    static func configuration(directory: String) -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: directory + "/config.json"),
              let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return config
    }
}
