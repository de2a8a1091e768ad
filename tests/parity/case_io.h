// HDF5 reading and writing shared by the oracle drivers (tests/parity/parity_driver.c, tests/masks/masks_driver.c):
// whole datasets in and out, and the batch of a case written by tests/parity/make_case.py.
#ifndef SHEAR_TESTS_CASE_IO_H
#define SHEAR_TESTS_CASE_IO_H

#include <hdf5.h>
#include <stdint.h>

#include "shear/common.h"
#include "shear/h5util.h"

static inline void case_read(hid_t f, const char *name, hid_t type, void *buf, size_t expect) {
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) SHEAR_DIE("input file: dataset '%s' is missing", name);
    hid_t sp = H5Dget_space(ds);
    SHEAR_CHECK((size_t)H5Sget_simple_extent_npoints(sp) == expect, "input file: '%s' has %lld elements, expected %zu",
                name, (long long)H5Sget_simple_extent_npoints(sp), expect);
    H5_CHECK(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), "reading '%s'", name);
    H5Sclose(sp);
    H5Dclose(ds);
}

// float or double datasets; nd == 0 writes a scalar
static inline void case_write(hid_t f, const char *name, hid_t type, const void *buf, int nd, const hsize_t *dims) {
    h5_make_parents(f, name);
    hid_t sp = nd ? H5Screate_simple(nd, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t ds = H5Dcreate2(f, name, type == H5T_NATIVE_FLOAT ? H5T_IEEE_F32LE : H5T_IEEE_F64LE, sp, H5P_DEFAULT,
                          H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(ds, "creating '%s'", name);
    H5_CHECK(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), "writing '%s'", name);
    H5Dclose(ds);
    H5Sclose(sp);
}

// /batch/tokens and /batch/targets [B, T] of a case file; *tok and *tgt are malloc'd
static inline void case_read_batch(hid_t f, int *B, int *T, int32_t **tok, int32_t **tgt) {
    hid_t ds = H5Dopen2(f, "batch/tokens", H5P_DEFAULT);
    SHEAR_CHECK(ds >= 0, "case file: /batch/tokens is missing");
    hsize_t bt[2];
    hid_t sp = H5Dget_space(ds);
    H5Sget_simple_extent_dims(sp, bt, NULL);
    H5Sclose(sp);
    H5Dclose(ds);
    *B = (int)bt[0];
    *T = (int)bt[1];
    size_t N = (size_t)*B * *T;
    *tok = shear_malloc(N * sizeof(int32_t));
    *tgt = shear_malloc(N * sizeof(int32_t));
    case_read(f, "batch/tokens", H5T_NATIVE_INT32, *tok, N);
    case_read(f, "batch/targets", H5T_NATIVE_INT32, *tgt, N);
}

#endif
