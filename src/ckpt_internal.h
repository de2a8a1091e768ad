// Pieces the checkpoint writer (ckpt.c), reader (ckpt_load.c) and `shear info` (cmd_info.c) share.
#ifndef SHEAR_CKPT_INTERNAL_H
#define SHEAR_CKPT_INTERNAL_H

#include <hdf5.h>

#include "shear/ckpt.h"


static inline size_t ckpt_dtype_size(int dtype) { return dtype == CKPT_F32 ? 4 : 8; }
static inline const char *ckpt_dtype_name(int dtype) {
    return dtype == CKPT_F32 ? "float32" : dtype == CKPT_F64 ? "float64" : "int64";
}
hid_t ckpt_file_type(int dtype); // little-endian storage type
hid_t ckpt_mem_type(int dtype);  // native type
// "[3, 4]" or "[7]"
void ckpt_fmt_shape(char *buf, size_t len, int ndim, const uint64_t *shape);
// Rows [lo, hi) of n that rank r of R owns (dist_slice for any rank).
static inline void ckpt_rows_of(uint64_t n, int r, int R, uint64_t *lo, uint64_t *hi) {
    *lo = n * (uint64_t)r / (uint64_t)R;
    *hi = n * (uint64_t)(r + 1) / (uint64_t)R;
}
// "step_00000010.h5" -> 10; -1 when the name is anything else (a .tmp, LATEST, a stray file)
int64_t ckpt_step_of_name(const char *name);
// Checks an item's fields; dies naming it when the caller built it wrong.
void ckpt_item_check(const CkptItem *it);

#endif
