internal import CHDF5

extension HDF5File {
    /// Writes a float32 dataset (little-endian IEEE in the file); missing parent groups are
    /// created. `shape` must multiply to `floats.count`; an empty shape writes a scalar.
    /// The corresponding C functions are `H5Screate_simple`, `H5Dcreate2` and `H5Dwrite`.
    public func write(_ name: String, shape: [Int], floats: [Float]) throws {
        try floats.withUnsafeBytes { bytes in
            try write(name, shape: shape, count: floats.count, fileType: CHDF5_IEEE_F32LE(),
                      memoryType: CHDF5_NATIVE_FLOAT(), bytes: bytes)
        }
    }

    /// Writes an int64 dataset (little-endian in the file); see `write(_:shape:floats:)`.
    public func write(_ name: String, shape: [Int], int64s: [Int64]) throws {
        try int64s.withUnsafeBytes { bytes in
            try write(name, shape: shape, count: int64s.count, fileType: CHDF5_STD_I64LE(),
                      memoryType: CHDF5_NATIVE_INT64(), bytes: bytes)
        }
    }

    /// Creates a group (and its missing parents). The corresponding C function is `H5Gcreate2`.
    public func createGroup(_ name: String) throws {
        HDF5Library.prepare()
        let linkList = try linkCreationList(for: name)
        guard Handle(H5Gcreate2(file.id, name, linkList.id, CHDF5_P_DEFAULT(), CHDF5_P_DEFAULT()), .group) != nil else {
            throw HDF5Error(.writeFailed(HDF5Library.takeErrorDetail()), file: path, object: name)
        }
    }

    /// Sets a variable-length UTF-8 string attribute on a group or dataset (as h5py writes a
    /// Python `str`). The corresponding C functions are `H5Acreate_by_name` and `H5Awrite`.
    public func setAttribute(_ name: String, string: String, on object: String = "/") throws {
        HDF5Library.prepare()
        let place = Self.attributePlace(name, of: object)
        guard isWritable else { throw HDF5Error(.writeFailed("the file is open read-only"), file: path, object: place) }
        guard let type = Handle(H5Tcopy(CHDF5_C_S1()), .datatype),
              H5Tset_size(type.id, CHDF5_VARIABLE()) >= 0,
              H5Tset_cset(type.id, H5T_CSET_UTF8) >= 0,
              let space = Handle(H5Screate(H5S_SCALAR), .dataspace),
              let attribute = Handle(H5Acreate_by_name(file.id, object, name, type.id, space.id, CHDF5_P_DEFAULT(),
                                                       CHDF5_P_DEFAULT(), CHDF5_P_DEFAULT()), .attribute) else {
            throw HDF5Error(.writeFailed(HDF5Library.takeErrorDetail()), file: path, object: place)
        }
        let status = string.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            return H5Awrite(attribute.id, type.id, &pointer)
        }
        guard status >= 0 else {
            throw HDF5Error(.writeFailed(HDF5Library.takeErrorDetail()), file: path, object: place)
        }
    }

    /// Sets a scalar int64 attribute. The corresponding C functions are `H5Acreate_by_name`
    /// and `H5Awrite`.
    public func setAttribute(_ name: String, int64: Int64, on object: String = "/") throws {
        HDF5Library.prepare()
        let place = Self.attributePlace(name, of: object)
        guard isWritable else { throw HDF5Error(.writeFailed("the file is open read-only"), file: path, object: place) }
        guard let space = Handle(H5Screate(H5S_SCALAR), .dataspace),
              let attribute = Handle(H5Acreate_by_name(file.id, object, name, CHDF5_STD_I64LE(), space.id,
                                                       CHDF5_P_DEFAULT(), CHDF5_P_DEFAULT(), CHDF5_P_DEFAULT()),
                                     .attribute) else {
            throw HDF5Error(.writeFailed(HDF5Library.takeErrorDetail()), file: path, object: place)
        }
        var value = int64
        guard H5Awrite(attribute.id, CHDF5_NATIVE_INT64(), &value) >= 0 else {
            throw HDF5Error(.writeFailed(HDF5Library.takeErrorDetail()), file: path, object: place)
        }
    }

    // MARK: - Internals

    private func write(_ name: String, shape: [Int], count: Int, fileType: hid_t, memoryType: hid_t,
                       bytes: UnsafeRawBufferPointer) throws {
        HDF5Library.prepare()
        guard isWritable else { throw HDF5Error(.writeFailed("the file is open read-only"), file: path, object: name) }
        guard shape.count <= 32, shape.allSatisfy({ $0 >= 0 }) else {
            throw HDF5Error(.writeFailed("invalid shape \(shape)"), file: path, object: name)
        }
        var expected = 1
        for extent in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw HDF5Error(.writeFailed("shape \(shape) overflows"), file: path, object: name) }
            expected = product
        }
        guard expected == count else {
            throw HDF5Error(.writeFailed("shape \(shape) needs \(expected) values, got \(count)"), file: path, object: name)
        }
        let space: Handle?
        if shape.isEmpty {
            space = Handle(H5Screate(H5S_SCALAR), .dataspace)
        } else {
            let dims = shape.map { hsize_t($0) }
            space = Handle(H5Screate_simple(Int32(dims.count), dims, nil), .dataspace)
        }
        let linkList = try linkCreationList(for: name)
        guard let space,
              let dataset = Handle(H5Dcreate2(file.id, name, fileType, space.id, linkList.id, CHDF5_P_DEFAULT(),
                                              CHDF5_P_DEFAULT()), .object) else {
            throw HDF5Error(.writeFailed(HDF5Library.takeErrorDetail()), file: path, object: name)
        }
        guard count > 0 else { return }
        guard H5Dwrite(dataset.id, memoryType, CHDF5_S_ALL(), CHDF5_S_ALL(), CHDF5_P_DEFAULT(), bytes.baseAddress) >= 0 else {
            throw HDF5Error(.writeFailed(HDF5Library.takeErrorDetail()), file: path, object: name)
        }
    }

    /// A link creation property list that creates missing parent groups. The corresponding
    /// C functions are `H5Pcreate` and `H5Pset_create_intermediate_group`.
    private func linkCreationList(for name: String) throws -> Handle {
        guard isWritable else { throw HDF5Error(.writeFailed("the file is open read-only"), file: path, object: name) }
        guard let list = Handle(H5Pcreate(CHDF5_P_LINK_CREATE()), .propertyList),
              H5Pset_create_intermediate_group(list.id, 1) >= 0 else {
            throw HDF5Error(.writeFailed(HDF5Library.takeErrorDetail()), file: path, object: name)
        }
        return list
    }
}
