// Training FLOPs per token of a LLaMA shape and GPU peak FLOP/s (formulas in shear/flops.h).
#include "shear/flops.h"

#include <stddef.h>
#include <stdio.h>

#include "shear/ops.h"

void flops_train_per_token(const ModelConfig *c, int T, FlopsPerToken *f) {
    double L = c->n_layers, d = c->dim, I = c->intermediate, V = c->vocab;
    double qd = (double)c->n_heads * c->head_dim, kvd = (double)c->n_kv_heads * c->head_dim;
    // forward FLOPs per token, one term per matmul of forward.c; x3 for forward + backward
    double proj = L * 2.0 * d * (qd + kvd + kvd + qd);  // q_proj, k_proj, v_proj, o_proj
    double mlp = L * 2.0 * 3.0 * d * I;                  // gate_proj, up_proj, down_proj
    double attn = L * 2.0 * 2.0 * qd * (double)T;        // scores q k^T and context p v, T keys per query
    double cls = 2.0 * d * V;                            // lm_head
    f->proj = 3.0 * proj;
    f->mlp = 3.0 * mlp;
    f->attn = 3.0 * attn;
    f->classifier = 3.0 * cls;
    f->total = f->proj + f->mlp + f->attn + f->classifier;
}

double flops_train_total_per_token(const ModelConfig *c, int T) {
    FlopsPerToken f;
    flops_train_per_token(c, T, &f);
    return f.total;
}

double flops_attn_causal_per_token(const ModelConfig *c, int T) {
    // query i sees i+1 keys: sum over the T queries of (i+1) = T (T+1) / 2, i.e. (T+1)/2 keys per token
    return 12.0 * c->n_layers * (double)c->n_heads * c->head_dim * ((double)T + 1.0) / 2.0;
}

typedef struct {
    int major, minor, sms;
    const char *name;
    double fp32, tf32, bf16; // datasheet dense TFLOP/s
} GpuPeak;

static const GpuPeak KNOWN[] = {
    {8, 0, 108, "A100", 19.5, 156.0, 312.0},
    {9, 0, 132, "H100 SXM", 67.0, 494.7, 989.4},
};

double flops_gpu_peak_tflops(int cc_major, int cc_minor, int sm_count, int clock_khz, FlopsPrecision p,
                             const char **what) {
    for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++) {
        const GpuPeak *k = &KNOWN[i];
        if (k->major == cc_major && k->minor == cc_minor && k->sms == sm_count) {
            if (what) *what = k->name;
            return p == FLOPS_BF16 ? k->bf16 : p == FLOPS_TF32 ? k->tf32 : k->fp32;
        }
    }
    // FLOP per SM per clock (an FMA is 2) of the architectures the backend is built for
    double per_clk = 0;
    if (cc_major == 8 && cc_minor == 0) {
        per_clk = p == FLOPS_BF16 ? 2048 : p == FLOPS_TF32 ? 1024 : 128;
        if (what) *what = "sm_80 estimate";
    } else if (cc_major == 9 && cc_minor == 0) {
        per_clk = p == FLOPS_BF16 ? 4096 : p == FLOPS_TF32 ? 2048 : 256;
        if (what) *what = "sm_90 estimate";
    } else {
        if (what) *what = "unknown device";
        return 0.0;
    }
    if (sm_count <= 0 || clock_khz <= 0) return 0.0;
    return per_clk * sm_count * (double)clock_khz * 1e3 / 1e12;
}

double flops_run_peak_tflops(double deck_peak, int cuda, int bf16, char *what, size_t whatlen) {
    if (deck_peak > 0) {
        snprintf(what, whatlen, "run.peak_tflops");
        return deck_peak;
    }
    snprintf(what, whatlen, "unknown");
    const ShearOps *cu = cuda ? ops_cuda() : NULL; // NULL also when the CUDA backend is not built
    if (cu) {
        ShearDeviceInfo di;
        cu->device_info(&di);
        const char *name = NULL;
        // the matmuls run fp32 (CUBLAS_COMPUTE_32F, no TF32), or with run.precision: bf16 on bf16 inputs: their
        // peak is the fp32 one or the bf16 tensor cores'
        double peak = flops_gpu_peak_tflops(di.cc_major, di.cc_minor, di.sm_count, di.clock_khz,
                                            bf16 ? FLOPS_BF16 : FLOPS_FP32, &name);
        snprintf(what, whatlen, "%s %s", name ? name : "unknown device", bf16 ? "bf16" : "fp32");
        return peak;
    }
    return 0.0;
}

void flops_fmt_progress(char *buf, size_t len, double tflops, double peak) {
    // %.3g: a CPU run does 0.00x TFLOP/s, a GPU run hundreds; both keep three digits
    if (peak > 0) snprintf(buf, len, "%.3g TFLOP/s/rank | MFU %.1f%%", tflops, 100.0 * tflops / peak);
    else snprintf(buf, len, "%.3g TFLOP/s/rank", tflops);
}
