// CUDA backend against the CPU backend: every member of ShearOps on the same random inputs (fixed seeds; the KV
// cache ops in test_cuda_cached.c), then a whole model (forward + backward, with and without pruning gates) and
// 10 AdamW steps on both (test_cuda_model.c; each LLaMA shape with a Qwen2-like or Qwen3-like twin: biases, q/k
// norms, a tied embedding).
//
// Error measure: for a tensor, err = max_i |gpu_i - cpu_i| / max_i |cpu_i| (the largest error relative to the
// tensor's scale; an element-wise relative error is meaningless where the reference crosses 0). The max abs error
// is printed beside it. Models: relative L2 error per tensor, ||gpu - cpu|| / ||cpu||. Backward ops add (+=) onto
// random non-zero gradients; their error is measured against what the op added (cpu - initial), so a large initial
// value cannot hide a wrong increment, and an op that overwrites instead of adding fails by O(1).
// Tolerances (fp32, unit round-off u = 6e-8), why each:
//   exact (bitwise)   memory ops, embedding forward, gate forward: pure copies / one rounding of the same product;
//                     bias forward and backward: one float add / the same double additions in the same order
//   <= 1 ulp          hard-concrete ops: both compute in double and round once; CUDA's double log/exp are within
//                     1 ulp of glibc's, so the float result can differ only where the double lies on a rounding edge
//   TOL_POINT 2e-6    elementwise ops with one libm call or an FMA contraction (nvcc contracts a*b+c, the CPU
//                     build for x86-64-v2 has no FMA; CUDA expf is within 2 ulp): a few ulp of the largest value
//   TOL_REDUCE 1e-5   anything that sums up to ~1000 fp32 terms in another order (matmul, norms, dz/dw, softmax):
//                     the reordering error is ~sqrt(K) u ~ 2e-6 on random data; 1e-5 keeps a 5x margin and any
//                     indexing bug gives O(1)
//   TOL_ROPE 5e-5     angles t * inv_freq reach 256 rad at T = 257, where one float ulp of the angle is 3e-5 rad:
//                     an inv_freq rounded one ulp differently (powf vs exp2f) moves sin/cos by that much
//   TOL_ATTN_BWD 1e-4 ds = p (dp - D) subtracts two sums of T terms that nearly cancel, which magnifies rounding
//   TOL_SUMSQ 1e-10   double accumulation on both sides; only the order of ~1e6 double adds differs
//   TOL_MODEL 1e-4    relative L2 per gradient tensor through 2 blocks forward and backward: the per-op errors
//                     above compound (measured on the CPU against float64 PyTorch: 1.9e-6, tests/parity)
//   TOL_CURVE 1e-4    per-step loss of 10 AdamW steps: Adam moves weights with tiny, noisy gradients by +-lr on
//                     either backend, but the loss is first-order insensitive to exactly those weights
// Exits 77 (skipped) without a CUDA device.

#include "cuda_parity.h"

// ---------------- memory and reductions ----------------

static void test_memory(void) {
    const size_t n = 100003;
    float *h = malloc(n * sizeof(float)), *back = malloc(n * sizeof(float));
    float *d = GPU->alloc(n * sizeof(float)), *d2 = GPU->alloc(n * sizeof(float));
    GPU->download(back, d, n * sizeof(float));
    size_t nonzero = 0;
    for (size_t i = 0; i < n; i++) nonzero += back[i] != 0.0f;
    report(nonzero == 0, "alloc: zero-filled", nonzero ? "non-zero bytes" : "");
    for (size_t i = 0; i < n; i++) h[i] = (float)rnd_normal();
    GPU->upload(d, h, n * sizeof(float));
    GPU->download(back, d, n * sizeof(float));
    report(memcmp(h, back, n * sizeof(float)) == 0, "upload/download round trip: bitwise", "");
    GPU->copy(d2, d, n * sizeof(float));
    GPU->sync();
    GPU->download(back, d2, n * sizeof(float));
    report(memcmp(h, back, n * sizeof(float)) == 0, "copy (device to device): bitwise", "");
    // zero a range in the middle, odd offset and length: the rest must stay
    GPU->zero(d2 + 7, 1001 * sizeof(float));
    GPU->download(back, d2, n * sizeof(float));
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += (i >= 7 && i < 1008) ? back[i] != 0.0f : back[i] != h[i];
    report(bad == 0, "zero: exactly the range [7, 1008)", "");
    GPU->free(d);
    GPU->free(d2);
    GPU->free(NULL);
    free(h);
    free(back);
}

static void test_pointwise(void) {
    const size_t sizes[] = {1, 37 * 24, 1000003};
    for (int s = 0; s < 3; s++) {
        size_t n = sizes[s];
        char what[128];
        Pair y = pair_new(n, 1.0), x = pair_new(n, 1.0);
        CPU->axpy(y.c, x.c, -0.37f, n);
        GPU->axpy(y.g, x.g, -0.37f, n);
        snprintf(what, sizeof what, "axpy n=%zu", n);
        cmp(what, &y, TOL_POINT);
        CPU->scale(y.c, 1.7f, n);
        GPU->scale(y.g, 1.7f, n);
        snprintf(what, sizeof what, "scale n=%zu", n);
        cmp(what, &y, TOL_POINT);
        snprintf(what, sizeof what, "sumsq n=%zu", n);
        cmp_scalar(what, CPU->sumsq(y.c, n), GPU->sumsq(y.g, n), TOL_SUMSQ);
        pair_free(&y);
        pair_free(&x);
    }
    report(GPU->sumsq(NULL, 0) == 0.0 && GPU->all_finite(NULL, 0) == 1, "sumsq and all_finite of n=0", "");
}

static void test_all_finite(void) {
    const size_t sizes[] = {1, 4097, (1u << 20) + 1};
    const float bads[] = {NAN, INFINITY, -INFINITY};
    for (int s = 0; s < 3; s++) {
        size_t n = sizes[s];
        float *h = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) h[i] = (float)(1e30 * rnd_normal()); // large but finite
        Pair p = pair_new(n, 0.0);
        pair_set(&p, h);
        char what[128];
        int c = CPU->all_finite(p.c, n), g = GPU->all_finite(p.g, n);
        snprintf(what, sizeof what, "all_finite n=%zu, all finite", n);
        report(c == 1 && g == 1, what, "");
        const size_t where[] = {0, n / 2, n - 1};
        for (int b = 0; b < 3; b++) {
            for (int w = 0; w < 3; w++) {
                float keep = h[where[w]];
                h[where[w]] = bads[b];
                pair_set(&p, h);
                c = CPU->all_finite(p.c, n);
                g = GPU->all_finite(p.g, n);
                snprintf(what, sizeof what, "all_finite n=%zu, %g at %zu", n, (double)bads[b], where[w]);
                report(c == 0 && g == 0, what, "");
                h[where[w]] = keep;
            }
        }
        pair_free(&p);
        free(h);
    }
}

// ---------------- embedding ----------------

static void test_embedding(size_t N, int d, int V) {
    char what[128];
    int32_t *tok = malloc(N * sizeof(int32_t));
    for (size_t n = 0; n < N; n++) tok[n] = (int32_t)(rnd_uniform() * V) % V; // repeats when N > V
    tok[0] = 0;
    tok[N - 1] = V - 1;
    IPair t = ipair_new(tok, N);
    Pair wte = pair_new((size_t)V * d, 1.0), out = pair_new(N * (size_t)d, 0.0);
    CPU->embedding_fwd(out.c, t.c, wte.c, N, d);
    GPU->embedding_fwd(out.g, t.g, wte.g, N, d);
    snprintf(what, sizeof what, "embedding_fwd N=%zu d=%d V=%d", N, d, V);
    cmp_exact(what, &out);
    Pair dwte = grad_new((size_t)V * d, 0.5), dout = pair_new(N * (size_t)d, 1.0);
    CPU->embedding_bwd(dwte.c, dout.c, t.c, N, d);
    GPU->embedding_bwd(dwte.g, dout.g, t.g, N, d);
    snprintf(what, sizeof what, "embedding_bwd += (repeated tokens) N=%zu d=%d V=%d", N, d, V);
    cmp(what, &dwte, TOL_POINT);
    pair_free(&wte);
    pair_free(&out);
    pair_free(&dwte);
    pair_free(&dout);
    ipair_free(&t);
    free(tok);
}

// ---------------- RMSNorm ----------------

// zmode: 0 no gates, 1 gates in [0, 1] with every third 0, 2 all zero
static void test_rmsnorm(size_t N, int d, int zmode) {
    static const char *zname[] = {"z=NULL", "z with zeros", "z all zero"};
    char what[160];
    Pair inp = pair_new(N * (size_t)d, 2.0), w = pair_uniform((size_t)d, 0.5, 1.5), z = pair_new((size_t)d, 0.0);
    float *hz = malloc((size_t)d * sizeof(float));
    for (int j = 0; j < d; j++) hz[j] = zmode == 2 || j % 3 == 1 ? 0.0f : (float)rnd_uniform();
    pair_set(&z, hz);
    const float *zc = zmode ? z.c : NULL, *zg = zmode ? z.g : NULL;
    Pair out = pair_new(N * (size_t)d, 0.0), rstd = pair_new(N, 0.0);
    CPU->rmsnorm_fwd(out.c, rstd.c, inp.c, w.c, zc, N, d, 1e-5f);
    GPU->rmsnorm_fwd(out.g, rstd.g, inp.g, w.g, zg, N, d, 1e-5f);
    snprintf(what, sizeof what, "rmsnorm_fwd out N=%zu d=%d %s", N, d, zname[zmode]);
    cmp(what, &out, TOL_REDUCE);
    snprintf(what, sizeof what, "rmsnorm_fwd rstd N=%zu d=%d %s", N, d, zname[zmode]);
    cmp(what, &rstd, TOL_REDUCE);
    Pair dout = pair_new(N * (size_t)d, 1.0);
    // grads: all three, then each alone (the others NULL); non-zero initial values check +=
    for (int mask = 7; mask >= 1; mask = mask == 7 ? 4 : mask >> 1) {
        Pair dinp = grad_new(N * (size_t)d, 0.3), dw = grad_new((size_t)d, 0.3), dz = grad_new((size_t)d, 0.3);
        CPU->rmsnorm_bwd(mask & 4 ? dinp.c : NULL, mask & 2 ? dw.c : NULL, mask & 1 ? dz.c : NULL, dout.c, inp.c, w.c,
                         zc, rstd.c, N, d);
        GPU->rmsnorm_bwd(mask & 4 ? dinp.g : NULL, mask & 2 ? dw.g : NULL, mask & 1 ? dz.g : NULL, dout.g, inp.g, w.g,
                         zg, rstd.g, N, d);
        const char *which = mask == 7 ? "all grads" : "one grad, others NULL";
        snprintf(what, sizeof what, "rmsnorm_bwd dinp += N=%zu d=%d %s, %s", N, d, zname[zmode], which);
        if (mask & 4) cmp(what, &dinp, TOL_REDUCE);
        else cmp_exact(what, &dinp); // NULL grads: the other buffers untouched
        snprintf(what, sizeof what, "rmsnorm_bwd dw += N=%zu d=%d %s, %s", N, d, zname[zmode], which);
        if (mask & 2) cmp(what, &dw, TOL_REDUCE);
        else cmp_exact(what, &dw);
        snprintf(what, sizeof what, "rmsnorm_bwd dz += N=%zu d=%d %s, %s", N, d, zname[zmode], which);
        if (mask & 1) cmp(what, &dz, TOL_REDUCE);
        else cmp_exact(what, &dz);
        pair_free(&dinp);
        pair_free(&dw);
        pair_free(&dz);
    }
    pair_free(&inp);
    pair_free(&w);
    pair_free(&z);
    pair_free(&out);
    pair_free(&rstd);
    pair_free(&dout);
    free(hz);
}

// ---------------- matmul ----------------

void test_matmul(size_t N, int C, int OC) {
    char what[128];
    Pair inp = pair_new(N * (size_t)C, 1.0), w = pair_new((size_t)OC * C, 0.1), out = pair_new(N * (size_t)OC, 0.0);
    CPU->matmul_fwd(out.c, inp.c, w.c, N, C, OC);
    GPU->matmul_fwd(out.g, inp.g, w.g, N, C, OC);
    snprintf(what, sizeof what, "matmul_fwd N=%zu C=%d OC=%d", N, C, OC);
    cmp(what, &out, TOL_REDUCE);
    Pair dout = pair_new(N * (size_t)OC, 1.0);
    for (int mask = 3; mask >= 1; mask--) {
        Pair dinp = grad_new(N * (size_t)C, 0.5), dw = grad_new((size_t)OC * C, 0.5);
        CPU->matmul_bwd(mask & 2 ? dinp.c : NULL, mask & 1 ? dw.c : NULL, dout.c, inp.c, w.c, N, C, OC);
        GPU->matmul_bwd(mask & 2 ? dinp.g : NULL, mask & 1 ? dw.g : NULL, dout.g, inp.g, w.g, N, C, OC);
        const char *which = mask == 3 ? "both" : mask == 2 ? "dw NULL" : "dinp NULL";
        snprintf(what, sizeof what, "matmul_bwd dinp += N=%zu C=%d OC=%d %s", N, C, OC, which);
        if (mask & 2) cmp(what, &dinp, TOL_REDUCE);
        else cmp_exact(what, &dinp);
        snprintf(what, sizeof what, "matmul_bwd dw += N=%zu C=%d OC=%d %s", N, C, OC, which);
        if (mask & 1) cmp(what, &dw, TOL_REDUCE);
        else cmp_exact(what, &dw);
        pair_free(&dinp);
        pair_free(&dw);
    }
    pair_free(&inp);
    pair_free(&w);
    pair_free(&out);
    pair_free(&dout);
}

// ---------------- RoPE ----------------

static void test_rope(size_t B, int T, int nh, int hd) {
    char what[128];
    Pair x = pair_new(B * (size_t)T * nh * hd, 1.0);
    const ShearRope plain = {.theta = 10000.0f}, big = {.theta = 500000.0f};
    // Llama 3.1's scaling with a short original context, so that T here reaches all three bands
    const ShearRope llama3 = {500000.0f, ROPE_LLAMA3, 8.0f, 1.0f, 4.0f, 64};
    CPU->rope_fwd(x.c, B, T, nh, hd, &plain);
    GPU->rope_fwd(x.g, B, T, nh, hd, &plain);
    snprintf(what, sizeof what, "rope_fwd B=%zu T=%d nh=%d hd=%d", B, T, nh, hd);
    cmp(what, &x, TOL_ROPE);
    CPU->rope_bwd(x.c, B, T, nh, hd, &big);
    GPU->rope_bwd(x.g, B, T, nh, hd, &big);
    snprintf(what, sizeof what, "rope_bwd B=%zu T=%d nh=%d hd=%d theta=5e5", B, T, nh, hd);
    cmp(what, &x, TOL_ROPE);
    // after a table for another RoPE was cached: the scaled one must not reuse it
    CPU->rope_fwd(x.c, B, T, nh, hd, &llama3);
    GPU->rope_fwd(x.g, B, T, nh, hd, &llama3);
    snprintf(what, sizeof what, "rope_fwd B=%zu T=%d nh=%d hd=%d rope_type llama3", B, T, nh, hd);
    cmp(what, &x, TOL_ROPE);
    pair_free(&x);
}

// ---------------- attention ----------------

static void test_attention(size_t B, int T, int H, int Hkv, int hd) {
    char what[160];
    const size_t nq = B * (size_t)T * H * hd, nkv = B * (size_t)T * Hkv * hd;
    Pair q = pair_new(nq, 1.0), k = pair_new(nkv, 1.0), v = pair_new(nkv, 1.0);
    Pair out = pair_new(nq, 0.0), lse = pair_new(B * (size_t)H * T, 0.0);
    CPU->attention_fwd(out.c, lse.c, q.c, k.c, v.c, B, T, H, Hkv, hd);
    GPU->attention_fwd(out.g, lse.g, q.g, k.g, v.g, B, T, H, Hkv, hd);
    const char *kind = H == Hkv ? "MHA" : "GQA";
    snprintf(what, sizeof what, "attention_fwd out B=%zu T=%d H=%d Hkv=%d hd=%d %s", B, T, H, Hkv, hd, kind);
    cmp(what, &out, TOL_REDUCE);
    snprintf(what, sizeof what, "attention_fwd lse B=%zu T=%d H=%d Hkv=%d hd=%d %s", B, T, H, Hkv, hd, kind);
    cmp(what, &lse, TOL_REDUCE);
    Pair dout = pair_new(nq, 1.0);
    // all three grads, then dq alone, then dk and dv without dq
    const int masks[] = {7, 4, 3};
    for (int m = 0; m < 3; m++) {
        int mask = masks[m];
        Pair dq = grad_new(nq, 0.5), dk = grad_new(nkv, 0.5), dv = grad_new(nkv, 0.5);
        CPU->attention_bwd(mask & 4 ? dq.c : NULL, mask & 2 ? dk.c : NULL, mask & 1 ? dv.c : NULL, dout.c, q.c, k.c,
                           v.c, out.c, lse.c, B, T, H, Hkv, hd);
        GPU->attention_bwd(mask & 4 ? dq.g : NULL, mask & 2 ? dk.g : NULL, mask & 1 ? dv.g : NULL, dout.g, q.g, k.g,
                           v.g, out.g, lse.g, B, T, H, Hkv, hd);
        const char *which = mask == 7 ? "all" : mask == 4 ? "dq only" : "dk dv only";
        Pair *g[3] = {&dq, &dk, &dv};
        const char *gn[3] = {"dq", "dk", "dv"};
        for (int i = 0; i < 3; i++) {
            snprintf(what, sizeof what, "attention_bwd %s += B=%zu T=%d H=%d Hkv=%d hd=%d %s", gn[i], B, T, H, Hkv,
                     hd, which);
            if (mask & (4 >> i)) cmp(what, g[i], TOL_ATTN_BWD);
            else cmp_exact(what, g[i]);
        }
        pair_free(&dq);
        pair_free(&dk);
        pair_free(&dv);
    }
    pair_free(&q);
    pair_free(&k);
    pair_free(&v);
    pair_free(&out);
    pair_free(&lse);
    pair_free(&dout);
}

// ---------------- gates ----------------

static void test_gate(size_t N, int C, int group, int with_z) {
    char what[160];
    const int G = C / group;
    Pair inp = pair_new(N * (size_t)C, 1.0), out = pair_new(N * (size_t)C, 0.0), z = pair_new((size_t)G, 0.0);
    float *hz = malloc((size_t)G * sizeof(float));
    for (int j = 0; j < G; j++) hz[j] = j % 3 == 0 ? 0.0f : (j % 3 == 1 ? 1.0f : (float)rnd_uniform());
    pair_set(&z, hz);
    const float *zc = with_z ? z.c : NULL, *zg = with_z ? z.g : NULL;
    CPU->gate_fwd(out.c, inp.c, zc, N, C, group);
    GPU->gate_fwd(out.g, inp.g, zg, N, C, group);
    snprintf(what, sizeof what, "gate_fwd N=%zu C=%d group=%d %s", N, C, group, with_z ? "z with 0 and 1" : "z=NULL");
    cmp_exact(what, &out);
    Pair dout = pair_new(N * (size_t)C, 1.0);
    for (int mask = 3; mask >= 1; mask--) {
        Pair dinp = grad_new(N * (size_t)C, 0.5), dz = grad_new((size_t)G, 0.5);
        CPU->gate_bwd(mask & 2 ? dinp.c : NULL, mask & 1 ? dz.c : NULL, dout.c, inp.c, zc, N, C, group);
        GPU->gate_bwd(mask & 2 ? dinp.g : NULL, mask & 1 ? dz.g : NULL, dout.g, inp.g, zg, N, C, group);
        const char *which = mask == 3 ? "both" : mask == 2 ? "dz NULL" : "dinp NULL";
        snprintf(what, sizeof what, "gate_bwd dinp += N=%zu C=%d group=%d %s %s", N, C, group, with_z ? "z" : "z=NULL",
                 which);
        if (mask & 2) cmp(what, &dinp, TOL_POINT);
        else cmp_exact(what, &dinp);
        snprintf(what, sizeof what, "gate_bwd dz += N=%zu C=%d group=%d %s %s", N, C, group, with_z ? "z" : "z=NULL",
                 which);
        if (mask & 1) cmp(what, &dz, TOL_REDUCE);
        else cmp_exact(what, &dz);
        pair_free(&dinp);
        pair_free(&dz);
    }
    pair_free(&inp);
    pair_free(&out);
    pair_free(&z);
    pair_free(&dout);
    free(hz);
}

// ---------------- projection biases ----------------

// bias_fwd is one float add per element on both backends: bitwise. bias_bwd is bitwise too: both sum the same
// 64-row blocks (cpu_pointwise.c CPU_ROW_BLOCK, cuda_pointwise.cu BIAS_ROW_BLOCK), each in row order, then the
// blocks in order, all in double, and round to float once. On Normal(0, 1) data the double sums are nearly exact,
// so another order would pass too (32-row blocks did); cancel: rows v ~ 2^24, -v, s ~ 2^-24 in turn, where the
// v cancel but the s are rounded to the double ulp of v (2^-28) while v is in the sum, so only the same order of
// additions gives the same float. Then the GPU again onto the same initial db: the same bits.
static void test_bias(size_t N, int C, int cancel) {
    char what[160];
    const size_t n = N * (size_t)C;
    Pair out = pair_new(n, 1.0), b = pair_new((size_t)C, 1.0); // out [N,C], b [C]
    CPU->bias_fwd(out.c, b.c, N, C);
    GPU->bias_fwd(out.g, b.g, N, C);
    snprintf(what, sizeof what, "bias_fwd out += N=%zu C=%d", N, C);
    cmp_exact(what, &out);
    Pair dout = pair_new(n, 1.0), db = grad_new((size_t)C, 0.5); // dout [N,C], db [C]
    if (cancel) {
        float *hw = malloc(n * sizeof(float)); // [N,C]; rows r % 3 = 0, 1, 2: v ~ 2^24, -v, s ~ 2^-24
        for (size_t i = 0; i < n; i++) {
            const size_t r = i / (size_t)C;
            hw[i] = r % 3 == 1 ? -hw[i - C] : ldexpf((float)rnd_normal(), r % 3 == 0 ? 24 : -24);
        }
        pair_set(&dout, hw);
        free(hw);
    }
    CPU->bias_bwd(db.c, dout.c, N, C);
    GPU->bias_bwd(db.g, dout.g, N, C);
    const char *tag = cancel ? " cancelling rows" : "";
    snprintf(what, sizeof what, "bias_bwd db += N=%zu C=%d%s", N, C, tag);
    cmp_exact(what, &db);
    float *again = GPU->alloc((size_t)C * sizeof(float)); // [C]: a second GPU run from the same initial db
    GPU->upload(again, db.init, (size_t)C * sizeof(float));
    GPU->bias_bwd(again, dout.g, N, C);
    snprintf(what, sizeof what, "bias_bwd N=%zu C=%d%s twice on the GPU: the same bits", N, C, tag);
    cmp_gpu(what, db.g, again, (size_t)C, 0.0);
    // N = 0: a no-op; the CPU's loops run zero times, so matching it bitwise means the GPU left both as they were
    CPU->bias_fwd(out.c, b.c, 0, C);
    GPU->bias_fwd(out.g, b.g, 0, C);
    CPU->bias_bwd(db.c, dout.c, 0, C);
    GPU->bias_bwd(db.g, dout.g, 0, C);
    snprintf(what, sizeof what, "bias_fwd N=0 C=%d leaves out as it was", C);
    cmp_exact(what, &out);
    snprintf(what, sizeof what, "bias_bwd N=0 C=%d leaves db as it was", C);
    cmp_exact(what, &db);
    GPU->free(again);
    pair_free(&out);
    pair_free(&b);
    pair_free(&dout);
    pair_free(&db);
}

// ---------------- SwiGLU ----------------

static void test_swiglu(size_t N, int I) {
    char what[128];
    Pair g = pair_new(N * (size_t)I, 3.0), u = pair_new(N * (size_t)I, 1.0), out = pair_new(N * (size_t)I, 0.0);
    CPU->swiglu_fwd(out.c, g.c, u.c, N, I);
    GPU->swiglu_fwd(out.g, g.g, u.g, N, I);
    snprintf(what, sizeof what, "swiglu_fwd N=%zu I=%d", N, I);
    cmp(what, &out, TOL_POINT);
    Pair dout = pair_new(N * (size_t)I, 1.0);
    for (int mask = 3; mask >= 1; mask--) {
        Pair dg = grad_new(N * (size_t)I, 0.5), du = grad_new(N * (size_t)I, 0.5);
        CPU->swiglu_bwd(mask & 2 ? dg.c : NULL, mask & 1 ? du.c : NULL, dout.c, g.c, u.c, N, I);
        GPU->swiglu_bwd(mask & 2 ? dg.g : NULL, mask & 1 ? du.g : NULL, dout.g, g.g, u.g, N, I);
        const char *which = mask == 3 ? "both" : mask == 2 ? "du NULL" : "dg NULL";
        snprintf(what, sizeof what, "swiglu_bwd dg += N=%zu I=%d %s", N, I, which);
        if (mask & 2) cmp(what, &dg, TOL_POINT);
        else cmp_exact(what, &dg);
        snprintf(what, sizeof what, "swiglu_bwd du += N=%zu I=%d %s", N, I, which);
        if (mask & 1) cmp(what, &du, TOL_POINT);
        else cmp_exact(what, &du);
        pair_free(&dg);
        pair_free(&du);
    }
    pair_free(&g);
    pair_free(&u);
    pair_free(&out);
    pair_free(&dout);
}

// ---------------- classifier ----------------

// mode: 0 everything (dx, dw, row_loss, logits), 1 loss and row_loss only, 2 dx only, 3 dw only
void test_classifier(size_t N, int d, int V, int mode, double grad_tol) {
    static const char *mname[] = {"dx dw row_loss logits", "no grads, row_loss", "dx only", "dw only"};
    char what[160];
    int32_t *tgt = malloc(N * sizeof(int32_t));
    size_t scored = 0;
    for (size_t n = 0; n < N; n++) {
        tgt[n] = n % 5 == 3 ? -1 : (int32_t)(rnd_uniform() * V) % V; // every fifth row ignored
        scored += tgt[n] >= 0;
    }
    tgt[0] = 0;
    if (N > 1) tgt[N - 1] = V - 1;
    IPair t = ipair_new(tgt, N);
    Pair x = pair_new(N * (size_t)d, 1.0), w = pair_new((size_t)V * d, 0.5);
    Pair dx = grad_new(N * (size_t)d, 0.1), dw = grad_new((size_t)V * d, 0.1);
    Pair rl = pair_new(N, 0.0), lg = pair_new(mode == 0 ? N * (size_t)V : 1, 0.0);
    const float dscale = 1.0f / (float)(scored ? scored : 1);
    int want_dx = mode == 0 || mode == 2, want_dw = mode == 0 || mode == 3, want_rl = mode <= 1;
    double lc = CPU->classifier(want_dx ? dx.c : NULL, want_dw ? dw.c : NULL, want_rl ? rl.c : NULL,
                                mode == 0 ? lg.c : NULL, x.c, w.c, t.c, N, d, V, dscale);
    double lgpu = GPU->classifier(want_dx ? dx.g : NULL, want_dw ? dw.g : NULL, want_rl ? rl.g : NULL,
                                  mode == 0 ? lg.g : NULL, x.g, w.g, t.g, N, d, V, dscale);
    snprintf(what, sizeof what, "classifier loss sum N=%zu d=%d V=%d %s", N, d, V, mname[mode]);
    cmp_scalar(what, lc, lgpu, TOL_REDUCE);
    snprintf(what, sizeof what, "classifier row_loss N=%zu d=%d V=%d %s", N, d, V, mname[mode]);
    if (want_rl) cmp(what, &rl, TOL_REDUCE);
    if (mode == 0) {
        snprintf(what, sizeof what, "classifier logits N=%zu d=%d V=%d", N, d, V);
        cmp(what, &lg, TOL_REDUCE);
    }
    snprintf(what, sizeof what, "classifier dx += N=%zu d=%d V=%d %s", N, d, V, mname[mode]);
    if (want_dx) cmp(what, &dx, grad_tol);
    else cmp_exact(what, &dx);
    snprintf(what, sizeof what, "classifier dw += N=%zu d=%d V=%d %s", N, d, V, mname[mode]);
    if (want_dw) cmp(what, &dw, grad_tol);
    else cmp_exact(what, &dw);
    ipair_free(&t);
    pair_free(&x);
    pair_free(&w);
    pair_free(&dx);
    pair_free(&dw);
    pair_free(&rl);
    pair_free(&lg);
    free(tgt);
}

// ---------------- classifier_kd ----------------

// classifier_kd, CUDA against CPU: N rows, student width d, teacher width td, vocabulary V; the teacher's logits
// tl = tx @ tw^T are random, or with ties small integers (tx in {-1, 0, 1}, tw in {-2 .. 2}: exact in fp32 in any
// summation order, so both backends see the same ties and the top-k cut falls inside runs of equal logits).
// mode: 0 dx and dw, 1 no grads, 2 dx only, 3 dw only. Every fifth row is ignored (target -1).
// Then on the GPU alone: the LM sum is classifier's bits (the LM loss does not depend on the teacher), and with
// alpha = 0 dx and dw are classifier's bits too (the KD term is not added); kd_sum = NULL gives the same LM sum.
static void test_classifier_kd(size_t N, int d, int td, int V, float temp, int topk, float alpha, int ties,
                               int mode) {
    static const char *mname[] = {"dx dw", "no grads", "dx only", "dw only"};
    char what[200], label[128];
    snprintf(label, sizeof label, "N=%zu d=%d td=%d V=%d T=%g topk=%d alpha=%g%s %s", N, d, td, V, (double)temp, topk,
             (double)alpha, ties ? " ties" : "", mname[mode]);
    int32_t *tgt = malloc(N * sizeof(int32_t));
    size_t scored = 0;
    for (size_t n = 0; n < N; n++) {
        tgt[n] = n % 5 == 3 ? -1 : (int32_t)(rnd_uniform() * V) % V;
        scored += tgt[n] >= 0;
    }
    tgt[0] = 0;
    if (N > 1) tgt[N - 1] = V - 1;
    IPair t = ipair_new(tgt, N);
    Pair x = pair_new(N * (size_t)d, 1.0), w = pair_new((size_t)V * d, 0.5);
    Pair tx = pair_new(N * (size_t)td, 1.0), tw = pair_new((size_t)V * td, 0.5);
    if (ties) {
        float *h = malloc(((size_t)V > N ? (size_t)V : N) * (size_t)td * sizeof(float));
        for (size_t i = 0; i < N * (size_t)td; i++) h[i] = (float)((int)(rnd_uniform() * 3) - 1);
        pair_set(&tx, h);
        for (size_t i = 0; i < (size_t)V * td; i++) h[i] = (float)((int)(rnd_uniform() * 5) - 2);
        pair_set(&tw, h);
        free(h);
    }
    Pair dx = grad_new(N * (size_t)d, 0.1), dw = grad_new((size_t)V * d, 0.1);
    const float dscale = 1.0f / (float)(scored ? scored : 1);
    const int want_dx = mode == 0 || mode == 2, want_dw = mode == 0 || mode == 3;
    ShearKD kc = {.tx = tx.c, .tw = tw.c, .td = td, .alpha = alpha, .temperature = temp, .topk = topk};
    ShearKD kg = kc;
    kg.tx = tx.g;
    kg.tw = tw.g;
    double kdc = -1.0, kdg = -1.0;
    double lc = CPU->classifier_kd(want_dx ? dx.c : NULL, want_dw ? dw.c : NULL, &kdc, x.c, w.c, t.c, N, d, V, dscale,
                                   &kc);
    double lg = GPU->classifier_kd(want_dx ? dx.g : NULL, want_dw ? dw.g : NULL, &kdg, x.g, w.g, t.g, N, d, V, dscale,
                                   &kg);
    snprintf(what, sizeof what, "classifier_kd LM sum %s", label);
    cmp_scalar(what, lc, lg, TOL_REDUCE);
    snprintf(what, sizeof what, "classifier_kd KD sum %s", label);
    cmp_scalar(what, kdc, kdg, TOL_REDUCE);
    snprintf(what, sizeof what, "classifier_kd dx += %s", label);
    if (want_dx) cmp(what, &dx, TOL_REDUCE);
    else cmp_exact(what, &dx);
    snprintf(what, sizeof what, "classifier_kd dw += %s", label);
    if (want_dw) cmp(what, &dw, TOL_REDUCE);
    else cmp_exact(what, &dw);

    // GPU alone: classifier on the same rows, from the same initial gradients
    float *pdx = GPU->alloc(N * (size_t)d * sizeof(float)), *pdw = GPU->alloc((size_t)V * d * sizeof(float));
    GPU->upload(pdx, dx.init, N * (size_t)d * sizeof(float));
    GPU->upload(pdw, dw.init, (size_t)V * d * sizeof(float));
    const int bits = alpha == 0.0f; // dx, dw compared only where they must agree bitwise
    double lp = GPU->classifier(bits && want_dx ? pdx : NULL, bits && want_dw ? pdw : NULL, NULL, NULL, x.g, w.g,
                                t.g, N, d, V, dscale);
    snprintf(what, sizeof what, "classifier_kd LM sum == GPU classifier's (bits) %s", label);
    char detail[96];
    snprintf(detail, sizeof detail, "kd %.17g plain %.17g", lg, lp);
    report(memcmp(&lg, &lp, sizeof lg) == 0, what, detail);
    if (bits && want_dx) {
        snprintf(what, sizeof what, "classifier_kd alpha 0: dx == GPU classifier's (bits) %s", label);
        cmp_gpu(what, pdx, dx.g, N * (size_t)d, 0.0);
    }
    if (bits && want_dw) {
        snprintf(what, sizeof what, "classifier_kd alpha 0: dw == GPU classifier's (bits) %s", label);
        cmp_gpu(what, pdw, dw.g, (size_t)V * d, 0.0);
    }
    if (mode == 1) {
        double l2 = GPU->classifier_kd(NULL, NULL, NULL, x.g, w.g, t.g, N, d, V, dscale, &kg);
        snprintf(what, sizeof what, "classifier_kd kd_sum NULL: the same LM sum (bits) %s", label);
        report(memcmp(&lg, &l2, sizeof lg) == 0, what, "");
    }
    GPU->free(pdx);
    GPU->free(pdw);
    ipair_free(&t);
    pair_free(&x);
    pair_free(&w);
    pair_free(&tx);
    pair_free(&tw);
    pair_free(&dx);
    pair_free(&dw);
    free(tgt);
}

// ---------------- AdamW ----------------

static void test_adamw(size_t n, int t, float wd, float gscale) {
    char what[128];
    Pair p = pair_new(n, 0.5), g = pair_new(n, 1e-2), m = pair_new(n, 1e-3), v = pair_uniform(n, 0.0, 1e-4);
    CPU->adamw(p.c, g.c, m.c, v.c, n, 3e-3f, 0.9f, 0.95f, 1e-8f, wd, gscale, t);
    GPU->adamw(p.g, g.g, m.g, v.g, n, 3e-3f, 0.9f, 0.95f, 1e-8f, wd, gscale, t);
    snprintf(what, sizeof what, "adamw p n=%zu t=%d wd=%g gscale=%g", n, t, (double)wd, (double)gscale);
    cmp(what, &p, TOL_POINT);
    snprintf(what, sizeof what, "adamw m n=%zu t=%d", n, t);
    cmp(what, &m, TOL_POINT);
    snprintf(what, sizeof what, "adamw v n=%zu t=%d", n, t);
    cmp(what, &v, TOL_POINT);
    pair_free(&p);
    pair_free(&g);
    pair_free(&m);
    pair_free(&v);
}

// ---------------- hard-concrete ----------------

static void test_hardconcrete(size_t n, uint64_t seed, uint64_t counter0) {
    char what[160];
    Pair la = pair_new(n, 3.0), z = pair_new(n, 0.0), dz = pair_new(n, 1.0);
    CPU->hardconcrete_sample(z.c, la.c, n, seed, counter0);
    GPU->hardconcrete_sample(z.g, la.g, n, seed, counter0);
    snprintf(what, sizeof what, "hardconcrete_sample n=%zu counter0=%#llx", n, (unsigned long long)counter0);
    cmp_ulp(what, &z, 1);
    // from zero: the rounded product itself, within 1 ulp
    Pair dla0 = pair_new(n, 0.0);
    CPU->hardconcrete_bwd(dla0.c, dz.c, la.c, n, seed, counter0);
    GPU->hardconcrete_bwd(dla0.g, dz.g, la.g, n, seed, counter0);
    snprintf(what, sizeof what, "hardconcrete_bwd from 0 n=%zu", n);
    cmp_ulp(what, &dla0, 1);
    // += onto non-zero values: a = fl(init + p); a 1-ulp difference in p plus the two roundings of the sum bound
    // |a_gpu - a_cpu| by ulp(p) + ulp(a)
    Pair dla = grad_new(n, 0.1);
    CPU->hardconcrete_bwd(dla.c, dz.c, la.c, n, seed, counter0);
    GPU->hardconcrete_bwd(dla.g, dz.g, la.g, n, seed, counter0);
    float *hc, *hg, *p0c, *p0g;
    download_both(&dla, &hc, &hg);
    download_both(&dla0, &p0c, &p0g);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double bound = (double)nextafterf(fabsf(p0c[i]), INFINITY) - fabsf(p0c[i]) +
                       ((double)nextafterf(fabsf(hc[i]), INFINITY) - fabsf(hc[i]));
        if (!(fabs((double)hg[i] - (double)hc[i]) <= bound)) bad++;
    }
    char detail[96];
    snprintf(detail, sizeof detail, "%zu of %zu beyond ulp(p) + ulp(sum)", bad, n);
    snprintf(what, sizeof what, "hardconcrete_bwd += onto non-zero n=%zu", n);
    report(bad == 0, what, detail);
    free(hc);
    free(hg);
    free(p0c);
    free(p0g);
    pair_free(&la);
    pair_free(&z);
    pair_free(&dz);
    pair_free(&dla0);
    pair_free(&dla);
}

// CUDA_OPS_ONLY=attention,model runs only those groups (run_gpu_checks.sh gives racecheck the kernels with
// shared memory); unset: all. A name that is not a group is an error, so a typo never passes by running nothing.
static const char *const GROUPS[] = {"memory", "pointwise", "embedding", "rmsnorm", "matmul", "rope", "attention",
                                     "cached", "gate", "bias", "swiglu", "classifier", "classifier_kd", "adamw",
                                     "hardconcrete", "model", "bf16"};

static int want(const char *group) {
    const char *only = getenv("CUDA_OPS_ONLY");
    if (!only || !*only) return 1;
    size_t n = strlen(group);
    for (const char *p = only; (p = strstr(p, group)) != NULL; p += n)
        if ((p == only || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
    return 0;
}

static void check_only(void) {
    const char *only = getenv("CUDA_OPS_ONLY");
    for (const char *p = only; p && *p;) {
        size_t n = strcspn(p, ","), k = 0;
        while (k < sizeof GROUPS / sizeof *GROUPS && (strlen(GROUPS[k]) != n || strncmp(GROUPS[k], p, n) != 0)) k++;
        if (k == sizeof GROUPS / sizeof *GROUPS) {
            fprintf(stderr, "CUDA_OPS_ONLY names '%.*s', which is not a group (memory, pointwise, embedding, rmsnorm, "
                            "matmul, rope, attention, cached, gate, bias, swiglu, classifier, classifier_kd, "
                            "adamw, hardconcrete, model, bf16)\n",
                    (int)n, p);
            exit(2);
        }
        p += n + (p[n] == ',');
    }
}

int main(void) {
    check_only();
    int ndev = cuda_device_count();
    if (ndev == 0) {
        printf("SKIP: no CUDA device visible (cudaGetDeviceCount failed or returned 0); this test needs a GPU\n");
        return 77;
    }
    cuda_select_device(0);
    CPU = ops_cpu();
    GPU = ops_cuda();
    printf("backends: %s vs %s, %d device(s)\n", CPU->name, GPU->name, ndev);

    if (want("memory")) test_memory();
    if (want("pointwise")) {
        test_pointwise();
        test_all_finite();
    }

    if (want("embedding")) {
        test_embedding(37, 24, 11);
        test_embedding(1, 128, 32000);
        test_embedding(300, 64, 1000);
    }

    if (want("rmsnorm")) {
        for (int zmode = 0; zmode < 3; zmode++) {
            test_rmsnorm(37, 24, zmode);
            test_rmsnorm(64, 1000, zmode);
        }
        test_rmsnorm(1, 4096, 1);
    }

    if (want("matmul")) {
        test_matmul(37, 24, 40);
        test_matmul(1, 17, 5);
        test_matmul(257, 128, 352);
        test_matmul(64, 1000, 96);
    }

    if (want("rope")) {
        test_rope(2, 31, 3, 8);
        test_rope(1, 257, 2, 64);
        test_rope(3, 1, 4, 128);
        test_rope(2, 17, 5, 24);
    }

    if (want("attention")) {
        test_attention(2, 31, 8, 2, 8);    // GQA
        test_attention(1, 257, 4, 4, 64);  // MHA, long
        test_attention(3, 1, 2, 1, 24);    // one token
        test_attention(1, 64, 8, 2, 128);  // GQA, hd 128
        test_attention(2, 257, 8, 2, 128); // GQA, long, hd 128
        test_attention(1, 33, 6, 6, 24);   // MHA, hd 24
        test_attention(2, 67, 4, 2, 160);  // hd bucket 256, partly zero-filled
        test_attention(1, 40, 2, 2, 256);  // hd 256, the largest
        // long: 65 Q tiles, a grid of many K/V tiles per block. CUDA_OPS_SHORT=1 leaves it out: the emulated
        // mutant tests (tests/cuda_emu_backend.cmake) need the kernels' logic, not their length
        const char *short_only = getenv("CUDA_OPS_SHORT");
        if (!short_only || strcmp(short_only, "1") != 0) test_attention(1, 4100, 2, 1, 32);
    }

    // generation with a KV cache (test_cuda_cached.c)
    if (want("cached")) test_cached();

    for (int with_z = 0; with_z < 2 && want("gate"); with_z++) {
        test_gate(37, 24, 1, with_z);   // per channel
        test_gate(37, 48, 16, with_z);  // per KV group (hd 8, 2 heads per gate)
        test_gate(37, 24, 24, with_z);  // one gate per row (layer gates)
        test_gate(5, 4096, 128, with_z);
    }

    if (want("swiglu")) {
        test_swiglu(37, 24);
        test_swiglu(64, 1001);
    }

    for (int mode = 0; mode < 4 && want("classifier"); mode++) test_classifier(37, 24, 97, mode, TOL_REDUCE);
    if (want("classifier")) {
        test_classifier(300, 64, 1000, 0, TOL_REDUCE);
        test_classifier(260, 32, 65537, 0, TOL_REDUCE); // several GPU chunks (64 MiB of logits holds 256 rows)
        test_classifier(1, 16, 5, 0, TOL_REDUCE);
    }
    if (want("classifier")) {
        int32_t none = -1;
        IPair t = ipair_new(&none, 1);
        Pair x = pair_new(16, 1.0), w = pair_new(5 * 16, 1.0);
        double lc = CPU->classifier(NULL, NULL, NULL, NULL, x.c, w.c, t.c, 0, 16, 5, 1.0f);
        double lg = GPU->classifier(NULL, NULL, NULL, NULL, x.g, w.g, t.g, 0, 16, 5, 1.0f);
        report(lc == 0.0 && lg == 0.0, "classifier N=0 returns 0", "");
        pair_free(&x);
        pair_free(&w);
        ipair_free(&t);
    }

    if (want("classifier_kd")) {
        const float temps[] = {1.0f, 2.0f, 0.5f};
        for (int i = 0; i < 3; i++) test_classifier_kd(37, 24, 40, 301, temps[i], 0, 0.5f, 0, 0); // full vocabulary
        test_classifier_kd(37, 24, 40, 301, 1.0f, 0, 0.0f, 0, 0); // alpha 0: classifier's dx, dw
        test_classifier_kd(37, 24, 40, 301, 2.0f, 0, 1.0f, 0, 0); // alpha 1: KD only
        test_classifier_kd(37, 24, 40, 301, 1.0f, 1, 0.5f, 0, 0); // top-1
        test_classifier_kd(37, 24, 40, 301, 2.0f, 5, 0.5f, 0, 0); // top-5
        test_classifier_kd(37, 24, 40, 301, 0.5f, 5, 1.0f, 0, 0);
        test_classifier_kd(37, 24, 40, 301, 1.0f, 301, 0.5f, 0, 0); // topk = V: the full vocabulary
        test_classifier_kd(37, 24, 8, 301, 1.0f, 5, 0.5f, 1, 0);    // ties in the teacher's logits
        test_classifier_kd(37, 24, 8, 301, 2.0f, 37, 1.0f, 1, 0);
        test_classifier_kd(37, 24, 40, 301, 1.0f, 5, 0.0f, 0, 0);   // alpha 0 with top-k
        test_classifier_kd(37, 24, 40, 301, 2.0f, 5, 0.5f, 0, 1);   // losses only
        test_classifier_kd(37, 24, 40, 301, 1.0f, 0, 0.5f, 0, 2);
        test_classifier_kd(37, 24, 40, 301, 1.0f, 5, 0.0f, 0, 3);
        test_classifier_kd(1, 16, 8, 5, 2.0f, 2, 0.5f, 0, 0);       // one row, a tiny vocabulary
        // several GPU chunks (64 MiB of logits holds 256 rows of V = 65537) and CPU chunks (64 rows); left out by
        // CUDA_OPS_SHORT=1, whose runs need the kernel's logic, not its length
        const char *short_only = getenv("CUDA_OPS_SHORT");
        if (!short_only || strcmp(short_only, "1") != 0) test_classifier_kd(260, 32, 16, 65537, 2.0f, 0, 0.5f, 0, 0);
        double kd = -1.0;
        ShearKD k0 = {.tx = NULL, .tw = NULL, .td = 8, .alpha = 0.5f, .temperature = 1.0f, .topk = 0};
        double l = GPU->classifier_kd(NULL, NULL, &kd, NULL, NULL, NULL, 0, 16, 5, 1.0f, &k0);
        report(l == 0.0 && kd == 0.0, "classifier_kd N=0 returns 0 and kd_sum 0", "");
    }

    if (want("adamw")) {
        test_adamw(1000003, 1, 0.1f, 1.0f);
        test_adamw(37, 7, 0.0f, 0.5f);
    }

    if (want("hardconcrete")) {
        test_hardconcrete(100003, 2024, masks_counter0(5, 3));
        test_hardconcrete(37, 7, 0);
    }

    ModelConfig gqa = {.dim = 64, .n_layers = 2, .n_heads = 8, .n_kv_heads = 2, .head_dim = 8, .intermediate = 96,
                       .vocab = 97, .rope = {.theta = 10000.0f}, .norm_eps = 1e-5f};
    ModelConfig mha = {.dim = 48, .n_layers = 2, .n_heads = 4, .n_kv_heads = 4, .head_dim = 24, .intermediate = 80,
                       .vocab = 131, .rope = {.theta = 10000.0f}, .norm_eps = 1e-5f};
    if (want("model")) {
        test_model(&gqa, 2, 31, "GQA d64 H8/2 hd8 T31");
        test_model(&mha, 3, 17, "MHA d48 H4 hd24 T17");
    }

    // last, so that the groups above draw the same random inputs as before it was added
    if (want("bias")) {
        const size_t Ns[] = {1, 37, 4100};
        const int Cs[] = {8, 96, 1000};
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) test_bias(Ns[i], Cs[j], 0);
        test_bias(4100, 96, 1); // 65 row blocks, the last of 4 rows
        test_bias(37, 1000, 1); // one partial block
    }
    if (want("bf16")) test_bf16();
    if (want("matmul")) test_gemm_cache("fp32"); // after bf16's: the same shape in another precision plans again

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
