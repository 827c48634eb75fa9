import Testing
@testable import TelmeTensor

/// The backend `auto` picks, and the warning owed, for the CPUs telme has been seen on and for
/// a misdetected OpenBLAS.
@Suite struct PlatformTests {
    static let avx512: Set<String> = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                                      "avx512_bf16"]
    static let avx2: Set<String> = ["sse4_2", "avx", "avx2", "fma"]

    @Test func avx512CPUPicksOneDNN() {
        let p = Platform(cpu: "Xeon", flags: Self.avx512, openblasCore: "Cooperlake",
                         openblasConfig: "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64",
                         onednnVersion: "2.6.3", onednnISA: "avx512_core_bf16")
        #expect(p.level == .avx512)
        #expect(p.openblas.version == "0.3.21")
        #expect(p.autoBackend == .onednn)
        #expect(p.warning(for: .openblas) == nil)
        #expect(p.warning(for: .onednn) == nil)
    }

    @Test func avx2CPUWithAKnownCoreKeepsOpenBLAS() {
        let p = Platform(cpu: "EPYC", flags: Self.avx2, openblasCore: "Zen", openblasConfig: "OpenBLAS 0.3.21 Zen",
                         onednnVersion: "2.6.3", onednnISA: "avx2")
        #expect(p.level == .avx2)
        #expect(p.autoBackend == .openblas)
        #expect(p.warning(for: .openblas) == nil)
    }

    /// OpenBLAS 0.3.21 on a CPU it does not know falls back to Prescott (SSE3): noticed, named,
    /// and avoided by auto.
    @Test(arguments: [Self.avx2, Self.avx512]) func misdetectedOpenBLASIsNoticed(flags: Set<String>) throws {
        let p = Platform(cpu: "New CPU", flags: flags, openblasCore: "Prescott",
                         openblasConfig: "OpenBLAS 0.3.21 Prescott", onednnVersion: "2.6.3",
                         onednnISA: flags.contains("avx512f") ? "avx512_core" : "avx2")
        #expect(p.autoBackend == .onednn)
        let warning = try #require(p.warning(for: .openblas))
        #expect(warning.contains("Prescott"))
        #expect(warning.contains("--backend onednn"))
        #expect(warning.contains("OPENBLAS_CORETYPE=" + (flags.contains("avx512f") ? "Cooperlake" : "Haswell")))
    }

    @Test func thisMachineIsDescribed() {
        let p = Platform.current
        #expect(!p.openblas.kernels.isEmpty)
        #expect(p.onednn.version.split(separator: ".").count == 3)
        #expect(p.autoBackend == p.resolve(.auto))
    }

    @Test func int8NeedsOneDNN() {
        #expect(throws: ComputeError.int8NeedsOneDNN) { try Compute.with(backend: .openblas, precision: .int8) {} }
    }
}
