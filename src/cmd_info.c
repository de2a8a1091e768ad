// shear info FILE.h5: what a Shear HDF5 file holds. Checkpoints: phase, step, tokens, world size, build info,
// every dataset with its shape and whether its checksum verifies (exit 1 if one fails). Model files: the
// config and the tensor shapes. Token stores: the domains and their counts, and every id checked against the
// vocabulary (exit 1 if one is outside). Model files and token stores carry checksums too (modelfile.h,
// store.h): every dataset with a "checksum" attribute is verified, whatever the file. Serial, read-only, no MPI.
#include <stdio.h>
#include <string.h>

#include "shear/cli.h"
#include "shear/ckpt.h"
#include "shear/ckpt_sum.h"
#include "shear/common.h"
#include "shear/h5util.h"

typedef struct {
    int n, verified, failed, unverified;
    char first_failed[256]; // the first dataset that failed, for the one error line
} Tally;

static const char *type_name(hid_t t) {
    H5T_class_t c = H5Tget_class(t);
    size_t s = H5Tget_size(t);
    if (c == H5T_FLOAT) return s == 4 ? "float32" : s == 8 ? "float64" : s == 2 ? "float16" : "float";
    if (c == H5T_INTEGER) {
        int sgn = H5Tget_sign(t) == H5T_SGN_2;
        if (s == 1) return sgn ? "int8" : "uint8";
        if (s == 2) return sgn ? "int16" : "uint16";
        if (s == 4) return sgn ? "int32" : "uint32";
        return sgn ? "int64" : "uint64";
    }
    if (c == H5T_STRING) return "string";
    return "other";
}

// The checksum of a dataset's stored bytes, read in row pieces. Returns -1 when it cannot be read.
static int dataset_sum(hid_t ds, uint64_t *out) {
    hid_t sp = H5Dget_space(ds), ft = H5Dget_type(ds);
    hid_t mt = H5Tcopy(ft); // the stored (little-endian) bytes, unconverted on a little-endian host
    int nd = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[8] = {0};
    if (nd > 0) H5Sget_simple_extent_dims(sp, dims, NULL);
    size_t row_bytes = H5Tget_size(ft);
    for (int i = 1; i < nd; i++) row_bytes *= (size_t)dims[i];
    hsize_t rows = nd > 0 ? dims[0] : 1;
    size_t piece = ckpt_piece_bytes / (row_bytes ? row_bytes : 1);
    if (piece == 0) piece = 1;
    char *buf = shear_malloc(piece * row_bytes);
    CkptSum sum = {0, 0};
    int rc = 0;
    for (hsize_t r0 = 0; r0 < rows && rc == 0; r0 += piece) {
        hsize_t k = rows - r0 < piece ? rows - r0 : piece;
        hid_t ms = H5S_ALL, fs = H5S_ALL;
        if (nd > 0) {
            hsize_t start[8] = {0}, count[8];
            start[0] = r0;
            count[0] = k;
            for (int i = 1; i < nd; i++) count[i] = dims[i];
            fs = H5Scopy(sp);
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
            hsize_t mn = k * (row_bytes / H5Tget_size(ft));
            ms = H5Screate_simple(1, &mn, NULL);
        }
        if (H5Dread(ds, mt, ms, fs, H5P_DEFAULT, buf) < 0) rc = -1;
        else sum = ckpt_sum_cat(sum, ckpt_sum_bytes(buf, (size_t)k * row_bytes));
        if (nd > 0) { H5Sclose(ms); H5Sclose(fs); }
    }
    free(buf);
    H5Tclose(mt);
    H5Tclose(ft);
    H5Sclose(sp);
    *out = ckpt_sum_final(sum);
    return rc;
}

static herr_t visit(hid_t obj, const char *name, const H5O_info_t *info, void *op_data) {
    Tally *t = op_data;
    if (info->type != H5O_TYPE_DATASET) return 0;
    hid_t ds = H5Dopen2(obj, name, H5P_DEFAULT);
    if (ds < 0) {
        printf("  %-60s unreadable\n", name);
        if (!t->failed++) snprintf(t->first_failed, sizeof t->first_failed, "%s", name);
        return 0;
    }
    hid_t sp = H5Dget_space(ds), ft = H5Dget_type(ds);
    int nd = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[8] = {0};
    if (nd > 0) H5Sget_simple_extent_dims(sp, dims, NULL);
    char shape[128] = "[", *p = shape + 1;
    for (int i = 0; i < nd && i < 8; i++)
        p += snprintf(p, sizeof shape - (size_t)(p - shape), "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    snprintf(p, sizeof shape - (size_t)(p - shape), "]");
    uint64_t stored, got;
    char status[96] = "";
    int failed = 0;
    t->n++;
    if (h5_attr_read_u64(ds, "checksum", &stored) == 0) {
        if (dataset_sum(ds, &got) != 0) {
            snprintf(status, sizeof status, "UNREADABLE");
            failed = 1;
        } else if (got != stored) {
            snprintf(status, sizeof status, "CHECKSUM FAILED (stored %016llx, computed %016llx)",
                     (unsigned long long)stored, (unsigned long long)got);
            failed = 1;
        } else {
            snprintf(status, sizeof status, "checksum ok");
            t->verified++;
        }
    } else {
        snprintf(status, sizeof status, "no checksum (not verified)");
        t->unverified++;
    }
    if (failed && !t->failed++) snprintf(t->first_failed, sizeof t->first_failed, "%s", name);
    printf("  %-60s %-8s %-16s %s\n", name, type_name(ft), shape, status);
    H5Tclose(ft);
    H5Sclose(sp);
    H5Dclose(ds);
    return 0;
}

static void print_config(hid_t f) {
    if (H5Lexists(f, "config", H5P_DEFAULT) <= 0) return;
    hid_t g = H5Gopen2(f, "config", H5P_DEFAULT);
    const char *ints[] = {"dim", "n_layers", "n_heads", "n_kv_heads", "head_dim", "intermediate", "vocab"};
    printf("config:");
    for (int i = 0; i < 7; i++) {
        int64_t v;
        if (h5_attr_read_int(g, ints[i], &v) == 0) printf(" %s=%lld", ints[i], (long long)v);
    }
    double theta, eps;
    if (h5_attr_read_double(g, "rope_theta", &theta) == 0) printf(" rope_theta=%g", theta);
    char rope_type[32];
    double factor;
    if (h5_attr_read_string(g, "rope_type", rope_type, sizeof rope_type) == 0 &&
        h5_attr_read_double(g, "rope_factor", &factor) == 0)
        printf(" rope_type=%s rope_factor=%g", rope_type, factor);
    if (h5_attr_read_double(g, "norm_eps", &eps) == 0) printf(" norm_eps=%g", eps);
    char family[32];
    if (h5_attr_read_string(g, "model_type", family, sizeof family) == 0) printf(" model_type=%s", family);
    const char *flags[] = {"tie_word_embeddings", "qkv_bias", "qk_norm", "sliding_window"};
    for (int i = 0; i < 4; i++) {
        int64_t v;
        if (h5_attr_read_int(g, flags[i], &v) == 0) printf(" %s=%lld", flags[i], (long long)v);
    }
    printf("\n");
    H5Gclose(g);
}

// Token ids of a store split outside [0, vocab): how many, and the first (row, column, id). Reads the split
// in pieces of rows; -1 when it cannot be read or is not int32 [n, seq_len].
static long long bad_ids(hid_t ds, int64_t vocab, unsigned long long *row, unsigned long long *col, long long *id) {
    hid_t sp = H5Dget_space(ds), ft = H5Dget_type(ds);
    hsize_t dims[2] = {0, 0};
    int ok = H5Sget_simple_extent_ndims(sp) == 2 && H5Tget_class(ft) == H5T_INTEGER && H5Tget_size(ft) == 4;
    H5Tclose(ft);
    if (ok) H5Sget_simple_extent_dims(sp, dims, NULL);
    if (!ok || dims[1] == 0) {
        H5Sclose(sp);
        return ok ? 0 : -1;
    }
    size_t piece = ((size_t)16 << 20) / ((size_t)dims[1] * 4);
    if (piece == 0) piece = 1;
    int32_t *buf = shear_malloc(piece * (size_t)dims[1] * sizeof *buf); // [piece, seq_len]
    long long n = 0;
    for (hsize_t r0 = 0; r0 < dims[0] && n >= 0; r0 += piece) {
        hsize_t k = dims[0] - r0 < piece ? dims[0] - r0 : piece;
        hsize_t start[2] = {r0, 0}, count[2] = {k, dims[1]}, mn = k * dims[1];
        hid_t ms = H5Screate_simple(1, &mn, NULL);
        if (H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dread(ds, H5T_NATIVE_INT32, ms, sp, H5P_DEFAULT, buf) < 0) {
            n = -1;
        } else {
            for (size_t i = 0; i < (size_t)mn; i++)
                if (buf[i] < 0 || buf[i] >= vocab) {
                    if (n++ == 0) {
                        *row = r0 + i / dims[1];
                        *col = i % dims[1];
                        *id = buf[i];
                    }
                }
        }
        H5Sclose(ms);
    }
    free(buf);
    H5Sclose(sp);
    return n;
}

// Prints the domains; returns the splits whose ids fall outside the vocabulary (or cannot be read), with the
// first such split and id described in first_bad.
static int print_store(hid_t f, char *first_bad, size_t len) {
    int n_bad = 0;
    int64_t seq = 0, vocab = 0;
    char tok[256] = "", names[1024] = "";
    h5_attr_read_int(f, "seq_len", &seq);
    h5_attr_read_int(f, "vocab_size", &vocab);
    h5_attr_read_string(f, "tokenizer", tok, sizeof tok);
    h5_attr_read_string(f, "domains", names, sizeof names);
    printf("seq_len: %lld | vocab: %lld | tokenizer: %s\ndomains:\n", (long long)seq, (long long)vocab, tok);
    char *save = NULL;
    for (char *d = strtok_r(names, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
        char obj[320];
        snprintf(obj, sizeof obj, "domains/%s", d);
        if (H5Lexists(f, "domains", H5P_DEFAULT) <= 0 || H5Lexists(f, obj, H5P_DEFAULT) <= 0) {
            printf("  %-16s MISSING\n", d);
            continue;
        }
        hid_t g = H5Gopen2(f, obj, H5P_DEFAULT);
        unsigned long long rows[2] = {0, 0};
        const char *split[2] = {"train", "eval"};
        char ids[2][192] = {"", ""};
        for (int s = 0; s < 2; s++) {
            if (H5Lexists(g, split[s], H5P_DEFAULT) <= 0) continue;
            hid_t ds = H5Dopen2(g, split[s], H5P_DEFAULT);
            hid_t sp = H5Dget_space(ds);
            hsize_t dims[2] = {0, 0};
            H5Sget_simple_extent_dims(sp, dims, NULL);
            rows[s] = dims[0];
            H5Sclose(sp);
            unsigned long long r = 0, c = 0;
            long long id = 0, n = bad_ids(ds, vocab, &r, &c, &id);
            if (n < 0) snprintf(ids[s], sizeof ids[s], "%s: UNREADABLE or not int32 [n, seq_len]", split[s]);
            else if (n > 0)
                snprintf(ids[s], sizeof ids[s], "%s: %lld ID(S) OUTSIDE [0, %lld), the first at sequence %llu position "
                         "%llu: %lld", split[s], n, (long long)vocab, r, c, id);
            if (n < 0 && !n_bad++) snprintf(first_bad, len, "the first: domains/%s/%s, unreadable", d, split[s]);
            else if (n > 0 && !n_bad++)
                snprintf(first_bad, len, "the first: domains/%s/%s sequence %llu position %llu holds id %lld, outside "
                         "[0, %lld)", d, split[s], r, c, id, (long long)vocab);
            H5Dclose(ds);
        }
        int64_t docs = 0, toks = 0;
        h5_attr_read_int(g, "documents", &docs);
        h5_attr_read_int(g, "tokens", &toks);
        printf("  %-16s train %llu seqs (%llu tokens) | eval %llu seqs | %lld documents, %lld tokens of text\n", d,
               rows[0], rows[0] * (unsigned long long)seq, rows[1], (long long)docs, (long long)toks);
        for (int s = 0; s < 2; s++)
            if (ids[s][0]) printf("  %-16s %s\n", "", ids[s]);
        H5Gclose(g);
    }
    return n_bad;
}

int cmd_info(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0); // the table's lines reach a shared pipe before the closing error line
    const char *pos[1];
    int npos = cli_parse(argc, argv, NULL, 0, "shear info FILE.h5",
                         "Shows what a Shear HDF5 file holds: checkpoints (phase, step, tokens, world size, build info,\n"
                         "every dataset with its shape and checksum check), model files (config, tensor shapes), token\n"
                         "stores (domains and counts, token ids against the vocabulary). Model files and token stores\n"
                         "carry checksums too. Exits 1 when a checksum fails, a store holds an id outside its\n"
                         "vocabulary, or the file is unreadable.",
                         pos, 1);
    if (npos != 1) {
        fprintf(stderr, "shear info: expected one file (usage: shear info FILE.h5)\n");
        return SHEAR_EXIT_USAGE;
    }
    const char *path = pos[0];
    h5_quiet();
    if (!shear_file_exists(path)) {
        fprintf(stderr, "shear: error: '%s' does not exist\n", path);
        return SHEAR_EXIT_ERROR;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_file_locking(fapl, 0, 1); // read-only inspection must work on Lustre/NFS, where locks fail
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        fprintf(stderr, "shear: error: '%s' cannot be opened as HDF5: truncated or not an HDF5 file\n", path);
        return SHEAR_EXIT_ERROR;
    }
    char fmt[64] = "unknown", first_bad[320] = "";
    int64_t ver = 0;
    int n_bad_ids = 0;
    h5_attr_read_string(f, "format", fmt, sizeof fmt);
    if (h5_attr_read_int(f, "format_version", &ver)) h5_attr_read_int(f, "version", &ver);
    printf("file: %s\nformat: %s version %lld\n", path, fmt, (long long)ver);
    if (strcmp(fmt, "shear-checkpoint") == 0) {
        char phase[64] = "?", build[1024] = "?", algo[64] = "?";
        int64_t step = -1, tokens = -1, ws = -1;
        h5_attr_read_string(f, "phase", phase, sizeof phase);
        h5_attr_read_int(f, "step", &step);
        h5_attr_read_int(f, "tokens", &tokens);
        h5_attr_read_int(f, "world_size", &ws);
        h5_attr_read_string(f, "build_info", build, sizeof build);
        h5_attr_read_string(f, "checksum_algorithm", algo, sizeof algo);
        printf("phase: %s | step: %lld | tokens: %lld | world size at save: %lld\nbuild: %s\nchecksums: %s\n", phase,
               (long long)step, (long long)tokens, (long long)ws, build, algo);
    } else if (strcmp(fmt, "shear-token-store") == 0) {
        n_bad_ids = print_store(f, first_bad, sizeof first_bad);
    }
    print_config(f);
    char prec[16];
    if (h5_attr_read_string(f, "precision", prec, sizeof prec) == 0)
        printf("trained with run.precision: %s (shear export writes %s by default)\n", prec, prec);
    char *deck = h5_read_text(f, "deck");
    if (deck) printf("deck: %zu bytes (shown by h5dump -d /deck)\n", strlen(deck));
    free(deck);
    printf("datasets:\n");
    Tally t = {0};
    if (H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, visit, &t) < 0) {
        fprintf(stderr, "shear: error: '%s': cannot walk the file's objects (corrupt file?)\n", path);
        H5Fclose(f);
        return SHEAR_EXIT_ERROR;
    }
    H5Fclose(f);
    printf("%d datasets, %d with a verified checksum, %d failed", t.n, t.verified, t.failed);
    if (t.unverified) printf(", %d without a checksum (not verified)", t.unverified);
    printf("\n");
    if (strcmp(fmt, "shear-checkpoint") != 0 && t.unverified && t.unverified == t.n)
        printf("note: no dataset carries a checksum: written before Shear stored them, or by another tool\n");
    // one error line for everything found
    if (t.failed && n_bad_ids)
        fprintf(stderr, "shear: error: '%s': %d dataset(s) fail their checksum (the first: '%s') and %d split(s) hold "
                "token ids outside the vocabulary (%s): the file is corrupt\n", path, t.failed, t.first_failed,
                n_bad_ids, first_bad);
    else if (t.failed)
        fprintf(stderr, "shear: error: '%s': %d dataset(s) fail their checksum (the first: '%s'): the file is corrupt\n",
                path, t.failed, t.first_failed);
    else if (n_bad_ids)
        fprintf(stderr, "shear: error: '%s': %d split(s) hold token ids outside the vocabulary or cannot be read (%s): "
                "expected ids in [0, vocab_size) of the store's tokenizer\n", path, n_bad_ids, first_bad);
    return t.failed || n_bad_ids ? SHEAR_EXIT_ERROR : 0;
}
