// Small HDF5 helpers shared by model files, token stores and checkpoints: one checking macro, attribute and
// string-dataset read/write. Every failure names the file and the object.
#ifndef SHEAR_H5UTIL_H
#define SHEAR_H5UTIL_H

#include <errno.h>
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "shear/common.h"

// A negative HDF5 return is fatal: the message names the call, the object and the cause underneath (the
// system error of a failed write or read, e.g. "No space left on device", from HDF5's error stack).
// errno is cleared first, so a system error it holds afterwards was raised inside the call (MPI-IO reports a
// short write to HDF5 without one; the write underneath left it in errno).
#define H5_CHECK(call, ...) do { errno = 0; if ((call) < 0) { int h5e_ = errno; char h5m_[512], h5c_[512]; \
    snprintf(h5m_, sizeof h5m_, __VA_ARGS__); \
    SHEAR_DIE("HDF5: %s failed: %s%s", #call, h5m_, h5_cause(h5c_, sizeof h5c_, h5e_)); } } while (0)

// "; cause: <the innermost message on HDF5's error stack>[: <system error>]" with the system error from the
// stack (the POSIX driver records it) or sys_errno (the errno the failing call left), or "" when there is
// neither. Call right after the failing HDF5 call (the next call clears the stack).
const char *h5_cause(char *buf, size_t len, int sys_errno);
// A descriptor on a file being written through MPI-IO, held from its creation to its close, for h5_cause's probe
// of a short write's reason (which still works after another failing rank has removed the file's name).
void h5_probe_hold(const char *path);
void h5_probe_release(void);

// Silences HDF5's own error-stack printing: Shear reports errors itself, once.
void h5_quiet(void);
// Attributes on an object (file, group or dataset).
void h5_attr_write_int(hid_t obj, const char *name, int64_t v);
void h5_attr_write_double(hid_t obj, const char *name, double v);
void h5_attr_write_string(hid_t obj, const char *name, const char *s);
// Readers return 0 on success, -1 when the attribute is missing or of the wrong kind.
int h5_attr_read_int(hid_t obj, const char *name, int64_t *v);
int h5_attr_read_double(hid_t obj, const char *name, double *v);
int h5_attr_read_string(hid_t obj, const char *name, char *buf, size_t len);
// A uint64 attribute (the checksums of checkpoints, model files and token stores); read returns 0, or -1 when it
// is missing or not an integer.
void h5_attr_write_u64(hid_t obj, const char *name, uint64_t v);
int h5_attr_read_u64(hid_t obj, const char *name, uint64_t *v);
// A 1-D uint8 dataset holding text (decks can exceed the ~64 KB attribute limit).
void h5_write_text(hid_t loc, const char *name, const char *text);
char *h5_read_text(hid_t loc, const char *name); // malloc'd, or NULL when absent
// Creates intermediate groups for a path like "a/b/c" below loc (the last component excluded).
void h5_make_parents(hid_t loc, const char *path);

#endif
