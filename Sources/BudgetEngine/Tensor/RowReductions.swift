/// Reductions over a contiguous row of floats with eight independent accumulators (one SIMD
/// register): a single running sum is one long dependency chain the compiler may not reorder
/// (float addition is not associative), so it cannot vectorise. The lane order is fixed, so
/// the result does not depend on the thread that computes it.

/// Σ values[i].
@inline(__always)
func rowSum(_ values: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD8<Float>()
    var i = 0
    while i + 8 <= count {
        lanes += UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var sum = lanes.sum()
    while i < count {
        sum += values[i]
        i += 1
    }
    return sum
}

/// Σ (values[i] − center)².
@inline(__always)
func rowSquaredDeviations(_ values: UnsafePointer<Float>, count: Int, center: Float) -> Float {
    var lanes = SIMD8<Float>()
    let c = SIMD8<Float>(repeating: center)
    var i = 0
    while i + 8 <= count {
        let d = UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self) - c
        lanes += d * d
        i += 8
    }
    var sum = lanes.sum()
    while i < count {
        let d = values[i] - center
        sum += d * d
        i += 1
    }
    return sum
}

/// Σ a[i] · b[i].
@inline(__always)
func rowDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD8<Float>()
    var i = 0
    while i + 8 <= count {
        lanes += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var sum = lanes.sum()
    while i < count {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}

/// `(Σ g[i], Σ g[i] · (x[i] − center))` in one pass.
@inline(__always)
func rowSumAndCenteredDot(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int, center: Float) -> (sum: Float, dot: Float) {
    var sums = SIMD8<Float>(), dots = SIMD8<Float>()
    let c = SIMD8<Float>(repeating: center)
    var i = 0
    while i + 8 <= count {
        let gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
        sums += gv
        dots += gv * (UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) - c)
        i += 8
    }
    var sum = sums.sum(), dot = dots.sum()
    while i < count {
        sum += g[i]
        dot += g[i] * (x[i] - center)
        i += 1
    }
    return (sum, dot)
}
