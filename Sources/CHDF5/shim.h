#pragma once
#include <hdf5.h>

// The native type ids are macros that call H5open(); Swift cannot import them.
static inline hid_t CHDF5_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t CHDF5_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t CHDF5_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t CHDF5_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t CHDF5_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t CHDF5_NATIVE_UINT16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t CHDF5_C_S1(void) { return H5T_C_S1; }
static inline hid_t CHDF5_P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t CHDF5_S_ALL(void) { return H5S_ALL; }
static inline hid_t CHDF5_P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t CHDF5_P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }

// More macros that do not import: file access flags, the default error stack, file types.
static inline unsigned CHDF5_F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned CHDF5_F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline hid_t CHDF5_E_DEFAULT(void) { return H5E_DEFAULT; }
static inline hid_t CHDF5_P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline hid_t CHDF5_P_FILE_CREATE(void) { return H5P_FILE_CREATE; }
static inline hid_t CHDF5_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t CHDF5_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline size_t CHDF5_VARIABLE(void) { return H5T_VARIABLE; }

// `H5Fis_hdf5` is deprecated from 1.12 on in favour of `H5Fis_accessible`.
static inline htri_t CHDF5_is_hdf5(const char *name) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Fis_accessible(name, H5P_DEFAULT);
#else
    return H5Fis_hdf5(name);
#endif
}

// Link type of `name` in `loc`: 1 for a hard link, 0 for a soft, external or user link,
// negative on error. `H5Lget_info` and `H5L_info_t` are versioned macros that map together.
static inline int CHDF5_is_hard_link(hid_t loc, const char *name) {
    H5L_info_t info;
    if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0) return -1;
    return info.type == H5L_TYPE_HARD ? 1 : 0;
}

// File access list for reading: keeps libhdf5's file locking, but does not fail on file
// systems without locks (H5Pset_file_locking exists from 1.10.7 on). Close with H5Pclose.
static inline hid_t CHDF5_read_access_list(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
    if (fapl >= 0 && H5Pset_file_locking(fapl, 1, 1) < 0) {
        H5Pclose(fapl);
        return -1;
    }
#endif
    return fapl;
}
