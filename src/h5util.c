// HDF5 helpers (see h5util.h).
#include "shear/h5util.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

// The walk (innermost first) keeps the innermost description (the file driver's: for a failed POSIX write it
// holds "errno = 28, error message = 'No space left on device'", for MPI-IO the MPI error string) and the system
// error text in it.
typedef struct {
    char inner[400], sys[400];
} H5Cause;

static herr_t cause_walk(unsigned n, const H5E_error2_t *e, void *data) {
    (void)n;
    H5Cause *c = data;
    if (!e->desc || !e->desc[0] || c->inner[0]) return 0;
    snprintf(c->inner, sizeof c->inner, "%s", e->desc);
    const char *m = strstr(e->desc, "error message = '");
    if (m) {
        m += strlen("error message = '");
        snprintf(c->sys, sizeof c->sys, "%.*s", (int)strcspn(m, "'"), m);
    }
    return 0;
}

// MPI-IO hands HDF5 a short write, not an error: the system error was never raised (a write that crosses a
// full disk or a size limit writes part and returns a short count). Writing one more byte at the end of the
// file being written (doomed: shear_die removes it) asks the system the reason. The descriptor is the one
// h5_probe_hold opened when the file was created: another rank that failed first may already have unlinked the
// name, but the file (its size, its blocks on a full disk) lives on while a descriptor is open.
static int probe_fd = -1;

void h5_probe_hold(const char *path) {
    h5_probe_release();
    probe_fd = open(path, O_WRONLY);
}

void h5_probe_release(void) {
    if (probe_fd >= 0) close(probe_fd);
    probe_fd = -1;
}

static int probe_write_errno(void) {
    const char *path = shear_tmp_current();
    int fd = probe_fd >= 0 ? probe_fd : path ? open(path, O_WRONLY) : -1;
    if (fd < 0) return path ? errno : 0;
    struct stat st;
    int e = 0;
    if (fstat(fd, &st) == 0 && pwrite(fd, "", 1, st.st_size) < 0) e = errno;
    if (e == 0 && fsync(fd) != 0) e = errno;
    if (fd != probe_fd) close(fd);
    return e;
}

const char *h5_cause(char *buf, size_t len, int sys_errno) {
    H5Cause c = {"", ""};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, cause_walk, &c);
    if (!c.sys[0] && !sys_errno && strstr(c.inner, "write failed")) sys_errno = probe_write_errno();
    const char *sys = c.sys[0] ? c.sys : sys_errno ? strerror(sys_errno) : "";
    if (c.sys[0] || !c.inner[0]) snprintf(buf, len, sys[0] ? "; cause: %s" : "", sys);
    else snprintf(buf, len, "; cause: %s%s%s", c.inner, sys[0] ? ": " : "", sys);
    return buf;
}

static void attr_write(hid_t obj, const char *name, hid_t type, const void *v) {
    if (H5Aexists(obj, name) > 0) H5_CHECK(H5Adelete(obj, name), "attribute '%s'", name);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(a, "attribute '%s'", name);
    H5_CHECK(H5Awrite(a, type, v), "attribute '%s'", name);
    H5Aclose(a);
    H5Sclose(sp);
}

void h5_attr_write_int(hid_t obj, const char *name, int64_t v) { attr_write(obj, name, H5T_NATIVE_INT64, &v); }
void h5_attr_write_double(hid_t obj, const char *name, double v) { attr_write(obj, name, H5T_NATIVE_DOUBLE, &v); }

void h5_attr_write_string(hid_t obj, const char *name, const char *s) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(s) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    attr_write(obj, name, t, s);
    H5Tclose(t);
}

static int attr_read(hid_t obj, const char *name, hid_t memtype, H5T_class_t want, void *v) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t ft = H5Aget_type(a);
    int ok = H5Tget_class(ft) == want && H5Aread(a, memtype, v) >= 0;
    H5Tclose(ft);
    H5Aclose(a);
    return ok ? 0 : -1;
}

int h5_attr_read_int(hid_t obj, const char *name, int64_t *v) {
    return attr_read(obj, name, H5T_NATIVE_INT64, H5T_INTEGER, v);
}
int h5_attr_read_double(hid_t obj, const char *name, double *v) {
    // integers are accepted where a double is asked for (h5py writes Python floats as doubles, ints as ints)
    if (attr_read(obj, name, H5T_NATIVE_DOUBLE, H5T_FLOAT, v) == 0) return 0;
    return attr_read(obj, name, H5T_NATIVE_DOUBLE, H5T_INTEGER, v);
}

int h5_attr_read_string(hid_t obj, const char *name, char *buf, size_t len) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    int rc = -1;
    if (H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            char *p = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(ft)); // h5py writes UTF-8; HDF5 will not convert between character sets
            if (H5Aread(a, mt, &p) >= 0 && p) {
                snprintf(buf, len, "%s", p);
                H5free_memory(p);
                rc = 0;
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(ft);
            char *tmp = shear_calloc(n + 1, 1);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, n + 1);
            H5Tset_strpad(mt, H5T_STR_NULLTERM);
            H5Tset_cset(mt, H5Tget_cset(ft));
            if (H5Aread(a, mt, tmp) >= 0) {
                snprintf(buf, len, "%s", tmp);
                rc = 0;
            }
            H5Tclose(mt);
            free(tmp);
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

void h5_write_text(hid_t loc, const char *name, const char *text) {
    hsize_t n = strlen(text);
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t ds = H5Dcreate2(loc, name, H5T_NATIVE_UINT8, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(ds, "text dataset '%s'", name);
    if (n) H5_CHECK(H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, text), "text dataset '%s'", name);
    H5Dclose(ds);
    H5Sclose(sp);
}

char *h5_read_text(hid_t loc, const char *name) {
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return NULL;
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return NULL;
    hid_t sp = H5Dget_space(ds);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    char *buf = shear_calloc((size_t)(n > 0 ? n : 0) + 1, 1);
    if (n > 0 && H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        buf = NULL;
    }
    H5Sclose(sp);
    H5Dclose(ds);
    return buf;
}

void h5_make_parents(hid_t loc, const char *path) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (H5Lexists(loc, tmp, H5P_DEFAULT) <= 0) {
            hid_t g = H5Gcreate2(loc, tmp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            H5_CHECK(g, "group '%s'", tmp);
            H5Gclose(g);
        }
        *p = '/';
    }
}

void h5_attr_write_u64(hid_t obj, const char *name, uint64_t v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_U64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(a, "attribute '%s'", name);
    H5_CHECK(H5Awrite(a, H5T_NATIVE_UINT64, &v), "attribute '%s'", name);
    H5Aclose(a);
    H5Sclose(sp);
}

int h5_attr_read_u64(hid_t obj, const char *name, uint64_t *v) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a);
    int ok = H5Tget_class(t) == H5T_INTEGER && H5Aread(a, H5T_NATIVE_UINT64, v) >= 0;
    H5Tclose(t);
    H5Aclose(a);
    return ok ? 0 : -1;
}
