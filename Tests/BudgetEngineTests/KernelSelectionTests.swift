import Testing
@testable import BudgetEngine

@Suite struct KernelSelectionTests {
    @Test func preferredCoreFollowsInstructionSets() {
        #expect(KernelSelection.preferredCore(cpuFlags: ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"]) == "SkylakeX")
        #expect(KernelSelection.preferredCore(cpuFlags: ["avx", "avx2", "fma"]) == "Haswell")
        #expect(KernelSelection.preferredCore(cpuFlags: ["sse2", "avx"]) == nil)
        #expect(KernelSelection.requiresAVX512("SKYLAKEX"))
        #expect(!KernelSelection.requiresAVX512("Haswell"))
    }

    @Test func kernelInUseAgreesWithReference() {
        // Whatever kernel this machine runs, the start-up check must pass on it.
        #expect(KernelSelection.sgemmAgreesWithReference())
    }
}
