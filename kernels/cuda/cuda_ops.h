// The CUDA backend of the ops interface (include/shear/ops.h), fp32 buffers in device memory, every kernel on
// the backend's one explicit stream. C-callable; compiled only when SHEAR_HAVE_CUDA.
// Files: cuda_common.cuh (CUDA_CHECK / CUBLAS_CHECK / CUDA_DIE, the stream and cuBLASLt handle), cuda_backend.cu
// (memory ops, device selection and the ShearOps table), cuda_device.cu (the device facts of the table and the
// host's fatal-error function), cuda_pointwise.cu, cuda_norm.cu, cuda_masks.cu, cuda_attention.cu, cuda_matmul.cu,
// cuda_classifier.cu. The launchers below have exactly the signatures and semantics of the ShearOps members of
// the same name (ops.h), so the table in cuda_backend.cu is a list of these functions. Private to kernels/cuda
// (and its tests): host code reaches the backend through ops_cuda() (shear/ops.h) only.
#ifndef SHEAR_CUDA_OPS_H
#define SHEAR_CUDA_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "shear/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

// ops_cuda() itself is declared in shear/ops.h. The device members of its table (ShearOps.device_count ...):
// cuda_device.cu, except cuda_select_device (cuda_backend.cu).
// Visible CUDA devices; 0 when there is none or the driver is missing (never dies).
int cuda_device_count(void);
// cudaSetDevice(dev) and creation of the stream and cuBLASLt handle on it; call once, before any op.
void cuda_select_device(int dev);
void cuda_device_info(ShearDeviceInfo *info);
void cuda_version_info(char *buf, size_t len);
void *cuda_stream_handle(void);

// cuda_pointwise.cu
void cuda_axpy(float *y, const float *x, float a, size_t n);
void cuda_scale(float *x, float s, size_t n);
double cuda_sumsq(const float *x, size_t n);
int cuda_all_finite(const float *x, size_t n);
void cuda_embedding_fwd(float *out, const int32_t *tok, const float *wte, size_t N, int d);
void cuda_embedding_bwd(float *dwte, const float *dout, const int32_t *tok, size_t N, int d);
void cuda_rope_fwd(float *x, size_t B, int T, int nh, int hd, const ShearRope *rope);
void cuda_rope_bwd(float *dx, size_t B, int T, int nh, int hd, const ShearRope *rope);
void cuda_rope_at_fwd(float *x, int n, int pos0, int nh, int hd, const ShearRope *rope);
void cuda_gate_fwd(float *out, const float *inp, const float *z, size_t N, int C, int group);
void cuda_gate_bwd(float *dinp, float *dz, const float *dout, const float *inp, const float *z, size_t N, int C,
                   int group);
void cuda_bias_fwd(float *out, const float *b, size_t N, int C);
void cuda_bias_bwd(float *db, const float *dout, size_t N, int C);
void cuda_swiglu_fwd(float *out, const float *g, const float *u, size_t N, int I);
void cuda_swiglu_bwd(float *dg, float *du, const float *dout, const float *g, const float *u, size_t N, int I);
void cuda_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2, float eps,
                float wd, float gscale, int t);
// cuda_norm.cu
void cuda_rmsnorm_fwd(float *out, float *rstd, const float *inp, const float *w, const float *z, size_t N, int d,
                      float eps);
void cuda_rmsnorm_bwd(float *dinp, float *dw, float *dz, const float *dout, const float *inp, const float *w,
                      const float *z, const float *rstd, size_t N, int d);
// cuda_masks.cu
void cuda_hardconcrete_sample(float *z, const float *log_alpha, size_t n, uint64_t seed, uint64_t counter0);
void cuda_hardconcrete_bwd(float *dlog_alpha, const float *dz, const float *log_alpha, size_t n, uint64_t seed,
                           uint64_t counter0);
// cuda_attention.cu
void cuda_attention_fwd(float *out, float *lse, const float *q, const float *k, const float *v, size_t B, int T,
                        int H, int Hkv, int hd);
void cuda_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                        const float *v, const float *out, const float *lse, size_t B, int T, int H, int Hkv, int hd);
void cuda_attention_cached_fwd(float *out, const float *q, const float *kc, const float *vc, int n, int pos0, int H,
                               int Hkv, int hd);
// cuda_matmul.cu
int cuda_set_precision(ShearPrecision p);
void cuda_matmul_fwd(float *out, const float *inp, const float *w, size_t N, int C, int OC);
void cuda_matmul_bwd(float *dinp, float *dw, const float *dout, const float *inp, const float *w, size_t N, int C,
                     int OC);
// Entries of the GEMMs' algorithm table so far (one per distinct GEMM: its cuBLASLt heuristic was asked once),
// for the tests.
size_t cuda_gemm_plan_count(void);
// cuda_classifier.cu
double cuda_classifier(float *dx, float *dw, float *row_loss, float *logits_out, const float *x, const float *w,
                       const int32_t *targets, size_t N, int d, int V, float dscale);
double cuda_classifier_kd(float *dx, float *dw, double *kd_sum, const float *x, const float *w,
                          const int32_t *targets, size_t N, int d, int V, float dscale, const ShearKD *kd);

#ifdef __cplusplus
}
#endif
#endif

