// Benchmark (label bench, not run by ctest by default): what verifying a token store at open costs.
//   verify_cost [MB] [DIR]   (default 256 MB in $TMPDIR or /tmp; OMP_NUM_THREADS sets the hash's threads)
// Writes a store of about MB megabytes with the parallel writer (one rank), then reports:
//   hash          ckpt_sum_bytes over the tokens in memory (GB/s, best of 3)
//   read          every split read with H5Dread and no hash (store_open with SHEAR_NO_VERIFY=1, then the rows)
//   open+verify   store_open as train and eval call it: every split read once, checksum and ids checked
// The file was just written, so the reads come from the page cache: a cold read is bounded by the disk or the
// parallel file system instead, and the hash is rarely the bottleneck.
#include <hdf5.h>
#include <mpi.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shear/ckpt_sum.h"
#include "shear/common.h"
#include "shear/store.h"
#include "shear/store_write.h"

#define SEQ_LEN 2048
#define VOCAB 32000

static double best_of(double a, double b) { return a < b ? a : b; }

// Reads every row of every split (what the verification reads, without hashing it).
static double read_all(const char *path) {
    setenv("SHEAR_NO_VERIFY", "1", 1);
    double t0 = shear_now();
    TokenStore s;
    store_open(&s, path);
    size_t most = 0;
    for (int d = 0; d < s.n_domains; d++) most = s.n_train[d] > most ? s.n_train[d] : most;
    int32_t *buf = shear_malloc(most * SEQ_LEN * sizeof *buf); // [most, seq_len]
    for (int d = 0; d < s.n_domains; d++)
        for (int e = 0; e < 2; e++) {
            hid_t ds = (hid_t)(e ? s.eval_ds[d] : s.train_ds[d]);
            if ((e ? s.n_eval[d] : s.n_train[d]) == 0) continue;
            if (H5Dread(ds, H5T_STD_I32LE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) SHEAR_DIE("read failed");
        }
    free(buf);
    store_close(&s);
    unsetenv("SHEAR_NO_VERIFY");
    return shear_now() - t0;
}

static double open_verify(const char *path) {
    double t0 = shear_now();
    TokenStore s;
    store_open(&s, path);
    store_close(&s);
    return shear_now() - t0;
}

int main(int argc, char **argv) {
    size_t mb = argc > 1 ? (size_t)atol(argv[1]) : 256;
    const char *tmp = argc > 2 ? argv[2] : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (mb < 1) mb = 1;
    MPI_Init(&argc, &argv);
    char path[1024];
    snprintf(path, sizeof path, "%s/shear_verify_cost_%d.h5", tmp, (int)getpid());

    // two domains, 95% train, 5% eval, ids uniform in [0, VOCAB)
    size_t rows = mb * 1000000 / (SEQ_LEN * sizeof(int32_t)), n_eval = rows / 40, n_train = rows / 2 - n_eval;
    size_t n = n_train > n_eval ? n_train : n_eval;
    int32_t *tok = shear_malloc(n * SEQ_LEN * sizeof *tok); // [n_train, seq_len], also the eval rows' source
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < n * SEQ_LEN; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        tok[i] = (int32_t)(x % VOCAB);
    }
    double t0 = shear_now();
    StoreWriter w;
    store_writer_create(&w, path, MPI_COMM_WORLD);
    const char *names[2] = {"a", "b"};
    for (int d = 0; d < 2; d++) {
        store_writer_split(&w, names[d], "train", n_train, SEQ_LEN, 0, n_train * SEQ_LEN, tok);
        store_writer_split(&w, names[d], "eval", n_eval, SEQ_LEN, 0, n_eval * SEQ_LEN, tok);
    }
    store_writer_attr_string(&w, "/", "format", STORE_FORMAT);
    store_writer_attr_int(&w, "/", "version", STORE_VERSION);
    store_writer_attr_int(&w, "/", "seq_len", SEQ_LEN);
    store_writer_attr_string(&w, "/", "tokenizer", "verify-cost");
    store_writer_attr_int(&w, "/", "vocab_size", VOCAB);
    store_writer_attr_int(&w, "/", "n_domains", 2);
    store_writer_attr_string(&w, "/", "domains", "a,b");
    store_writer_deck(&w, "");
    store_writer_commit(&w);
    double t_write = shear_now() - t0;
    double bytes = (double)(2 * (n_train + n_eval)) * SEQ_LEN * sizeof(int32_t);

    // the hash alone, in memory, over as many bytes as the store holds
    double t_hash = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t = shear_now();
        volatile uint64_t sink = 0;
        for (int d = 0; d < 2; d++) {
            sink ^= ckpt_sum_final(ckpt_sum_bytes(tok, n_train * SEQ_LEN * sizeof *tok));
            sink ^= ckpt_sum_final(ckpt_sum_bytes(tok, n_eval * SEQ_LEN * sizeof *tok));
        }
        (void)sink;
        t_hash = best_of(t_hash, shear_now() - t);
    }
    double t_read = 1e30, t_verify = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        t_read = best_of(t_read, read_all(path));
        t_verify = best_of(t_verify, open_verify(path));
    }
    printf("verify_cost: store of %.1f MB (%zu + %zu rows x %d tokens x 2 domains), %d hash threads\n", bytes / 1e6,
           n_train, n_eval, SEQ_LEN, omp_get_max_threads());
    printf("  write (prep's writer, 1 rank, checksums included)  %7.3f s  %6.2f GB/s\n", t_write, bytes / t_write / 1e9);
    printf("  hash in memory (ckpt_sum_bytes)                    %7.3f s  %6.2f GB/s\n", t_hash, bytes / t_hash / 1e9);
    printf("  read, no verify (page cache)                       %7.3f s  %6.2f GB/s\n", t_read, bytes / t_read / 1e9);
    printf("  store_open: read + checksum + ids (page cache)     %7.3f s  %6.2f GB/s\n", t_verify,
           bytes / t_verify / 1e9);
    unlink(path);
    free(tok);
    MPI_Finalize();
    return 0;
}
