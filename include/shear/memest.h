// The up-front memory estimate of a train or prune run: bytes per rank, counted from what the code allocates
// (model_create, model_alloc_acts, adamw_create, masks_create, the classifier's chunk), checked against what the
// rank may use before anything is allocated, so a run that cannot fit fails in a second with the micro-batch
// that would fit instead of running out of memory minutes later.
//
// Per rank, fp32 (4 bytes), P = the parameter table's floats (every tensor padded to 16 floats), N = B T:
//   weights  4 P             grads  4 P             optim  8 P (AdamW m and v), or with run.zero = 1 (shear/zero.h)
//            4 (2 S + S + R b): m and v of the shard S = ceil(P / R) rounded up to 64 floats, the reduced
//            gradient shard [S] and the bucket stage [R, b], b = min(S, ceil(run.zero_bucket / R) rounded to 64)
//   masks    7 x 4 x gates   (log_alpha, grad, z, dz, Adam m, v, scratch; prune only)
//   acts     4 N [L (6 d + 3 H hd + 2 Hkv hd + 4 I + H + 2) + 5 d + 2 max(d, H hd, I) + max(H hd, I)
//                 + H hd + 2 Hkv hd + 2 I + 1] + 8 N   (model_alloc_acts: every buffer named in model.h, the
//            attention lse [L,B,H,T] included; the tokens and targets are the 8 N). With run.recompute = 1 the
//            per-layer buffers hold one block: 4 N [(L + 1) d + (5 d + 3 H hd + 2 Hkv hd + 4 I + H + 2) + 4 d
//                 + 2 max(d, H hd, I) + max(H hd, I) + H hd + 2 Hkv hd + 2 I + 1] + 8 N, which saves
//            4 N (L - 1) (5 d + 3 H hd + 2 Hkv hd + 4 I + H + 2)
//   workspace the classifier's chunk of logits: min(N, max(cap / V, rows_min)) x V floats + a double per row
//            (CPU: cap 2^22 floats, at least 64 rows; CUDA: cap 2^24 floats, at least 1 row)
//   gemm_workspace  CUDA only: the GEMMs' cuBLASLt workspace, SHEAR_CUDA_GEMM_WORKSPACE_BYTES = 32 MiB (shear/ops.h)
//   bf16     run.precision: bf16, the bf16 copies of GEMM operands alive at once (an upper bound for both
//            backends: the CPU's are per call, CUDA's grow-only slots): 2 bytes x (A + B + shared + V d [+ V td])
//            with A = max(N wide, chunk d), B = max(wmax, N wide), shared = max(N wide, chunk V), wide = max(d,
//            H hd, I), wmax = max(H hd, I) d (memest_bf16_bytes)
//   teacher  distillation (distill.teacher): its weights 4 P_t (no grads, no optimizer state), its activations
//            with recompute at micro-batch x seq_len (model_alloc_acts after model_set_recompute(1)), and the
//            classifier_kd extra of memest_kd_bytes: a second [chunk, V] block for the teacher's logits, a
//            second double per row and, with top-k, the selection scratch
//   reference train from another model with dbl.reference = source and a rule that updates: a frozen copy of
//            prune.source (4 P_src weights, activations with recompute at micro-batch x seq_len) lives while the
//            reference losses are measured. Prune (and train from prune.source itself) measures them on the run's
//            own model before its first step: nothing extra (run_ref_source_copy)
// Not counted (each under 1% for real shapes, or outside the process): kernel scratch of one row (attention,
// RoPE tables), host staging of one tensor, the token store's cache, MPI and CUDA context memory.
#ifndef SHEAR_MEMEST_H
#define SHEAR_MEMEST_H

#include <stddef.h>

#include "shear/dist.h"
#include "shear/model.h"

typedef struct {
    ModelConfig cfg;     // the model trained: train's shape, prune's SOURCE shape (masked: every weight lives)
    int T;               // train.seq_len
    int ranks;           // data-parallel ranks
    int zero;            // 1 = AdamW m and v sharded over the ranks (ZeRO-1, run.zero)
    size_t zero_bucket;  // run.zero_bucket: floats per ZeRO-1 bucket over all ranks
    size_t mask_gates;   // prune: gates of the learned masks (memest_mask_gates); 0 = no masks
    int ref_eval;        // 1 = a frozen copy of prune.source (ref_cfg) is loaded for the DBL reference losses
    ModelConfig ref_cfg;
    int cuda;            // 1 = CUDA backend (its classifier chunk), 0 = CPU
    int recompute;       // run.recompute: 1 = per-layer activations of one block only (model_set_recompute)
    int bf16;            // run.precision: bf16 (the GEMMs' bf16 operand copies)
    int teacher;         // 1 = a distillation teacher of shape teacher_cfg runs forward (shear/distill.h)
    ModelConfig teacher_cfg;
    int topk;            // distill.topk
} MemPlan;

typedef struct {
    int B, T;            // micro-batch of the estimate
    size_t weights, grads, optim, masks, acts, workspace, gemm_workspace, bf16, reference, teacher,
        total; // bytes per rank
} MemEstimate;

// Bytes of model_alloc_acts(B, T) for this shape, with model_set_recompute(recompute) before it.
size_t memest_acts_bytes(const ModelConfig *c, int B, int T, int recompute);
// Bytes of the bf16 GEMM operand copies of run.precision: bf16 (see above); teacher_dim 0 = no teacher.
size_t memest_bf16_bytes(const ModelConfig *c, int B, int T, int cuda, int teacher_dim);
// Bytes of the classifier's chunk of logits for N = B T rows on the CPU (cuda = 0) or CUDA backend.
size_t memest_classifier_bytes(const ModelConfig *c, int B, int T, int cuda);
// Gates of the named masks (prune.masks) of a source shape: layer/head_layer/mlp L, head L Hkv,
// intermediate L I, hidden d. Unknown names count 0 (masks_create reports them).
size_t memest_mask_gates(const ModelConfig *src, char names[][32], int n_names);
// Bytes classifier_kd needs beyond classifier's chunk (memest_classifier_bytes) for N = B T rows.
size_t memest_kd_bytes(const ModelConfig *c, int B, int T, int cuda, int topk);
// The estimate at micro-batch B.
void memest_compute(const MemPlan *p, int B, MemEstimate *e);
// The largest micro-batch B that divides global_batch and fits in avail bytes; 0 when even B = 1 does not fit.
int memest_fit_micro_batch(const MemPlan *p, int global_batch, size_t avail);

// Bytes one rank may use, and a few words on where the number came from (what, optional):
//   SHEAR_MEM_AVAILABLE (bytes, or with a K/M/G/T binary suffix: "512M", "2G") when set: for tests and for
//   schedulers that cap memory below what the node reports;
//   CUDA: free memory of the current device (cudaMemGetInfo);
//   CPU: MemAvailable of /proc/meminfo divided by the ranks on this node.
// Returns 0 when nothing can be read (no check then).
size_t memest_available(int cuda, int local_ranks, char *what, size_t whatlen);

// What train and prune call before allocating: the estimate at the deck's micro-batch, the line
// "memory estimate per rank: ..." on rank 0, and, when the total exceeds the smallest available over all ranks,
// an error naming the sizes and the largest micro-batch that fits (or, when none does, what would: more ranks
// with ZeRO, a shorter train.seq_len). Every rank calls it (one MPI_Allreduce).
void memest_run_check(const MemPlan *p, const Dist *dist, int micro_batch, int global_batch, const char *deck_path);

// "1.23 GiB" / "456.0 MiB" / "12.0 KiB"
void memest_fmt_bytes(char *buf, size_t len, double bytes);

#endif
