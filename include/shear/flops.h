// Training FLOPs of a LLaMA shape, counted from the model's matmuls (src/forward.c), and the peak FLOP/s of
// a device, for the TFLOP/s and MFU of the progress lines. Pure arithmetic: no MPI, no I/O, no device calls.
//
// Per token of a sequence of T tokens, forward (a matmul [N,C] x [C,OC] costs 2 N C OC):
//   projections  2 L d (2 H hd + 2 Hkv hd)      q, o: d x H hd; k, v: d x Hkv hd (GQA-aware)
//   MLP          2 L 3 d I                      gate, up, down
//   classifier   2 d V                          lm_head (the chunked logits of the fused classifier)
//   attention    2 L 2 H hd T                   q k^T and p v over the FULL T x T square (see below)
// training = 3 x forward (forward + 2 x backward: grad wrt inputs and grad wrt weights, each one matmul of the
// forward's size). So, with P = L (2 H hd d + 2 Hkv hd d + 3 d I) + V d (the matmul weights):
//   flops_train_per_token = 6 P + 12 L H hd T
// which is PaLM's (appendix B) / nanoGPT's / torchtitan's 6 N + 12 L H Q T and Megatron-LM's default
// (causal_tflops off) with N restricted to the matmul weights: 6 N counts the embedding table too, here the
// embedding (a row lookup), the norms, RoPE, softmax, SwiGLU, the gates and the loss are ignored (O(d) per
// token, under 0.1% of the total for any real shape).
//
// Causal attention: the kernels compute only the scores j <= i, T (T+1) / 2 of the T x T square per head, so
// they do (T+1) / (2T) of the attention term above (flops_attn_causal_per_token). The reported TFLOP/s and MFU
// use the full square, as MFU is usually reported (so numbers compare with published ones); for LLaMA2-7B at
// T = 4096 the attention term is 14% of the total, so the causal count would be 7% lower. Recomputation in the
// attention backward (scores rebuilt from lse, 2.5x the forward's matmuls) is not counted: MFU counts the
// model's FLOPs, not the implementation's.
//
// Pruning trains the masked SOURCE model: every weight is computed (gates multiply activations), so its FLOPs
// are the source shape's; the gate multiplies are O(d + I) per token per layer and are ignored like the norms.
#ifndef SHEAR_FLOPS_H
#define SHEAR_FLOPS_H

#include "shear/model.h"

typedef struct { // FLOPs per token of one training step (3 x forward), by part
    double proj;       // q k v o projections
    double mlp;        // gate up down
    double attn;       // q k^T and p v, full T x T square
    double classifier; // lm_head
    double total;      // sum of the above
} FlopsPerToken;

// Training FLOPs per token at sequence length T, by part (the formula above).
void flops_train_per_token(const ModelConfig *c, int T, FlopsPerToken *f);
// Only the total.
double flops_train_total_per_token(const ModelConfig *c, int T);
// The attention term counting only the causal scores j <= i that the kernels compute: 12 L H hd (T+1) / 2.
double flops_attn_causal_per_token(const ModelConfig *c, int T);

// The arithmetic the matmuls run in; it picks the peak that MFU divides by.
typedef enum { FLOPS_FP32, FLOPS_TF32, FLOPS_BF16 } FlopsPrecision;

// Peak dense TFLOP/s of one GPU from its compute capability, SM count and clock (kHz), or 0 when unknown.
// Known SKUs (A100 SXM/PCIe: 108 SMs of cc 8.0; H100 SXM: 132 SMs of cc 9.0) get their datasheet peaks:
//   A100: bf16 312, tf32 156, fp32 19.5     H100 SXM: bf16 989, tf32 495, fp32 67
// Other cc 8.0 / 9.0 parts get the per-SM-per-clock rate of their architecture x SMs x clock (what the
// datasheet peaks are made of: fp32 128 / 256, tf32 1024 / 2048, bf16 2048 / 4096 FLOP per SM per clock on
// sm_80 / sm_90). *what (optional) gets the name of the rule used ("A100", "H100 SXM", "sm_90 estimate").
double flops_gpu_peak_tflops(int cc_major, int cc_minor, int sm_count, int clock_khz, FlopsPrecision p,
                             const char **what);

// The peak per rank that MFU divides by: run.peak_tflops when > 0; else on the CUDA backend the current
// device's fp32 peak (the backend's matmuls are fp32 cuBLAS with TF32 off: kernels/cuda/cuda_backend.cu), or its
// bf16 tensor-core peak with bf16 = 1 (run.precision: bf16); else 0 (CPU: no MFU). what gets where it came from
// ("run.peak_tflops", "A100 fp32", "H100 SXM bf16", ...).
double flops_run_peak_tflops(double deck_peak, int cuda, int bf16, char *what, size_t whatlen);
// The progress line's piece: "0.0123 TFLOP/s/rank" and, when peak > 0, " | MFU 41.5%" (mfu = tflops / peak).
void flops_fmt_progress(char *buf, size_t len, double tflops, double peak);

#endif
