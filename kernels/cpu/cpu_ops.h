// The CPU backend's internal header: one function per ShearOps entry, grouped by the file that defines it.
// Kernels see buffers and shapes only (shear/ops.h); they never include the host's common.h: fatal errors go
// through kernel_die (kernels/fatal), shared with the CUDA backend.
#ifndef SHEAR_CPU_OPS_H
#define SHEAR_CPU_OPS_H

#include <stdio.h>
#include <stdlib.h>

#include "shear/ops.h"
#include "../fatal/kernel_fatal.h"

// Fatal errors inside a kernel (out of memory, a shape BLAS cannot take) are not recoverable by the caller.
#define CPU_DIE(...) kernel_die(__FILE__, __LINE__, __VA_ARGS__)

// A hot loop compiled three times, for AVX-512 (x86-64-v4), AVX2+FMA (x86-64-v3) and the build's baseline, the
// loader picking the CPU's best: wider vectors for the same arithmetic. Every clone computes the same bits:
// elementwise ops round the same at any width, no FMA contraction (-ffp-contract=off), no reassociation (no
// -ffast-math), and fmaf is correctly rounded in hardware or in libm. No OpenMP inside: GCC outlines a parallel
// region before it clones, so a clone is called from a region instead.
#define CPU_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

// malloc that dies instead of returning NULL; for per-call scratch buffers.
void *cpu_scratch(size_t bytes);

// ---- cpu_backend.c: memory, elementwise, reductions, optimizer ----
void *cpu_alloc(size_t bytes);
void cpu_free(void *p);
void cpu_upload(void *dst, const void *src_host, size_t bytes);
void cpu_download(void *dst_host, const void *src, size_t bytes);
void cpu_copy(void *dst, const void *src, size_t bytes);
void cpu_zero(void *p, size_t bytes);
void cpu_sync(void);
void cpu_axpy(float *y, const float *x, float a, size_t n);
void cpu_scale(float *x, float s, size_t n);
double cpu_sumsq(const float *x, size_t n);
int cpu_all_finite(const float *x, size_t n);
void cpu_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2, float eps,
               float wd, float gscale, int t);

// ---- cpu_norm.c: embedding and masked RMSNorm ----
void cpu_embedding_fwd(float *out, const int32_t *tok, const float *wte, size_t N, int d);
void cpu_embedding_bwd(float *dwte, const float *dout, const int32_t *tok, size_t N, int d);
void cpu_rmsnorm_fwd(float *out, float *rstd, const float *inp, const float *w, const float *z, size_t N, int d,
                     float eps);
void cpu_rmsnorm_bwd(float *dinp, float *dw, float *dz, const float *dout, const float *inp, const float *w,
                     const float *z, const float *rstd, size_t N, int d);

// ---- cpu_matmul.c: linear layers (through cpu_gemm) ----
void cpu_matmul_fwd(float *out, const float *inp, const float *w, size_t N, int C, int OC);
void cpu_matmul_bwd(float *dinp, float *dw, const float *dout, const float *inp, const float *w, size_t N, int C,
                    int OC);

// ---- cpu_gemm.c: the GEMMs, fp32 (CBLAS) and bf16 (oneDNN), and their precision (run.precision) ----
// C[M,Nc] = alpha * op(A) @ op(B) + beta * C, row-major, fp32; dies when a size does not fit BLAS's int.
void cpu_sgemm(int transA, int transB, size_t M, size_t Nc, size_t K, float alpha, const float *A, size_t lda,
               const float *B, size_t ldb, float beta, float *C, size_t ldc);
int cpu_set_precision(ShearPrecision p);
// A bf16 copy of x[n] (a cpu_scratch buffer, freed by the caller) in bf16 precision; NULL in fp32.
uint16_t *cpu_bf16_copy(const float *x, size_t n);
// cpu_sgemm in the backend's precision. In bf16, A and B are rounded to bf16 (Ah / Bh: their bf16 copies made
// ahead by cpu_bf16_copy, so an operand used many times is rounded once; NULL: rounded here).
void cpu_gemm(int tA, int tB, size_t M, size_t N, size_t K, float alpha, const float *A, const uint16_t *Ah,
              size_t lda, const float *B, const uint16_t *Bh, size_t ldb, float beta, float *C, size_t ldc);

// ---- cpu_pointwise.c: rotary embedding, gates, SwiGLU ----
void cpu_rope_fwd(float *x, size_t B, int T, int nh, int hd, const ShearRope *rope);
void cpu_rope_bwd(float *dx, size_t B, int T, int nh, int hd, const ShearRope *rope);
void cpu_rope_at_fwd(float *x, int n, int pos0, int nh, int hd, const ShearRope *rope);
void cpu_gate_fwd(float *out, const float *inp, const float *z, size_t N, int C, int group);
void cpu_gate_bwd(float *dinp, float *dz, const float *dout, const float *inp, const float *z, size_t N, int C,
                  int group);
void cpu_bias_fwd(float *out, const float *b, size_t N, int C);
void cpu_bias_bwd(float *db, const float *dout, size_t N, int C);
void cpu_swiglu_fwd(float *out, const float *g, const float *u, size_t N, int I);
void cpu_swiglu_bwd(float *dg, float *du, const float *dout, const float *g, const float *u, size_t N, int I);

// ---- cpu_attention.c: causal GQA attention without a T x T matrix ----
void cpu_attention_fwd(float *out, float *lse, const float *q, const float *k, const float *v, size_t B, int T,
                       int H, int Hkv, int hd);
void cpu_attention_cached_fwd(float *out, const float *q, const float *kc, const float *vc, int n, int pos0, int H,
                              int Hkv, int hd);
void cpu_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                       const float *v, const float *out, const float *lse, size_t B, int T, int H, int Hkv, int hd);

// ---- cpu_masks.c: hard-concrete mask sampling ----
void cpu_hardconcrete_sample(float *z, const float *log_alpha, size_t n, uint64_t seed, uint64_t counter0);
void cpu_hardconcrete_bwd(float *dlog_alpha, const float *dz, const float *log_alpha, size_t n, uint64_t seed,
                          uint64_t counter0);

// ---- cpu_classifier.c: fused classifier + cross-entropy ----
double cpu_classifier(float *dx, float *dw, float *row_loss, float *logits_out, const float *x, const float *w,
                      const int32_t *targets, size_t N, int d, int V, float dscale);
double cpu_classifier_kd(float *dx, float *dw, double *kd_sum, const float *x, const float *w, const int32_t *targets,
                         size_t N, int d, int V, float dscale, const ShearKD *kd);

#endif
