internal import CHDF5
import TelmeFiles

/// One libhdf5 identifier, closed with the matching `H5?close` when the last reference goes.
final class Handle {
    enum Kind {
        case file, object, dataspace, datatype, attribute, propertyList, group
    }

    let id: hid_t
    let kind: Kind

    /// Wraps `id` if it is valid (libhdf5 returns a negative id on failure).
    init?(_ id: hid_t, _ kind: Kind) {
        guard id >= 0 else { return nil }
        self.id = id
        self.kind = kind
    }

    /// The corresponding C functions are `H5Fclose`, `H5Oclose`, `H5Sclose`, `H5Tclose`,
    /// `H5Aclose`, `H5Pclose` and `H5Gclose`.
    deinit {
        switch kind {
        case .file: _ = H5Fclose(id)
        case .object: _ = H5Oclose(id)
        case .dataspace: _ = H5Sclose(id)
        case .datatype: _ = H5Tclose(id)
        case .attribute: _ = H5Aclose(id)
        case .propertyList: _ = H5Pclose(id)
        case .group: _ = H5Gclose(id)
        }
    }
}

/// Process-wide libhdf5 set-up and its error stack.
enum HDF5Library {
    /// Initialises the library and turns off its printing of error stacks to stderr: every
    /// failure becomes an `HDF5Error` instead. The corresponding C functions are `H5open` and
    /// `H5Eset_auto2`. Called before every operation because thread-safe builds keep the
    /// setting per thread.
    static func prepare() {
        _ = H5open()
        _ = H5Eset_auto2(CHDF5_E_DEFAULT(), nil, nil)
    }

    /// The innermost message on libhdf5's error stack (the most specific reason), then clears
    /// the stack. The corresponding C functions are `H5Ewalk2` and `H5Eclear2`.
    static func takeErrorDetail() -> String {
        var messages: [String] = []
        withUnsafeMutablePointer(to: &messages) { list in
            _ = H5Ewalk2(CHDF5_E_DEFAULT(), H5E_WALK_DOWNWARD, { _, error, data in
                guard let error, let data else { return 0 }
                if let desc = error.pointee.desc {
                    data.assumingMemoryBound(to: [String].self).pointee.append(String(cString: desc))
                }
                return 0
            }, list)
        }
        _ = H5Eclear2(CHDF5_E_DEFAULT())
        return (messages.last ?? "libhdf5 gave no reason").oneLine
    }
}
