// The ops interface: every computation the model, the masks and the optimizer need, over raw buffers that the
// backend owns. Two backends implement it: kernels/cpu (fp32, OpenMP + CBLAS; bf16 GEMMs through oneDNN) and
// kernels/cuda (cuBLAS). Host code never dereferences a tensor buffer; it calls upload/download.
//
// Conventions, for every op:
// - Shapes are row-major; a linear weight w is [OC, C] (Hugging Face [out_features, in_features]).
// - Forward ops OVERWRITE their outputs.
// - Backward ops ADD (+=) into every gradient they write, parameter grads and input grads alike; a gradient
//   pointer that is NULL is not computed. Callers zero what must start at zero.
// - Gates (z) are optional: NULL means "all ones" and costs nothing.
// - Sizes that can exceed 2^31 are size_t; per-row widths are int.
#ifndef SHEAR_OPS_H
#define SHEAR_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "shear/rng.h"
#include "shear/rope.h"

// Facts of the current device of a device backend (ShearOps.device_info); every field 0 when there is no usable
// device (device_info never dies).
typedef struct ShearDeviceInfo {
    size_t mem_free, mem_total;                  // bytes free and in total (cudaMemGetInfo)
    int cc_major, cc_minor, sm_count, clock_khz; // compute capability, SMs, maximum SM clock: the peak FLOP/s
} ShearDeviceInfo;

// The teacher side of ShearOps.classifier_kd: its final-norm output of the same rows and its head.
typedef struct ShearKD {
    const float *tx;   // [N, td] teacher's final RMSNorm output (backend memory)
    const float *tw;   // [V, td] teacher's lm_head (backend memory)
    int td;            // teacher width
    float alpha;       // objective = alpha KD + (1 - alpha) LM, in [0, 1]
    float temperature; // > 0
    int topk;          // 0 = the full vocabulary; 1..V = the teacher's topk largest logits
} ShearKD;

// The host's fatal-error function: prints msg with file:line, ends the process (and the job), never returns.
typedef void (*ShearFatalFn)(const char *file, int line, const char *msg);

// The arithmetic of the GEMMs (run.precision). Rounding points of SHEAR_BF16, the same on every backend: both
// inputs of every matrix product of matmul_fwd / matmul_bwd / classifier / classifier_kd (weights, activations,
// the logits' gradient) are rounded to bf16 (round to nearest even, shear/bf16.h); the products are exact in
// fp32, accumulated in fp32 and written in fp32. Everything else (attention, norms, RoPE, SwiGLU, gates,
// softmax, the loss, AdamW) stays fp32, and so do every buffer and the gradients.
typedef enum { SHEAR_FP32 = 0, SHEAR_BF16 = 1 } ShearPrecision;

// Device memory the CUDA backend holds for cuBLASLt's GEMMs, allocated once at the first GEMM (cuda_matmul.cu)
// and counted by the memory estimate (shear/memest.h): 32 MiB, the workspace NVIDIA's cuBLAS guide recommends on
// Hopper (4 MiB before it); cuBLASLt's heuristic only chooses algorithms that fit in it.
#define SHEAR_CUDA_GEMM_WORKSPACE_BYTES ((size_t)32 << 20)

typedef struct ShearOps {
    const char *name; // "cpu" or "cuda"

    // ---- the backend as a device: 0 / NULL on the CPU backend ----
    // 1: buffers live in device memory and collectives go through NCCL (shear/dist_nccl.h), not MPI
    int is_device;
    // visible devices; 0 when there is none or the driver is missing (never dies)
    int (*device_count)(void);
    // binds this process to device dev and creates the backend's stream and BLAS handles on it; once, before
    // any op (dist_nccl_init calls it with the local rank's device)
    void (*select_device)(int dev);
    // facts of the current device (never dies; zeros without a device)
    void (*device_info)(ShearDeviceInfo *info);
    // one line: runtime, driver, BLAS and NCCL versions and the number of visible devices (never dies)
    void (*version_info)(char *buf, size_t len);
    // the backend's one stream (a cudaStream_t) as an opaque pointer: NCCL enqueues its collectives on it
    void *(*stream)(void);
    // registers the host's fatal-error function, called on any backend error (CUDA, cuBLAS, a bad shape);
    // without one the backend prints the message and exits with status 1
    void (*set_fatal)(ShearFatalFn die);
    // the GEMMs' precision from here on (default SHEAR_FP32); returns 0, or -1 when the backend cannot do it
    int (*set_precision)(ShearPrecision p);

    // ---- memory: every buffer a model uses comes from here ----
    void *(*alloc)(size_t bytes);                                  // zero-filled; dies on failure
    void (*free)(void *p);
    void (*upload)(void *dst, const void *src_host, size_t bytes);
    void (*download)(void *dst_host, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);        // device to device
    void (*zero)(void *p, size_t bytes);
    void (*sync)(void);                                             // wait for queued work

    // ---- elementwise / reductions ----
    // y[n] += a * x[n]
    void (*axpy)(float *y, const float *x, float a, size_t n);
    // x[n] *= s
    void (*scale)(float *x, float s, size_t n);
    // sum x[n]^2 in double, returned to the host
    double (*sumsq)(const float *x, size_t n);
    // 1 if every element is finite, else 0 (NaN/Inf loss and gradient checks)
    int (*all_finite)(const float *x, size_t n);

    // ---- embedding ----
    // out[N,d] = wte[tok[n], :]; tok[N] is a device buffer
    void (*embedding_fwd)(float *out, const int32_t *tok, const float *wte, size_t N, int d);
    // dwte[tok[n], :] += dout[n, :]
    void (*embedding_bwd)(float *dwte, const float *dout, const int32_t *tok, size_t N, int d);

    // ---- masked RMSNorm ----
    // kept = {j : z == NULL or z[j] != 0}; rstd[n] = 1/sqrt(mean_{j in kept} inp[n,j]^2 + eps)
    // out[n,j] = w[j] * inp[n,j] * rstd[n] * (z ? z[j] : 1)       inp, out [N,d]; w, z [d]; rstd [N]
    void (*rmsnorm_fwd)(float *out, float *rstd, const float *inp, const float *w, const float *z,
                        size_t N, int d, float eps);
    // dinp [N,d], dw [d], dz [d] (dL/dz[j] = sum_n dout[n,j] * w[j] * inp[n,j] * rstd[n])
    void (*rmsnorm_bwd)(float *dinp, float *dw, float *dz, const float *dout, const float *inp,
                        const float *w, const float *z, const float *rstd, size_t N, int d);

    // ---- linear layers (no bias); in the precision of set_precision ----
    // out[N,OC] = inp[N,C] @ w[OC,C]^T
    void (*matmul_fwd)(float *out, const float *inp, const float *w, size_t N, int C, int OC);
    // dinp[N,C] += dout[N,OC] @ w;  dw[OC,C] += dout^T @ inp
    void (*matmul_bwd)(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                       size_t N, int C, int OC);

    // ---- projection biases (Qwen2's q/k/v) ----
    // out[n,c] += b[c]     out [N,C], b [C]
    void (*bias_fwd)(float *out, const float *b, size_t N, int C);
    // db[c] += sum_n dout[n,c]   dout [N,C], db [C]; the sum runs in a fixed order (the same bits every run)
    void (*bias_bwd)(float *db, const float *dout, size_t N, int C);

    // ---- rotary position embedding, rotate-half convention (Hugging Face LLaMA) ----
    // x[B,T,nh,hd] in place; position of row (b,t) is t; freq_i = rope_inv_freq(rope, i, hd) (shear/rope.h:
    // theta^(-2i/hd), rescaled by rope->type), i < hd/2; angle = t * freq_i in float;
    // x'[i] = x[i] cos - x[i+hd/2] sin, x'[i+hd/2] = x[i+hd/2] cos + x[i] sin
    void (*rope_fwd)(float *x, size_t B, int T, int nh, int hd, const ShearRope *rope);
    // dx in place: the transpose (inverse) rotation
    void (*rope_bwd)(float *dx, size_t B, int T, int nh, int hd, const ShearRope *rope);

    // ---- causal attention with GQA ----
    // q[B,T,H,hd], k/v[B,T,Hkv,hd]; query head h reads kv head h / (H/Hkv) (Hugging Face repeat_kv).
    // out[B,T,H,hd] = softmax(q k^T / sqrt(hd), causal) v;  lse[B,H,T] = row log-sum-exp of the scaled
    // scores, kept for the backward pass so no T x T matrix is ever stored.
    void (*attention_fwd)(float *out, float *lse, const float *q, const float *k, const float *v,
                          size_t B, int T, int H, int Hkv, int hd);
    void (*attention_bwd)(float *dq, float *dk, float *dv, const float *dout, const float *q,
                          const float *k, const float *v, const float *out, const float *lse,
                          size_t B, int T, int H, int Hkv, int hd);

    // ---- generation with a KV cache (shear generate) ----
    // x[n,nh,hd] in place, row i at position pos0 + i: rope_fwd's rotation (same table arithmetic) at an offset;
    // with pos0 = 0 it equals rope_fwd with B = 1, T = n
    void (*rope_at_fwd)(float *x, int n, int pos0, int nh, int hd, const ShearRope *rope);
    // out[n,H,hd]: query row i of q[n,H,hd] (position pos0 + i) attends causally to the cache rows
    // 0 .. pos0 + i of kc, vc [>= pos0 + n, Hkv, hd] (GQA as attention_fwd). With pos0 = 0 and the cache
    // holding this sequence's k and v it is attention_fwd with B = 1, T = n (same arithmetic, no lse).
    void (*attention_cached_fwd)(float *out, const float *q, const float *kc, const float *vc, int n, int pos0,
                                 int H, int Hkv, int hd);

    // ---- gates: the masks' entry into the model ----
    // out[n,c] = inp[n,c] * z[c / group]     inp, out [N,C]; z [C/group]; group = 1 (per channel),
    // head_dim * heads_per_gate (per head or KV group), or C (one scalar for the whole row: layer gates)
    void (*gate_fwd)(float *out, const float *inp, const float *z, size_t N, int C, int group);
    // dinp[n,c] += dout[n,c] * z[c/group];  dz[c/group] += sum_n dout[n,c] * inp[n,c]
    void (*gate_bwd)(float *dinp, float *dz, const float *dout, const float *inp, const float *z,
                     size_t N, int C, int group);

    // ---- SwiGLU ----
    // out[N,I] = silu(g) * u
    void (*swiglu_fwd)(float *out, const float *g, const float *u, size_t N, int I);
    // dg += dout * u * silu'(g);  du += dout * silu(g)
    void (*swiglu_bwd)(float *dg, float *du, const float *dout, const float *g, const float *u,
                       size_t N, int I);

    // ---- fused classifier + cross-entropy, memory-lean: rows are processed in chunks so at most a
    // chunk x V block of logits exists at once ----
    // logits = x[N,d] @ w[V,d]^T; for rows with target[n] >= 0: loss_n = logsumexp(logits_n) - logits_n[target].
    // Returns sum_n loss_n (double, on the host). row_loss[N] (optional) gets loss_n (0 for ignored rows).
    // If dx or dw is non-NULL: dlogits = (softmax - onehot) * dscale on scored rows, 0 elsewhere;
    // dx[N,d] += dlogits @ w;  dw[V,d] += dlogits^T @ x.
    // logits_out[N,V] (optional) receives the full logits (for tests and generation, not training).
    double (*classifier)(float *dx, float *dw, float *row_loss, float *logits_out, const float *x,
                         const float *w, const int32_t *targets, size_t N, int d, int V, float dscale);

    // ---- distillation: the classifier with a teacher (shear/distill.h) ----
    // classifier's chunks, logits, loss and dx/dw, where the teacher's logits tl = kd->tx[N,td] @ kd->tw[V,td]^T
    // go through in the same chunks (neither model's N x V logits exist at once). On scored rows:
    //   kd_n = temp^2 sum_{j in K} p_j (log p_j - log q_j),  q = softmax(logits_n / temp) over all V ids,
    //   p = softmax over K of tl_n / temp;  K = every id (kd->topk = 0), else the teacher's topk largest
    //   logits (ties to the lower id), renormalised; the student's log q on those ids is over the full vocabulary.
    // Returns sum_n loss_n (classifier's LM loss); *kd_sum = sum_n kd_n. Gradient of
    // dscale ((1 - alpha) sum loss_n + alpha sum kd_n): dlogits = dscale (1 - alpha) (softmax - onehot)
    // + dscale alpha temp (q - p), p = 0 off K. With alpha = 0 the KD term is not added: dx and dw are
    // classifier's bits. Max, sums and kd_n in double where classifier keeps them in double.
    double (*classifier_kd)(float *dx, float *dw, double *kd_sum, const float *x, const float *w,
                            const int32_t *targets, size_t N, int d, int V, float dscale, const struct ShearKD *kd);

    // ---- optimizer ----
    // AdamW on n elements: g' = g * gscale; m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2;
    // p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p), mhat = m/(1-b1^t), vhat = v/(1-b2^t), t >= 1.
    void (*adamw)(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
                  float eps, float wd, float gscale, int t);

    // ---- hard-concrete masks (formulas in shear/hardconcrete.h, computed in double, rounded once) ----
    // Gate i draws u_i = eps + (1-2eps) rng_uniform(seed, RNG_STREAM_MASK, counter0 + i), eps = 1e-6;
    // y_i = sigmoid((log u_i - log(1-u_i) + a_i) / (2/3)); z_i = clamp(1.2 y_i - 0.1, 0, 1).
    // z[n] (overwritten), log_alpha[n]
    void (*hardconcrete_sample)(float *z, const float *log_alpha, size_t n, uint64_t seed, uint64_t counter0);
    // dlog_alpha[i] += dz[i] * 1[0 < 1.2y-0.1 < 1] * 1.2 y (1-y) / (2/3), u_i redrawn from the same counters.
    // dlog_alpha, dz, log_alpha [n]
    void (*hardconcrete_bwd)(float *dlog_alpha, const float *dz, const float *log_alpha, size_t n, uint64_t seed,
                             uint64_t counter0);
} ShearOps;

#ifdef __cplusplus
extern "C" {
#endif
// The CPU backend: always built.
const ShearOps *ops_cpu(void);
// Sets the CPU backend's thread count (OpenMP and BLAS); 0 keeps the default.
void ops_cpu_set_threads(int n);
// The CUDA backend's table (kernels/cuda), or NULL when this build has no CUDA backend (kernels/ops_cuda_none.c).
// Never dies: the device members work before a device is selected; every op needs select_device first.
const ShearOps *ops_cuda(void);
#ifdef __cplusplus
}
#endif

#endif
