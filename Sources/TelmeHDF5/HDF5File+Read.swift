internal import CHDF5

extension HDF5File {
    /// Shape and element type of a dataset, all sizes checked. The corresponding C functions
    /// are `H5Dget_type`, `H5Dget_space`, `H5Sget_simple_extent_type` and
    /// `H5Sget_simple_extent_dims`.
    public func datasetInfo(_ name: String) throws -> HDF5DatasetInfo {
        HDF5Library.prepare()
        let dataset = try openObject(name, expecting: .dataset)
        return try info(of: dataset, name: name).info
    }

    /// Reads a floating-point dataset (float16, float32 or float64) as `Float`. float16 is
    /// widened exactly; float64 is rounded to nearest, and values beyond Float's range become
    /// infinite (so a NaN/Inf check sees them). The corresponding C function is `H5Dread`.
    public func readFloats(_ name: String) throws -> (shape: [Int], values: [Float]) {
        HDF5Library.prepare()
        let dataset = try openObject(name, expecting: .dataset)
        let (info, fileType) = try info(of: dataset, name: name)
        guard info.elementType.isFloatingPoint else {
            throw HDF5Error(.wrongElementType(expected: "float16, float32 or float64", found: info.elementType.rawValue),
                            file: path, object: name)
        }
        switch info.elementType {
        case .float32:
            let values: [Float] = try read(dataset, name: name, count: info.count, memoryType: CHDF5_NATIVE_FLOAT())
            return (info.shape, values)
        case .float64:
            let doubles: [Double] = try read(dataset, name: name, count: info.count, memoryType: CHDF5_NATIVE_DOUBLE())
            return (info.shape, doubles.map { Float($0) })
        default:
            // libhdf5 1.10 has no native half type: read the IEEE bits in little-endian order
            // (a copy of the file type with its order set) and widen them here.
            guard let memoryType = Handle(H5Tcopy(fileType.id), .datatype),
                  H5Tset_order(memoryType.id, H5T_ORDER_LE) >= 0 else {
                throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: name)
            }
            let bits: [UInt16] = try read(dataset, name: name, count: info.count, memoryType: memoryType.id)
            return (info.shape, bits.map { Self.floatFromHalfBits(UInt16(littleEndian: $0)) })
        }
    }

    /// Reads an integer dataset (int64, int32 or uint8) as `Int64`. The corresponding C
    /// function is `H5Dread` (libhdf5 widens the narrower types exactly).
    public func readInt64s(_ name: String) throws -> (shape: [Int], values: [Int64]) {
        HDF5Library.prepare()
        let dataset = try openObject(name, expecting: .dataset)
        let (info, _) = try info(of: dataset, name: name)
        guard !info.elementType.isFloatingPoint else {
            throw HDF5Error(.wrongElementType(expected: "int64, int32 or uint8", found: info.elementType.rawValue),
                            file: path, object: name)
        }
        let values: [Int64] = try read(dataset, name: name, count: info.count, memoryType: CHDF5_NATIVE_INT64())
        return (info.shape, values)
    }

    /// Reads a one-dimensional uint8 dataset as bytes (how the export stores text files).
    /// The corresponding C function is `H5Dread`.
    public func readBytes(_ name: String) throws -> [UInt8] {
        HDF5Library.prepare()
        let dataset = try openObject(name, expecting: .dataset)
        let (info, _) = try info(of: dataset, name: name)
        guard info.elementType == .uint8 else {
            throw HDF5Error(.wrongElementType(expected: "uint8", found: info.elementType.rawValue), file: path, object: name)
        }
        guard info.shape.count == 1 else {
            throw HDF5Error(.badShape("\(info.shape), expected one dimension"), file: path, object: name)
        }
        return try read(dataset, name: name, count: info.count, memoryType: CHDF5_NATIVE_UINT8())
    }

    // MARK: - Internals

    /// Reads the whole dataset converted to `memoryType`, whose size must be that of `T`.
    private func read<T>(_ dataset: Handle, name: String, count: Int, memoryType: hid_t) throws -> [T] {
        guard count > 0 else { return [] }
        guard H5Tget_size(memoryType) == MemoryLayout<T>.stride else {
            throw HDF5Error(.readFailed("internal: memory type size differs from \(T.self)"), file: path, object: name)
        }
        var failure: String?
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            if H5Dread(dataset.id, memoryType, CHDF5_S_ALL(), CHDF5_S_ALL(), CHDF5_P_DEFAULT(), buffer.baseAddress) < 0 {
                failure = HDF5Library.takeErrorDetail()
                // The element types read here are trivial, so zero-filled memory is a valid value.
                UnsafeMutableRawBufferPointer(buffer).initializeMemory(as: UInt8.self, repeating: 0)
            }
            initialized = count
        }
        if let failure {
            throw HDF5Error(.readFailed(failure), file: path, object: name)
        }
        return values
    }

    /// Shape, element type and file datatype of an open dataset.
    func info(of dataset: Handle, name: String) throws -> (info: HDF5DatasetInfo, fileType: Handle) {
        guard let type = Handle(H5Dget_type(dataset.id), .datatype) else {
            throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: name)
        }
        let elementType = try classify(type, name: name)
        guard let space = Handle(H5Dget_space(dataset.id), .dataspace) else {
            throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: name)
        }
        let shape = try extent(of: space, name: name)
        var count = 1
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else {
                throw HDF5Error(.tooLarge("shape \(shape) overflows"), file: path, object: name)
            }
            count = product
        }
        guard count <= maxElements else {
            throw HDF5Error(.tooLarge("shape \(shape) has \(count) elements, more than the \(maxElements) allowed"),
                            file: path, object: name)
        }
        try checkStorage(of: dataset, name: name)
        if count > 0, H5Dget_storage_size(dataset.id) == 0 {
            throw HDF5Error(.readFailed("no data was ever written to it"), file: path, object: name)
        }
        return (HDF5DatasetInfo(name: name, shape: shape, elementType: elementType, count: count), type)
    }

    /// Refuses a dataset whose data live outside this file: external raw storage (h5py's
    /// `external=[(path, offset, size)]`, which would read any file the path names, absolute or
    /// relative) and virtual datasets (mappings onto other files). Its data must be in the file
    /// itself, which is what was given. The corresponding C functions are
    /// `H5Dget_create_plist`, `H5Pget_external_count` and `H5Pget_layout`.
    func checkStorage(of dataset: Handle, name: String) throws {
        guard let creation = Handle(H5Dget_create_plist(dataset.id), .propertyList) else {
            throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: name)
        }
        let external = H5Pget_external_count(creation.id)
        guard external == 0 else {
            throw HDF5Error(.externalStorage(external < 0 ? "its external storage list cannot be read"
                                                 : "its data are stored in \(external) external file(s)"),
                            file: path, object: name)
        }
        let layout = H5Pget_layout(creation.id)
        guard layout == H5D_CONTIGUOUS || layout == H5D_CHUNKED || layout == H5D_COMPACT else {
            throw HDF5Error(.externalStorage(layout == H5D_VIRTUAL ? "it is a virtual dataset (data mapped from other files)"
                                                 : "its storage layout (\(layout.rawValue)) is not one telme reads"),
                            file: path, object: name)
        }
    }

    /// The dimensions of a dataspace; a scalar has none.
    func extent(of space: Handle, name: String) throws -> [Int] {
        switch H5Sget_simple_extent_type(space.id) {
        case H5S_SCALAR:
            return []
        case H5S_SIMPLE:
            let rank = H5Sget_simple_extent_ndims(space.id)
            guard rank >= 0, rank <= 32 else {
                throw HDF5Error(.badShape("rank \(rank)"), file: path, object: name)
            }
            var dims = [hsize_t](repeating: 0, count: Int(rank))
            guard H5Sget_simple_extent_dims(space.id, &dims, nil) == rank else {
                throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: name)
            }
            return try dims.map { dim in
                guard dim <= hsize_t(Int32.max) else {
                    throw HDF5Error(.tooLarge("dimension of \(dim)"), file: path, object: name)
                }
                return Int(dim)
            }
        case H5S_NULL:
            throw HDF5Error(.badShape("null dataspace (no data)"), file: path, object: name)
        default:
            throw HDF5Error(.badShape("unknown dataspace class"), file: path, object: name)
        }
    }

    /// Maps a file datatype onto the element types the wrapper reads, describing the others
    /// in the refusal. The corresponding C functions are `H5Tget_class`, `H5Tget_size`,
    /// `H5Tget_sign`, `H5Tget_precision`, `H5Tget_offset`, `H5Tget_fields` and `H5Tget_ebias`.
    private func classify(_ type: Handle, name: String) throws -> HDF5ElementType {
        let size = H5Tget_size(type.id)
        func refuse(_ what: String) -> HDF5Error {
            HDF5Error(.unsupportedElementType(what), file: path, object: name)
        }
        switch H5Tget_class(type.id) {
        case H5T_INTEGER:
            let signed = H5Tget_sign(type.id) == H5T_SGN_2
            guard H5Tget_precision(type.id) == size * 8, H5Tget_offset(type.id) == 0 else {
                throw refuse("integer with padding bits")
            }
            switch (size, signed) {
            case (8, true): return .int64
            case (4, true): return .int32
            case (1, false): return .uint8
            default: throw refuse("\(signed ? "int" : "uint")\(size * 8)")
            }
        case H5T_FLOAT:
            var spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0
            guard H5Tget_fields(type.id, &spos, &epos, &esize, &mpos, &msize) >= 0 else {
                throw HDF5Error(.readFailed(HDF5Library.takeErrorDetail()), file: path, object: name)
            }
            let order = H5Tget_order(type.id)
            let layout = (size, spos, epos, esize, mpos, msize, H5Tget_ebias(type.id))
            let ieeeOrder = order == H5T_ORDER_LE || order == H5T_ORDER_BE
            let fullWidth = H5Tget_precision(type.id) == size * 8 && H5Tget_offset(type.id) == 0
            guard ieeeOrder, fullWidth else { throw refuse("non-IEEE float of \(size) bytes") }
            switch layout {
            case (2, 15, 10, 5, 0, 10, 15): return .float16
            case (4, 31, 23, 8, 0, 23, 127): return .float32
            case (8, 63, 52, 11, 0, 52, 1023): return .float64
            default: throw refuse("non-IEEE float of \(size) bytes")
            }
        case H5T_STRING: throw refuse("string")
        case H5T_COMPOUND: throw refuse("compound")
        case H5T_ENUM: throw refuse("enum (bool?)")
        case H5T_ARRAY: throw refuse("array")
        case H5T_VLEN: throw refuse("variable-length sequence")
        case H5T_OPAQUE: throw refuse("opaque")
        case H5T_BITFIELD: throw refuse("bitfield")
        case H5T_REFERENCE: throw refuse("reference")
        case H5T_TIME: throw refuse("time")
        default: throw refuse("unknown class")
        }
    }

    /// IEEE 754 binary16 bits to Float, exactly (subnormals, infinities and NaN included).
    /// Written out because `Float16` is not available on every platform Swift builds for.
    static func floatFromHalfBits(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits) & 0x3FF
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa * 2^-24, exact in Float.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        default:
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
        }
    }
}
