import TelmeHDF5

/// What the importer reads of an export before its weights: attributes, the group tree,
/// dataset shapes and element types, and the tokenizer's byte datasets. `HDF5File` is the real
/// one; the fuzz targets (`TelmeFuzz`) feed structures decoded from arbitrary bytes, so every
/// check of what a file declares is exercised without libhdf5 in the way.
public protocol ExportContents {
    /// The file's path, for messages.
    var path: String { get }
    /// A string attribute of `object` (`"/"`, `"/teacher"`), nil when absent.
    func stringAttribute(_ name: String, of object: String) throws -> String?
    /// A 64-bit integer attribute of `object`, nil when absent.
    func int64Attribute(_ name: String, of object: String) throws -> Int64?
    /// The links of a group, in name order.
    func members(of group: String) throws -> [(name: String, kind: HDF5MemberKind)]
    /// Whether a group or dataset of that path exists.
    func exists(_ name: String) -> Bool
    /// A dataset's shape and element type.
    func datasetInfo(_ name: String) throws -> HDF5DatasetInfo
    /// A byte dataset's contents.
    func readBytes(_ name: String) throws -> [UInt8]
}

extension HDF5File: ExportContents {
    public var path: String { url.path }
}
