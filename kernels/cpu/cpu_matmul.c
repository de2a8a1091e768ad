// Linear layers (no bias) through cpu_gemm (cpu_gemm.c: CBLAS in fp32, oneDNN with bf16 inputs); w is [OC, C] as
// Hugging Face stores it, so the forward is inp @ w^T.
#include "cpu_ops.h"

void cpu_matmul_fwd(float *out, const float *inp, const float *w, size_t N, int C, int OC) {
    // out[N,OC] = inp[N,C] @ w[OC,C]^T
    cpu_gemm(0, 1, N, (size_t)OC, (size_t)C, 1.0f, inp, NULL, (size_t)C, w, NULL, (size_t)C, 0.0f, out, (size_t)OC);
}

void cpu_matmul_bwd(float *dinp, float *dw, const float *dout, const float *inp, const float *w, size_t N, int C,
                    int OC) {
    uint16_t *douth = dinp && dw ? cpu_bf16_copy(dout, N * (size_t)OC) : NULL; // bf16: rounded once for both
    // dinp[N,C] += dout[N,OC] @ w[OC,C]
    if (dinp)
        cpu_gemm(0, 0, N, (size_t)C, (size_t)OC, 1.0f, dout, douth, (size_t)OC, w, NULL, (size_t)C, 1.0f, dinp,
                 (size_t)C);
    // dw[OC,C] += dout[N,OC]^T @ inp[N,C]
    if (dw)
        cpu_gemm(1, 0, (size_t)OC, (size_t)C, N, 1.0f, dout, douth, (size_t)OC, inp, NULL, (size_t)C, 1.0f, dw,
                 (size_t)C);
    free(douth);
}
