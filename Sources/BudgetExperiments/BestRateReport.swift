import BudgetEngine
import Foundation

/// How `BestRateTable` reads in summary.md and report.html, and its charts: validation and
/// test accuracy against the learning rate, one chart per budget.
extension BestRateTable {
    static let title = "Each schedule at its best learning rate"

    /// What the table holds, in a sentence (the same in Markdown and HTML).
    var caption: String {
        "Test accuracy (%), mean ± std over seeds, at the learning rate with the best mean validation accuracy "
            + "for each schedule × budget (the rate beside it; † at the edge of the rates tried: "
            + rates.map(\.formatted).joined(separator: ", ") + "). The rate is picked on validation data, never on the test set; best per budget in bold."
    }

    /// Said instead of the table when no run measured a validation accuracy.
    static let needsValidation = "This table needs a validation split: give the experiment data = { train = ..., validation = ..., test = ... } "
        + "(e.g. local train, validation = ds:split(0.9, 1)). Picking each schedule's rate on the test set would overstate its accuracy, so none is picked."

    /// A cell's text: `85.12 ± 0.40 (lr 0.1)`, `†` when the rate is at the grid's edge.
    func cellText(_ c: String, _ b: Double) -> String {
        guard let choice = choices[c]?[b] else {
            return points[c]?[b] == nil ? "" : "– (no rate with every run finished)"
        }
        var text = choice.test.count == 0 ? "–" : String(format: "%.2f", choice.test.mean * 100)
        if choice.test.count > 1 { text += String(format: " ± %.2f", choice.test.std * 100) }
        return text
    }

    func rateText(_ c: String, _ b: Double) -> String {
        guard let choice = choices[c]?[b] else { return "" }
        return "(lr \(choice.rate.formatted)\(choice.atEdge ? " †" : ""))"
    }

    /// The Markdown section of summary.md.
    public func markdown() -> String {
        var out = "### \(Self.title)\n\n"
        guard hasValidation else { return out + Self.needsValidation + "\n" }
        out += caption + "\n\n"
        out += "| schedule | " + budgets.map(\.formatted).joined(separator: " | ") + " |\n"
        out += "|---|" + budgets.map { _ in "---:" }.joined(separator: "|") + "|\n"
        let best = bestByBudget
        for c in configurations {
            out += "| \(c) |"
            for b in budgets {
                var text = cellText(c, b)
                if best[b] == c { text = "**\(text)**" }
                let rate = rateText(c, b)
                out += " \(text)\(rate.isEmpty ? "" : " " + rate) |"
            }
            out += "\n"
        }
        return out
    }

    /// The HTML section of report.html.
    func html() -> String {
        var out = "<h3>\(Self.title)</h3>\n"
        guard hasValidation else { return out + "<p>\(escape(Self.needsValidation))</p>\n" }
        out += "<p>\(escape(caption))</p>\n"
        out += "<table><tr><th>schedule</th>" + budgets.map { "<th>\($0.formatted)</th>" }.joined() + "</tr>\n"
        let best = bestByBudget
        for c in configurations {
            out += "<tr><td>\(escape(c))</td>"
            for b in budgets {
                let text = escape(cellText(c, b) + " " + rateText(c, b))
                out += best[b] == c ? "<td class=\"best\">\(text)</td>" : "<td>\(text)</td>"
            }
            out += "</tr>\n"
        }
        return out + "</table>\n"
    }

    /// One chart per budget: mean validation (solid) and test (dashed) accuracy against the
    /// rate, per configuration, log-x; each with the file name suffix it is saved under.
    func charts() -> [(name: String, chart: SVGChart)] {
        budgets.map { b in
            var series: [SVGChart.Series] = []
            for (i, c) in configurations.enumerated() {
                let curve = points[c]?[b] ?? []
                var validation = SVGChart.Series(
                    name: "\(c) validation", points: curve.filter { $0.validation.count > 0 }.map { ($0.rate, $0.validation.mean * 100) })
                var test = SVGChart.Series(
                    name: "\(c) test", points: curve.filter { $0.test.count > 0 }.map { ($0.rate, $0.test.mean * 100) })
                validation.colorIndex = i
                test.colorIndex = i
                test.dashed = true
                series += [validation, test].filter { !$0.points.isEmpty }
            }
            let chart = SVGChart(
                title: "Accuracy vs learning rate, budget \(b.formatted)", xLabel: "learning rate (log scale)",
                yLabel: "accuracy (%), mean over seeds", series: series, logX: true, xTicks: rates.filter { $0 > 0 })
            return (name: "accuracy-vs-lr-budget-\(b.formatted)", chart: chart)
        }
    }
}
