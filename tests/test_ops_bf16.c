// run.precision: bf16 on the CPU backend (ShearOps.set_precision): every GEMM input rounded to bf16 (shear/bf16.h),
// fp32 accumulation. Each op against a float64 product of the bf16-rounded inputs (the rounding points of ops.h,
// computed independently here), against the same op in fp32 (it must differ by the rounding, else nothing was
// rounded), NaN inputs giving NaN, and fp32 again after bf16 giving sgemm's bits.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "shear/bf16.h"
#include "shear/ops.h"
#include "shear/rng.h"

static float *randn(size_t n, uint64_t seed, float scale) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = scale * (float)rng_normal(seed, 11, i);
    return x;
}

static double r16(float f) { return (double)bf16_to_f32(bf16_from_f32(f)); }

// ||a - b|| / ||b||
static double rel(const float *a, const double *b, size_t n) {
    double d = 0, w = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - b[i];
        d += e * e;
        w += b[i] * b[i];
    }
    return w > 0 ? sqrt(d / w) : sqrt(d);
}

static double rel_f(const float *a, const float *b, size_t n) {
    double d = 0, w = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - (double)b[i];
        d += e * e;
        w += (double)b[i] * b[i];
    }
    return w > 0 ? sqrt(d / w) : sqrt(d);
}

// out[N,OC] = inp @ w^T; dinp += dout @ w; dw += dout^T @ inp, each against float64 of the rounded inputs.
static void test_matmul(const ShearOps *o, size_t N, int C, int OC) {
    float *inp = randn(N * C, 1, 1.0f), *w = randn((size_t)OC * C, 2, 0.1f), *dout = randn(N * OC, 3, 1.0f);
    float *out = malloc(N * OC * sizeof(float)), *out32 = malloc(N * OC * sizeof(float));
    float *dinp = randn(N * C, 4, 0.5f), *dw = randn((size_t)OC * C, 5, 0.5f); // the backward adds to these
    float *dinp0 = malloc(N * C * sizeof(float)), *dw0 = malloc((size_t)OC * C * sizeof(float));
    memcpy(dinp0, dinp, N * C * sizeof(float));
    memcpy(dw0, dw, (size_t)OC * C * sizeof(float));
    double *ro = malloc(N * OC * sizeof(double)), *rdi = malloc(N * C * sizeof(double));
    double *rdw = malloc((size_t)OC * C * sizeof(double));
    for (size_t n = 0; n < N; n++)
        for (int j = 0; j < OC; j++) {
            double s = 0;
            for (int k = 0; k < C; k++) s += r16(inp[n * C + k]) * r16(w[(size_t)j * C + k]);
            ro[n * OC + j] = s;
        }
    for (size_t n = 0; n < N; n++)
        for (int k = 0; k < C; k++) {
            double s = dinp0[n * C + k];
            for (int j = 0; j < OC; j++) s += r16(dout[n * OC + j]) * r16(w[(size_t)j * C + k]);
            rdi[n * C + k] = s;
        }
    for (int j = 0; j < OC; j++)
        for (int k = 0; k < C; k++) {
            double s = dw0[(size_t)j * C + k];
            for (size_t n = 0; n < N; n++) s += r16(dout[n * OC + j]) * r16(inp[n * C + k]);
            rdw[(size_t)j * C + k] = s;
        }
    EXPECT(o->set_precision(SHEAR_FP32) == 0, "set_precision(fp32)");
    o->matmul_fwd(out32, inp, w, N, C, OC);
    EXPECT(o->set_precision(SHEAR_BF16) == 0, "set_precision(bf16)");
    o->matmul_fwd(out, inp, w, N, C, OC);
    o->matmul_bwd(dinp, dw, dout, inp, w, N, C, OC);
    // products of two bf16 are exact in fp32: only the fp32 summation differs from float64
    double e_out = rel(out, ro, N * OC), e_di = rel(dinp, rdi, N * C), e_dw = rel(dw, rdw, (size_t)OC * C);
    EXPECT(e_out < 1e-6, "matmul_fwd bf16 N=%zu C=%d OC=%d: %.2e from float64 of the rounded inputs", N, C, OC, e_out);
    EXPECT(e_di < 1e-6, "matmul_bwd bf16 dinp N=%zu C=%d OC=%d: %.2e", N, C, OC, e_di);
    EXPECT(e_dw < 1e-6, "matmul_bwd bf16 dw N=%zu C=%d OC=%d: %.2e", N, C, OC, e_dw);
    // the rounding is there: fp32 inputs give a result about 2^-9 away
    double e_32 = rel_f(out, out32, N * OC);
    EXPECT(e_32 > 3e-4 && e_32 < 1e-2, "matmul_fwd bf16 vs fp32: %.2e, expected the bf16 rounding (~2e-3)", e_32);
    // the dinp-only and dw-only calls round dout themselves: the same bits as the call doing both
    float *dinp1 = malloc(N * C * sizeof(float)), *dw1 = malloc((size_t)OC * C * sizeof(float));
    memcpy(dinp1, dinp0, N * C * sizeof(float));
    memcpy(dw1, dw0, (size_t)OC * C * sizeof(float));
    o->matmul_bwd(dinp1, NULL, dout, inp, w, N, C, OC);
    o->matmul_bwd(NULL, dw1, dout, inp, w, N, C, OC);
    EXPECT(memcmp(dinp1, dinp, N * C * sizeof(float)) == 0 && memcmp(dw1, dw, (size_t)OC * C * sizeof(float)) == 0,
           "matmul_bwd bf16: dinp-only / dw-only calls differ from the call computing both");
    // NaN in, NaN out (a NaN never rounds to a number)
    inp[5] = NAN;
    o->matmul_fwd(out, inp, w, N, C, OC);
    EXPECT(!o->all_finite(out, (size_t)OC) && isnan(out[0]), "matmul_fwd bf16: a NaN input gave finite outputs");
    inp[5] = 0.25f;
    // back to fp32: sgemm's bits again
    EXPECT(o->set_precision(SHEAR_FP32) == 0, "set_precision(fp32)");
    float *again = malloc(N * OC * sizeof(float)), *inp2 = randn(N * C, 1, 1.0f); // inp before the NaN
    o->matmul_fwd(again, inp2, w, N, C, OC);
    EXPECT(memcmp(again, out32, N * OC * sizeof(float)) == 0, "fp32 after bf16 is not sgemm's result");
    free(inp), free(inp2), free(w), free(dout), free(out), free(out32), free(dinp), free(dw), free(dinp0), free(dw0);
    free(ro), free(rdi), free(rdw), free(dinp1), free(dw1), free(again);
}

// The classifier: logits r(x) r(w)^T, softmax and loss in fp32/double, dlogits rounded for dx and dw.
static void test_classifier(const ShearOps *o, size_t N, int d, int V) {
    float *x = randn(N * d, 6, 1.0f), *w = randn((size_t)V * d, 7, 0.2f);
    int32_t *tgt = malloc(N * sizeof(int32_t));
    for (size_t n = 0; n < N; n++) tgt[n] = n % 7 == 3 ? -1 : (int32_t)((n * 2654435761u) % (uint32_t)V);
    float *dx = calloc(N * d, sizeof(float)), *dw = calloc((size_t)V * d, sizeof(float));
    float *dx32 = calloc(N * d, sizeof(float)), *dw32 = calloc((size_t)V * d, sizeof(float));
    const float dscale = 1.0f / (float)N;
    EXPECT(o->set_precision(SHEAR_FP32) == 0, "set_precision(fp32)");
    double loss32 = o->classifier(dx32, dw32, NULL, NULL, x, w, tgt, N, d, V, dscale);
    EXPECT(o->set_precision(SHEAR_BF16) == 0, "set_precision(bf16)");
    double loss = o->classifier(dx, dw, NULL, NULL, x, w, tgt, N, d, V, dscale);
    // float64 reference on the rounded inputs; dlogits from its own softmax, then rounded
    double rloss = 0, *rdx = calloc(N * d, sizeof(double)), *rdw = calloc((size_t)V * d, sizeof(double));
    double *lg = malloc((size_t)V * sizeof(double));
    for (size_t n = 0; n < N; n++) {
        if (tgt[n] < 0) continue;
        double mx = -INFINITY, sum = 0;
        for (int v = 0; v < V; v++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += r16(x[n * d + k]) * r16(w[(size_t)v * d + k]);
            lg[v] = s;
            mx = s > mx ? s : mx;
        }
        for (int v = 0; v < V; v++) sum += exp(lg[v] - mx);
        rloss += mx + log(sum) - lg[tgt[n]];
        for (int v = 0; v < V; v++) {
            double g = r16((float)((exp(lg[v] - mx) / sum - (v == tgt[n])) * dscale));
            for (int k = 0; k < d; k++) {
                rdx[n * d + k] += g * r16(w[(size_t)v * d + k]);
                rdw[(size_t)v * d + k] += g * r16(x[n * d + k]);
            }
        }
    }
    double el = fabs(loss - rloss) / fabs(rloss), edx = rel(dx, rdx, N * d), edw = rel(dw, rdw, (size_t)V * d);
    EXPECT(el < 1e-6, "classifier bf16 N=%zu d=%d V=%d: loss %.9g vs %.9g (%.2e)", N, d, V, loss, rloss, el);
    // an fp32 dlogit a hair from a bf16 boundary may round the other way than float64's: 1e-4, not 1e-6
    EXPECT(edx < 1e-4 && edw < 1e-4, "classifier bf16 N=%zu d=%d V=%d: dx %.2e, dw %.2e from float64", N, d, V, edx, edw);
    double e32 = rel_f(dw, dw32, (size_t)V * d);
    EXPECT(fabs(loss - loss32) / fabs(loss32) > 1e-7 && e32 > 3e-4,
           "classifier bf16 equals fp32 (loss %.3e, dw %.3e apart): nothing was rounded", fabs(loss - loss32) / loss32, e32);
    EXPECT(o->set_precision(SHEAR_FP32) == 0, "set_precision(fp32)");
    free(x), free(w), free(tgt), free(dx), free(dw), free(dx32), free(dw32), free(rdx), free(rdw), free(lg);
}

int main(void) {
    const ShearOps *o = ops_cpu();
    EXPECT(o->set_precision((ShearPrecision)7) == -1, "set_precision of an unknown precision was accepted");
    test_matmul(o, 37, 70, 45);
    test_matmul(o, 300, 256, 700);
    test_classifier(o, 41, 24, 333);
    // several chunks of rows (the CPU classifier's chunk is 2^22 / V rows)
    test_classifier(o, 150, 16, 32000);
    printf("test_ops_bf16: %d checks, %d failures\n", checks, failures);
    return failures != 0;
}
