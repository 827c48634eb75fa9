internal import CHDF5
import Foundation

extension HDF5File {
    /// Names of the attributes of a group or dataset, sorted. The corresponding C function is
    /// `H5Aget_name_by_idx`, called with increasing indices until there is none.
    public func attributeNames(of object: String = "/") throws -> [String] {
        HDF5Library.prepare()
        let handle = try openAny(object)
        var names: [String] = []
        var index: hsize_t = 0
        while true {
            let length = H5Aget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, CHDF5_P_DEFAULT())
            guard length >= 0 else {
                _ = HDF5Library.takeErrorDetail()
                break
            }
            guard length < 1 << 16 else {
                throw HDF5Error(.badAttribute("attribute \(index) has a name of \(length) bytes"), file: path, object: object)
            }
            var bytes = [CChar](repeating: 0, count: Int(length) + 1)
            guard H5Aget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, index, &bytes, bytes.count,
                                     CHDF5_P_DEFAULT()) >= 0 else {
                throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: object)
            }
            names.append(String(decoding: bytes.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            index += 1
        }
        return names
    }

    /// A string attribute of a group or dataset, fixed or variable length, as UTF-8 text; nil
    /// when the object has no attribute of that name. Refuses non-string, array-valued and
    /// non-UTF-8 attributes. The corresponding C functions are `H5Aexists_by_name`,
    /// `H5Aopen_by_name`, `H5Tis_variable_str`, `H5Aread` and `H5free_memory`.
    public func stringAttribute(_ name: String, of object: String = "/") throws -> String? {
        HDF5Library.prepare()
        guard let (attribute, type, place) = try openAttribute(name, of: object, class: H5T_STRING,
                                                               else: "is not a string") else { return nil }
        let bytes: [UInt8]
        if H5Tis_variable_str(type.id) > 0 {
            guard let memoryType = Handle(H5Tcopy(CHDF5_C_S1()), .datatype),
                  H5Tset_size(memoryType.id, CHDF5_VARIABLE()) >= 0,
                  H5Tset_cset(memoryType.id, H5Tget_cset(type.id)) >= 0 else {
                throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: place)
            }
            var pointer: UnsafeMutablePointer<CChar>? = nil
            guard H5Aread(attribute.id, memoryType.id, &pointer) >= 0 else {
                throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: place)
            }
            defer { if let pointer { _ = H5free_memory(pointer) } }
            guard let pointer else { return "" }
            let length = strlen(pointer)
            guard length <= maxAttributeBytes else {
                throw HDF5Error(.tooLarge("string of \(length) bytes"), file: path, object: place)
            }
            bytes = UnsafeRawBufferPointer(start: pointer, count: length).map { $0 }
        } else {
            let size = H5Tget_size(type.id)
            guard size > 0, size <= maxAttributeBytes else {
                throw HDF5Error(.tooLarge("string of \(size) bytes"), file: path, object: place)
            }
            guard let memoryType = Handle(H5Tcopy(type.id), .datatype) else {
                throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: place)
            }
            var buffer = [UInt8](repeating: 0, count: size)
            guard H5Aread(attribute.id, memoryType.id, &buffer) >= 0 else {
                throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: place)
            }
            if H5Tget_strpad(type.id) == H5T_STR_SPACEPAD {
                while buffer.last == 0x20 { buffer.removeLast() }
            } else if let end = buffer.firstIndex(of: 0) {
                buffer.removeSubrange(end...)
            }
            bytes = buffer
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw HDF5Error(.badAttribute("is not valid UTF-8 text"), file: path, object: place)
        }
        return text
    }

    /// An integer attribute as `Int64`; nil when absent. The corresponding C functions are
    /// `H5Aopen_by_name` and `H5Aread`.
    public func int64Attribute(_ name: String, of object: String = "/") throws -> Int64? {
        HDF5Library.prepare()
        guard let (attribute, _, place) = try openAttribute(name, of: object, class: H5T_INTEGER,
                                                            else: "is not an integer") else { return nil }
        var value: Int64 = 0
        guard H5Aread(attribute.id, CHDF5_NATIVE_INT64(), &value) >= 0 else {
            throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: place)
        }
        return value
    }

    /// How an attribute is named in messages: `/teacher@config`.
    static func attributePlace(_ name: String, of object: String) -> String {
        "\(object)@\(name)"
    }

    /// Opens an attribute holding a single value of the datatype class `expected` (refused with
    /// `refusal` otherwise), with its file datatype and its place in messages; nil when absent.
    private func openAttribute(_ name: String, of object: String, class expected: H5T_class_t,
                               else refusal: String) throws -> (attribute: Handle, type: Handle, place: String)? {
        let place = Self.attributePlace(name, of: object)
        _ = try openAny(object)
        let exists = H5Aexists_by_name(file.id, object, name, CHDF5_P_DEFAULT())
        guard exists >= 0 else {
            throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: place)
        }
        guard exists > 0 else { return nil }
        guard let attribute = Handle(H5Aopen_by_name(file.id, object, name, CHDF5_P_DEFAULT(), CHDF5_P_DEFAULT()), .attribute),
              let type = Handle(H5Aget_type(attribute.id), .datatype),
              let space = Handle(H5Aget_space(attribute.id), .dataspace) else {
            throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: place)
        }
        let shape = try extent(of: space, name: place)
        guard shape.allSatisfy({ $0 == 1 }) else {
            throw HDF5Error(.badAttribute("holds an array of shape \(shape), expected a single value"),
                            file: path, object: place)
        }
        guard H5Tget_class(type.id) == expected else {
            throw HDF5Error(.badAttribute(refusal), file: path, object: place)
        }
        return (attribute, type, place)
    }

    /// Opens a group or dataset, whichever it is.
    private func openAny(_ object: String) throws -> Handle {
        guard exists(object), let handle = Handle(H5Oopen(file.id, object, CHDF5_P_DEFAULT()), .object) else {
            _ = HDF5Library.takeErrorDetail()
            throw HDF5Error(.noSuchObject, file: path, object: object)
        }
        return handle
    }
}
