import BudgetEngine
import Foundation

/// A self-contained SVG line chart: a few series of (x, y) points, optionally each with a
/// shaded band (min…max over seeds), axes with ticks, and a legend. No scripts, no fonts
/// beyond the browser's default, so it renders anywhere with no network.
struct SVGChart {
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
        /// Lower and upper bound at each point's x (the envelope), if any.
        var band: [(x: Double, low: Double, high: Double)] = []
        /// The palette colour to draw in (default: the series' position), so that two series
        /// of one configuration can share a colour.
        var colorIndex: Int?
        /// Drawn dashed (e.g. test beside validation in the same colour).
        var dashed = false
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var series: [Series]
    var logX = false
    var logY = false
    /// Tick values for the x axis (default: round numbers).
    var xTicks: [Double]?
    var width = 560.0
    var height = 340.0

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]

    private let left = 64.0, right = 150.0, top = 34.0, bottom = 46.0

    func render() -> String {
        let xs = series.flatMap { $0.points.map(\.x) + $0.band.map(\.x) }.filter { $0.isFinite && (!logX || $0 > 0) }
        let ys = series.flatMap { $0.points.map(\.y) + $0.band.flatMap { [$0.low, $0.high] } }.filter { $0.isFinite && (!logY || $0 > 0) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        svg += "<text x=\"\(Int(width / 2))\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(escape(title))</text>\n"
        guard let x0 = xs.min(), let x1 = xs.max(), let y0 = ys.min(), let y1 = ys.max() else {
            return svg + "<text x=\"\(Int(width / 2))\" y=\"\(Int(height / 2))\" text-anchor=\"middle\">no data</text></svg>"
        }
        let tx = axis(x0, x1, log: logX), ty = axis(y0, y1, log: logY)
        let plotW = width - left - right, plotH = height - top - bottom
        func px(_ x: Double) -> Double { left + plotW * (tx.map(x) - tx.low) / (tx.high - tx.low) }
        func py(_ y: Double) -> Double { top + plotH * (1 - (ty.map(y) - ty.low) / (ty.high - ty.low)) }

        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#999\"/>\n"
        for t in xTicks ?? tx.ticks {
            svg += "<line x1=\"\(f(px(t)))\" y1=\"\(f(top))\" x2=\"\(f(px(t)))\" y2=\"\(f(top + plotH))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(f(px(t)))\" y=\"\(f(top + plotH + 14))\" text-anchor=\"middle\">\(label(t))</text>\n"
        }
        for t in ty.ticks {
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(py(t)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py(t)))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(f(left - 4))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(label(t))</text>\n"
        }
        svg += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        svg += "<text transform=\"translate(14 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"

        for (i, s) in series.enumerated() {
            let color = Self.palette[(s.colorIndex ?? i) % Self.palette.count]
            let dash = s.dashed ? " stroke-dasharray=\"5 3\"" : ""
            let band = s.band.filter { $0.low.isFinite && $0.high.isFinite && (!logX || $0.x > 0) && (!logY || $0.low > 0) }
            if band.count > 1 {
                let upper = band.map { "\(f(px($0.x))),\(f(py($0.high)))" }
                let lower = band.reversed().map { "\(f(px($0.x))),\(f(py($0.low)))" }
                svg += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(color)\" fill-opacity=\"0.15\" stroke=\"none\"/>\n"
            }
            let points = s.points.filter { $0.x.isFinite && $0.y.isFinite && (!logX || $0.x > 0) && (!logY || $0.y > 0) }
            if points.count > 1 {
                svg += "<polyline points=\"\(points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " "))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.6\"\(dash)/>\n"
            }
            if points.count <= 30 {
                for p in points { svg += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"2.5\" fill=\"\(color)\"/>" }
            }
            let ly = top + 8 + Double(i) * 16
            svg += "<line x1=\"\(f(width - right + 10))\" y1=\"\(f(ly))\" x2=\"\(f(width - right + 28))\" y2=\"\(f(ly))\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>"
            svg += "<text x=\"\(f(width - right + 32))\" y=\"\(f(ly + 4))\">\(escape(s.name))</text>\n"
        }
        return svg + "</svg>"
    }

    /// The most ticks an axis draws. Every loop over ticks counts up to a bound fixed before it
    /// starts, whatever the data: stepping a Double until it passes the end never ends when the
    /// step is below the resolution of the values (`1e5 + 5e-12 == 1e5`).
    static let maximumTicks = 50

    /// The axis range (in mapped coordinates) and tick values.
    private func axis(_ lo: Double, _ hi: Double, log: Bool) -> (low: Double, high: Double, ticks: [Double], map: (Double) -> Double) {
        if log {
            // lo and hi are finite and positive, so the decades span at most about 650.
            let a = floor(log10(lo)), b = max(ceil(log10(hi)), a + 1)
            var ticks: [Double] = []
            for decade in 0...Int(min(b - a, 700)) {
                let e = a + Double(decade)
                for m in [1.0, 2, 5] where pow(10, e) * m >= lo * 0.999 && pow(10, e) * m <= hi * 1.001 { ticks.append(pow(10, e) * m) }
            }
            if ticks.count > Self.maximumTicks { ticks = ticks.filter { log10($0).rounded() == log10($0) } }
            if ticks.count > Self.maximumTicks { ticks = stride(from: 0, to: ticks.count, by: ticks.count / Self.maximumTicks + 1).map { ticks[$0] } }
            let pad = max((log10(hi) - log10(lo)) * 0.05, 0.02)
            return (log10(lo) - pad, log10(hi) + pad, ticks, { log10($0) })
        }
        var low = lo, high = hi
        // A range below what the values can resolve (and what a label shows) is drawn as flat.
        if high - low < max(1e-12, max(abs(low), abs(high)) * 1e-6) {
            low -= 0.5 * max(abs(low), 1e-3)
            high += 0.5 * max(abs(high), 1e-3)
        }
        let step = niceStep((high - low) / 5)
        var ticks: [Double] = []
        let first = ceil(low / step), last = floor(high / step + 1e-6)
        if step.isFinite, step > 0, first.isFinite, last.isFinite, last >= first, last - first < Double(Self.maximumTicks) {
            for i in 0...Int(last - first) {
                let t = (first + Double(i)) * step
                ticks.append(abs(t) < step * 1e-9 ? 0 : t)
            }
        }
        let pad = (high - low) * 0.04
        return (low - pad, high + pad, ticks, { $0 })
    }

    private func niceStep(_ raw: Double) -> Double {
        let magnitude = pow(10, floor(log10(raw)))
        let r = raw / magnitude
        return magnitude * (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10)
    }

    private func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e4 || abs(v) < 1e-3 { return String(format: "%.0e", v) }
        return String(format: "%g", (v * 1e6).rounded() / 1e6)
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }
}

/// Escapes text for HTML and SVG.
func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
