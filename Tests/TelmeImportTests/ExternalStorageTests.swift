import Foundation
import Testing
import TelmeFormat
@testable import TelmeImport
import TelmeTestSupport

/// Issue 13: what `convert` reads and what it replaces. Real files: HDF5 exports whose weights
/// are stored outside the file (written by h5py, Tools/fixtures/external_storage.py),
/// FIFOs made with mkfifo, symbolic links.
@Suite struct ExternalStorageTests {
    /// Runs `body` on another thread and fails the test if it has not returned within
    /// `seconds` (a FIFO that blocks would otherwise hang the whole suite).
    static func withinSeconds(_ seconds: Double, _ body: @escaping @Sendable () -> String?) -> String? {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: String?
        Thread.detachNewThread {
            result = body()
            done.signal()
        }
        guard done.wait(timeout: .now() + seconds) == .success else {
            Issue.record("still running after \(seconds) s: blocked")
            return nil
        }
        return result
    }

    static func convert(_ input: URL, _ output: URL, overwrite: Bool = false) -> String? {
        errorMessage {
            _ = try TelmeImporter.convert(input: input, output: output,
                                          options: ConversionOptions(converterVersion: "test", overwrite: overwrite))
        }
    }

    /// h5py's `external=[(path, offset, size)]`, absolute or relative, and a virtual dataset:
    /// refused before any weight is read, naming the dataset; nothing is written.
    @Test(arguments: [("external-absolute", "stored in 1 external file"), ("external-relative", "stored in 1 external file"),
                      ("virtual", "virtual dataset")])
    func weightsOutsideTheFileAreRefused(fixture: String, reason: String) throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = try SharedFixtures.url("hostile/\(fixture).h5")
        let output = directory.appendingPathComponent("out.telme")
        let message = try #require(Self.convert(input, output))
        #expect(message.hasPrefix("\(input.path): /teacher/W.weight: refused: its data are ") || message.contains("virtual"),
                "\(message)")
        #expect(message.contains(reason), "\(message)")
        #expect(message.contains("Scripts/export_hdf5.py"))
        #expect(!FileManager.default.fileExists(atPath: output.path))
    }

    /// External storage in a FIFO (next to the export and in the working folder, where a
    /// relative path may be looked up): refused at once, never opened.
    @Test func externalStorageInAFIFODoesNotBlock() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("external-fifo.h5")
        try FileManager.default.copyItem(at: try SharedFixtures.url("hostile/external-fifo.h5"), to: input)
        #expect(mkfifo(directory.appendingPathComponent("external.fifo").path, 0o644) == 0)
        let output = directory.appendingPathComponent("out.telme")
        let message = Self.withinSeconds(60) { Self.convert(input, output) }
        #expect(message?.contains("refused: its data are stored in 1 external file") == true, "\(message ?? "")")
    }

    /// The export itself a FIFO or a device: refused without blocking (or reading forever).
    @Test func exportThatIsNotARegularFile() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("export.h5")
        #expect(mkfifo(fifo.path, 0o644) == 0)
        let output = directory.appendingPathComponent("out.telme")
        let fromFIFO = Self.withinSeconds(60) { Self.convert(fifo, output) }
        #expect(fromFIFO == "\(fifo.path): is a FIFO (named pipe), not a regular file; give the path of an HDF5 export "
                + "(Scripts/export_hdf5.py writes one)")
        let fromDevice = Self.withinSeconds(60) { Self.convert(URL(fileURLWithPath: "/dev/zero"), output) }
        #expect(fromDevice?.hasPrefix("/dev/zero: is a character device, not a regular file") == true, "\(fromDevice ?? "")")
        #expect(!FileManager.default.fileExists(atPath: output.path))
    }

    /// The output: a .telme is replaced; a FIFO, a link or a device never (it would be replaced
    /// by the renamed file); another regular file only with --overwrite.
    @Test func outputsTelmeDoesNotOwn() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = try SharedFixtures.url("export/meld-teacher.h5")

        let fifo = directory.appendingPathComponent("fifo.telme")
        #expect(mkfifo(fifo.path, 0o644) == 0)
        let toFIFO = Self.withinSeconds(60) { Self.convert(input, fifo, overwrite: true) }
        #expect(toFIFO == "\(fifo.path): is a FIFO (named pipe), not a regular file; telme replaces only .telme files: "
                + "choose another --output")
        var info = stat()
        #expect(lstat(fifo.path, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)

        let precious = directory.appendingPathComponent("notes.txt")
        try Data("mine".utf8).write(to: precious)
        let link = directory.appendingPathComponent("link.telme")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: precious)
        #expect(Self.convert(input, link, overwrite: true)?.hasSuffix("is a symbolic link; telme replaces only .telme files: "
                                                                      + "choose another --output") == true)

        #expect(Self.convert(input, precious) == "\(precious.path): exists and is not a .telme model; telme replaces only "
                + ".telme files: choose another --output, or --overwrite to replace it")
        #expect(try Data(contentsOf: precious) == Data("mine".utf8))

        let model = directory.appendingPathComponent("m.telme")
        #expect(Self.convert(input, model) == nil)
        #expect(Self.convert(input, model) == nil)  // its own kind of file: replaced
        #expect(Self.convert(input, precious, overwrite: true) == nil)
        #expect(TelmeFile.hasMagic(precious.path))
    }
}
