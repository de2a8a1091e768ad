// Reading checkpoints (ckpt.h): checks before reading, collective reads of each rank's rows, checksum
// verification, the exchange that gives every rank the whole state, and resuming with fallback.
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt_internal.h"
#include "shear/ckpt_sum.h"
#include "shear/common.h"
#include "shear/h5util.h"

static int fail(char *err, size_t errlen, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

// Every rank reached the same fatal verdict: rank 0 prints it once and aborts the job; the others wait to be
// stopped by that abort instead of printing the same message again.
static void die_once(const Dist *d, const char *msg) __attribute__((noreturn));
static void die_once(const Dist *d, const char *msg) {
    (void)d;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", msg);
    dist_agree_or_die(1, buf, sizeof buf); // every rank failed: the lowest (rank 0) dies, the others wait
    SHEAR_DIE("%s", buf); // not reached
}

// Every rank agrees: the worst (lowest) code of all ranks.
static int agree(int code) {
    return dist_world_min_int(code);
}

// The dataset matches the item's dtype and shape? 0, or CKPT_INCOMPATIBLE with the message.
static int check_item(hid_t f, const char *path, const CkptItem *it, int verify, char *err, size_t errlen) {
    char want[64], got[64];
    ckpt_fmt_shape(want, sizeof want, it->ndim, it->shape);
    if (H5Lexists(f, it->name, H5P_DEFAULT) <= 0)
        return fail(err, errlen, CKPT_INCOMPATIBLE, "checkpoint '%s' has no dataset '%s' (%s %s): it was written by "
                    "another version of the run's configuration or of shear", path, it->name,
                    ckpt_dtype_name(it->dtype), want);
    hid_t ds = H5Dopen2(f, it->name, H5P_DEFAULT);
    if (ds < 0) return fail(err, errlen, CKPT_CORRUPT, "checkpoint '%s': cannot open dataset '%s'", path, it->name);
    hid_t sp = H5Dget_space(ds), t = H5Dget_type(ds);
    hsize_t dims[2] = {0, 0};
    int nd = H5Sget_simple_extent_ndims(sp);
    if (nd >= 1 && nd <= 2) H5Sget_simple_extent_dims(sp, dims, NULL);
    uint64_t shape[2] = {dims[0], dims[1]};
    ckpt_fmt_shape(got, sizeof got, nd, shape);
    H5T_class_t cls = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    int type_ok = size == ckpt_dtype_size(it->dtype) && cls == (it->dtype == CKPT_I64 ? H5T_INTEGER : H5T_FLOAT);
    int rc = 0;
    uint64_t stored;
    if (nd != it->ndim || shape[0] != it->shape[0] || (nd == 2 && shape[1] != it->shape[1]))
        rc = fail(err, errlen, CKPT_INCOMPATIBLE, "checkpoint '%s': dataset '%s' has shape %s, this run expects %s "
                  "(the model, the masks or the data changed since the save: restore the deck or use a new "
                  "run.out_dir)", path, it->name, got, want);
    else if (!type_ok)
        rc = fail(err, errlen, CKPT_INCOMPATIBLE, "checkpoint '%s': dataset '%s' holds %zu-byte %s values, this run "
                  "expects %s", path, it->name, size, cls == H5T_INTEGER ? "integer" : "non-integer",
                  ckpt_dtype_name(it->dtype));
    else if (verify && h5_attr_read_u64(ds, "checksum", &stored) != 0)
        rc = fail(err, errlen, CKPT_CORRUPT, "checkpoint '%s': dataset '%s' has no checksum attribute", path, it->name);
    H5Tclose(t);
    H5Sclose(sp);
    H5Dclose(ds);
    return rc;
}

// Copies (or uploads) the block of rows [b0, b0 + nb) in stage into the item: all of it, or for a part item
// (ckpt.h) the elements of the block that fall in [part_lo, part_hi).
static void keep_block(const ShearOps *ops, const CkptItem *it, const char *stage, uint64_t b0, uint64_t nb,
                       size_t row_bytes) {
    size_t es = ckpt_dtype_size(it->dtype);
    uint64_t cols = row_bytes / es, e0 = b0 * cols, e1 = (b0 + nb) * cols;
    uint64_t a = 0, e = nb * cols; // elements of the block to keep, relative to e0
    char *dst = (char *)it->data + b0 * row_bytes;
    if (it->part) {
        uint64_t s = e0 > it->part_lo ? e0 : it->part_lo, t = e1 < it->part_hi ? e1 : it->part_hi;
        if (s >= t) return;
        a = s - e0;
        e = t - e0;
        dst = (char *)it->data + (s - it->part_lo) * es;
    }
    if (it->on_backend) ops->upload(dst, stage + a * es, (e - a) * es);
    else memcpy(dst, stage + a * es, (e - a) * es);
}

// Reads one item in rounds: round r covers the contiguous rows [r P, (r+1) P) of the dataset, split evenly
// among the ranks; each rank reads its part with one collective H5Dread (so the file is read front to back,
// one contiguous region per round), hashes it, and an Allgatherv gives every rank the whole block, which is
// copied or uploaded into the item's buffer. The block holds at most ckpt_piece_bytes.
static int read_item(hid_t f, hid_t dxpl, const Dist *d, const ShearOps *ops, const char *path, const CkptItem *it,
                     int verify, char *stage, char *err, size_t errlen) {
    int R = d->size;
    uint64_t rows = it->shape[0], cols = it->ndim == 2 ? it->shape[1] : 1;
    size_t row_bytes = (size_t)cols * ckpt_dtype_size(it->dtype);
    hid_t ds = H5Dopen2(f, it->name, H5P_DEFAULT);
    hid_t fs = H5Dget_space(ds);
    uint64_t P = ckpt_piece_bytes / row_bytes;
    if (P < (uint64_t)R) P = (uint64_t)R; // the stage is sized for at least one row per rank
    uint64_t rounds = (rows + P - 1) / P;
    int *counts = shear_malloc((size_t)R * sizeof(int)), *displs = shear_malloc((size_t)R * sizeof(int));
    CkptSum *mine = shear_calloc(rounds ? rounds : 1, sizeof *mine); // [rounds] this rank's part of each round
    int read_ok = 1;
    uint64_t bad_at = UINT64_MAX; // first non-finite element this rank read
    for (uint64_t r = 0; r < rounds; r++) {
        uint64_t b0 = r * P, nb = rows - b0 < P ? rows - b0 : P;
        for (int q = 0; q < R; q++) {
            uint64_t lo, hi;
            ckpt_rows_of(nb, q, R, &lo, &hi);
            counts[q] = (int)(hi - lo);
            displs[q] = (int)lo;
        }
        uint64_t k = (uint64_t)counts[d->rank];
        char *at = stage + (size_t)displs[d->rank] * row_bytes;
        if (k) {
            hsize_t start[2] = {b0 + (uint64_t)displs[d->rank], 0}, count[2] = {k, cols};
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        } else {
            H5Sselect_none(fs);
        }
        hsize_t mn = k ? k * cols : 1;
        hid_t ms = H5Screate_simple(1, &mn, NULL);
        if (!k) H5Sselect_none(ms);
        if (H5Dread(ds, ckpt_mem_type(it->dtype), ms, fs, dxpl, at) < 0) read_ok = 0;
        H5Sclose(ms);
        // training dies on a non-finite loss before it saves, so a NaN or Inf here was not written by a run
        if (read_ok && it->dtype != CKPT_I64 && bad_at == UINT64_MAX) {
            uint64_t n = k * cols;
            for (uint64_t e = 0; e < n && bad_at == UINT64_MAX; e++) {
                double v = it->dtype == CKPT_F32 ? (double)((const float *)at)[e] : ((const double *)at)[e];
                if (!isfinite(v)) bad_at = (b0 + (uint64_t)displs[d->rank]) * cols + e;
            }
        }
        if (k) mine[r] = ckpt_sum_bytes(at, k * row_bytes);
        if (R > 1) dist_world_allgatherv_rows(stage, counts, displs, row_bytes);
        keep_block(ops, it, stage, b0, nb, row_bytes);
    }
    free(counts);
    free(displs);
    int rc = agree(read_ok ? 0 : CKPT_CORRUPT);
    uint64_t bad = rc ? UINT64_MAX : dist_world_min_u64(bad_at);
    if (rc) {
        fail(err, errlen, CKPT_CORRUPT, "checkpoint '%s': cannot read dataset '%s' (truncated or corrupt file)", path,
             it->name);
    } else if (bad != UINT64_MAX) {
        rc = fail(err, errlen, CKPT_CORRUPT, "checkpoint '%s': dataset '%s' holds a non-finite value at element %llu; "
                  "expected finite numbers (a run never saves after a non-finite loss): the file was altered",
                  path, it->name, (unsigned long long)bad);
    } else if (verify) {
        // the dataset's hash: round by round, each round's parts in rank order
        CkptSum *all = shear_malloc((size_t)R * (rounds ? rounds : 1) * sizeof *all); // [R, rounds]
        dist_world_allgather_u64((const uint64_t *)mine, (uint64_t *)all, (int)(2 * rounds));
        CkptSum whole = {0, 0};
        for (uint64_t r = 0; r < rounds; r++)
            for (int q = 0; q < R; q++) whole = ckpt_sum_cat(whole, all[(size_t)q * rounds + r]);
        free(all);
        uint64_t stored = 0, got = ckpt_sum_final(whole);
        h5_attr_read_u64(ds, "checksum", &stored);
        if (stored != got)
            rc = fail(err, errlen, CKPT_CORRUPT, "checkpoint '%s': dataset '%s' fails its checksum (stored %016llx, "
                      "computed %016llx): the file is corrupt", path, it->name, (unsigned long long)stored,
                      (unsigned long long)got);
    }
    free(mine);
    H5Sclose(fs);
    H5Dclose(ds);
    return rc;
}

static int try_load(const Dist *d, const ShearOps *ops, const char *path, CkptState *s, int verify, char *err,
                    size_t errlen, hid_t f) {
    char fmt[64] = "", phase[64] = "";
    if (h5_attr_read_string(f, "format", fmt, sizeof fmt) || strcmp(fmt, CKPT_FORMAT) != 0)
        return fail(err, errlen, CKPT_INCOMPATIBLE, "'%s' is not a Shear checkpoint: root attribute 'format' is '%s', "
                    "expected '%s'", path, fmt, CKPT_FORMAT);
    int64_t ver = 0, step = 0, tokens = 0;
    if (h5_attr_read_int(f, "format_version", &ver) || ver != CKPT_VERSION)
        return fail(err, errlen, CKPT_INCOMPATIBLE, "checkpoint '%s': format_version %lld is not supported (this "
                    "shear reads %d)", path, (long long)ver, CKPT_VERSION);
    if (h5_attr_read_string(f, "phase", phase, sizeof phase) || h5_attr_read_int(f, "step", &step) ||
        h5_attr_read_int(f, "tokens", &tokens))
        return fail(err, errlen, CKPT_CORRUPT, "checkpoint '%s': root attributes phase, step and tokens are required",
                    path);
    // root attributes carry no checksum: the step must at least agree with the name the save committed
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    int64_t named = ckpt_step_of_name(base);
    if (step < 0 || tokens < 0 || (named >= 0 && named != step))
        return fail(err, errlen, CKPT_CORRUPT, "checkpoint '%s': root attributes say step %lld, tokens %lld; expected "
                    "step %lld (the file's name) and tokens >= 0: the file is corrupt or was altered", path,
                    (long long)step, (long long)tokens, (long long)named);
    if (s->phase && strcmp(s->phase, phase) != 0)
        return fail(err, errlen, CKPT_INCOMPATIBLE, "checkpoint '%s' was written by phase '%s', this run is '%s' "
                    "(give each command its own run.out_dir)", path, phase, s->phase);
    // every item before reading any: a changed configuration is refused without touching the state
    for (int i = 0; i < s->n_items; i++) {
        ckpt_item_check(&s->items[i]);
        s->items[i].absent = s->items[i].optional && H5Lexists(f, s->items[i].name, H5P_DEFAULT) <= 0;
        if (s->items[i].absent) continue;
        int rc = check_item(f, path, &s->items[i], verify, err, errlen);
        if (rc) return rc;
    }
    char *deck = h5_read_text(f, "deck");
    if (!deck) return fail(err, errlen, CKPT_CORRUPT, "checkpoint '%s': the /deck dataset is missing or unreadable",
                           path);
    if (verify) {
        hid_t ds = H5Dopen2(f, "deck", H5P_DEFAULT);
        uint64_t stored = 0;
        int has = h5_attr_read_u64(ds, "checksum", &stored) == 0;
        H5Dclose(ds);
        if (!has || stored != ckpt_sum_final(ckpt_sum_bytes(deck, strlen(deck)))) {
            free(deck);
            return fail(err, errlen, CKPT_CORRUPT, "checkpoint '%s': dataset 'deck' fails its checksum: the file is "
                        "corrupt", path);
        }
    }
    size_t stage_bytes = ckpt_piece_bytes;
    for (int i = 0; i < s->n_items; i++) { // one row per rank must fit
        const CkptItem *it = &s->items[i];
        size_t rb = (size_t)(it->ndim == 2 ? it->shape[1] : 1) * ckpt_dtype_size(it->dtype) * (size_t)d->size;
        if (rb > stage_bytes) stage_bytes = rb;
    }
    char *stage = shear_malloc(stage_bytes);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    int rc = 0;
    for (int i = 0; i < s->n_items && rc == 0; i++)
        if (!s->items[i].absent) rc = read_item(f, dxpl, d, ops, path, &s->items[i], verify, stage, err, errlen);
    H5Pclose(dxpl);
    free(stage);
    if (rc) {
        free(deck);
        return rc;
    }
    s->step = step;
    s->tokens = tokens;
    s->deck_text = deck;
    return CKPT_OK;
}

int ckpt_try_load(const Dist *d, const ShearOps *ops, const char *path, CkptState *s, int verify, char *err,
                  size_t errlen) {
    h5_quiet();
    struct stat st;
    if (agree(stat(path, &st) == 0 ? 0 : CKPT_CORRUPT))
        return fail(err, errlen, CKPT_CORRUPT, "checkpoint '%s' does not exist", path);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, dist_comm_world(), MPI_INFO_NULL /* no MPI-IO hints */);
    H5Pset_all_coll_metadata_ops(fapl, 1);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (agree(f >= 0 ? 0 : CKPT_CORRUPT)) {
        if (f >= 0) H5Fclose(f);
        return fail(err, errlen, CKPT_CORRUPT, "checkpoint '%s' (%lld bytes) cannot be opened: it is truncated or not "
                    "an HDF5 file", path, (long long)st.st_size);
    }
    int rc = agree(try_load(d, ops, path, s, verify, err, errlen, f));
    H5Fclose(f);
    // a rank whose own check passed still reports why the others refused: the file is the same for all, so a
    // disagreement means an I/O error on some rank
    if (rc && !err[0]) snprintf(err, errlen, "checkpoint '%s' could not be read on every rank", path);
    return rc;
}

void ckpt_load(const Dist *d, const ShearOps *ops, const char *path, CkptState *s, int verify) {
    char err[1024] = "";
    if (ckpt_try_load(d, ops, path, s, verify, err, sizeof err)) die_once(d, err);
}

#define FALLBACK_HINT "set run.fallback: 1 to resume from the newest older checkpoint that verifies"

int ckpt_load_latest_good(const Dist *d, const ShearOps *ops, const char *run_dir, CkptState *s, int verify,
                          int fallback, char *loaded, size_t len) {
    // rank 0 looks at the folder and tells everyone, so all ranks try the same files in the same order
    char latest[2048] = "";
    int lr = 0, n = 0;
    int64_t *steps = NULL;
    if (d->rank == 0) {
        lr = ckpt_latest(run_dir, latest, sizeof latest);
        n = ckpt_committed(run_dir, &steps);
    }
    dist_world_bcast(&lr, sizeof lr, 0);
    dist_world_bcast(latest, sizeof latest, 0);
    dist_world_bcast(&n, sizeof n, 0);
    if (d->rank != 0) steps = shear_malloc((size_t)(n ? n : 1) * sizeof *steps);
    if (n) dist_world_bcast(steps, (size_t)n * sizeof *steps, 0);
    if (lr == -1 && n == 0) {
        free(steps);
        return -1;
    }
    // candidates: what LATEST names, then (with fallback) the older committed ones, newest first
    int64_t latest_step = INT64_MAX;
    char why[1200] = "";
    int nc = 0;
    char (*cand)[2048] = shear_malloc((size_t)(n + 1) * sizeof *cand);
    if (lr == 0) {
        snprintf(cand[nc++], 2048, "%s", latest);
        const char *base = strrchr(latest, '/');
        latest_step = strtoll(base + 6, NULL, 10);
    } else if (lr == -1) {
        snprintf(why, sizeof why, "'%s/ckpt' holds %d committed checkpoint(s) but no LATEST pointer", run_dir, n);
    } else {
        snprintf(why, sizeof why, "'%s/ckpt/LATEST' is unreadable or names a missing checkpoint ('%s')", run_dir,
                 latest);
    }
    char msg[2600];
    if (lr != 0 && !fallback) {
        snprintf(msg, sizeof msg, "%s; %s, or write the name of a checkpoint into LATEST, or remove the folder to "
                 "start over", why, FALLBACK_HINT);
        die_once(d, msg);
    }
    if (lr != 0) shear_warn("%s; falling back to the newest committed checkpoint that verifies", why);
    for (int i = n - 1; i >= 0; i--)
        if (steps[i] < latest_step) ckpt_path(run_dir, steps[i], cand[nc++], 2048);
    free(steps);
    char err[1024];
    for (int i = 0; i < nc; i++) {
        err[0] = 0;
        int rc = ckpt_try_load(d, ops, cand[i], s, verify, err, sizeof err);
        if (rc == CKPT_OK) {
            if (loaded) snprintf(loaded, len, "%s", cand[i]);
            free(cand);
            return 0;
        }
        if (rc == CKPT_INCOMPATIBLE) die_once(d, err);
        if (!fallback) {
            snprintf(msg, sizeof msg, "refusing to resume: %s; %s", err, FALLBACK_HINT);
            die_once(d, msg);
        }
        if (i + 1 < nc) shear_warn("refusing %s; trying the previous committed checkpoint '%s'", err, cand[i + 1]);
        else shear_warn("refusing %s", err);
    }
    snprintf(msg, sizeof msg, "no committed checkpoint in '%s/ckpt' verifies (each refusal is shown above); remove "
             "the folder to start over", run_dir);
    die_once(d, msg);
}
