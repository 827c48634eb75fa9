import Foundation
import Testing
@testable import TelmeHDF5
import TelmeTestSupport

/// TelmeHDF5 against `hdf5/types.h5`, written by h5py with known values.
@Suite struct HDF5FileTests {
    let file: HDF5File
    let path: String

    init() throws {
        let url = try Fixture.url("hdf5/types.h5")
        file = try HDF5File(readingAt: url)
        path = url.path
    }

    @Test func listsDatasetsGroupsAndLinks() throws {
        #expect(try file.datasetNames == ["bools", "cube", "empty", "f16", "f32", "f32be", "f64", "i16", "i32", "i64",
                                          "scalar", "strings", "u8", "unwritten"])
        #expect(try file.groupNames() == ["group"])
        #expect(try file.datasetNames(in: "/group") == ["nested"])
        let soft = try file.members(of: "/").first { $0.name == "soft" }
        #expect(soft?.kind == .link)
        #expect(file.exists("/group/nested"))
        #expect(!file.exists("/group/absent"))
        #expect(!file.exists("/absent/deeper"))
    }

    @Test func readsFloat32WithShape() throws {
        let (shape, values) = try file.readFloats("f32")
        #expect(shape == [2, 3])
        #expect(values == [1.5, -2.25, 3.0, 0.0, 1e-8, -7.0])
        let info = try file.datasetInfo("f32")
        #expect(info == HDF5DatasetInfo(name: "f32", shape: [2, 3], elementType: .float32, count: 6))
    }

    @Test func widensFloat16Exactly() throws {
        let (shape, values) = try file.readFloats("f16")
        #expect(shape == [8])
        #expect(try file.datasetInfo("f16").elementType == .float16)
        #expect(Array(values[0..<4]) == [1.0, -0.5, 65504.0, 0x1p-24])  // 6e-8 is the subnormal 2^-24
        #expect(values[4] == .infinity && values[5] == -.infinity && values[6].isNaN && values[7] == 0)
    }

    @Test func halfBitsConversionCoversEveryClass() {
        #expect(HDF5File.floatFromHalfBits(0x3C00) == 1)
        #expect(HDF5File.floatFromHalfBits(0xC000) == -2)
        #expect(HDF5File.floatFromHalfBits(0x0001) == 0x1p-24)
        #expect(HDF5File.floatFromHalfBits(0x03FF) == 0x1.ff8p-15)
        #expect(HDF5File.floatFromHalfBits(0x0400) == 0x1p-14)
        #expect(HDF5File.floatFromHalfBits(0x7BFF) == 65504)
        #expect(HDF5File.floatFromHalfBits(0x8000).sign == .minus)
        #expect(HDF5File.floatFromHalfBits(0xFC00) == -.infinity)
        #expect(HDF5File.floatFromHalfBits(0x7E00).isNaN)
    }

    @Test func roundsFloat64AndOverflowsToInfinity() throws {
        let (_, values) = try file.readFloats("f64")
        #expect(values == [Float(0.1), .infinity, -2.0])
    }

    @Test func readsBigEndianFloats() throws {
        #expect(try file.readFloats("f32be").values == [1.25, -3.5])
    }

    @Test func readsScalarsEmptyAndNestedDatasets() throws {
        let scalar = try file.readFloats("scalar")
        #expect(scalar.shape == [] && scalar.values == [4.5])
        let empty = try file.readFloats("empty")
        #expect(empty.shape == [0, 3] && empty.values.isEmpty)
        let cube = try file.readFloats("cube")
        #expect(cube.shape == [2, 3, 4] && cube.values == (0..<24).map(Float.init))
        #expect(try file.readFloats("/group/nested").values == [9])
    }

    @Test func readsIntegersAsInt64() throws {
        let i64 = try file.readInt64s("i64")
        #expect(i64.shape == [2, 2] && i64.values == [-(1 << 40), 1, 2, 3])
        #expect(try file.readInt64s("i32").values == [-5, 7, Int64(Int32.max)])
        #expect(try file.readInt64s("u8").values == [104, 101, 108, 108, 111])
        #expect(try file.readBytes("u8") == Array("hello".utf8))
    }

    @Test func refusesTypesNamingTheDataset() throws {
        #expect(errorMessage { _ = try file.readFloats("i64") }
            == "\(path): i64: has element type int64, expected float16, float32 or float64")
        #expect(errorMessage { _ = try file.readInt64s("f32") }
            == "\(path): f32: has element type float32, expected int64, int32 or uint8")
        #expect(errorMessage { _ = try file.readFloats("i16") } == "\(path): i16: has unsupported element type int16")
        #expect(errorMessage { _ = try file.readFloats("strings") } == "\(path): strings: has unsupported element type string")
        #expect(errorMessage { _ = try file.readFloats("bools") } == "\(path): bools: has unsupported element type enum (bool?)")
        #expect(errorMessage { _ = try file.readBytes("i32") } == "\(path): i32: has element type int32, expected uint8")
    }

    @Test func refusesMissingObjectsAndGroups() throws {
        #expect(errorMessage { _ = try file.readFloats("absent") } == "\(path): absent: does not exist")
        #expect(errorMessage { _ = try file.readFloats("absent/deeper") } == "\(path): absent/deeper: does not exist")
        #expect(errorMessage { _ = try file.readFloats("group") } == "\(path): group: is a group, expected a dataset")
        #expect(errorMessage { _ = try file.datasetNames(in: "f32") } == "\(path): f32: is a dataset, expected a group")
    }

    @Test func refusesDataThatWasNeverWritten() throws {
        #expect(errorMessage { _ = try file.readFloats("unwritten") }
            == "\(path): unwritten: cannot be read: no data was ever written to it")
    }

    @Test func refusesAbsurdSizesBeforeAllocating() throws {
        file.maxElements = 5
        #expect(errorMessage { _ = try file.readFloats("f32") }
            == "\(path): f32: is too large: shape [2, 3] has 6 elements, more than the 5 allowed")
    }

    @Test func readsStringAttributesOfBothKinds() throws {
        #expect(try file.stringAttribute("vlen") == "variable length ünïcode")
        #expect(try file.stringAttribute("fixed") == "fixed ascii")
        #expect(try file.stringAttribute("unit", of: "/f32") == "meters")
        #expect(try file.stringAttribute("absent") == nil)
        #expect(try file.int64Attribute("number") == 42)
        #expect(try file.attributeNames() == ["array", "fixed", "float", "latin1", "number", "vlen"])
    }

    @Test func refusesAttributesOfTheWrongKind() throws {
        #expect(errorMessage { _ = try file.stringAttribute("number") } == "\(path): /@number: is not a string")
        #expect(errorMessage { _ = try file.int64Attribute("float") } == "\(path): /@float: is not an integer")
        #expect(errorMessage { _ = try file.stringAttribute("latin1") } == "\(path): /@latin1: is not valid UTF-8 text")
        #expect(errorMessage { _ = try file.int64Attribute("array") }
            == "\(path): /@array: holds an array of shape [3], expected a single value")
        #expect(errorMessage { _ = try file.stringAttribute("x", of: "/absent") } == "\(path): /absent: does not exist")
    }
}

/// Opening files that are not (whole) HDF5 files, and writing.
@Suite struct HDF5OpenAndWriteTests {
    @Test func refusesMissingNonHDF5AndTruncatedFiles() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("absent.h5")
        #expect(errorMessage { _ = try HDF5File(readingAt: missing) } == "\(missing.path): no such file")
        #expect(errorMessage { _ = try HDF5File(readingAt: directory) }
                == "\(directory.path): is a directory, not a regular file; give the path of an HDF5 export "
                   + "(Scripts/export_hdf5.py writes one)")

        let text = try SharedFixtures.url("hostile/not-hdf5.h5")
        #expect(errorMessage { _ = try HDF5File(readingAt: text) } == "\(text.path): not an HDF5 file")

        let empty = directory.appendingPathComponent("empty.h5")
        _ = FileManager.default.createFile(atPath: empty.path, contents: Data())
        #expect(errorMessage { _ = try HDF5File(readingAt: empty) } == "\(empty.path): not an HDF5 file")

        let truncated = try SharedFixtures.url("hostile/truncated.h5")
        let message = try #require(errorMessage { _ = try HDF5File(readingAt: truncated) })
        #expect(message.hasPrefix("\(truncated.path): cannot open the HDF5 file (damaged or truncated?): "))
        #expect(message.contains("truncated"))
        #expect(!message.contains("\n"))
    }

    @Test func writesWhatItReadsBack() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("out.h5")
        do {
            let file = try HDF5File(creatingAt: url)
            try file.write("text_logits", shape: [2, 3], floats: [1, -2, 3.5, .infinity, 0, -0.25])
            try file.write("input_ids", shape: [2, 2], int64s: [0, 1, -(1 << 50), 4])
            try file.write("scalar", shape: [], floats: [7])
            try file.write("empty", shape: [0, 4], floats: [])
            try file.write("deep/er/values", shape: [1], floats: [3])
            try file.createGroup("meta")
            try file.setAttribute("note", string: "ünïcode text")
            try file.setAttribute("count", int64: -12, on: "/meta")
            try file.flush()
            #expect(errorMessage { try file.write("bad", shape: [2, 2], floats: [1, 2, 3]) }
                == "\(url.path): bad: cannot be written: shape [2, 2] needs 4 values, got 3")
            #expect(errorMessage { try file.write("scalar", shape: [], floats: [1]) }?
                .hasPrefix("\(url.path): scalar: cannot be written: ") == true)
        }
        let file = try HDF5File(readingAt: url)
        let logits = try file.readFloats("text_logits")
        #expect(logits.shape == [2, 3] && logits.values == [1, -2, 3.5, .infinity, 0, -0.25])
        #expect(try file.datasetInfo("text_logits").elementType == .float32)
        let ids = try file.readInt64s("input_ids")
        #expect(ids.shape == [2, 2] && ids.values == [0, 1, -(1 << 50), 4])
        #expect(try file.readFloats("scalar").shape == [])
        #expect(try file.readFloats("empty").shape == [0, 4])
        #expect(try file.readFloats("deep/er/values").values == [3])
        #expect(try file.stringAttribute("note") == "ünïcode text")
        #expect(try file.int64Attribute("count", of: "/meta") == -12)
        #expect(try file.datasetNames == ["empty", "input_ids", "scalar", "text_logits"])
        #expect(errorMessage { try file.write("x", shape: [1], floats: [1]) }
            == "\(url.path): x: cannot be written: the file is open read-only")
    }

    @Test func refusesToCreateInAMissingFolder() throws {
        let url = URL(fileURLWithPath: "/nonexistent-telme-folder/out.h5")
        let message = try #require(errorMessage { _ = try HDF5File(creatingAt: url) })
        #expect(message.hasPrefix("\(url.path): cannot create the HDF5 file: "))
    }
}
