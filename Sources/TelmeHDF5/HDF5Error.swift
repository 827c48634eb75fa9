import TelmeFiles

/// A failure of the HDF5 wrapper: what went wrong, in which file, at which object.
///
/// Its description is one line, `<file>: <object>: <reason>`, so a command can print it as is.
public struct HDF5Error: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong.
    public enum Kind: Equatable, Sendable {
        /// The path does not name a regular file.
        case fileNotFound
        /// The path names something other than a regular file (a FIFO, a device, a directory).
        case notRegularFile(String)
        /// The file exists but does not start with an HDF5 signature.
        case notHDF5
        /// libhdf5 refused to open it (truncated, damaged); the detail is libhdf5's own reason.
        case cannotOpen(String)
        /// libhdf5 refused to create the file.
        case cannotCreate(String)
        /// No group, dataset or attribute of that name.
        case noSuchObject
        /// The name exists but is not what was asked for (for example a group, not a dataset).
        case wrongObjectKind(expected: String, found: String)
        /// The dataset's element type is not one the wrapper reads.
        case unsupportedElementType(String)
        /// The element type is readable, but not as what was asked (strings where floats are needed).
        case wrongElementType(expected: String, found: String)
        /// The dataspace is not usable (null, too many dimensions, negative or huge extents).
        case badShape(String)
        /// The data would need more memory than the wrapper allows.
        case tooLarge(String)
        /// The attribute exists but is not a single value of the wanted kind.
        case badAttribute(String)
        /// The dataset's data are not in the file (external raw storage, a virtual dataset).
        case externalStorage(String)
        /// Reading failed inside libhdf5 (damaged data, missing filter).
        case readFailed(String)
        /// Writing failed (read-only file, existing name, shape and value count differ).
        case writeFailed(String)
    }

    public var kind: Kind
    /// The file's path as given.
    public var file: String
    /// The dataset, group or attribute concerned, if any (`/teacher/W.weight`, `/teacher@config`).
    public var object: String?

    public init(_ kind: Kind, file: String, object: String? = nil) {
        self.kind = kind
        self.file = file
        self.object = object
    }

    public var reason: String {
        switch kind {
        case .fileNotFound: "no such file"
        case .notRegularFile(let detail): "\(detail); give the path of an HDF5 export (Scripts/export_hdf5.py writes one)"
        case .notHDF5: "not an HDF5 file"
        case .cannotOpen(let detail): "cannot open the HDF5 file (damaged or truncated?): \(detail)"
        case .cannotCreate(let detail): "cannot create the HDF5 file: \(detail)"
        case .noSuchObject: "does not exist"
        case .wrongObjectKind(let expected, let found): "is a \(found), expected a \(expected)"
        case .unsupportedElementType(let type): "has unsupported element type \(type)"
        case .wrongElementType(let expected, let found): "has element type \(found), expected \(expected)"
        case .badShape(let detail): "has an unusable shape: \(detail)"
        case .tooLarge(let detail): "is too large: \(detail)"
        case .badAttribute(let detail): detail
        case .externalStorage(let detail): "refused: \(detail); telme reads only data stored inside the export "
            + "(write it again with Scripts/export_hdf5.py)"
        case .readFailed(let detail): "cannot be read: \(detail)"
        case .writeFailed(let detail): "cannot be written: \(detail)"
        }
    }

    public var description: String {
        let text = if let object { "\(file): \(object): \(reason)" } else { "\(file): \(reason)" }
        return text.oneLine
    }
}
