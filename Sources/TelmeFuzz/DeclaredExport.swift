import Foundation
import TelmeHDF5
import TelmeImport

/// An HDF5 export's declared structure, decoded from text: what `TelmeImporter.makePlan`
/// reads of a real file (`HDF5File`), with the same guarantees the wrapper gives (shapes of at
/// most 32 dimensions of at most `Int32.max`, element counts within `HDF5File.defaultMaxElements`,
/// attributes as UTF-8 text or Int64). One declaration per line:
///
///     group /teacher
///     attr / format s telme-hdf5-export
///     attr / format_version i 1
///     dataset /teacher/W.weight float32 64 32
///     blob /tokenizer/vocab.json 1234
///     <exactly 1234 bytes, then a newline>
///
/// Datasets' groups exist implicitly; a `blob` is a one-dimensional uint8 dataset with content.
/// Undecodable lines are skipped, so every input is some structure.
/// `Tools/fixtures/fuzz_seeds.py` writes a real export in this form.
public struct DeclaredExport: ExportContents {
    public let path: String
    private var groups: Set<String> = ["/"]
    private var datasets: [String: HDF5DatasetInfo] = [:]
    private var blobs: [String: [UInt8]] = [:]
    private var attributes: [String: [String: Attribute]] = [:]
    /// Datasets of an element type the wrapper does not read: name -> type.
    private var unsupported: [String: String] = [:]

    private enum Attribute {
        case string(String)
        case int(Int64)
        /// Not UTF-8: the wrapper refuses it on reading.
        case invalidText
    }

    public init(decoding data: Data, path: String) throws {
        self.path = path
        let bytes = [UInt8](data)
        var position = 0
        while position < bytes.count {
            let end = bytes[position...].firstIndex(of: 0x0A) ?? bytes.count
            let line = bytes[position..<end]
            position = end + 1
            let words = line.split(separator: 0x20, maxSplits: 4, omittingEmptySubsequences: true)
            guard let keyword = words.first.map({ String(decoding: $0, as: UTF8.self) }) else { continue }
            func word(_ index: Int) -> String? {
                index < words.count ? String(decoding: words[index], as: UTF8.self) : nil
            }
            switch keyword {
            case "group":
                guard let name = word(1), name.hasPrefix("/") else { continue }
                addGroups(of: name + "/x")
            case "attr":
                guard words.count >= 4, let object = word(1), let name = word(2), let kind = word(3) else { continue }
                let raw = words.count > 4 ? Array(words[4]) : []
                let value: Attribute
                switch kind {
                case "s": value = String(validating: raw, as: UTF8.self).map(Attribute.string) ?? .invalidText
                case "i":
                    guard let number = Int64(String(decoding: raw, as: UTF8.self)) else { continue }
                    value = .int(number)
                default: continue
                }
                attributes[object, default: [:]][name] = value
            case "dataset":
                guard let name = word(1), name.hasPrefix("/"), let type = word(2) else { continue }
                let rest = words.count > 3 ? String(decoding: Array(words[3...].joined(separator: [0x20])), as: UTF8.self) : ""
                let dims = rest.split(separator: " ").compactMap { Int($0) }
                try addDataset(name, type: type, shape: dims)
            case "blob":
                guard let name = word(1), name.hasPrefix("/"), let count = word(2).flatMap({ Int($0) }), count >= 0 else {
                    continue
                }
                let content = Array(bytes[min(position, bytes.count)..<min(position + min(count, bytes.count), bytes.count)])
                position += content.count + 1
                addGroups(of: name)
                blobs[name] = content
                datasets[name] = HDF5DatasetInfo(name: name, shape: [content.count], elementType: .uint8, count: content.count)
            default:
                continue
            }
        }
    }

    private mutating func addGroups(of name: String) {
        var parent = ""
        for component in name.split(separator: "/").dropLast() {
            parent += "/" + component
            groups.insert(parent)
        }
    }

    private mutating func addDataset(_ name: String, type: String, shape: [Int]) throws {
        guard shape.count <= 32, shape.allSatisfy({ (0...Int(Int32.max)).contains($0) }) else { return }
        var count = 1
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= HDF5File.defaultMaxElements else { return }
            count = product
        }
        addGroups(of: name)
        guard let elementType = HDF5ElementType(rawValue: type) else {
            // As the wrapper refuses a type it does not read, when the dataset is looked at.
            unsupported[name] = type
            return
        }
        datasets[name] = HDF5DatasetInfo(name: name, shape: shape, elementType: elementType, count: count)
    }

    private func error(_ kind: HDF5Error.Kind, _ object: String) -> HDF5Error {
        HDF5Error(kind, file: path, object: object)
    }

    public func stringAttribute(_ name: String, of object: String) throws -> String? {
        guard exists(object) else { throw error(.noSuchObject, object) }
        switch attributes[object]?[name] {
        case nil: return nil
        case .string(let text): return text
        case .int: throw error(.badAttribute("is not a string"), "\(object)@\(name)")
        case .invalidText: throw error(.badAttribute("is not valid UTF-8 text"), "\(object)@\(name)")
        }
    }

    public func int64Attribute(_ name: String, of object: String) throws -> Int64? {
        guard exists(object) else { throw error(.noSuchObject, object) }
        switch attributes[object]?[name] {
        case nil: return nil
        case .int(let value): return value
        case .string, .invalidText: throw error(.badAttribute("is not an integer"), "\(object)@\(name)")
        }
    }

    public func members(of group: String) throws -> [(name: String, kind: HDF5MemberKind)] {
        guard groups.contains(group) else {
            throw error(exists(group) ? .wrongObjectKind(expected: "group", found: "dataset") : .noSuchObject, group)
        }
        let prefix = group == "/" ? "/" : group + "/"
        func children(_ names: some Sequence<String>, _ kind: HDF5MemberKind) -> [(name: String, kind: HDF5MemberKind)] {
            names.filter { $0.hasPrefix(prefix) && $0 != "/" }
                .map { String($0.dropFirst(prefix.count)) }
                .filter { !$0.isEmpty && !$0.contains("/") }
                .map { (name: $0, kind: kind) }
        }
        let all = children(groups, .group) + children(datasets.keys, .dataset) + children(unsupported.keys, .dataset)
        return all.sorted { $0.name < $1.name }
    }

    public func exists(_ name: String) -> Bool {
        groups.contains(name) || datasets[name] != nil || unsupported[name] != nil
    }

    public func datasetInfo(_ name: String) throws -> HDF5DatasetInfo {
        if let type = unsupported[name] { throw error(.unsupportedElementType(type), name) }
        guard let info = datasets[name] else {
            throw error(groups.contains(name) ? .wrongObjectKind(expected: "dataset", found: "group") : .noSuchObject, name)
        }
        return info
    }

    public func readBytes(_ name: String) throws -> [UInt8] {
        let info = try datasetInfo(name)
        guard info.elementType == .uint8 else {
            throw error(.wrongElementType(expected: "uint8", found: info.elementType.rawValue), name)
        }
        guard info.shape.count == 1 else { throw error(.badShape("\(info.shape), expected one dimension"), name) }
        // A declared uint8 dataset without a blob reads as zeros, as an HDF5 fill value would.
        return blobs[name] ?? [UInt8](repeating: 0, count: min(info.count, 1 << 20))
    }
}
