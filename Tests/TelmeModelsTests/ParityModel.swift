import Foundation
import Testing
import TelmeFormat
import TelmeHDF5
import TelmeImport
import TelmeTensor
import TelmeTestSupport

/// A committed tiny model (`tiny-<dataset>/model.h5` of `SharedFixtures`, written by the real exporter)
/// converted through the real converter into a `.telme` and opened with `TelmeFile`: what every
/// parity test runs on. The file is deleted once mapped (the mapping keeps it readable).
final class ParityModel: Sendable {
    /// The fixture folder: model.h5 and the PyTorch cases (Tools/fixtures/models).
    let folder: URL
    let file: TelmeFile

    init(dataset: String) throws {
        folder = try SharedFixtures.url("tiny-\(dataset)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("telme-parity-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let telme = directory.appendingPathComponent("model.telme")
        _ = try TelmeImporter.convert(input: folder.appendingPathComponent("model.h5"), output: telme,
                                      options: ConversionOptions(converterVersion: "test"))
        file = try TelmeFile(contentsOf: telme)
    }

    /// The cases file `name` of this fixture folder and its case names (root attribute `cases`).
    func cases(_ name: String) throws -> (HDF5File, [String]) {
        let h5 = try HDF5File(readingAt: folder.appendingPathComponent(name))
        let names = try #require(try h5.stringAttribute("cases")).split(separator: ",").map(String.init)
        return (h5, names)
    }
}

extension HDF5File {
    /// A float dataset as a `Tensor`.
    func tensor(_ name: String) throws -> Tensor {
        let (shape, values) = try readFloats(name)
        return Tensor(shape: shape, data: values)
    }
}
