// Writing checkpoints (ckpt.h): the collective save, the atomic commit, LATEST and retention, and the item list.
// Reading is in ckpt_load.c, the checksum in ckpt_sum.c.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_internal.h"
#include "shear/buildinfo.h"
#include "shear/ckpt_sum.h"
#include "shear/modelfile.h"
#include "shear/common.h"
#include "shear/h5util.h"
#include "shear/watchdog.h"

size_t ckpt_piece_bytes = (size_t)128 << 20;

// ---- the item list ----

void ckpt_items_add(CkptItems *l, const char *name, void *data, int on_backend, int dtype, uint64_t rows,
                    uint64_t cols) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        CkptItem *ni = realloc(l->items, (size_t)l->cap * sizeof *ni);
        SHEAR_CHECK(ni, "out of memory growing the checkpoint item list");
        l->items = ni;
    }
    CkptItem *it = &l->items[l->n++];
    memset(it, 0, sizeof *it);
    it->name = shear_strdup(name);
    it->data = data;
    it->on_backend = on_backend;
    it->dtype = dtype;
    it->ndim = cols ? 2 : 1;
    it->shape[0] = rows;
    it->shape[1] = cols;
    ckpt_item_check(it);
}

void ckpt_items_add_params(CkptItems *l, const char *group, const ParamTable *t, float *buf) {
    char name[PARAM_NAME_LEN + 64];
    for (int i = 0; i < t->n; i++) {
        const ParamInfo *p = &t->p[i];
        snprintf(name, sizeof name, "%s/%s", group, p->name);
        ckpt_items_add(l, name, buf + p->offset, 1, CKPT_F32, (uint64_t)p->shape[0],
                       p->ndim == 2 ? (uint64_t)p->shape[1] : 0);
    }
}

void ckpt_items_add_params_part(CkptItems *l, const char *group, const ParamTable *t, float *buf, size_t lo,
                                size_t hi) {
    char name[PARAM_NAME_LEN + 64];
    for (int i = 0; i < t->n; i++) {
        const ParamInfo *p = &t->p[i];
        size_t s = p->offset > lo ? p->offset : lo, e = p->offset + p->numel < hi ? p->offset + p->numel : hi;
        if (e < s) e = s; // this tensor lies outside the range: an empty part
        snprintf(name, sizeof name, "%s/%s", group, p->name);
        ckpt_items_add(l, name, e > s ? buf + (s - lo) : buf, 1, CKPT_F32, (uint64_t)p->shape[0],
                       p->ndim == 2 ? (uint64_t)p->shape[1] : 0);
        CkptItem *it = &l->items[l->n - 1];
        it->part = 1;
        it->part_lo = e > s ? s - p->offset : 0;
        it->part_hi = e > s ? e - p->offset : 0;
        ckpt_item_check(it);
    }
}

void ckpt_items_free(CkptItems *l) {
    for (int i = 0; i < l->n; i++) free((char *)l->items[i].name);
    free(l->items);
    memset(l, 0, sizeof *l);
}

// ---- helpers shared with the reader ----

hid_t ckpt_file_type(int dtype) {
    return dtype == CKPT_F32 ? H5T_IEEE_F32LE : dtype == CKPT_F64 ? H5T_IEEE_F64LE : H5T_STD_I64LE;
}
hid_t ckpt_mem_type(int dtype) {
    return dtype == CKPT_F32 ? H5T_NATIVE_FLOAT : dtype == CKPT_F64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
}

void ckpt_fmt_shape(char *buf, size_t len, int ndim, const uint64_t *shape) {
    if (ndim == 2) snprintf(buf, len, "[%llu, %llu]", (unsigned long long)shape[0], (unsigned long long)shape[1]);
    else if (ndim == 1) snprintf(buf, len, "[%llu]", (unsigned long long)shape[0]);
    else snprintf(buf, len, "(%d-D)", ndim);
}

void ckpt_item_check(const CkptItem *it) {
    SHEAR_CHECK(it->name && it->name[0] && it->name[0] != '/', "checkpoint item with an empty or absolute name");
    SHEAR_CHECK(it->dtype == CKPT_F32 || it->dtype == CKPT_F64 || it->dtype == CKPT_I64,
                "checkpoint item '%s': dtype %d is not CKPT_F32, CKPT_F64 or CKPT_I64", it->name, it->dtype);
    SHEAR_CHECK(it->ndim == 1 || (it->ndim == 2 && it->shape[1] > 0),
                "checkpoint item '%s': ndim %d, expected 1 or 2 (with shape[1] > 0)", it->name, it->ndim);
    uint64_t cols = it->ndim == 2 ? it->shape[1] : 1;
    SHEAR_CHECK(cols * ckpt_dtype_size(it->dtype) < ((uint64_t)1 << 30),
                "checkpoint item '%s': rows of %llu elements are too wide; pass it with fewer columns", it->name,
                (unsigned long long)cols);
    SHEAR_CHECK(it->shape[0] < ((uint64_t)1 << 31), "checkpoint item '%s': %llu rows; pass it as 2-D", it->name,
                (unsigned long long)it->shape[0]);
    SHEAR_CHECK(it->data || it->shape[0] == 0, "checkpoint item '%s' has no data", it->name);
    SHEAR_CHECK(!it->part || (it->part_lo <= it->part_hi && it->part_hi <= it->shape[0] * cols),
                "checkpoint item '%s': part [%llu, %llu) outside its %llu elements", it->name,
                (unsigned long long)it->part_lo, (unsigned long long)it->part_hi,
                (unsigned long long)(it->shape[0] * cols));
}

size_t ckpt_state_bytes(const CkptState *s) {
    size_t b = 0;
    for (int i = 0; i < s->n_items; i++) {
        const CkptItem *it = &s->items[i];
        b += (size_t)it->shape[0] * (it->ndim == 2 ? (size_t)it->shape[1] : 1) * ckpt_dtype_size(it->dtype);
    }
    return b;
}

// ---- paths ----

void ckpt_path(const char *run_dir, int64_t step, char *path, size_t len) {
    snprintf(path, len, "%s/ckpt/step_%08lld.h5", run_dir, (long long)step);
}

int64_t ckpt_step_of_name(const char *name) {
    if (strncmp(name, "step_", 5) != 0) return -1;
    const char *p = name + 5;
    int64_t v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (digits >= 18) return -1;
        v = v * 10 + (*p - '0');
    }
    if (digits < 8 || strcmp(p, ".h5") != 0) return -1;
    return v;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int ckpt_committed(const char *run_dir, int64_t **steps) {
    *steps = NULL;
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/ckpt", run_dir);
    DIR *dp = opendir(dir);
    if (!dp) return 0;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        int64_t s = ckpt_step_of_name(e->d_name);
        if (s < 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *ns = realloc(*steps, (size_t)cap * sizeof *ns);
            SHEAR_CHECK(ns, "out of memory listing '%s'", dir);
            *steps = ns;
        }
        (*steps)[n++] = s;
    }
    closedir(dp);
    if (n) qsort(*steps, (size_t)n, sizeof **steps, cmp_i64);
    return n;
}

int ckpt_latest(const char *run_dir, char *path, size_t len) {
    char lp[2048];
    snprintf(lp, sizeof lp, "%s/ckpt/LATEST", run_dir);
    FILE *f = fopen(lp, "r");
    if (!f) return -1;
    char name[256] = "";
    char *got = fgets(name, sizeof name, f);
    fclose(f);
    size_t n = got ? strlen(name) : 0;
    while (n && (name[n - 1] == '\n' || name[n - 1] == '\r' || name[n - 1] == ' ')) name[--n] = 0;
    if (ckpt_step_of_name(name) < 0) {
        snprintf(path, len, "%s", lp);
        return -2;
    }
    snprintf(path, len, "%s/ckpt/%s", run_dir, name);
    return shear_file_exists(path) ? 0 : -2;
}

// ---- commit ----

// fsync a folder so a rename in it survives a crash.
static void sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;
    fsync(fd);
    close(fd);
}

// LATEST.tmp -> fsync -> rename -> fsync folder. Returns 0 or errno.
static int write_latest(const char *dir, const char *name) {
    char tmp[2048], dst[2048];
    snprintf(tmp, sizeof tmp, "%s/LATEST.tmp", dir);
    snprintf(dst, sizeof dst, "%s/LATEST", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return errno;
    char line[256];
    int n = snprintf(line, sizeof line, "%s\n", name);
    int rc = write(fd, line, (size_t)n) == n ? 0 : (errno ? errno : EIO);
    if (rc == 0 && fsync(fd) != 0) rc = errno;
    close(fd);
    if (rc == 0 && rename(tmp, dst) != 0) rc = errno;
    if (rc == 0) sync_dir(dir);
    return rc;
}

// Deletes what the retention rule says (see ckpt.h). Rank 0 only.
static void retain(const char *run_dir, const char *dir, int64_t step, int keep_last, int major_every) {
    int64_t *steps = NULL;
    int n = ckpt_committed(run_dir, &steps);
    int kept_below = 0; // non-major checkpoints below this step kept so far, newest first
    char p[2048];
    for (int i = n - 1; i >= 0; i--) {
        int64_t s = steps[i];
        if (s == step || (major_every > 0 && s % major_every == 0)) continue;
        int drop;
        if (s > step) drop = 1;
        else drop = keep_last > 0 && ++kept_below >= keep_last;
        if (!drop) continue;
        ckpt_path(run_dir, s, p, sizeof p);
        if (unlink(p) != 0) shear_warn("cannot delete old checkpoint '%s': %s", p, strerror(errno));
        else if (s > step) shear_log("checkpoint: deleted '%s' (above the resumed step %lld: LATEST no longer reaches it)\n",
                                     p, (long long)step);
    }
    free(steps);
    // *.tmp left by saves that were killed mid-way
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "step_", 5) != 0 || l < 8 || strcmp(e->d_name + l - 7, ".h5.tmp") != 0) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) == 0) shear_log("checkpoint: removed '%s' left by an interrupted save\n", p);
    }
    closedir(dp);
}

// ---- the collective write ----

// The whole dataset's checksum attribute: every rank's piece sum, combined in rank order (= a one-writer sum).
static void write_checksum_ranks(const Dist *d, hid_t ds, CkptSum sum) {
    CkptSum *all = shear_malloc((size_t)d->size * sizeof *all);
    dist_world_allgather_u64((const uint64_t *)&sum, (uint64_t *)all, 2);
    CkptSum whole = {0, 0};
    for (int q = 0; q < d->size; q++) whole = ckpt_sum_cat(whole, all[q]);
    free(all);
    h5_attr_write_u64(ds, "checksum", ckpt_sum_final(whole));
}

static void write_part(hid_t ds, hid_t fs, hid_t dxpl, const Dist *d, const ShearOps *ops, const CkptItem *it,
                       const char *tmp, void *stage);

// One item at its global shape; this rank writes rows [lo, hi) in pieces of at most ckpt_piece_bytes, every
// rank taking part in every collective H5Dwrite (selecting none when it has nothing left).
static void write_item(hid_t f, hid_t dxpl, const Dist *d, const ShearOps *ops, const CkptItem *it, const char *tmp,
                       void *stage) {
    ckpt_item_check(it);
    uint64_t rows = it->shape[0], cols = it->ndim == 2 ? it->shape[1] : 1;
    size_t row_bytes = (size_t)cols * ckpt_dtype_size(it->dtype);
    h5_make_parents(f, it->name);
    hsize_t dims[2] = {rows, cols};
    hid_t fs = H5Screate_simple(it->ndim, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5_CHECK(H5Pset_layout(dcpl, H5D_CONTIGUOUS), "%s", it->name);
    H5_CHECK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), "%s", it->name);
    H5_CHECK(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY), "%s", it->name);
    H5_CHECK(H5Pset_obj_track_times(dcpl, 0), "%s", it->name);
    hid_t ds = H5Dcreate2(f, it->name, ckpt_file_type(it->dtype), fs, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5_CHECK(ds, "dataset '%s' in '%s'", it->name, tmp);
    if (it->part) {
        write_part(ds, fs, dxpl, d, ops, it, tmp, stage);
        H5Dclose(ds);
        H5Pclose(dcpl);
        H5Sclose(fs);
        return;
    }

    uint64_t lo, hi;
    ckpt_rows_of(rows, d->rank, d->size, &lo, &hi);
    uint64_t piece_rows = ckpt_piece_bytes / row_bytes;
    if (piece_rows == 0) piece_rows = 1;
    uint64_t max_slice = (rows + (uint64_t)d->size - 1) / (uint64_t)d->size;
    uint64_t rounds = (max_slice + piece_rows - 1) / piece_rows;
    CkptSum sum = {0, 0};
    static const double none = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        uint64_t r0 = lo + r * piece_rows;
        uint64_t k = r0 < hi ? (hi - r0 < piece_rows ? hi - r0 : piece_rows) : 0;
        const void *src = &none;
        if (k) {
            const char *at = (const char *)it->data + r0 * row_bytes;
            if (it->on_backend) {
                ops->download(stage, at, k * row_bytes);
                src = stage;
            } else {
                src = at;
            }
            sum = ckpt_sum_cat(sum, ckpt_sum_bytes(src, k * row_bytes));
            hsize_t start[2] = {r0, 0}, count[2] = {k, cols};
            H5_CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL), "%s", it->name);
        } else {
            H5_CHECK(H5Sselect_none(fs), "%s", it->name);
        }
        hsize_t mn = k ? k * cols : 1;
        hid_t ms = H5Screate_simple(1, &mn, NULL);
        if (!k) H5_CHECK(H5Sselect_none(ms), "%s", it->name);
        H5_CHECK(H5Dwrite(ds, ckpt_mem_type(it->dtype), ms, fs, dxpl, src), "writing rows %llu..%llu of '%s' to '%s'",
                 (unsigned long long)r0, (unsigned long long)(r0 + k), it->name, tmp);
        H5Sclose(ms);
    }
    write_checksum_ranks(d, ds, sum);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(fs);
}

// Selects the elements [e0, e1) of the row-major flattened dataspace fs (1-D, or 2-D with cols columns): the
// tail of the first row, the whole rows, the head of the last row, as up to three hyperslabs.
static void select_flat(hid_t fs, int ndim, uint64_t cols, uint64_t e0, uint64_t e1, const char *name) {
    if (ndim == 1) {
        hsize_t start = e0, count = e1 - e0;
        H5_CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL), "%s", name);
        return;
    }
    H5S_seloper_t op = H5S_SELECT_SET;
    for (uint64_t e = e0; e < e1;) {
        uint64_t row = e / cols, c = e % cols, n;
        hsize_t start[2] = {row, c}, count[2];
        if (c != 0 || e1 - e < cols) { // part of one row
            n = cols - c < e1 - e ? cols - c : e1 - e;
            count[0] = 1;
            count[1] = n;
        } else { // whole rows
            count[0] = (e1 - e) / cols;
            count[1] = cols;
            n = count[0] * cols;
        }
        H5_CHECK(H5Sselect_hyperslab(fs, op, start, NULL, count, NULL), "%s", name);
        op = H5S_SELECT_OR;
        e += n;
    }
}

// A part item (ckpt.h): this rank writes the elements [part_lo, part_hi) of the flattened dataset in pieces of
// at most ckpt_piece_bytes, every rank taking part in every collective H5Dwrite (selecting none when it has
// nothing left). The ranks' parts must tile the dataset in rank order: checked first, since the checksum
// combines the parts in that order.
static void write_part(hid_t ds, hid_t fs, hid_t dxpl, const Dist *d, const ShearOps *ops, const CkptItem *it,
                       const char *tmp, void *stage) {
    uint64_t cols = it->ndim == 2 ? it->shape[1] : 1, numel = it->shape[0] * cols;
    size_t es = ckpt_dtype_size(it->dtype);
    uint64_t mine[2] = {it->part_lo, it->part_hi};
    uint64_t *parts = shear_malloc((size_t)d->size * 2 * sizeof *parts); // [R, 2]
    dist_world_allgather_u64(mine, parts, 2);
    uint64_t piece = ckpt_piece_bytes / es ? ckpt_piece_bytes / es : 1, rounds = 0, next = 0;
    for (int q = 0; q < d->size; q++) {
        uint64_t lo = parts[2 * q], hi = parts[2 * q + 1];
        if (hi == lo) continue;
        SHEAR_CHECK(lo == next, "checkpoint item '%s': rank %d holds elements [%llu, %llu), expected its part to "
                    "start at %llu (the ranks' parts must tile the dataset in rank order)", it->name, q,
                    (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)next);
        next = hi;
        uint64_t r = (hi - lo + piece - 1) / piece;
        if (r > rounds) rounds = r;
    }
    SHEAR_CHECK(next == numel, "checkpoint item '%s': the ranks' parts cover %llu of %llu elements", it->name,
                (unsigned long long)next, (unsigned long long)numel);
    free(parts);
    CkptSum sum = {0, 0};
    static const double none = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        uint64_t e0 = it->part_lo + r * piece;
        uint64_t k = e0 < it->part_hi ? (it->part_hi - e0 < piece ? it->part_hi - e0 : piece) : 0;
        const void *src = &none;
        if (k) {
            const char *at = (const char *)it->data + (e0 - it->part_lo) * es;
            if (it->on_backend) {
                ops->download(stage, at, k * es);
                src = stage;
            } else {
                src = at;
            }
            sum = ckpt_sum_cat(sum, ckpt_sum_bytes(src, k * es));
            select_flat(fs, it->ndim, cols, e0, e0 + k, it->name);
        } else {
            H5_CHECK(H5Sselect_none(fs), "%s", it->name);
        }
        hsize_t mn = k ? k : 1;
        hid_t ms = H5Screate_simple(1, &mn, NULL);
        if (!k) H5_CHECK(H5Sselect_none(ms), "%s", it->name);
        H5_CHECK(H5Dwrite(ds, ckpt_mem_type(it->dtype), ms, fs, dxpl, src), "writing elements %llu..%llu of '%s' to "
                 "'%s'", (unsigned long long)e0, (unsigned long long)(e0 + k), it->name, tmp);
        H5Sclose(ms);
    }
    write_checksum_ranks(d, ds, sum);
}

// The deck as a 1-D uint8 dataset (read back by h5_read_text), rank 0 writing in one collective call.
static void write_deck(hid_t f, hid_t dxpl, const Dist *d, const char *text, const char *tmp) {
    hsize_t n = strlen(text);
    hid_t fs = H5Screate_simple(1, &n, NULL);
    hid_t ds = H5Dcreate2(f, "deck", H5T_NATIVE_UINT8, fs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(ds, "text dataset /deck in '%s'", tmp);
    if (n > 0) {
        hid_t ms = H5Screate_simple(1, &n, NULL);
        if (d->rank != 0) {
            H5Sselect_none(fs);
            H5Sselect_none(ms);
        }
        H5_CHECK(H5Dwrite(ds, H5T_NATIVE_UINT8, ms, fs, dxpl, text), "/deck in '%s'", tmp);
        H5Sclose(ms);
    }
    h5_attr_write_u64(ds, "checksum", ckpt_sum_final(ckpt_sum_bytes(text, (size_t)n)));
    H5Dclose(ds);
    H5Sclose(fs);
}


double ckpt_save(const Dist *d, const ShearOps *ops, const char *run_dir, const CkptState *s, int keep_last,
                 int major_every) {
    double t0 = shear_now();
    // A stop signal arriving now stays pending until the file is committed: the handler only sets a flag,
    // but this keeps SIGINT's default action from killing the save half-way too.
    sigset_t hold, old;
    sigemptyset(&hold);
    sigaddset(&hold, SIGUSR1);
    sigaddset(&hold, SIGTERM);
    sigaddset(&hold, SIGINT);
    pthread_sigmask(SIG_BLOCK, &hold, &old);

    char dir[2048], path[2048], tmp[2100];
    snprintf(dir, sizeof dir, "%s/ckpt", run_dir);
    ckpt_path(run_dir, s->step, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    watchdog_io_begin(); // ranks wait at this save's barriers for the slowest writer: file-system time, not a hang
    if (d->rank == 0) shear_mkdirs(dir);
    dist_world_barrier("checkpoint directory");
    shear_tmp_begin(tmp); // a write error on any rank (full disk, EIO) dies and removes it; LATEST stays

    h5_quiet();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    // MPI_INFO_NULL: no MPI-IO hints
    H5_CHECK(H5Pset_fapl_mpio(fapl, dist_comm_world(), MPI_INFO_NULL), "MPI-IO file access for '%s'", tmp);
    H5_CHECK(H5Pset_all_coll_metadata_ops(fapl, 1), "collective metadata for '%s'", tmp);
    H5_CHECK(H5Pset_coll_metadata_write(fapl, 1), "collective metadata for '%s'", tmp);
    H5_CHECK(H5Pset_alignment(fapl, 64 << 10, 1 << 20), "alignment for '%s'", tmp);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    SHEAR_CHECK(f >= 0, "cannot create checkpoint '%s': expected a writable run.out_dir", tmp);
    h5_probe_hold(tmp);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5_CHECK(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE), "collective transfers for '%s'", tmp);

    char info[1024];
    build_info(info, sizeof info);
    h5_attr_write_string(f, "format", CKPT_FORMAT);
    h5_attr_write_int(f, "format_version", CKPT_VERSION);
    h5_attr_write_string(f, "phase", s->phase ? s->phase : "");
    h5_attr_write_int(f, "step", s->step);
    h5_attr_write_int(f, "tokens", s->tokens);
    h5_attr_write_int(f, "world_size", d->size);
    h5_attr_write_string(f, "build_info", info);
    h5_attr_write_string(f, "checksum_algorithm", CKPT_SUM_NAME);
    if (s->config) modelfile_write_config(f, s->config);
    write_deck(f, dxpl, d, s->deck_text ? s->deck_text : "", tmp);

    size_t stage_bytes = 0; // backend items are staged through the host: a piece, or one row if wider
    for (int i = 0; i < s->n_items; i++) {
        const CkptItem *it = &s->items[i];
        size_t row = (size_t)(it->ndim == 2 ? it->shape[1] : 1) * ckpt_dtype_size(it->dtype);
        if (it->on_backend) stage_bytes = stage_bytes > row ? stage_bytes : row;
    }
    void *stage = stage_bytes ? shear_malloc(stage_bytes > ckpt_piece_bytes ? stage_bytes : ckpt_piece_bytes) : NULL;
    for (int i = 0; i < s->n_items; i++) {
        write_item(f, dxpl, d, ops, &s->items[i], tmp, stage);
        if (s->after_item) s->after_item(i, s->hook_ctx);
    }
    free(stage);
    H5Pclose(dxpl);
    watchdog_test_slow_save(d->rank);
    // MPI_File_sync on every rank (the mpio driver syncs on a flush that is not the close): each rank's bytes
    // are on stable storage before the rename makes the file visible as committed
    H5_CHECK(H5Fflush(f, H5F_SCOPE_GLOBAL), "flushing '%s'", tmp);
    H5_CHECK(H5Fclose(f), "closing checkpoint '%s'", tmp);
    h5_probe_release();
    dist_world_barrier("checkpoint closed");
    shear_tmp_done(tmp);

    int rc = 0;
    if (d->rank == 0) {
        if (rename(tmp, path) != 0) rc = errno;
        if (rc == 0) {
            sync_dir(dir);
            rc = write_latest(dir, strrchr(path, '/') + 1);
        }
        if (rc == 0) retain(run_dir, dir, s->step, keep_last, major_every);
    }
    char err[4096 + 256] = "";
    if (rc != 0)
        snprintf(err, sizeof err, "cannot commit checkpoint '%s' (rename, then %s/LATEST): %s", path, dir,
                 strerror(rc));
    dist_agree_or_die(rc != 0, err, sizeof err); // only rank 0 can fail: it dies, one message
    watchdog_io_end();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    double dt = shear_now() - t0;
    return dist_world_max_double(dt);
}
