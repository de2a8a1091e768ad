// The token store: the parallel writer and the serial reader round-trip (any rank count: ctest runs it on 1
// and 3 ranks, with uneven flat runs that start and end mid-row and a rank that writes nothing), the commit is
// atomic (no PATH before commit, no PATH.tmp after), abort leaves nothing, and store_open refuses what is not
// a store with a message naming the file and the problem.
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_expect_die.h"
#include "shear/common.h"
#include "shear/h5util.h"
#include "shear/store.h"
#include "shear/store_write.h"

#include "expect.h"

static char dir[256];

// ---- stores built by hand with serial HDF5, one defect at a time ----
enum { OK, NO_FORMAT, BAD_VERSION, BAD_SHAPE, NO_EVAL, NAMES_MISMATCH };

static void make_store(const char *path, int defect) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (defect != NO_FORMAT) h5_attr_write_string(f, "format", "shear-token-store");
    h5_attr_write_int(f, "version", defect == BAD_VERSION ? 2 : 1);
    h5_attr_write_int(f, "seq_len", 16);
    h5_attr_write_int(f, "vocab_size", 32000);
    h5_attr_write_int(f, "n_domains", defect == NAMES_MISMATCH ? 3 : 2);
    h5_attr_write_string(f, "domains", "a,b");
    h5_attr_write_string(f, "tokenizer", "test-tokenizer");
    const char *paths[] = {"/domains/a/train", "/domains/a/eval", "/domains/b/train", "/domains/b/eval"};
    for (int i = 0; i < 4; i++) {
        if (defect == NO_EVAL && i == 3) continue;
        h5_make_parents(f, paths[i]);
        hsize_t dims[2] = {4, (defect == BAD_SHAPE && i == 2) ? 17 : 16};
        int32_t data[4 * 17];
        for (int k = 0; k < 4 * 17; k++) data[k] = 100 * i + k;
        hid_t sp = H5Screate_simple(2, dims, NULL);
        hid_t ds = H5Dcreate2(f, paths[i], H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
        H5Dclose(ds);
        H5Sclose(sp);
    }
    H5Fclose(f);
}

static void open_store(void *path) {
    TokenStore s;
    store_open(&s, path);
}

static void read_past_end(void *path) {
    TokenStore s;
    store_open(&s, path);
    int32_t row[16];
    store_read(&s, 1, 1, 4, row); // eval of b has rows 0..3
}

static void test_open_errors(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("not hdf5\n", f);
    fclose(f);
    failures += expect_die("a text file", open_store, path, "notes.txt' is not an HDF5 file");
    snprintf(path, sizeof path, "%s/absent.h5", dir);
    failures += expect_die("a missing file", open_store, path, "absent.h5' does not exist");
    struct { int defect; const char *what, *expect; } cases[] = {
        {NO_FORMAT, "no format attribute", "is not a token store: attribute 'format' is ''"},
        {BAD_VERSION, "format version 2", "has format version 2; this build reads version 1"},
        {BAD_SHAPE, "a [4, 17] dataset in a seq_len 16 store", "/domains/b/train has int32 shape [4, 17]"},
        {NO_EVAL, "a missing eval split", "/domains/b/eval is missing"},
        {NAMES_MISMATCH, "n_domains 3 with 2 names", "lists 2 names, n_domains is 3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/defect%d.h5", dir, cases[i].defect);
        make_store(path, cases[i].defect);
        failures += expect_die(cases[i].what, open_store, path, cases[i].expect);
    }
    snprintf(path, sizeof path, "%s/good.h5", dir);
    make_store(path, OK);
    TokenStore s;
    store_open(&s, path);
    EXPECT(s.n_domains == 2 && s.seq_len == 16 && s.vocab_size == 32000 && strcmp(s.names[1], "b") == 0 &&
               s.n_train[0] == 4 && s.n_eval[1] == 4 && strcmp(s.tokenizer, "test-tokenizer") == 0,
           "hand-made store read back wrong");
    int32_t row[16];
    store_read(&s, 1, 1, 2, row); // b/eval is dataset 3: values 300 + flat index
    EXPECT(row[0] == 300 + 32 && row[15] == 300 + 47, "b/eval row 2 starts %d, ends %d", row[0], row[15]);
    EXPECT(store_domain(&s, "b") == 1 && store_domain(&s, "c") == -1, "store_domain");
    store_close(&s);
    failures += expect_die("reading past the end", read_past_end, path, "eval sequence 4 of domain 'b'; the split has 4");
}

// ---- the parallel writer ----
static int32_t value_at(int domain, int split, size_t flat) { return (int32_t)(1000000 * domain + 100000 * split + flat); }

static void test_writer(int rank, int size) {
    char path[512], tmp[600];
    snprintf(path, sizeof path, "%s/written.h5", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    const int L = 7;
    // domain 0: train 5 rows, eval 2 rows, split evenly-ish by flat position (runs start and end mid-row);
    // domain 1: train 3 rows written all by the last rank, eval 0 rows.
    const size_t rows[2][2] = {{5, 2}, {3, 0}};
    StoreWriter w;
    store_writer_create(&w, path, MPI_COMM_WORLD);
    w.max_write = 4; // several collective rounds, ranks with different numbers of pieces
    for (int d = 0; d < 2; d++)
        for (int sp = 0; sp < 2; sp++) {
            size_t total = rows[d][sp] * (size_t)L, lo, hi;
            if (d == 0) {
                lo = total * (size_t)rank / (size_t)size;
                hi = total * (size_t)(rank + 1) / (size_t)size;
            } else {
                lo = rank == size - 1 ? 0 : total;
                hi = total;
            }
            size_t count = hi - lo;
            int32_t *buf = shear_malloc((count ? count : 1) * sizeof *buf);
            for (size_t i = 0; i < count; i++) buf[i] = value_at(d, sp, lo + i);
            store_writer_split(&w, d ? "second" : "first", sp ? "eval" : "train", rows[d][sp], L, count ? lo : 0,
                               count, buf);
            free(buf);
        }
    store_writer_attr_int(&w, "/domains/first", "documents", 12);
    store_writer_attr_string(&w, "/", "format", STORE_FORMAT);
    store_writer_attr_int(&w, "/", "version", STORE_VERSION);
    store_writer_attr_int(&w, "/", "seq_len", L);
    store_writer_attr_string(&w, "/", "tokenizer", "tok-id");
    store_writer_attr_int(&w, "/", "vocab_size", 32000);
    store_writer_attr_int(&w, "/", "n_domains", 2);
    store_writer_attr_string(&w, "/", "domains", "first,second");
    store_writer_deck(&w, "prep:\n  seq_len: 7\n");
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) EXPECT(!shear_file_exists(path) && shear_file_exists(tmp), "before commit: PATH absent, PATH.tmp present");
    MPI_Barrier(MPI_COMM_WORLD);
    store_writer_commit(&w);
    EXPECT(shear_file_exists(path) && !shear_file_exists(tmp), "after commit: PATH present, PATH.tmp gone");

    // every rank reads the whole store serially
    TokenStore s;
    store_open(&s, path);
    EXPECT(s.n_domains == 2 && s.seq_len == L && strcmp(s.names[0], "first") == 0 && strcmp(s.tokenizer, "tok-id") == 0,
           "store header read back wrong");
    size_t mismatches = 0;
    int32_t row[7];
    for (int d = 0; d < 2; d++)
        for (int sp = 0; sp < 2; sp++) {
            size_t n = sp ? s.n_eval[d] : s.n_train[d];
            EXPECT(n == rows[d][sp], "domain %d split %d has %zu rows, wrote %zu", d, sp, n, rows[d][sp]);
            for (size_t r = 0; r < n; r++) {
                store_read(&s, d, sp, r, row);
                for (int j = 0; j < L; j++) mismatches += row[j] != value_at(d, sp, r * (size_t)L + (size_t)j);
            }
        }
    EXPECT(mismatches == 0, "%zu tokens read back differ from what %d ranks wrote", mismatches, size);
    int64_t docs = 0;
    hid_t g = H5Gopen2((hid_t)s.file, "/domains/first", H5P_DEFAULT);
    EXPECT(h5_attr_read_int(g, "documents", &docs) == 0 && docs == 12, "domain attribute documents = %lld",
           (long long)docs);
    H5Gclose(g);
    char *deck = h5_read_text((hid_t)s.file, "deck");
    EXPECT(deck && strcmp(deck, "prep:\n  seq_len: 7\n") == 0, "/deck read back as '%s'", deck ? deck : "(none)");
    free(deck);
    store_close(&s);
    if (rank == 0) printf("writer: %d ranks wrote 2 domains, read back exactly; commit renamed PATH.tmp\n", size);

    // abort removes the temporary file and never creates PATH
    snprintf(path, sizeof path, "%s/aborted.h5", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    store_writer_create(&w, path, MPI_COMM_WORLD);
    store_writer_abort(&w);
    EXPECT(!shear_file_exists(path) && !shear_file_exists(tmp), "after abort: neither PATH nor PATH.tmp");
}

int main(int argc, char **argv) {
    int die_tests = !(argc > 1 && strcmp(argv[1], "--writer-only") == 0);
    // The die tests fork, and a forked child must not be an MPI process: they run before MPI_Init, in the
    // single-rank run only; the multi-rank run (--writer-only) shares rank 0's folder.
    if (die_tests) {
        snprintf(dir, sizeof dir, "/tmp/shear_test_store_XXXXXX");
        if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
        h5_quiet();
        test_open_errors();
    }
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (!die_tests) {
        if (rank == 0) {
            snprintf(dir, sizeof dir, "/tmp/shear_test_store_XXXXXX");
            if (!mkdtemp(dir)) { perror("mkdtemp"); MPI_Abort(MPI_COMM_WORLD, 1); }
        }
        MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    }
    test_writer(rank, size);
    int all = 0;
    MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
        if (all) printf("test_store: %d failures\n", all);
        else printf("test_store: all passed\n");
    }
    MPI_Finalize();
    return all ? 1 : 0;
}
