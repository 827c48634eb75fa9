internal import CHDF5
import TelmeFiles
import Foundation

/// Element types of the datasets the wrapper reads.
public enum HDF5ElementType: String, Sendable, CaseIterable, CustomStringConvertible {
    case float16, float32, float64, int32, int64, uint8

    public var isFloatingPoint: Bool {
        switch self {
        case .float16, .float32, .float64: true
        case .int32, .int64, .uint8: false
        }
    }

    /// Bytes per element in the file.
    public var byteSize: Int {
        switch self {
        case .float16: 2
        case .float32: 4
        case .float64: 8
        case .int32: 4
        case .int64: 8
        case .uint8: 1
        }
    }

    public var description: String { rawValue }
}

/// A dataset's shape and element type, read without reading its data.
public struct HDF5DatasetInfo: Equatable, Sendable {
    /// Full path of the dataset in the file (`/teacher/W.weight`).
    public var name: String
    /// Extent of every dimension; empty for a scalar.
    public var shape: [Int]
    public var elementType: HDF5ElementType
    /// Number of elements (product of `shape`, checked for overflow).
    public var count: Int

    public init(name: String, shape: [Int], elementType: HDF5ElementType, count: Int) {
        self.name = name
        self.shape = shape
        self.elementType = elementType
        self.count = count
    }
}

/// What a link inside a group leads to.
public enum HDF5MemberKind: String, Sendable {
    case group, dataset
    /// A named datatype, or an object libhdf5 cannot classify.
    case other
    /// A soft, external or user-defined link; the wrapper never follows these when listing.
    case link
}

/// An open HDF5 file, read-only or newly created.
///
/// Paths inside the file are HDF5 paths: `"input_ids"`, `"/teacher/W.weight"`. Every size read
/// from the file is checked before memory is allocated for it, and every failure is an
/// `HDF5Error` naming the file and the object.
public final class HDF5File {
    /// Largest number of elements a single dataset may have before it is refused as absurd
    /// (2^31: an 8 GiB float32 tensor, far above any TelME tensor).
    public static let defaultMaxElements = 1 << 31

    public let url: URL
    /// Whether the file was created by this object (and so can be written).
    public let isWritable: Bool
    /// Datasets with more elements than this are refused before any allocation.
    public var maxElements = HDF5File.defaultMaxElements
    /// String attributes longer than this many bytes are refused.
    public var maxAttributeBytes = 64 << 20

    let file: Handle
    var path: String { url.path }

    /// Opens an existing file read-only. Refuses a missing file, a file without the HDF5
    /// signature and a file libhdf5 cannot open (truncated, damaged), naming the path. File
    /// locks are used where the file system has them and skipped where it has none.
    /// The corresponding C functions are `H5Fis_hdf5` (`H5Fis_accessible` from 1.12 on),
    /// `H5Pset_file_locking` and `H5Fopen`.
    public init(readingAt url: URL) throws {
        HDF5Library.prepare()
        self.url = url
        self.isWritable = false
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw HDF5Error(.fileNotFound, file: path)
        }
        // Before libhdf5 opens it: a FIFO would block the open, a device never ends.
        if let problem = RegularFile.problem(path) {
            throw HDF5Error(.notRegularFile(problem), file: path)
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw HDF5Error(.cannotOpen("permission denied"), file: path)
        }
        guard CHDF5_is_hdf5(path) > 0 else {
            _ = HDF5Library.takeErrorDetail()
            throw HDF5Error(.notHDF5, file: path)
        }
        guard let accessList = Handle(CHDF5_read_access_list(), .propertyList) else {
            throw HDF5Error(.cannotOpen(HDF5Library.takeErrorDetail()), file: path)
        }
        guard let file = Handle(H5Fopen(path, CHDF5_F_ACC_RDONLY(), accessList.id), .file) else {
            throw HDF5Error(.cannotOpen(HDF5Library.takeErrorDetail()), file: path)
        }
        self.file = file
    }

    /// Creates a new file, replacing any file at that path. The corresponding C function is
    /// `H5Fcreate` (with `H5F_ACC_TRUNC`).
    public init(creatingAt url: URL) throws {
        HDF5Library.prepare()
        self.url = url
        self.isWritable = true
        guard let file = Handle(H5Fcreate(url.path, CHDF5_F_ACC_TRUNC(), CHDF5_P_DEFAULT(), CHDF5_P_DEFAULT()), .file) else {
            throw HDF5Error(.cannotCreate(HDF5Library.takeErrorDetail()), file: url.path)
        }
        self.file = file
    }

    /// Writes everything buffered to disk. The corresponding C function is `H5Fflush`.
    public func flush() throws {
        HDF5Library.prepare()
        guard H5Fflush(file.id, H5F_SCOPE_GLOBAL) >= 0 else {
            throw HDF5Error(.writeFailed(HDF5Library.takeErrorDetail()), file: path)
        }
    }

    // MARK: - Listing

    /// The datasets directly in the root group, sorted by name.
    public var datasetNames: [String] {
        get throws { try datasetNames(in: "/") }
    }

    /// The datasets directly in `group`, sorted by name.
    public func datasetNames(in group: String) throws -> [String] {
        try members(of: group).filter { $0.kind == .dataset }.map(\.name)
    }

    /// The groups directly in `group`, sorted by name.
    public func groupNames(in group: String = "/") throws -> [String] {
        try members(of: group).filter { $0.kind == .group }.map(\.name)
    }

    /// Every link directly in `group` with what it leads to, sorted by name. Soft and external
    /// links are reported as `.link` and not followed. The corresponding C functions are
    /// `H5Gopen2`, `H5Gget_info`, `H5Lget_name_by_idx`, `H5Lget_info`, `H5Oopen` and `H5Iget_type`.
    public func members(of group: String) throws -> [(name: String, kind: HDF5MemberKind)] {
        HDF5Library.prepare()
        let groupHandle = try openObject(group, expecting: .group)
        var info = H5G_info_t()
        guard H5Gget_info(groupHandle.id, &info) >= 0 else {
            throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: group)
        }
        var result: [(name: String, kind: HDF5MemberKind)] = []
        for index in 0..<info.nlinks {
            let length = H5Lget_name_by_idx(groupHandle.id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, CHDF5_P_DEFAULT())
            guard length >= 0, length < 1 << 20 else {
                throw HDF5Error(.readFailed("cannot read the name of link \(index): \(HDF5Library.takeErrorDetail())"),
                                file: path, object: group)
            }
            var bytes = [CChar](repeating: 0, count: Int(length) + 1)
            guard H5Lget_name_by_idx(groupHandle.id, ".", H5_INDEX_NAME, H5_ITER_INC, index, &bytes, bytes.count,
                                     CHDF5_P_DEFAULT()) >= 0 else {
                throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: group)
            }
            let name = String(decoding: bytes.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            result.append((name, try kindOfLink(name, in: groupHandle)))
        }
        return result
    }

    private func kindOfLink(_ name: String, in group: Handle) throws -> HDF5MemberKind {
        let hard = CHDF5_is_hard_link(group.id, name)
        guard hard >= 0 else {
            throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: name)
        }
        guard hard == 1 else { return .link }
        guard let object = Handle(H5Oopen(group.id, name, CHDF5_P_DEFAULT()), .object) else {
            _ = HDF5Library.takeErrorDetail()
            return .other
        }
        switch H5Iget_type(object.id) {
        case H5I_GROUP: return .group
        case H5I_DATASET: return .dataset
        default: return .other
        }
    }

    /// Whether a link of that name exists (each parent group must exist too).
    /// The corresponding C function is `H5Lexists`.
    public func exists(_ name: String) -> Bool {
        HDF5Library.prepare()
        if name == "/" { return true }
        // H5Lexists needs every parent to exist, so walk the path.
        var prefix = name.hasPrefix("/") ? "" : "."
        for component in name.split(separator: "/") {
            prefix += "/" + component
            guard H5Lexists(file.id, prefix, CHDF5_P_DEFAULT()) > 0 else {
                _ = HDF5Library.takeErrorDetail()
                return false
            }
        }
        return true
    }

    /// Opens a group or dataset by path. The corresponding C functions are `H5Oopen` and
    /// `H5Iget_type`.
    func openObject(_ name: String, expecting kind: HDF5MemberKind) throws -> Handle {
        guard exists(name), let object = Handle(H5Oopen(file.id, name, CHDF5_P_DEFAULT()), .object) else {
            _ = HDF5Library.takeErrorDetail()
            throw HDF5Error(.noSuchObject, file: path, object: name)
        }
        let found: HDF5MemberKind = switch H5Iget_type(object.id) {
        case H5I_GROUP: .group
        case H5I_DATASET: .dataset
        default: .other
        }
        guard found == kind else {
            throw HDF5Error(.wrongObjectKind(expected: kind.rawValue, found: found == .other ? "named datatype" : found.rawValue),
                            file: path, object: name)
        }
        return object
    }
}
