import Foundation
import Testing
import TelmeFuzz
import TelmeHDF5
import TelmeImport
import TelmeTestSupport

/// The export fuzz target is only as good as its decoded structure is faithful: on the importer
/// fixtures, `makePlan` must give the same model (or the same refusal, word for word) from the
/// real HDF5 file as from its declared form written by Tools/fixtures/fuzz_seeds.py.
@Suite struct DeclaredExportTests {
    static let pairs: [(h5: String, declared: String)] = {
        let folder = Bundle.module.url(forResource: "fuzz", withExtension: nil, subdirectory: "Fixtures")!
            .appendingPathComponent("export")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.sorted().compactMap { name in
            if name.hasPrefix("seed-") {
                return ("export/" + name.dropFirst(5).replacingOccurrences(of: ".txt", with: ".h5"), "export/" + name)
            }
            if name.hasPrefix("hostile-") {
                return ("hostile/" + name.dropFirst(8).replacingOccurrences(of: ".txt", with: ".h5"), "export/" + name)
            }
            return nil
        }
    }()

    static func plan(_ body: () throws -> ImportPlan) -> String {
        do {
            let plan = try body()
            return "plan: \(plan.model) \(plan.sources.sorted { $0.key < $1.key }) \(plan.dropped.sorted())"
        } catch {
            return "error: \(error)"
        }
    }

    @Test(arguments: pairs.map { "\($0.h5) \($0.declared)" })
    func sameVerdictAsTheRealFile(_ pair: String) throws {
        let parts = pair.split(separator: " ").map(String.init)
        let h5URL = try SharedFixtures.url(parts[0])
        let declaredURL = try #require(Bundle.module.url(forResource: "fuzz", withExtension: nil, subdirectory: "Fixtures"))
            .appendingPathComponent(parts[1])
        let options = ConversionOptions(converterVersion: "test")
        let real = Self.plan { try TelmeImporter.makePlan(try HDF5File(readingAt: h5URL), options: options) }
        let declared = Self.plan {
            try TelmeImporter.makePlan(try DeclaredExport(decoding: try Data(contentsOf: declaredURL), path: h5URL.path),
                                       options: options)
        }
        #expect(declared == real)
    }
}
