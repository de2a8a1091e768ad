// The writing side of the token store (layout in store.h), used by `shear prep`: every call is collective
// over the communicator (same arguments, same order on every rank); each rank writes its own contiguous run of
// tokens with parallel HDF5. The store is written to PATH.tmp and renamed to PATH only after a successful
// collective close, so a failure never leaves a half-written store under PATH.
#ifndef SHEAR_STORE_WRITE_H
#define SHEAR_STORE_WRITE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "shear/store.h"

// Elements one rank writes per collective call (1 GiB of int32; MPI-IO counts are ints).
#define STORE_WRITE_MAX ((size_t)1 << 28)

typedef struct {
    int64_t file;  // hid_t of PATH.tmp, opened with the MPI-IO driver
    int64_t dxpl;  // collective transfer property list
    MPI_Comm comm;
    int rank, size;   // in the world
    size_t max_write; // elements per rank per collective write; 0 = STORE_WRITE_MAX (tests set it small)
    char path[1024];
    char tmp_path[1040];
} StoreWriter;

// Creates PATH.tmp (truncating a leftover one) and the /domains group.
void store_writer_create(StoreWriter *w, const char *path, MPI_Comm comm);
// Creates /domains/<domain>/<split> as int32 [n_seqs, seq_len] and writes this rank's tokens[count] at flat
// (row-major) position first; count may be 0. Every element of the dataset must be written by some rank. Also
// writes the dataset's checksum attribute (store.h), from every rank's piece.
void store_writer_split(StoreWriter *w, const char *domain, const char *split, size_t n_seqs, int seq_len,
                        size_t first, size_t count, const int32_t *tokens);
// Attributes on "/" or "/domains/<name>" (object is the path).
void store_writer_attr_int(StoreWriter *w, const char *object, const char *name, int64_t v);
void store_writer_attr_string(StoreWriter *w, const char *object, const char *name, const char *s);
// The deck, verbatim, as /deck.
void store_writer_deck(StoreWriter *w, const char *text);
// Closes the file collectively, then rank 0 renames PATH.tmp to PATH; returns after a barrier.
void store_writer_commit(StoreWriter *w);
// Closes the file collectively and removes PATH.tmp (the error path).
void store_writer_abort(StoreWriter *w);

#endif
