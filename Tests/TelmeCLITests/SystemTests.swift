import Foundation
import Testing

/// `telme system` through the real binary: the kernels each library runs on this CPU, and a
/// misdetected OpenBLAS (forced with OPENBLAS_CORETYPE=Prescott, which Debian's dynamic-arch
/// OpenBLAS obeys at load) noticed and avoided.
@Suite struct SystemTests {
    static func system(_ environment: [String: String]) throws -> [String: Any] {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("telme-system-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: out) }
        let shell = URL(fileURLWithPath: "/bin/sh")
        let result = try TelmeBinary.run(["-c", "\"$0\" system --json > \"$1\"", TelmeBinary.url.path, out.path],
                                         environment: environment, executable: shell)
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
    }

    @Test(.enabled(if: TelmeBinary.available)) func forcedPrescottIsNoticedAndAvoided() throws {
        let report = try Self.system(["OPENBLAS_CORETYPE": "Prescott"])
        let platform = try #require(report["platform"] as? [String: Any])
        let openblas = try #require(platform["openblas"] as? [String: Any])
        #expect(openblas["kernels"] as? String == "Prescott")
        let flags = platform["flags"] as? [String] ?? []
        if flags.contains("avx2") {
            #expect(platform["auto_backend"] as? String == "onednn")
            let warnings = report["warnings"] as? [String: String] ?? [:]
            #expect(warnings["openblas"]?.contains("Prescott") == true)
        }
    }

    /// A run on the misdetected library says so on stderr, naming the fix.
    @Test(.enabled(if: TelmeBinary.available)) func annotateWarnsOnAMisdetectedBackend() throws {
        let report = try Self.system([:])
        let flags = (report["platform"] as? [String: Any])?["flags"] as? [String] ?? []
        guard flags.contains("avx2") else { return }
        let result = try TelmeBinary.run(["annotate", "--model", "/nonexistent.telme", "--corpus", "/nonexistent.csv",
                                          "--out", "/nonexistent-out", "--backend", "openblas"],
                                         environment: ["OPENBLAS_CORETYPE": "Prescott"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("warning: OpenBLAS"))
        #expect(result.stderr.contains("OPENBLAS_CORETYPE="))
    }
}
