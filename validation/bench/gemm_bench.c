// GEMM rates at a model's shapes, side by side in one run: OpenBLAS sgemm (what the CPU backend uses today) and
// oneDNN matmul in fp32 and in bf16 (bf16 inputs, fp32 accumulation and output: the mixed-precision GEMM; oneDNN
// uses AVX512-BF16 dot products where the CPU has them). For every linear layer of the model, the three GEMMs of
// a training step with the layouts the CPU backend uses (kernels/cpu/cpu_matmul.c):
//   fwd   out[N,OC]  = inp[N,C] @ w[OC,C]^T
//   dinp  dinp[N,C] += dout[N,OC] @ w[OC,C]
//   dw    dw[OC,C]  += dout[N,OC]^T @ inp[N,C]
// Each result is checked against a float64 product on sampled entries (fp32: 1e-4 relative to the row's scale;
// bf16: against the float64 product of the bf16-rounded inputs, 1e-4), so a fast wrong answer fails the run.
// Usage: gemm_bench [--dim 256] [--intermediate 688] [--heads 4] [--kv-heads 4] [--vocab 32000] [--tokens 1024]
//                   [--threads 2] [--reps 5] [--json OUT.json]
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include "shear/bf16.h"

extern void openblas_set_num_threads(int num_threads);

#define DNNL_CHECK(call)                                                                                   \
    do {                                                                                                   \
        dnnl_status_t s_ = (call);                                                                         \
        if (s_ != dnnl_success) {                                                                          \
            fprintf(stderr, "gemm_bench: error: oneDNN %s returned %d (%s:%d); hint: is libdnnl 2.x installed?\n", \
                    #call, (int)s_, __FILE__, __LINE__);                                                   \
            exit(1);                                                                                       \
        }                                                                                                  \
    } while (0)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// [n] values in [-scale/2, scale/2) from a fixed LCG, and their bf16 copy
static void fill(float *x, uint16_t *h, int64_t n, uint64_t *s, float scale) {
    for (int64_t i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ull + 1;
        x[i] = (float)((double)(*s >> 11) / 9007199254740992.0 - 0.5) * scale;
        h[i] = bf16_from_f32(x[i]);
    }
}

typedef struct {
    dnnl_engine_t eng;
    dnnl_stream_t st;
} Dnnl;

// C[M,N] (+)= op(A) @ op(B) through a oneDNN matmul primitive; a is [M,K] (ta = 0) or [K,M] (ta = 1), b is [K,N]
// (tb = 0) or [N,K] (tb = 1), row-major, in dtype dt; C fp32 row-major. Returns the primitive (executed by run).
typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
} Mm;

static Mm mm_create(Dnnl *d, int ta, int tb, int64_t M, int64_t N, int64_t K, dnnl_data_type_t dt, void *a, void *b,
                    float *c, int accumulate) {
    dnnl_memory_desc_t amd, bmd, cmd;
    dnnl_dims_t ad = {M, K}, bd = {K, N}, cd = {M, N};
    dnnl_dims_t as = {ta ? 1 : K, ta ? M : 1}, bs = {tb ? 1 : N, tb ? K : 1}, cs = {N, 1};
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&amd, 2, ad, dt, as));
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&bmd, 2, bd, dt, bs));
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&cmd, 2, cd, dnnl_f32, cs));
    dnnl_matmul_desc_t md;
    DNNL_CHECK(dnnl_matmul_desc_init(&md, &amd, &bmd, NULL, &cmd));
    dnnl_primitive_attr_t attr;
    DNNL_CHECK(dnnl_primitive_attr_create(&attr));
    if (accumulate) {
        dnnl_post_ops_t po;
        DNNL_CHECK(dnnl_post_ops_create(&po));
        DNNL_CHECK(dnnl_post_ops_append_sum(po, 1.0f));
        DNNL_CHECK(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd;
    DNNL_CHECK(dnnl_primitive_desc_create(&pd, &md, attr, d->eng, NULL));
    dnnl_primitive_attr_destroy(attr);
    Mm m;
    DNNL_CHECK(dnnl_primitive_create(&m.prim, pd));
    dnnl_primitive_desc_destroy(pd);
    DNNL_CHECK(dnnl_memory_create(&m.a, &amd, d->eng, a));
    DNNL_CHECK(dnnl_memory_create(&m.b, &bmd, d->eng, b));
    DNNL_CHECK(dnnl_memory_create(&m.c, &cmd, d->eng, c));
    return m;
}

static void mm_run(Dnnl *d, Mm *m) {
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, m->a}, {DNNL_ARG_WEIGHTS, m->b}, {DNNL_ARG_DST, m->c}};
    DNNL_CHECK(dnnl_primitive_execute(m->prim, d->st, 3, args));
    DNNL_CHECK(dnnl_stream_wait(d->st));
}

static void mm_free(Mm *m) {
    dnnl_memory_destroy(m->a);
    dnnl_memory_destroy(m->b);
    dnnl_memory_destroy(m->c);
    dnnl_primitive_destroy(m->prim);
}

// A sampled check of C = op(A) op(B) (+ C0) against float64; ga/gb read element (i,k) / (k,j) as float.
typedef float (*Get)(const void *p, int64_t i, int64_t j, int64_t ld, int t);
static float get_f32(const void *p, int64_t i, int64_t j, int64_t ld, int t) {
    const float *f = p;
    return t ? f[j * ld + i] : f[i * ld + j];
}
static float get_bf16(const void *p, int64_t i, int64_t j, int64_t ld, int t) {
    const uint16_t *h = p;
    return bf16_to_f32(t ? h[j * ld + i] : h[i * ld + j]);
}

static double check(const void *a, const void *b, const float *c, const float *c0, int ta, int tb, int64_t M,
                    int64_t N, int64_t K, Get g) {
    double worst = 0;
    uint64_t s = 88172645463325252ull;
    for (int n = 0; n < 64; n++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        int64_t i = (int64_t)(s % (uint64_t)M), j = (int64_t)((s >> 20) % (uint64_t)N);
        double acc = c0 ? c0[i * N + j] : 0, scale = 0;
        for (int64_t k = 0; k < K; k++) {
            double x = g(a, i, k, ta ? M : K, ta), y = g(b, k, j, tb ? K : N, tb);
            acc += x * y;
            scale += fabs(x * y);
        }
        double e = fabs((double)c[i * N + j] - acc) / (scale + 1e-30);
        if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

typedef struct {
    const char *name;
    int C, OC, count; // in features, out features, how many such layers in the model
} Layer;

int main(int argc, char **argv) {
    int dim = 256, inter = 688, heads = 4, kv = 4, vocab = 32000, tokens = 1024, threads = 2, reps = 5, layers = 4;
    const char *json = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i];
        int v = atoi(argv[i + 1]);
        if (!strcmp(k, "--dim")) dim = v;
        else if (!strcmp(k, "--intermediate")) inter = v;
        else if (!strcmp(k, "--heads")) heads = v;
        else if (!strcmp(k, "--kv-heads")) kv = v;
        else if (!strcmp(k, "--vocab")) vocab = v;
        else if (!strcmp(k, "--tokens")) tokens = v;
        else if (!strcmp(k, "--threads")) threads = v;
        else if (!strcmp(k, "--reps")) reps = v;
        else if (!strcmp(k, "--layers")) layers = v;
        else if (!strcmp(k, "--json")) json = argv[i + 1];
        else {
            fprintf(stderr, "gemm_bench: error: unknown option '%s' (see the usage at the top of gemm_bench.c)\n", k);
            return 2;
        }
    }
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    int hd = dim / heads;
    Layer L[] = {{"qkv", dim, (heads + 2 * kv) * hd, layers}, {"o", heads * hd, dim, layers},
                 {"gate_up", dim, 2 * inter, layers},        {"down", inter, dim, layers},
                 {"classifier", dim, vocab, 1}};
    const int nl = (int)(sizeof L / sizeof L[0]);
    Dnnl d;
    DNNL_CHECK(dnnl_engine_create(&d.eng, dnnl_cpu, 0));
    DNNL_CHECK(dnnl_stream_create(&d.st, d.eng, dnnl_stream_default_flags));
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    const dnnl_version_t *ver = dnnl_version();
    printf("gemm_bench: N %d tokens, d %d, I %d, H %d/%d, V %d, %d layers, %d threads, best of %d; oneDNN %d.%d.%d "
           "(ISA 0x%x%s)\n", tokens, dim, inter, heads, kv, vocab, layers, threads, reps, ver->major, ver->minor,
           ver->patch, (unsigned)isa, isa == dnnl_cpu_isa_avx512_core_bf16 ? ": avx512_core_bf16" : "");
    printf("%-11s %-5s %6s %6s %6s | %9s %9s %9s | %7s %7s | %9s %9s\n", "layer", "gemm", "M", "N", "K",
           "sgemm", "dnnl_f32", "dnnl_bf16", "bf16/sg", "f32/sg", "err_f32", "err_bf16");
    FILE *jf = json ? fopen(json, "w") : NULL;
    if (json && !jf) {
        fprintf(stderr, "gemm_bench: error: cannot write '%s'\n", json);
        return 1;
    }
    if (jf) fprintf(jf, "{\"tokens\": %d, \"dim\": %d, \"intermediate\": %d, \"vocab\": %d, \"threads\": %d, \"rows\": [\n",
                    tokens, dim, inter, vocab, threads);
    double tot_flop = 0, tot_s[3] = {0, 0, 0};
    double worst_f32 = 0, worst_bf16 = 0;
    int first = 1;
    for (int l = 0; l < nl; l++) {
        int64_t N = tokens, C = L[l].C, OC = L[l].OC;
        float *x = malloc((size_t)(N * C) * 4), *w = malloc((size_t)(OC * C) * 4), *dy = malloc((size_t)(N * OC) * 4);
        uint16_t *xh = malloc((size_t)(N * C) * 2), *wh = malloc((size_t)(OC * C) * 2), *dyh = malloc((size_t)(N * OC) * 2);
        // the largest result of the three: [N,OC], [N,C] or [OC,C]
        size_t outn = (size_t)(N * OC);
        if ((size_t)(N * C) > outn) outn = (size_t)(N * C);
        if ((size_t)(OC * C) > outn) outn = (size_t)(OC * C);
        float *out = malloc(outn * 4), *out0 = malloc(outn * 4);
        uint64_t s = 12345 + (uint64_t)l;
        fill(x, xh, N * C, &s, 1.0f);
        fill(w, wh, OC * C, &s, 0.1f);
        fill(dy, dyh, N * OC, &s, 1.0f);
        // the three GEMMs: (ta, tb, M, N, K, A, B, Abf, Bbf, accumulate)
        struct {
            const char *name;
            int ta, tb;
            int64_t M, Nn, K;
            void *a, *b, *ah, *bh;
            int acc;
        } g[3] = {{"fwd", 0, 1, N, OC, C, x, w, xh, wh, 0},
                  {"dinp", 0, 0, N, C, OC, dy, w, dyh, wh, 1},
                  {"dw", 1, 0, OC, C, N, dy, x, dyh, xh, 1}};
        for (int k = 0; k < 3; k++) {
            int64_t M = g[k].M, Nn = g[k].Nn, K = g[k].K;
            size_t cn = (size_t)(M * Nn);
            for (size_t i = 0; i < cn; i++) out0[i] = 0.001f * (float)(i % 97); // what an accumulate adds to
            double best[3] = {1e30, 1e30, 1e30};
            double err[2] = {0, 0};
            Mm mf = mm_create(&d, g[k].ta, g[k].tb, M, Nn, K, dnnl_f32, g[k].a, g[k].b, out, g[k].acc);
            Mm mb = mm_create(&d, g[k].ta, g[k].tb, M, Nn, K, dnnl_bf16, g[k].ah, g[k].bh, out, g[k].acc);
            for (int r = 0; r <= reps; r++) { // round 0 warms up
                for (int v = 0; v < 3; v++) {
                    memcpy(out, out0, cn * 4);
                    double t0 = now();
                    if (v == 0)
                        cblas_sgemm(CblasRowMajor, g[k].ta ? CblasTrans : CblasNoTrans, g[k].tb ? CblasTrans : CblasNoTrans,
                                    (int)M, (int)Nn, (int)K, 1.0f, g[k].a, g[k].ta ? (int)M : (int)K, g[k].b,
                                    g[k].tb ? (int)K : (int)Nn, g[k].acc ? 1.0f : 0.0f, out, (int)Nn);
                    else mm_run(&d, v == 1 ? &mf : &mb);
                    double dt = now() - t0;
                    if (r > 0 && dt < best[v]) best[v] = dt;
                    if (r == reps && v > 0) {
                        double e = v == 1 ? check(g[k].a, g[k].b, out, g[k].acc ? out0 : NULL, g[k].ta, g[k].tb, M, Nn, K, get_f32)
                                          : check(g[k].ah, g[k].bh, out, g[k].acc ? out0 : NULL, g[k].ta, g[k].tb, M, Nn, K, get_bf16);
                        err[v - 1] = e;
                    }
                }
            }
            mm_free(&mf);
            mm_free(&mb);
            double flop = 2.0 * (double)M * (double)Nn * (double)K;
            tot_flop += flop * L[l].count;
            for (int v = 0; v < 3; v++) tot_s[v] += best[v] * L[l].count;
            if (err[0] > worst_f32) worst_f32 = err[0];
            if (err[1] > worst_bf16) worst_bf16 = err[1];
            printf("%-11s %-5s %6lld %6lld %6lld | %9.1f %9.1f %9.1f | %7.2f %7.2f | %9.1e %9.1e\n", L[l].name,
                   g[k].name, (long long)M, (long long)Nn, (long long)K, flop / best[0] / 1e9, flop / best[1] / 1e9,
                   flop / best[2] / 1e9, best[0] / best[2], best[0] / best[1], err[0], err[1]);
            if (jf)
                fprintf(jf, "%s  {\"layer\": \"%s\", \"gemm\": \"%s\", \"M\": %lld, \"N\": %lld, \"K\": %lld, "
                            "\"gflops_sgemm\": %.2f, \"gflops_dnnl_f32\": %.2f, \"gflops_dnnl_bf16\": %.2f, "
                            "\"err_f32\": %.3g, \"err_bf16\": %.3g}", first ? "" : ",\n", L[l].name, g[k].name,
                        (long long)M, (long long)Nn, (long long)K, flop / best[0] / 1e9, flop / best[1] / 1e9,
                        flop / best[2] / 1e9, err[0], err[1]);
            first = 0;
        }
        free(x), free(w), free(dy), free(xh), free(wh), free(dyh), free(out), free(out0);
    }
    printf("model step GEMMs (%.2f GFLOP): sgemm %.1f GFLOP/s, oneDNN fp32 %.1f, oneDNN bf16 %.1f: bf16 %.2fx sgemm, "
           "oneDNN fp32 %.2fx sgemm; worst sampled error fp32 %.1e, bf16 %.1e\n", tot_flop / 1e9, tot_flop / tot_s[0] / 1e9,
           tot_flop / tot_s[1] / 1e9, tot_flop / tot_s[2] / 1e9, tot_s[0] / tot_s[2], tot_s[0] / tot_s[1], worst_f32,
           worst_bf16);
    if (jf) {
        fprintf(jf, "\n], \"step_gflops_sgemm\": %.2f, \"step_gflops_dnnl_f32\": %.2f, \"step_gflops_dnnl_bf16\": %.2f, "
                    "\"worst_err_f32\": %.3g, \"worst_err_bf16\": %.3g}\n", tot_flop / tot_s[0] / 1e9,
                tot_flop / tot_s[1] / 1e9, tot_flop / tot_s[2] / 1e9, worst_f32, worst_bf16);
        fclose(jf);
    }
    dnnl_stream_destroy(d.st);
    dnnl_engine_destroy(d.eng);
    int bad = !(worst_f32 < 1e-4) || !(worst_bf16 < 1e-4);
    if (bad) fprintf(stderr, "gemm_bench: error: a GEMM result is wrong (worst sampled relative error above 1e-4)\n");
    return bad;
}
