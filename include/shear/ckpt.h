// Checkpoints: one HDF5 file per save, written collectively with parallel HDF5 at GLOBAL shapes (a restart may
// use another rank count), committed atomically, verified by per-dataset checksums on load.
//
// Run folder:
//   RUN/ckpt/step_00001000.h5      a committed checkpoint (the rename is the commit)
//   RUN/ckpt/step_00001000.h5.tmp  a save in progress, or one killed mid-way: never read, removed by the next save
//   RUN/ckpt/LATEST                one line: the file name of the newest committed checkpoint; the only
//                                  pointer a restart trusts
// File:
//   /              attrs: format = "shear-checkpoint", format_version, phase ("train" | "prune"), step, tokens,
//                         world_size (ranks at save), build_info, checksum_algorithm
//   /config        attrs as in model files (modelfile.h), when the state names a model config
//   /deck          uint8 text: the input deck, verbatim; attr checksum
//   /<item name>   one dataset per item at its global shape (names may hold '/': groups are made), attr
//                  checksum (uint64): ckpt_sum (ckpt_sum.h) of the dataset's little-endian bytes in row-major order
// Every dataset is contiguous, never filled, aligned to 1 MiB above 64 KiB, and written by all ranks in one
// collective call per piece: rank r writes rows [r n / R, (r+1) n / R) of an n-row dataset, so the bytes
// written do not depend on R.
#ifndef SHEAR_CKPT_H
#define SHEAR_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "shear/ckpt_sum.h"
#include "shear/dist.h"
#include "shear/model.h"
#include "shear/ops.h"

#define CKPT_FORMAT "shear-checkpoint"
#define CKPT_VERSION 1

enum { CKPT_F32 = 0, CKPT_F64 = 1, CKPT_I64 = 2 };

// A named buffer to save or restore: backend memory (ops upload/download) or host memory, with its GLOBAL
// shape [shape[0]] (ndim 1) or [shape[0], shape[1]] (ndim 2); rows may be 0 (an empty history). Every rank
// holds the whole buffer (data parallel state is replicated), or its part (below).
typedef struct {
    const char *name;   // dataset path in the file, e.g. "weights/model.norm.weight", "sampler/cursor"
    void *data;
    int on_backend;     // 1: data is backend memory
    int dtype;          // CKPT_F32 | CKPT_F64 | CKPT_I64
    int ndim;           // 1 or 2
    uint64_t shape[2];
    // A part (ZeRO-1 sharded state, zero.h): data holds only the elements [part_lo, part_hi) of the row-major
    // flattened dataset, and the ranks' non-empty parts tile it in rank order. Each rank writes its part; a load
    // keeps of the whole dataset what falls in the part. part == 0: data holds the whole buffer.
    int part;
    uint64_t part_lo, part_hi;
    // optional = 1: a checkpoint without the dataset still loads (one written before the item existed); the
    // load sets absent = 1 and leaves data as it was. The caller decides what an absent item means.
    int optional, absent;
} CkptItem;

typedef struct {
    const char *phase;        // "train" or "prune"; load refuses a checkpoint of another phase
    int64_t step, tokens;     // steps done, tokens seen (load fills them)
    const char *deck_text;    // save: stored verbatim. load: set to the stored deck (malloc'd, caller frees)
    const ModelConfig *config;// optional: written as /config (what `shear info` shows); not read back
    CkptItem *items;
    int n_items;
    // optional, for tests: called on every rank after item i is written (a fault injection point)
    void (*after_item)(int i, void *ctx);
    void *hook_ctx;
} CkptState;

// ---- building the item list ----
// Owns copies of the names. Zero-initialise, add, pass items/n to a CkptState, free.
typedef struct {
    CkptItem *items;
    int n, cap;
} CkptItems;

// rows x cols (cols == 0: a 1-D item of rows elements).
void ckpt_items_add(CkptItems *l, const char *name, void *data, int on_backend, int dtype, uint64_t rows,
                    uint64_t cols);
// One backend float item per tensor of the table: "<group>/<HF name>" at the tensor's shape, at buf + offset.
// group is "weights", "adam_m", "adam_v", ... .
void ckpt_items_add_params(CkptItems *l, const char *group, const ParamTable *t, float *buf);
// The same items as parts: buf [hi - lo] holds the flat range [lo, hi) of the table's role buffer (a ZeRO-1
// shard); each tensor's item is the part of it that falls in [lo, hi) (possibly empty).
void ckpt_items_add_params_part(CkptItems *l, const char *group, const ParamTable *t, float *buf, size_t lo,
                                size_t hi);
void ckpt_items_free(CkptItems *l);

// ---- save ----
// Collective. Writes RUN/ckpt/step_<step>.h5.tmp, flushes it to stable storage (MPI_File_sync on every rank),
// closes it, rank 0 renames it to step_<step>.h5 and fsyncs the folder, then points LATEST at it (LATEST.tmp,
// fsync, rename, fsync folder). Only then deletes older checkpoints: of those at or below this step that are
// not major (step % major_every == 0, when major_every > 0), the newest keep_last (this one included) stay
// (keep_last <= 0 keeps all); committed ones above this step (an abandoned timeline after a fallback: LATEST
// no longer reaches them) and leftover *.tmp files are removed. SIGUSR1/SIGTERM/SIGINT are held while it runs.
// Returns the seconds the save took (the same on every rank: the max).
double ckpt_save(const Dist *d, const ShearOps *ops, const char *run_dir, const CkptState *s, int keep_last,
                 int major_every);

// Bytes of all items (what a save writes besides metadata): with a guessed bandwidth, the cost of the first
// save before one has been measured (stop_requested's estimate).
size_t ckpt_state_bytes(const CkptState *s);

// ---- finding checkpoints ----
// The checkpoint LATEST names, as a path RUN/ckpt/step_XXXXXXXX.h5: 0 when LATEST exists and names an existing
// committed checkpoint, -1 when there is no LATEST, -2 when LATEST is unreadable or names a missing file (path
// then holds what it names, or LATEST itself).
int ckpt_latest(const char *run_dir, char *path, size_t len);
// Steps of the committed checkpoints in RUN/ckpt (step_XXXXXXXX.h5, *.tmp ignored), ascending; *steps is
// malloc'd (NULL when none). Returns the count.
int ckpt_committed(const char *run_dir, int64_t **steps);
// RUN/ckpt/step_<step>.h5
void ckpt_path(const char *run_dir, int64_t step, char *path, size_t len);

// Bytes one rank stages per collective write, and per load round for all ranks together (default 128 MiB:
// MPI-IO counts are ints, and a GPU rank must not need a host copy of the whole state). Tests set it small so
// that items take many rounds.
extern size_t ckpt_piece_bytes;

// ---- load ----
enum { CKPT_OK = 0, CKPT_CORRUPT = -1, CKPT_INCOMPATIBLE = -2 };
// Collective. Restores every item of s from path (in rounds of contiguous rows, split among the ranks and
// read with collective MPI-IO, then exchanged so every rank ends with the whole buffer; any rank count reads
// any file), fills step and tokens, and on success sets s->deck_text to the stored deck (malloc'd). Checks the format, the phase, that every item exists with its dtype and global shape
// BEFORE reading anything, and with verify != 0 every checksum (the items' and the deck's).
// Returns CKPT_OK; CKPT_CORRUPT (unreadable or truncated file, failed checksum: an older checkpoint may do) or
// CKPT_INCOMPATIBLE (not a checkpoint, another format version or phase, a missing item, a changed shape or
// dtype: the run's configuration does not match) with one message in err naming the file and the dataset.
// Every rank returns the same result. On failure the items may hold partial data.
int ckpt_try_load(const Dist *d, const ShearOps *ops, const char *path, CkptState *s, int verify, char *err,
                  size_t errlen);
// ckpt_try_load that dies with its message on failure.
void ckpt_load(const Dist *d, const ShearOps *ops, const char *path, CkptState *s, int verify);
// Resumes a run: loads what LATEST names. When that checkpoint is refused as corrupt (or LATEST is broken or
// missing while committed checkpoints exist) and fallback != 0, tries the older committed ones, newest first,
// warning which one was refused and why; without fallback the refusal is fatal and the message names the
// fallback option. An incompatible checkpoint is always fatal. Returns 0 and the loaded path in loaded (if
// non-NULL), or -1 when the run has no checkpoint at all (a fresh start).
int ckpt_load_latest_good(const Dist *d, const ShearOps *ops, const char *run_dir, CkptState *s, int verify,
                          int fallback, char *loaded, size_t len);

#endif
