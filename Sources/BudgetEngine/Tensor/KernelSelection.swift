import CBLAS
import Foundation

/// Makes OpenBLAS use the fast kernels of this processor.
///
/// Debian's OpenBLAS (0.3.21, built with DYNAMIC_ARCH) does not recognise some recent
/// processors and silently falls back to its generic "Prescott" kernels, 5-7x slower. The
/// library reads `OPENBLAS_CORETYPE` only in its load-time constructor, so setting it from
/// `main` is too late: the process must start again with the variable in its environment.
///
/// `relaunchIfBeneficial` does that once (a marker variable prevents loops), and
/// `verifyOrFallBack` checks the chosen kernel against a reference product at start-up,
/// relaunching on the library's own choice if they disagree. A user's own
/// `OPENBLAS_CORETYPE` is always respected.
public enum KernelSelection {
    /// Set in the environment of a relaunched process; its value says why.
    static let markerVariable = "BUDGETRAIN_KERNEL_SELECTION"

    /// Kernel names OpenBLAS uses for its generic, slow fallbacks.
    static let genericCores: Set<String> = ["Prescott", "Core2", "Katmai", "Coppermine", "Northwood", "Banias", "Atom", "Nano", "Opteron", "Barcelona", "Unknown", "generic"]

    /// The kernel to ask for on this processor, judged from the CPU flags, or nil when the
    /// processor has neither AVX-512 nor AVX2 (nothing better to pick).
    public static func preferredCore(cpuFlags: Set<String>) -> String? {
        if cpuFlags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) { return "SkylakeX" }
        if cpuFlags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// Whether an OpenBLAS kernel name (any case) needs AVX-512 instructions.
    static func requiresAVX512(_ core: String) -> Bool {
        ["skylakex", "cooperlake", "sapphirerapids"].contains(core.lowercased())
    }

    /// The CPU feature flags of this machine (from /proc/cpuinfo; empty where unavailable).
    public static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }

    /// Re-executes this program with `OPENBLAS_CORETYPE` set when OpenBLAS picked a generic
    /// kernel on a processor that has a better one. Returns (without relaunching) when the
    /// user set the variable, when this process was already relaunched, when the kernel is
    /// fine, or when `exec` fails.
    public static func relaunchIfBeneficial() {
        let env = ProcessInfo.processInfo.environment
        guard env[markerVariable] == nil else { return }
        if let requested = env["OPENBLAS_CORETYPE"] {
            // A user's choice stands, unless this processor cannot execute it at all: an
            // AVX-512 kernel on a processor without AVX-512 dies of SIGILL at the first sgemm.
            if requiresAVX512(requested), !cpuFlags().contains("avx512f") {
                fputs("budgetrain: warning: OPENBLAS_CORETYPE=\(requested) needs AVX-512, which this processor lacks; ignoring it\n", stderr)
                unsetenv("OPENBLAS_CORETYPE")
                setenv(markerVariable, "unsupported", 1)
                relaunch()
            }
            return
        }
        guard genericCores.contains(BLASLibrary.coreName),
              let core = preferredCore(cpuFlags: cpuFlags()) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv(markerVariable, "selected", 1)
        relaunch()
    }

    /// Checks one sgemm against a double-precision reference. When the kernel this process
    /// selected disagrees, relaunches without the selection (warning on stderr); returns
    /// whether the kernel in use passed.
    @discardableResult
    public static func verifyOrFallBack() -> Bool {
        if sgemmAgreesWithReference() { return true }
        let env = ProcessInfo.processInfo.environment
        if env[markerVariable] == "selected" {
            fputs("budgetrain: warning: OpenBLAS kernel \(BLASLibrary.coreName) failed the start-up check; falling back to the library's own choice\n", stderr)
            unsetenv("OPENBLAS_CORETYPE")
            setenv(markerVariable, "fallback", 1)
            relaunch()
        }
        fputs("budgetrain: warning: OpenBLAS kernel \(BLASLibrary.coreName) failed the start-up sgemm check; results may be wrong\n", stderr)
        return false
    }

    /// A 64x48x40 single-precision product against the same product in Double.
    static func sgemmAgreesWithReference() -> Bool {
        let m = 64, n = 48, k = 40
        var rng = RandomGenerator(seed: 42)
        let a = (0..<(m * k)).map { _ in rng.uniform(-1, 1) }
        let b = (0..<(k * n)).map { _ in rng.uniform(-1, 1) }
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BLAS.gemm(transA: false, transB: false, m: m, n: n, k: k,
                              a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
                              beta: 0, c: pc.baseAddress!, ldc: n)
                }
            }
        }
        for i in 0..<m {
            for j in 0..<n {
                var ref = 0.0
                for p in 0..<k { ref += Double(a[i * k + p]) * Double(b[p * n + j]) }
                if abs(Double(c[i * n + j]) - ref) > 1e-4 * max(1, abs(ref)) { return false }
            }
        }
        return true
    }

    private static func relaunch() {
        let args = CommandLine.arguments
        var cArgs = args.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &cArgs)
        // exec failed (no /proc?): carry on with the current kernel.
        for p in cArgs { free(p) }
    }
}
