/// A schedule refined from the gradient norms of a previous run, as Defazio, Cutkosky, Mehta &
/// Mishchenko, "When, Why and How Much? Adaptive Learning Rate Scheduling by Refinement"
/// (arXiv:2310.07831, 2023), Algorithm 1 (schedule refinement for SGD). From the norms
/// `G = (‖g₁‖, …, ‖g_T‖)` a previous run measured at its steps:
///
///     ĝ   = median_filter(G, width = τ·T, padding = (nearest, reflect))
///     w_t = ĝ_t⁻²
///     η_t = w_t · Σ_{p = t+1}^{T} w_p
///     m   = η / max(η)
///
/// The refinement keeps the run's last iterate best for step sizes proportional to the
/// weights `w_t`; with constant norms it reduces to linear decay, `η_t ∝ T − t`. Rising norms
/// late in a run give a quick final anneal, small norms early a warm-up.
///
/// Details as the authors' reference code (`find_schedule.py` and its README, in their public
/// repository) has them: the filter width is the odd number `2·⌊τT/2⌋ + 1`; the end of the
/// sequence is padded by reflection (`… g_{T−1}, g_T, g_{T−1}, …`) and the start by repeating
/// `g₁`. Where the log holds every k-th step only (budgetrain's metrics thin long runs), the
/// tail sum weights each point by its share of the run (equal shares when every step is
/// logged, which is the paper's sum). At most `maximumPoints` points are used (every k-th of
/// a longer log).
///
/// The multiplier is defined at the source run's progress points and interpolated linearly
/// between them, so the refined shape applies at any budget: step `s` of a `T'`-step run
/// trains at `m(s / T')`. It is 1 at its peak; the optimizer's `lr` is the peak rate.
public struct RefinedSchedule: Schedule {
    /// Where the norms came from (shown in the summary), e.g. a run folder.
    public let source: String
    /// τ: the median filter's width as a fraction of the run.
    public let smoothing: Double
    /// Progress of each point of the source run, increasing, in `[0, 1)`.
    public let progress: [Double]
    /// The refined multiplier at each point: at most 1, the last 0.
    public let values: [Double]

    public static let maximumPoints = 4000

    /// Refines from `points` (the progress of each measured step and the gradient norm there).
    public init(points: [(progress: Double, norm: Double)], smoothing: Double, source: String) throws {
        guard smoothing >= 0, smoothing <= 1 else {
            throw invalidScheduleArgument("refined", "smooth must be a fraction of the run in [0, 1], got \(smoothing)")
        }
        var kept = points
        if kept.count > Self.maximumPoints {
            let stride = (kept.count + Self.maximumPoints - 1) / Self.maximumPoints
            kept = kept.enumerated().filter { $0.offset % stride == 0 }.map(\.element)
        }
        guard kept.count >= 2 else {
            throw invalidScheduleArgument("refined", "\(source): needs the gradient norms of at least 2 steps, found \(kept.count)")
        }
        for (i, point) in kept.enumerated() {
            guard point.norm.isFinite, point.norm > 0 else {
                throw invalidScheduleArgument("refined", "\(source): gradient norm \(point.norm) at progress \(point.progress); norms must be finite and positive")
            }
            guard point.progress >= 0, point.progress < 1, i == 0 || point.progress > kept[i - 1].progress else {
                throw invalidScheduleArgument("refined", "\(source): progress \(point.progress) at point \(i + 1) is out of order or outside [0, 1)")
            }
        }
        self.source = source
        self.smoothing = smoothing
        progress = kept.map(\.progress)
        values = Self.refine(norms: kept.map(\.norm), progress: progress, smoothing: smoothing)
    }

    public var summary: String { "refined(from=\(source), smooth=\(smoothing.formatted))" }

    /// Linear interpolation of `values` over `progress`; 0 past the last point.
    public func multiplier(at p: Double, context: ScheduleContext) -> Double {
        guard let last = progress.last, p < last else { return values.last ?? 0 }
        guard p > progress[0] else { return values[0] }
        let i = min(reachedCount(of: progress, at: p) - 1, progress.count - 2)
        let (p0, p1) = (progress[i], progress[i + 1])
        let t = (p - p0) / (p1 - p0)
        return values[i] + (values[i + 1] - values[i]) * min(max(t, 0), 1)
    }

    /// The refined multipliers (`m` above) for norms measured at `progress`.
    static func refine(norms: [Double], progress: [Double], smoothing: Double) -> [Double] {
        let n = norms.count
        let smoothed = medianFilter(norms, width: 2 * (Int(smoothing * Double(n)) / 2) + 1)
        let weights = smoothed.map { 1 / ($0 * $0) }
        // Each point's share of the run: the progress until the next point (the last: until 1).
        let shares = (0..<n).map { i in (i + 1 < n ? progress[i + 1] : 1) - progress[i] }
        var eta = [Double](repeating: 0, count: n)
        var tail = 0.0  // Σ_{p > t} w_p · share_p
        for t in stride(from: n - 1, through: 0, by: -1) {
            eta[t] = weights[t] * tail
            tail += weights[t] * shares[t]
        }
        let peak = eta.max() ?? 0
        return peak > 0 ? eta.map { $0 / peak } : eta
    }

    /// Median of each window of `width` (odd) values centred on each point; the start padded by
    /// repeating the first value, the end by reflecting the sequence about its last value.
    static func medianFilter(_ x: [Double], width: Int) -> [Double] {
        let n = x.count, half = max(0, width / 2)
        guard half > 0, n > 1 else { return x }
        let period = 2 * (n - 1)
        func value(_ i: Int) -> Double {
            if i < 0 { return x[0] }
            let m = i % period
            return x[m < n ? m : period - m]
        }
        var window = [Double](repeating: 0, count: 2 * half + 1)
        return (0..<n).map { i in
            for k in 0..<window.count { window[k] = value(i - half + k) }
            window.sort()
            return window[half]
        }
    }
}
