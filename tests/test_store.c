// The token store: the parallel writer and the serial reader round-trip (any rank count: ctest runs it on 1
// and 3 ranks, with uneven flat runs that start and end mid-row and a rank that writes nothing), the commit is
// atomic (no PATH before commit, no PATH.tmp after), abort leaves nothing, and store_open refuses what is not
// a store with a message naming the file and the problem. Checksums: the writer's attribute equals the one-writer
// hash whatever the rank count, a changed value fails store_open naming the dataset (SHEAR_NO_VERIFY=1 opens it),
// a store without checksums opens; ids outside [0, vocab_size) die in store_read naming store, domain, split,
// sequence, position and id.
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_expect_die.h"
#include "shear/ckpt_sum.h"
#include "shear/common.h"
#include "shear/h5util.h"
#include "shear/store.h"
#include "shear/store_write.h"

#include "expect.h"

static char dir[256];

// ---- stores built by hand with serial HDF5, one defect at a time ----
enum { OK, NO_FORMAT, BAD_VERSION, BAD_SHAPE, NO_EVAL, NAMES_MISMATCH, SUMMED, BAD_ID, NEG_ID };

static int32_t hand_value(int i, int k) { return 100 * i + k; }

static void write_sum(hid_t ds, uint64_t v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(ds, "checksum", H5T_STD_U64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_UINT64, &v);
    H5Aclose(a);
    H5Sclose(sp);
}

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
        for (int k = 0; k < 4 * 17; k++) data[k] = hand_value(i, k);
        // SUMMED: every split with its checksum; BAD_ID / NEG_ID plant 32000 / -1 in b/train row 2 at position
        // 15 (a target only) / 0 (an input)
        if (defect == BAD_ID && i == 2) data[2 * 16 + 15] = 32000;
        if (defect == NEG_ID && i == 2) data[2 * 16 + 0] = -1;
        hid_t sp = H5Screate_simple(2, dims, NULL);
        hid_t ds = H5Dcreate2(f, paths[i], H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
        if (defect == SUMMED) write_sum(ds, ckpt_sum_final(ckpt_sum_bytes(data, 4 * 16 * sizeof(int32_t))));
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

static void read_row2(void *path) {
    TokenStore s;
    store_open(&s, path);
    int32_t row[16];
    store_read(&s, 1, 0, 2, row);
}

// The same without the check at open: store_read itself refuses the row (in the child: setenv stays there).
static void read_row2_unverified(void *path) {
    setenv("SHEAR_NO_VERIFY", "1", 1);
    read_row2(path);
}

// A corrupt value in a store with checksums: store_open names the dataset; SHEAR_NO_VERIFY=1 opens it.
static void test_checksums(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/summed.h5", dir);
    make_store(path, SUMMED);
    TokenStore s;
    store_open(&s, path); // verifies
    store_close(&s);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "/domains/a/eval", H5P_DEFAULT);
    hsize_t start[2] = {3, 9}, one[2] = {1, 1}, m = 1;
    hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(1, &m, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, one, NULL);
    int32_t v = hand_value(1, 3 * 16 + 9) ^ 1; // one bit, the id stays in range
    H5Dwrite(ds, H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT, &v);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(ds);
    H5Fclose(f);
    failures += expect_die("a changed value", open_store, path, "dataset /domains/a/eval fails its checksum (stored ");
    failures += expect_die("a changed value", open_store, path, "the file is corrupt");
    setenv("SHEAR_NO_VERIFY", "1", 1);
    store_open(&s, path);
    int32_t row[16];
    store_read(&s, 0, 1, 3, row);
    EXPECT(row[9] == v, "SHEAR_NO_VERIFY=1: a/eval row 3 reads %d at 9, wrote %d", row[9], v);
    store_close(&s);
    unsetenv("SHEAR_NO_VERIFY");
    printf("ok   a changed value fails store_open; SHEAR_NO_VERIFY=1 opens the store\n");
    // bad ids die when read, with the store, domain, split, sequence, position, id and vocabulary
    snprintf(path, sizeof path, "%s/bad_id.h5", dir);
    make_store(path, BAD_ID);
    failures += expect_die("id = vocab_size as a target", read_row2, path,
                           "domain 'b', train sequence 2, position 15 holds token id 32000, outside the store's "
                           "vocabulary [0, 32000)");
    snprintf(path, sizeof path, "%s/neg_id.h5", dir);
    make_store(path, NEG_ID);
    failures += expect_die("id -1 as an input", read_row2, path,
                           "neg_id.h5': domain 'b', train sequence 2, position 0 holds token id -1");
    failures += expect_die("id -1 read with SHEAR_NO_VERIFY=1", read_row2_unverified, path,
                           "neg_id.h5': domain 'b', train sequence 2, position 0 holds token id -1");
    snprintf(path, sizeof path, "%s/bad_id.h5", dir);
    failures += expect_die("id = vocab_size read with SHEAR_NO_VERIFY=1", read_row2_unverified, path,
                           "train sequence 2, position 15 holds token id 32000");
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
    store_writer_attr_int(&w, "/", "vocab_size", 1 << 21); // value_at's ids are below 2^21
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
    // each split's checksum is the hash of the whole split as one writer sees it, whatever the ranks' runs
    for (int d = 0; d < 2; d++)
        for (int sp = 0; sp < 2; sp++) {
            size_t n = rows[d][sp] * (size_t)L;
            int32_t *all = shear_malloc((n ? n : 1) * sizeof *all);
            for (size_t i = 0; i < n; i++) all[i] = value_at(d, sp, i);
            uint64_t want = ckpt_sum_final(ckpt_sum_bytes(all, n * sizeof *all)), got = 0;
            free(all);
            hid_t ds = (hid_t)(sp ? s.eval_ds[d] : s.train_ds[d]);
            hid_t a = H5Aopen(ds, "checksum", H5P_DEFAULT);
            EXPECT(a >= 0 && H5Aread(a, H5T_NATIVE_UINT64, &got) >= 0 && got == want,
                   "domain %d split %d: checksum %016llx, the one-writer hash is %016llx (%d ranks)", d, sp,
                   (unsigned long long)got, (unsigned long long)want, size);
            if (a >= 0) H5Aclose(a);
        }
    int64_t docs = 0;
    hid_t g = H5Gopen2((hid_t)s.file, "/domains/first", H5P_DEFAULT);
    EXPECT(h5_attr_read_int(g, "documents", &docs) == 0 && docs == 12, "domain attribute documents = %lld",
           (long long)docs);
    H5Gclose(g);
    char *deck = h5_read_text((hid_t)s.file, "deck");
    EXPECT(deck && strcmp(deck, "prep:\n  seq_len: 7\n") == 0, "/deck read back as '%s'", deck ? deck : "(none)");
    free(deck);
    store_close(&s);
    if (rank == 0)
        printf("writer: %d ranks wrote 2 domains, read back exactly, checksums = one-writer hashes; commit renamed "
               "PATH.tmp\n", size);

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
        test_checksums();
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
