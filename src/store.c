// Reading the HDF5 token store (layout in store.h). Serial and read-only: every rank opens the file itself and
// reads the rows its sampler slice names. The writing side is store_write.c.
#include "shear/store.h"

#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "shear/ckpt_sum.h"
#include "shear/common.h"
#include "shear/h5util.h"

// Bytes per read while verifying: enough for the hash's threads, small next to a rank's memory.
#define VERIFY_PIECE_BYTES ((size_t)32 << 20)

static void close_all(TokenStore *s) {
    for (int d = 0; d < STORE_MAX_DOMAINS; d++) {
        if (s->train_ds[d] > 0) H5Dclose((hid_t)s->train_ds[d]);
        if (s->eval_ds[d] > 0) H5Dclose((hid_t)s->eval_ds[d]);
        s->train_ds[d] = s->eval_ds[d] = -1;
    }
    if (s->file > 0) H5Fclose((hid_t)s->file);
    s->file = -1;
}

// Opens /domains/<name>/<split> and checks it is int32 [n, seq_len]; 0 or -1 with the reason in err.
static int open_split(TokenStore *s, int d, const char *split, const char *path, char *err, size_t errlen) {
    // H5Lexists needs every parent of a path to exist: walk it one level at a time
    char obj[96];
    const char *levels[3] = {"/domains", s->names[d], split};
    size_t len = 0;
    for (int i = 0; i < 3; i++) {
        len += (size_t)snprintf(obj + len, sizeof obj - len, "%s%s", i ? "/" : "", levels[i]);
        if (H5Lexists((hid_t)s->file, obj, H5P_DEFAULT) <= 0) {
            snprintf(err, errlen, "token store '%s': %s is missing (domain '%s' needs train and eval datasets)",
                     path, obj, s->names[d]);
            return -1;
        }
    }
    hid_t ds = H5Dopen2((hid_t)s->file, obj, H5P_DEFAULT);
    if (ds < 0) {
        snprintf(err, errlen, "token store '%s': %s is not a dataset", path, obj);
        return -1;
    }
    if (split[0] == 't') s->train_ds[d] = ds;
    else s->eval_ds[d] = ds;
    hid_t sp = H5Dget_space(ds), ty = H5Dget_type(ds);
    hsize_t dims[2] = {0, 0};
    int rank = H5Sget_simple_extent_ndims(sp);
    if (rank == 2) H5Sget_simple_extent_dims(sp, dims, NULL);
    int is_int32 = H5Tget_class(ty) == H5T_INTEGER && H5Tget_size(ty) == 4;
    H5Tclose(ty);
    H5Sclose(sp);
    if (rank != 2 || dims[1] != (hsize_t)s->seq_len || !is_int32) {
        snprintf(err, errlen, "token store '%s': %s has %s shape [%llu, %llu] (rank %d); expected int32 [n, %d]",
                 path, obj, is_int32 ? "int32" : "non-int32", (unsigned long long)dims[0],
                 (unsigned long long)dims[1], rank, s->seq_len);
        return -1;
    }
    if (split[0] == 't') s->n_train[d] = (size_t)dims[0];
    else s->n_eval[d] = (size_t)dims[0];
    return 0;
}

// The one message for an id outside the vocabulary, at open and on every read.
static void fmt_bad_id(const TokenStore *s, int d, int eval, size_t seq, int pos, int32_t id, char *err,
                       size_t errlen) {
    snprintf(err, errlen, "token store '%s': domain '%s', %s sequence %zu, position %d holds token id %d, outside the "
             "store's vocabulary [0, %d): the store is corrupt or was not written by `shear prep` with its tokenizer",
             s->path, s->names[d], eval ? "eval" : "train", seq, pos, (int)id, s->vocab_size);
}

// The first id of row-major rows[n, seq_len] outside [0, vocab): its flat index, or n * seq_len when none.
static size_t first_bad_id(const int32_t *rows, size_t n, int vocab) {
    for (size_t i = 0; i < n; i++)
        if (rows[i] < 0 || rows[i] >= vocab) return i;
    return n;
}

// Reads a split once in pieces of rows: its "checksum" attribute against the stored bytes (the hash composes,
// so the pieces give the hash of the whole) and every id against the vocabulary. 1: fine but no attribute (not
// verified); 0: fine; -1: the reason in err (a failed checksum before a bad id: a flipped bit explains both).
static int verify_split(const TokenStore *s, int d, int eval, int32_t *buf, size_t piece_rows, char *err,
                        size_t errlen) {
    hid_t ds = (hid_t)(eval ? s->eval_ds[d] : s->train_ds[d]);
    size_t rows = eval ? s->n_eval[d] : s->n_train[d], L = (size_t)s->seq_len;
    const char *split = eval ? "eval" : "train";
    uint64_t stored = 0;
    int has_sum = h5_attr_read_u64(ds, "checksum", &stored) == 0;
    hid_t fs = H5Dget_space(ds);
    CkptSum sum = {0, 0};
    size_t bad = SIZE_MAX; // flat index of the first id outside the vocabulary
    int32_t bad_id = 0;
    int rc = 0;
    for (size_t r0 = 0; r0 < rows && rc == 0; r0 += piece_rows) {
        size_t k = rows - r0 < piece_rows ? rows - r0 : piece_rows;
        hsize_t start[2] = {r0, 0}, count[2] = {k, L}, mn = (hsize_t)(k * L);
        hid_t ms = H5Screate_simple(1, &mn, NULL);
        // native int32 = the stored little-endian bytes on the little-endian hosts Shear runs on (the checksum's
        // definition, as for checkpoints), and ids the host can compare
        if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dread(ds, H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT, buf) < 0) {
            snprintf(err, errlen, "token store '%s': cannot read rows %zu..%zu of /domains/%s/%s (truncated or "
                     "corrupt file)", s->path, r0, r0 + k, s->names[d], split);
            rc = -1;
        } else {
            if (has_sum) sum = ckpt_sum_cat(sum, ckpt_sum_bytes(buf, k * L * sizeof(int32_t)));
            size_t i = bad == SIZE_MAX ? first_bad_id(buf, k * L, s->vocab_size) : k * L;
            if (i < k * L) {
                bad = r0 * L + i;
                bad_id = buf[i];
            }
        }
        H5Sclose(ms);
    }
    H5Sclose(fs);
    if (rc) return rc;
    uint64_t got = ckpt_sum_final(sum);
    if (has_sum && got != stored) {
        snprintf(err, errlen, "token store '%s': dataset /domains/%s/%s fails its checksum (stored %016llx, computed "
                 "%016llx): the file is corrupt (damaged on disk or in a copy); restore a good copy or rewrite it "
                 "with `shear prep --force`", s->path, s->names[d], split, (unsigned long long)stored,
                 (unsigned long long)got);
        return -1;
    }
    if (bad != SIZE_MAX) {
        fmt_bad_id(s, d, eval, bad / L, (int)(bad % L), bad_id, err, errlen);
        return -1;
    }
    return has_sum ? 0 : 1;
}

// Every split's checksum and ids, unless SHEAR_NO_VERIFY; a store without checksums gets one warning.
static int verify_all(const TokenStore *s, char *err, size_t errlen) {
    if (ckpt_sum_no_verify()) return 0;
    size_t row_bytes = (size_t)s->seq_len * sizeof(int32_t);
    size_t piece_rows = VERIFY_PIECE_BYTES / row_bytes ? VERIFY_PIECE_BYTES / row_bytes : 1;
    size_t most = 0; // no bigger buffer than the biggest split needs
    for (int d = 0; d < s->n_domains; d++) {
        if (s->n_train[d] > most) most = s->n_train[d];
        if (s->n_eval[d] > most) most = s->n_eval[d];
    }
    if (piece_rows > most) piece_rows = most ? most : 1;
    int32_t *buf = shear_malloc(piece_rows * row_bytes); // [piece_rows, seq_len]
    int rc = 0, unverified = 0;
    for (int d = 0; d < s->n_domains && rc >= 0; d++)
        for (int e = 0; e < 2 && rc >= 0; e++) {
            rc = verify_split(s, d, e, buf, piece_rows, err, errlen);
            if (rc == 1) unverified++;
        }
    free(buf);
    if (rc < 0) return -1;
    if (unverified)
        shear_warn("token store '%s': %d of its %d splits carry no checksum (written before Shear stored them, or "
                   "by another tool): ids checked, bytes not verified", s->path, unverified, 2 * s->n_domains);
    return 0;
}

int store_try_open(TokenStore *s, const char *path, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    s->file = -1;
    for (int d = 0; d < STORE_MAX_DOMAINS; d++) s->train_ds[d] = s->eval_ds[d] = -1;
    snprintf(s->path, sizeof s->path, "%s", path);
    h5_quiet();
    if (!shear_file_exists(path)) {
        snprintf(err, errlen, "token store '%s' does not exist (write it with `shear prep DECK`)", path);
        return -1;
    }
    if (H5Fis_hdf5(path) <= 0) {
        snprintf(err, errlen, "'%s' is not an HDF5 file; expected a token store written by `shear prep`", path);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        snprintf(err, errlen, "cannot open token store '%s' (HDF5 open failed)", path);
        return -1;
    }
    s->file = f;
    char format[64] = "", domains[STORE_MAX_DOMAINS * 33 + 1] = "";
    int64_t version = 0, seq_len = 0, vocab = 0, n_domains = 0;
    if (h5_attr_read_string(f, "format", format, sizeof format) != 0 || strcmp(format, STORE_FORMAT) != 0) {
        snprintf(err, errlen, "'%s' is not a token store: attribute 'format' is '%s', expected '%s'", path, format,
                 STORE_FORMAT);
        goto fail;
    }
    if (h5_attr_read_int(f, "version", &version) != 0 || version != STORE_VERSION) {
        snprintf(err, errlen, "token store '%s' has format version %lld; this build reads version %d", path,
                 (long long)version, STORE_VERSION);
        goto fail;
    }
    if (h5_attr_read_int(f, "seq_len", &seq_len) != 0 || seq_len < 1 || seq_len > (1 << 24) ||
        h5_attr_read_int(f, "vocab_size", &vocab) != 0 || vocab < 1 || vocab > (1LL << 31) - 1 ||
        h5_attr_read_int(f, "n_domains", &n_domains) != 0 || n_domains < 1 || n_domains > STORE_MAX_DOMAINS ||
        h5_attr_read_string(f, "domains", domains, sizeof domains) != 0 ||
        h5_attr_read_string(f, "tokenizer", s->tokenizer, sizeof s->tokenizer) != 0) {
        snprintf(err, errlen,
                 "token store '%s': root attributes seq_len, vocab_size, n_domains (1 to %d), domains and tokenizer "
                 "are missing or out of range",
                 path, STORE_MAX_DOMAINS);
        goto fail;
    }
    s->seq_len = (int)seq_len;
    s->vocab_size = (int)vocab;
    s->n_domains = 0;
    for (char *name = domains, *next; name; name = next) {
        next = strchr(name, ',');
        if (next) *next++ = 0;
        if (s->n_domains >= n_domains || !name[0] || strlen(name) >= sizeof s->names[0]) {
            snprintf(err, errlen, "token store '%s': attribute 'domains' does not list %lld names of 1 to %zu bytes",
                     path, (long long)n_domains, sizeof s->names[0] - 1);
            goto fail;
        }
        snprintf(s->names[s->n_domains++], sizeof s->names[0], "%s", name);
    }
    if (s->n_domains != n_domains) {
        snprintf(err, errlen, "token store '%s': attribute 'domains' lists %d names, n_domains is %lld", path,
                 s->n_domains, (long long)n_domains);
        goto fail;
    }
    for (int d = 0; d < s->n_domains; d++)
        if (open_split(s, d, "train", path, err, errlen) != 0 || open_split(s, d, "eval", path, err, errlen) != 0)
            goto fail;
    if (verify_all(s, err, errlen) != 0) goto fail;
    return 0;
fail:
    close_all(s);
    return -1;
}

void store_open(TokenStore *s, const char *path) {
    char err[1024];
    if (store_try_open(s, path, err, sizeof err) != 0) SHEAR_DIE("%s", err);
}

int store_domain(const TokenStore *s, const char *name) {
    for (int d = 0; d < s->n_domains; d++)
        if (strcmp(s->names[d], name) == 0) return d;
    return -1;
}

void store_read(const TokenStore *s, int domain, int eval, size_t idx, int32_t *out) {
    SHEAR_CHECK(domain >= 0 && domain < s->n_domains, "token store: domain index %d; the store has %d domains",
                domain, s->n_domains);
    size_t n = eval ? s->n_eval[domain] : s->n_train[domain];
    SHEAR_CHECK(idx < n, "token store: %s sequence %zu of domain '%s'; the split has %zu", eval ? "eval" : "train",
                idx, s->names[domain], n);
    hid_t ds = (hid_t)(eval ? s->eval_ds[domain] : s->train_ds[domain]);
    hsize_t start[2] = {idx, 0}, count[2] = {1, (hsize_t)s->seq_len}, mcount = (hsize_t)s->seq_len;
    hid_t fs = H5Dget_space(ds);
    H5_CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL), "row %zu of domain '%s'", idx,
             s->names[domain]);
    hid_t ms = H5Screate_simple(1, &mcount, NULL);
    H5_CHECK(H5Dread(ds, H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT, out), "reading %s row %zu of domain '%s'",
             eval ? "eval" : "train", idx, s->names[domain]);
    H5Sclose(ms);
    H5Sclose(fs);
    // one pass over seq_len ints: every input and every target of a batch comes from a row read here, also when
    // SHEAR_NO_VERIFY skipped the check at open
    size_t bad = first_bad_id(out, (size_t)s->seq_len, s->vocab_size);
    if (bad < (size_t)s->seq_len) {
        char err[1536];
        fmt_bad_id(s, domain, eval, idx, (int)bad, out[bad], err, sizeof err);
        SHEAR_DIE("%s", err);
    }
}

void store_close(TokenStore *s) { close_all(s); }
