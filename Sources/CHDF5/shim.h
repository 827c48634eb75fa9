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
