import BudgetEngine
import Foundation

/// Rebuilds `summary.md`, `report.html` and `figures/*.svg` from results folders (one, or several merged):
/// only the files are read, so a report can be made at any time, during or after a sweep.
public enum ExperimentReport {
    /// A results folder read back: its rows and where its runs' metrics live.
    struct Source {
        var directory: String
        var rows: [ResultRow]
    }

    /// Writes `summary.md` and `report.html` into `output` from the results of `directories`.
    /// Returns the summary text. `targets` (test accuracies) overrides the experiments' own
    /// (config.json's `targets`) for the time-to-target tables and performance profiles.
    @discardableResult
    public static func write(directories: [String], to output: String, targets: [Double]? = nil) throws -> String {
        var sources: [Source] = []
        for d in directories {
            // What results.csv does not hold (steps trained by a trunk) comes from the records.
            let rows = try ResultsTable.read(path: d + "/results.csv").rows.map { row -> ResultRow in
                var row = row
                row.trunkSteps = (try? RunFolder(path: d + "/" + SafeName.folder(for: row.run)).readRecord())??.trunkSteps
                return row
            }
            sources.append(Source(directory: d, rows: rows))
        }
        let rows = sources.flatMap(\.rows)
        let experiments = ExperimentSummary.experiments(in: rows)
        let order = directories.flatMap(declaredScheduleOrder)
        let summaries = experiments.map { ExperimentSummary(experiment: $0, rows: rows, scheduleOrder: order) }
        let sections = ReportSections(sources: sources, experiments: experiments, targets: targets)
        let summary = "# Results\n\n" + (summaries.isEmpty ? "No finished runs yet.\n" : summaries.map { $0.markdown() + sections.markdown(for: $0.experiment) }.joined(separator: "\n"))
            + sections.profileMarkdown
        try AtomicFile.write(summary, to: output + "/summary.md")
        try AtomicFile.write(html(summaries: summaries, sources: sources, sections: sections), to: output + "/report.html")
        if let chart = sections.profileChart { try AtomicFile.write(chart.render() + "\n", to: output + "/figures/performance-profiles.svg") }
        // The same charts as files, for papers and READMEs.
        for s in summaries {
            for (file, chart) in charts(s, sources: sources) { try AtomicFile.write(chart.render() + "\n", to: output + "/figures/" + file) }
        }
        return summary
    }

    /// The charts of one experiment, each with the file name it is saved under.
    static func charts(_ s: ExperimentSummary, sources: [Source]) -> [(file: String, chart: SVGChart)] {
        var charts: [(String, SVGChart)] = [("accuracy-vs-budget", accuracyChart(s))]
        let runs = sources.flatMap { src in src.rows.filter { $0.experiment == s.experiment }.map { (src.directory, $0) } }
        if let smallest = s.budgets.first, let largest = s.budgets.last {
            for b in Set([smallest, largest]).sorted() {
                charts.append(("lr-budget-\(b.formatted)", curveChart(s, runs: runs, budget: b, key: "lr", title: "Learning rate, budget \(b.formatted)", yLabel: "learning rate", smooth: false)))
            }
            charts.append(("loss-budget-\(largest.formatted)", curveChart(s, runs: runs, budget: largest, key: "loss", title: "Training loss, budget \(largest.formatted)", yLabel: "minibatch loss (smoothed)", smooth: true, logY: true)))
            charts.append(("grad-norm", gradNormChart(s, runs: runs, budget: largest)))
        }
        charts += s.bestRate?.charts().map { ($0.name, $0.chart) } ?? []
        return charts.map { (file: "\(s.experiment)-\($0.0).svg", chart: $0.1) }
    }

    static func html(summaries: [ExperimentSummary], sources: [Source], sections: ReportSections? = nil) -> String {
        var body = ""
        for s in summaries {
            body += "<h2>\(escape(s.experiment))</h2>\n"
            body += tableHTML(s)
            if let line = s.trunkLine { body += "<p>\(escape(line))</p>\n" }
            body += s.bestRate?.html() ?? ""
            if s.hasAveragedAccuracy { body += "<p>Test accuracy of the averaged model:</p>\n" + tableHTML(s, s.averagedAccuracy) }
            body += sections?.html(for: s.experiment) ?? ""
            body += "<div class=\"charts\">\n"
            for (_, chart) in charts(s, sources: sources) { body += chart.render() }
            body += "</div>\n"
        }
        body += sections?.profileHTML ?? ""
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>budgetrain report</title>
        <style>
        body { font-family: sans-serif; margin: 2em; color: #222; }
        table { border-collapse: collapse; margin: 1em 0; }
        th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
        th:first-child, td:first-child { text-align: left; }
        .best { font-weight: bold; background: #eef6ee; }
        .charts svg { margin: 0.5em 1em 0.5em 0; border: 1px solid #eee; }
        </style></head><body>
        <h1>budgetrain report</h1>
        <p>Test accuracy (%) per schedule and budget (fraction of the full budget): mean ± std over seeds; the best of each budget is highlighted.</p>
        \(body)
        </body></html>
        """
    }

    static func tableHTML(_ s: ExperimentSummary, _ stats: [String: [Double: CellStatistics]]? = nil) -> String {
        let stats = stats ?? s.accuracy
        let best = s.bestByBudget(in: stats)
        var out = "<table><tr><th>schedule</th>" + s.budgets.map { "<th>\($0.formatted)</th>" }.joined() + "</tr>\n"
        for name in s.schedules {
            out += "<tr><td>\(escape(name))</td>"
            for b in s.budgets {
                guard let c = stats[name]?[b] else { out += "<td></td>"; continue }
                var text = c.count == 0 ? "–" : String(format: "%.2f", c.mean * 100)
                if c.count > 1 { text += String(format: " ± %.2f", c.std * 100) }
                if c.unfinished > 0 { text += " (\(c.unfinished) diverged/failed)" }
                out += best[b] == name ? "<td class=\"best\">\(text)</td>" : "<td>\(text)</td>"
            }
            out += "</tr>\n"
        }
        return out + "</table>\n"
    }

    /// Accuracy against budget, per schedule, with the min…max envelope over seeds.
    static func accuracyChart(_ s: ExperimentSummary) -> SVGChart {
        let series = s.schedules.map { name -> SVGChart.Series in
            let cells = s.budgets.compactMap { b in s.accuracy[name]?[b].flatMap { $0.count > 0 ? (b, $0) : nil } }
            return SVGChart.Series(
                name: name, points: cells.map { ($0.0, $0.1.mean * 100) },
                band: cells.map { ($0.0, ($0.1.mean - $0.1.std) * 100, ($0.1.mean + $0.1.std) * 100) })
        }
        return SVGChart(title: "Test accuracy vs budget", xLabel: "budget (fraction of full, log scale)", yLabel: "test accuracy (%)", series: series, logX: true, xTicks: s.budgets)
    }

    /// One metric from the per-step lines of the first seed's run of each schedule at `budget`.
    static func curveChart(_ s: ExperimentSummary, runs: [(String, ResultRow)], budget: Double, key: String, title: String, yLabel: String, smooth: Bool, logY: Bool = false) -> SVGChart {
        let series = s.schedules.compactMap { name -> SVGChart.Series? in
            guard let (dir, row) = runs.filter({ $0.1.configuration == name && $0.1.budget == budget }).min(by: { $0.1.seed < $1.1.seed }) else { return nil }
            var points = metrics(dir: dir, run: row.run).compactMap { line -> (Double, Double)? in
                guard line["epoch"] != nil, let p = line["progress"], let v = line[key] else { return nil }
                return (p, v)
            }
            if smooth { points = movingAverage(points, window: max(1, points.count / 50)) }
            return SVGChart.Series(name: name, points: points.map { (x: $0.0, y: $0.1) })
        }
        return SVGChart(title: title, xLabel: "progress (step / budget)", yLabel: yLabel, series: series, logY: logY)
    }

    /// Gradient norm at the probe points of each schedule's runs at `budget` (mean over seeds);
    /// with a probe only at the end, the final norm against budget instead.
    static func gradNormChart(_ s: ExperimentSummary, runs: [(String, ResultRow)], budget: Double) -> SVGChart {
        var series: [SVGChart.Series] = []
        var probePoints = 0
        for name in s.schedules {
            var byProgress: [Double: [Double]] = [:]
            for (dir, row) in runs where row.configuration == name && row.budget == budget {
                // Evaluation lines only: step lines carry the minibatch norm (probes.step_grad_norm).
                for line in metrics(dir: dir, run: row.run) where line["epoch"] == nil {
                    if let p = line["progress"], let g = line["grad_norm"] { byProgress[p, default: []].append(g) }
                }
            }
            probePoints = max(probePoints, byProgress.count)
            series.append(SVGChart.Series(name: name, points: byProgress.keys.sorted().map { ($0, byProgress[$0]?.mean ?? .nan) }))
        }
        if probePoints > 1 {
            return SVGChart(title: "Full-batch gradient norm, budget \(budget.formatted)", xLabel: "progress", yLabel: "‖∇L‖", series: series, logY: true)
        }
        let byBudget = s.schedules.map { name -> SVGChart.Series in
            let cells = s.budgets.compactMap { b in s.gradNorm[name]?[b].flatMap { $0.count > 0 ? (b, $0) : nil } }
            return SVGChart.Series(name: name, points: cells.map { ($0.0, $0.1.mean) }, band: cells.map { ($0.0, $0.1.mean - $0.1.std, $0.1.mean + $0.1.std) })
        }
        return SVGChart(title: "Final full-batch gradient norm vs budget", xLabel: "budget (log scale)", yLabel: "‖∇L‖ at the end", series: byBudget, logX: true, logY: true, xTicks: s.budgets)
    }

    /// The schedules in the order the experiment declared them, from its config.json (empty
    /// when the file is absent or unreadable: the rows' own order is used then).
    static func declaredScheduleOrder(directory: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: directory + "/config.json"),
              let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let schedules = config["schedules"] as? [[String: Any]] else { return [] }
        return schedules.compactMap { $0["name"] as? String }
    }

    /// The largest metrics.jsonl a report reads: the recorder writes at most a few thousand
    /// lines (`MetricsRecorder.maxStepLines`), so a larger file is not one of budgetrain's and
    /// is left out of the charts rather than read whole into memory.
    static let maximumMetricsBytes = 64 << 20

    /// The numeric fields of each line of a run's metrics.jsonl (empty when absent or larger
    /// than `maximumMetricsBytes`).
    static func metrics(dir: String, run: String) -> [[String: Double]] {
        let path = dir + "/" + SafeName.folder(for: run) + "/metrics.jsonl"
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size <= maximumMetricsBytes,
              let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
        }
    }

    static func movingAverage(_ points: [(Double, Double)], window: Int) -> [(Double, Double)] {
        guard window > 1, points.count > window else { return points }
        var out: [(Double, Double)] = []
        var sum = 0.0
        for i in points.indices {
            sum += points[i].1
            if i >= window { sum -= points[i - window].1 }
            if i >= window - 1, (i - window + 1) % max(1, window / 2) == 0 || i == points.count - 1 {
                out.append((points[i].0, sum / Double(window)))
            }
        }
        return out
    }
}
