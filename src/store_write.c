// Writing the token store with parallel HDF5 (store_write.h). Datasets are contiguous with no fill, each rank
// writes one contiguous run of the row-major data with a collective H5Dwrite (a rank with nothing selects
// none), so the bytes of every dataset are the same whatever the rank count. Each dataset's checksum attribute
// (store.h) is the ranks' piece hashes combined in row order, so it too is the same for any rank count.
#include "shear/store_write.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shear/ckpt_sum.h"
#include "shear/common.h"
#include "shear/dist.h"
#include "shear/h5util.h"

void store_writer_create(StoreWriter *w, const char *path, MPI_Comm comm) {
    memset(w, 0, sizeof *w);
    SHEAR_CHECK(strlen(path) < sizeof w->path, "token store path '%s' is longer than %zu bytes", path,
                sizeof w->path - 1);
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp_path, sizeof w->tmp_path, "%s.tmp", path);
    // the collectives below are the world helpers of shear/dist.h: comm is the world (dist_comm_world())
    w->comm = comm;
    w->rank = dist_world_rank();
    w->size = (int)dist_world_sum_u64(1);
    h5_quiet();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    // MPI_INFO_NULL: no MPI-IO hints
    H5_CHECK(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL), "MPI-IO file access for '%s'", w->tmp_path);
    H5_CHECK(H5Pset_all_coll_metadata_ops(fapl, 1), "collective metadata for '%s'", w->tmp_path);
    H5_CHECK(H5Pset_coll_metadata_write(fapl, 1), "collective metadata for '%s'", w->tmp_path);
    hid_t f = H5Fcreate(w->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    SHEAR_CHECK(f >= 0, "cannot create '%s': expected a writable folder for prep.out", w->tmp_path);
    w->file = f;
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5_CHECK(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE), "collective transfers for '%s'", w->tmp_path);
    w->dxpl = dxpl;
    hid_t g = H5Gcreate2(f, "/domains", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(g, "group /domains in '%s'", w->tmp_path);
    H5Gclose(g);
}

// Selects the flat range [first, first + count) of a [rows, cols] dataspace: a partial first row, whole middle
// rows, a partial last row. HDF5 walks a hyperslab union in row-major order, matching the 1-D memory buffer.
static void select_flat_range(hid_t space, size_t cols, size_t first, size_t count) {
    H5_CHECK(H5Sselect_none(space), "empty selection");
    if (count == 0) return;
    size_t end = first + count;
    size_t r0 = first / cols, c0 = first % cols, r1 = end / cols, c1 = end % cols;
    hsize_t start[2], block[2];
#define OR_BLOCK(row, col, nrows, ncols)                                                                  \
    do {                                                                                                  \
        start[0] = (row); start[1] = (col); block[0] = (nrows); block[1] = (ncols);                       \
        H5_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_OR, start, NULL, block, NULL), "rows %zu..", r0); \
    } while (0)
    if (r0 == r1) {
        OR_BLOCK(r0, c0, 1, c1 - c0);
        return;
    }
    size_t full0 = r0;
    if (c0 > 0) {
        OR_BLOCK(r0, c0, 1, cols - c0);
        full0 = r0 + 1;
    }
    if (r1 > full0) OR_BLOCK(full0, 0, r1 - full0, cols);
    if (c1 > 0) OR_BLOCK(r1, 0, 1, c1);
#undef OR_BLOCK
}

// The whole dataset's checksum from every rank's piece [first, first + count) of the flat data: every rank gets
// every piece (an attribute is collective metadata: all ranks write the same value) and combines them in order
// of position, so the result is the one-writer hash whatever the split. Dies if the pieces do not tile the data.
static uint64_t split_checksum(const StoreWriter *w, const char *obj, size_t total, size_t first, size_t count,
                               const int32_t *tokens) {
    CkptSum mine = ckpt_sum_bytes(tokens, count * sizeof(int32_t));
    uint64_t piece[3] = {count ? first : total, mine.h, mine.bytes}; // an empty piece sorts last, adds nothing
    uint64_t *all = shear_malloc((size_t)w->size * 3 * sizeof *all); // [size, 3]: first, h, bytes per rank
    dist_world_allgather_u64(piece, all, 3);
    CkptSum whole = {0, 0};
    size_t end = 0; // flat position the next piece must start at
    for (int done = 0; done < w->size; done++) {
        int q = -1; // the unused piece that starts first (few ranks: a selection is enough)
        for (int r = 0; r < w->size; r++)
            if (all[3 * (size_t)r + 2] != UINT64_MAX && (q < 0 || all[3 * (size_t)r] < all[3 * (size_t)q])) q = r;
        uint64_t *p = all + 3 * (size_t)q;
        if (p[2] > 0) {
            SHEAR_CHECK(p[0] == end, "%s: rank %d's tokens start at %llu, expected %zu (the ranks' runs must tile the "
                        "dataset)", obj, q, (unsigned long long)p[0], end);
            CkptSum part = {p[1], p[2]};
            whole = ckpt_sum_cat(whole, part);
            end += (size_t)p[2] / sizeof(int32_t);
        }
        p[2] = UINT64_MAX; // used
    }
    free(all);
    SHEAR_CHECK(end == total, "%s: the ranks' runs cover %zu of %zu tokens", obj, end, total);
    return ckpt_sum_final(whole);
}

void store_writer_split(StoreWriter *w, const char *domain, const char *split, size_t n_seqs, int seq_len,
                        size_t first, size_t count, const int32_t *tokens) {
    hid_t f = (hid_t)w->file;
    char obj[128];
    snprintf(obj, sizeof obj, "/domains/%s", domain);
    if (H5Lexists(f, obj, H5P_DEFAULT) <= 0) {
        hid_t g = H5Gcreate2(f, obj, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5_CHECK(g, "group %s in '%s'", obj, w->tmp_path);
        H5Gclose(g);
    }
    snprintf(obj, sizeof obj, "/domains/%s/%s", domain, split);
    size_t total = n_seqs * (size_t)seq_len;
    SHEAR_CHECK(first + count <= total, "%s: this rank's tokens [%zu, %zu) run past the %zu of the dataset", obj,
                first, first + count, total);
    // every element written exactly once: with no fill value an unwritten one would be garbage
    unsigned long long all = dist_world_sum_u64(count);
    SHEAR_CHECK(all == total, "%s: ranks wrote %llu tokens, the dataset holds %zu", obj, all, total);

    hsize_t dims[2] = {n_seqs, (hsize_t)seq_len};
    hid_t fs = H5Screate_simple(2, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5_CHECK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), "%s", obj);
    H5_CHECK(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY), "%s", obj);
    hid_t ds = H5Dcreate2(f, obj, H5T_STD_I32LE, fs, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5_CHECK(ds, "dataset %s [%zu, %d] in '%s'", obj, n_seqs, seq_len, w->tmp_path);
    // MPI-IO counts are ints: write in rounds of at most max_write elements per rank; every rank takes part in
    // every round (the collective needs all), selecting none once its run is done.
    size_t piece_max = w->max_write ? w->max_write : STORE_WRITE_MAX;
    unsigned long long my_rounds = (count + piece_max - 1) / piece_max, rounds = dist_world_max_u64(my_rounds);
    static const int32_t none = 0;
    for (unsigned long long r = 0; r < rounds; r++) {
        size_t off = (size_t)r * piece_max;
        size_t piece = off < count ? (count - off < piece_max ? count - off : piece_max) : 0;
        select_flat_range(fs, (size_t)seq_len, first + off, piece);
        hsize_t mdim = piece ? piece : 1;
        hid_t ms = H5Screate_simple(1, &mdim, NULL);
        if (piece == 0) H5_CHECK(H5Sselect_none(ms), "%s", obj);
        H5_CHECK(H5Dwrite(ds, H5T_NATIVE_INT32, ms, fs, (hid_t)w->dxpl, piece ? tokens + off : &none),
                 "writing %zu tokens at %zu of %s in '%s'", piece, first + off, obj, w->tmp_path);
        H5Sclose(ms);
    }
    h5_attr_write_u64(ds, "checksum", split_checksum(w, obj, total, first, count, tokens));
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(fs);
}

void store_writer_attr_int(StoreWriter *w, const char *object, const char *name, int64_t v) {
    hid_t o = H5Oopen((hid_t)w->file, object, H5P_DEFAULT);
    H5_CHECK(o, "object %s in '%s'", object, w->tmp_path);
    h5_attr_write_int(o, name, v);
    H5Oclose(o);
}

void store_writer_attr_string(StoreWriter *w, const char *object, const char *name, const char *s) {
    hid_t o = H5Oopen((hid_t)w->file, object, H5P_DEFAULT);
    H5_CHECK(o, "object %s in '%s'", object, w->tmp_path);
    h5_attr_write_string(o, name, s);
    H5Oclose(o);
}

// Same layout as h5_write_text (1-D uint8, read back with h5_read_text), written by rank 0 in one collective call.
void store_writer_deck(StoreWriter *w, const char *text) {
    hsize_t n = strlen(text);
    hid_t fs = H5Screate_simple(1, &n, NULL);
    hid_t ds = H5Dcreate2((hid_t)w->file, "deck", H5T_NATIVE_UINT8, fs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(ds, "text dataset /deck in '%s'", w->tmp_path);
    if (n > 0) {
        hid_t ms = H5Screate_simple(1, &n, NULL);
        if (w->rank != 0) {
            H5Sselect_none(fs);
            H5Sselect_none(ms);
        }
        H5_CHECK(H5Dwrite(ds, H5T_NATIVE_UINT8, ms, fs, (hid_t)w->dxpl, text), "/deck in '%s'", w->tmp_path);
        H5Sclose(ms);
    }
    h5_attr_write_u64(ds, "checksum", ckpt_sum_final(ckpt_sum_bytes(text, (size_t)n)));
    H5Dclose(ds);
    H5Sclose(fs);
}

static void close_file(StoreWriter *w) {
    H5Pclose((hid_t)w->dxpl);
    H5_CHECK(H5Fclose((hid_t)w->file), "closing '%s'", w->tmp_path);
    w->file = -1;
    dist_world_barrier("token store closed");
}

// fsync the folder so the rename itself survives a crash.
static void sync_parent(const char *path) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

void store_writer_commit(StoreWriter *w) {
    close_file(w);
    int rc = 0;
    if (w->rank == 0) {
        rc = rename(w->tmp_path, w->path) == 0 ? 0 : errno;
        if (rc == 0) sync_parent(w->path);
    }
    char err[2 * sizeof w->path + 256] = "";
    if (rc != 0) snprintf(err, sizeof err, "cannot rename '%s' to '%s': %s", w->tmp_path, w->path, strerror(rc));
    dist_agree_or_die(rc != 0, err, sizeof err); // only rank 0 can fail: it dies, one message
    dist_world_barrier("token store committed");
}

void store_writer_abort(StoreWriter *w) {
    close_file(w);
    if (w->rank == 0) unlink(w->tmp_path);
    dist_world_barrier("token store removed");
}
