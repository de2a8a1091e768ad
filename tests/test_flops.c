// Training FLOPs per token (src/flops.c) against independent counts:
//  1. published parameter counts of LLaMA2-7B, LLaMA2-70B (GQA) and TinyLlama-1.1B (GQA): matmul weights
//     P = N - V d (embedding) - (2 L + 1) d (norms), and the PaLM / Megatron formula 6 P + 12 L H hd T;
//  2. a small odd shape (head_dim != dim / n_heads, GQA) counted matmul by matmul as forward.c calls them and
//     attention pair by pair (j <= i for the causal count, every j for the full square);
//  3. the GPU peak table against the datasheet numbers.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shear/flops.h"

static int fails, passes;
#define CHECK(cond, ...) \
    do { if (cond) { passes++; } else { fails++; printf("FAIL "); printf(__VA_ARGS__); printf("\n"); } } while (0)

static int close_rel(double a, double b, double tol) { return fabs(a - b) <= tol * fabs(b); }

static ModelConfig shape(int d, int L, int H, int kv, int hd, int I, int V) {
    ModelConfig c = {.dim = d, .n_layers = L, .n_heads = H, .n_kv_heads = kv, .head_dim = hd,
                     .intermediate = I, .vocab = V, .rope = {.theta = 10000.0f}, .norm_eps = 1e-5f};
    return c;
}

// published total parameter count N (Hugging Face model cards / safetensors totals), untied head
static void check_published(const char *name, ModelConfig c, double N, int T) {
    double P = N - (double)c.vocab * c.dim - (2.0 * c.n_layers + 1.0) * c.dim;
    double want = 6.0 * P + 12.0 * c.n_layers * (double)c.n_heads * c.head_dim * T;
    FlopsPerToken f;
    flops_train_per_token(&c, T, &f);
    CHECK(close_rel(f.total, want, 1e-12), "%s T=%d: %.6e FLOP/token, closed form 6 P + 12 L H hd T = %.6e", name, T,
          f.total, want);
    // the causal count the kernels do: the attention term times (T+1)/(2T)
    double causal = f.total - f.attn + flops_attn_causal_per_token(&c, T);
    double want_causal = 6.0 * P + 12.0 * c.n_layers * (double)c.n_heads * c.head_dim * (T + 1.0) / 2.0;
    CHECK(close_rel(causal, want_causal, 1e-12), "%s T=%d: causal %.6e, want %.6e", name, T, causal, want_causal);
    printf("%-16s T=%5d: %.4g GFLOP/token (attention %.1f%%; causal-only count %.1f%% lower)\n", name, T,
           f.total / 1e9, 100 * f.attn / f.total, 100 * (f.total - causal) / f.total);
}

// forward.c's matmuls one by one (2 N C OC each, N = 1 token), attention by enumerating (query, key) pairs
static void check_enumerated(ModelConfig c, int T) {
    double d = c.dim, qd = (double)c.n_heads * c.head_dim, kvd = (double)c.n_kv_heads * c.head_dim;
    double I = c.intermediate, fwd = 0;
    for (int l = 0; l < c.n_layers; l++) {
        fwd += 2 * d * qd;  // matmul_fwd(q, xn1, Wq, N, d, qd)
        fwd += 2 * d * kvd; // k
        fwd += 2 * d * kvd; // v
        fwd += 2 * qd * d;  // o_proj (C = qd, OC = d)
        fwd += 2 * d * I;   // gate
        fwd += 2 * d * I;   // up
        fwd += 2 * I * d;   // down
    }
    fwd += 2 * d * c.vocab; // classifier
    double full_pairs = 0, causal_pairs = 0;
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
            full_pairs += 1;
            causal_pairs += j <= i;
        }
    // per (query, key) pair and head: q.k is hd FMAs, p v is hd FMAs; per token: divide by T
    double att_full = c.n_layers * (double)c.n_heads * (2.0 * c.head_dim * 2.0) * full_pairs / T;
    double att_causal = c.n_layers * (double)c.n_heads * (2.0 * c.head_dim * 2.0) * causal_pairs / T;
    FlopsPerToken f;
    flops_train_per_token(&c, T, &f);
    CHECK(close_rel(f.total, 3 * (fwd + att_full), 1e-12), "enumerated shape: %.6e vs %.6e", f.total,
          3 * (fwd + att_full));
    CHECK(close_rel(f.attn, 3 * att_full, 1e-12), "enumerated attention: %.6e vs %.6e", f.attn, 3 * att_full);
    CHECK(close_rel(flops_attn_causal_per_token(&c, T), 3 * att_causal, 1e-12), "enumerated causal: %.6e vs %.6e",
          flops_attn_causal_per_token(&c, T), 3 * att_causal);
}

int main(void) {
    check_published("LLaMA2-7B", shape(4096, 32, 32, 32, 128, 11008, 32000), 6738415616.0, 4096);
    check_published("LLaMA2-7B", shape(4096, 32, 32, 32, 128, 11008, 32000), 6738415616.0, 1024);
    check_published("LLaMA2-70B", shape(8192, 80, 64, 8, 128, 28672, 32000), 68976648192.0, 4096);
    check_published("TinyLlama-1.1B", shape(2048, 22, 32, 4, 64, 5632, 32000), 1100048384.0, 2048);
    // LLaMA2-7B at 4096 by hand: P = 32 (4 d^2 + 3 d I) + V d = 6607077376; 6 P = 39642464256;
    // 12 L d T = 6442450944; sum 46084915200
    FlopsPerToken f;
    ModelConfig l7 = shape(4096, 32, 32, 32, 128, 11008, 32000);
    flops_train_per_token(&l7, 4096, &f);
    CHECK(f.total == 46084915200.0, "LLaMA2-7B by hand: %.1f, want 46084915200", f.total);
    check_enumerated(shape(48, 3, 4, 2, 16, 100, 50), 10);
    check_enumerated(shape(32, 2, 4, 4, 8, 64, 64), 1);

    // peaks: datasheet values for the known parts, per-SM-per-clock estimates for the rest
    const char *what = NULL;
    CHECK(flops_gpu_peak_tflops(8, 0, 108, 1410000, FLOPS_BF16, &what) == 312.0, "A100 bf16");
    CHECK(flops_gpu_peak_tflops(8, 0, 108, 1410000, FLOPS_FP32, &what) == 19.5, "A100 fp32");
    CHECK(flops_gpu_peak_tflops(8, 0, 108, 1410000, FLOPS_TF32, &what) == 156.0, "A100 tf32");
    CHECK(flops_gpu_peak_tflops(9, 0, 132, 1980000, FLOPS_BF16, &what) == 989.4, "H100 SXM bf16");
    CHECK(flops_gpu_peak_tflops(9, 0, 132, 1980000, FLOPS_FP32, &what) == 67.0, "H100 SXM fp32");
    // A30 (cc 8.0, 56 SMs, 1440 MHz): datasheet fp32 10.3; H100 PCIe (114 SMs, 1755 MHz): datasheet fp32 51.2
    CHECK(close_rel(flops_gpu_peak_tflops(8, 0, 56, 1440000, FLOPS_FP32, &what), 10.3, 0.01), "A30 fp32 estimate");
    CHECK(close_rel(flops_gpu_peak_tflops(9, 0, 114, 1755000, FLOPS_FP32, &what), 51.2, 0.01), "H100 PCIe fp32");
    CHECK(flops_gpu_peak_tflops(7, 5, 40, 1590000, FLOPS_FP32, &what) == 0.0, "unknown architecture gives 0");
    char buf[64];
    flops_fmt_progress(buf, sizeof buf, 10.0, 40.0);
    CHECK(strcmp(buf, "10 TFLOP/s/rank | MFU 25.0%") == 0, "progress piece with MFU: '%s'", buf);
    flops_fmt_progress(buf, sizeof buf, 0.00123, 0.0);
    CHECK(strcmp(buf, "0.00123 TFLOP/s/rank") == 0, "progress piece without a peak: '%s'", buf);

    printf("%d passed, %d failed\n", passes, fails);
    return fails ? 1 : 0;
}
