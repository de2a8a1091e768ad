// The up-front memory estimate (formulas and what is left out: shear/memest.h).
#include "shear/memest.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shear/common.h"
#include "shear/masks.h"
#include "shear/ops.h"

size_t memest_acts_bytes(const ModelConfig *c, int B, int T, int recompute) {
    // buffer by buffer as model_alloc_acts allocates them, so the two are read side by side; L here is the
    // layers of the per-layer buffers (one block with recompute), x always keeps all n_layers + 1
    size_t N = (size_t)B * T, L = recompute ? 1 : (size_t)c->n_layers;
    size_t d = (size_t)c->dim, I = (size_t)c->intermediate;
    size_t H = (size_t)c->n_heads, qd = H * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    size_t wide = d > qd ? d : qd;
    if (I > wide) wide = I;
    size_t big = qd > I ? qd : I;
    size_t f = 0; // floats
    f += ((size_t)c->n_layers + 1) * N * d; // x
    f += L * N * d + L * N;               // xn1, rstd1
    f += L * N * qd + 2 * L * N * kvd;    // q, k, v
    if (c->qk_norm) f += L * N * (qd + kvd) + L * N * (H + (size_t)c->n_kv_heads); // qraw, kraw, rstdq, rstdk
    f += L * N * qd + L * N * H;          // att, lse
    f += L * N * qd;                      // attg
    f += 3 * L * N * d + L * N;           // ao, x_mid, xn2, rstd2
    f += 4 * L * N * I;                   // mg, mu, mug, mh
    f += L * N * d;                       // mo
    f += N * d + N;                       // xnf, rstdf
    f += 2 * N * wide;                    // s1, s2
    f += 3 * N * d + N * big;             // dx, dxn, dbr, dbig
    f += N * qd + 2 * N * kvd;            // dq, dk, dv
    f += 2 * N * I;                       // dmg, dmu
    return f * sizeof(float) + 2 * N * sizeof(int32_t); // + tokens, targets
}

// Rows per classifier chunk: the rule of kernels/cpu/cpu_classifier.c and kernels/cuda/cuda_classifier.cu.
static size_t chunk_rows(size_t N, size_t V, int cuda) {
    size_t cap = cuda ? (size_t)1 << 24 : (size_t)1 << 22, min_rows = cuda ? 1 : 64;
    size_t chunk = cap / V;
    if (chunk < min_rows) chunk = min_rows;
    return chunk > N ? N : chunk;
}

size_t memest_classifier_bytes(const ModelConfig *c, int B, int T, int cuda) {
    size_t V = (size_t)c->vocab, chunk = chunk_rows((size_t)B * T, V, cuda);
    return chunk * V * sizeof(float) + chunk * sizeof(double); // [chunk, V] logits, [chunk] losses
}

size_t memest_kd_bytes(const ModelConfig *c, int B, int T, int cuda, int topk) {
    size_t N = (size_t)B * T, V = (size_t)c->vocab, chunk = chunk_rows(N, V, cuda);
    size_t k = topk > 0 ? ((size_t)topk < V ? (size_t)topk : V) : 0;
    // [chunk, V] teacher logits; KD row losses ([chunk] on the CPU, [N] on CUDA: summed once at the end); the
    // CPU's top-k heaps [chunk, k] (value, id); CUDA selects in place (a radix select over the teacher's row)
    return chunk * V * sizeof(float) + (cuda ? N : chunk) * sizeof(double) +
           (cuda ? 0 : chunk * k * (sizeof(float) + sizeof(int)));
}

size_t memest_bf16_bytes(const ModelConfig *c, int B, int T, int cuda, int teacher_dim) {
    size_t N = (size_t)B * T, V = (size_t)c->vocab, chunk = chunk_rows(N, V, cuda), d = (size_t)c->dim;
    size_t qd = (size_t)c->n_heads * c->head_dim, I = (size_t)c->intermediate;
    size_t wide = d > qd ? d : qd; // the widest input or output of a linear layer
    if (I > wide) wide = I;
    size_t wmax = (qd > I ? qd : I) * d;                 // the largest linear weight
    size_t a = N * wide > chunk * d ? N * wide : chunk * d; // A operands: inp, dout, the chunk's rows
    size_t b = wmax > N * wide ? wmax : N * wide;           // B operands: w, inp (dw)
    size_t shared = N * wide > chunk * V ? N * wide : chunk * V; // dout of matmul_bwd, the chunk's dlogits
    return 2 * (a + b + shared + V * d + V * (size_t)teacher_dim);
}

size_t memest_mask_gates(const ModelConfig *src, char names[][32], int n_names) {
    size_t L = (size_t)src->n_layers, total = 0;
    for (int i = 0; i < n_names; i++) {
        switch (mask_type_from_name(names[i])) {
        case MASK_LAYER: case MASK_HEAD_LAYER: case MASK_MLP: total += L; break;
        case MASK_HEAD: total += L * (size_t)src->n_kv_heads; break;
        case MASK_INTERMEDIATE: total += L * (size_t)src->intermediate; break;
        case MASK_HIDDEN: total += (size_t)src->dim; break;
        default: break;
        }
    }
    return total;
}

void memest_compute(const MemPlan *p, int B, MemEstimate *e) {
    memset(e, 0, sizeof *e);
    e->B = B;
    e->T = p->T;
    ParamTable t;
    param_table_build(&t, &p->cfg);
    size_t P = t.total;
    param_table_free(&t);
    e->weights = P * sizeof(float);
    e->grads = P * sizeof(float);
    if (p->zero) {
        // zero_init's layout: m, v and the reduced gradients of the shard, one bucket stage [R, b]
        size_t R = p->ranks > 0 ? (size_t)p->ranks : 1, A = 64;
        size_t S = ((P + R - 1) / R + A - 1) / A * A;
        size_t b = ((p->zero_bucket + R - 1) / R + A - 1) / A * A;
        if (b == 0) b = A;
        if (b > S) b = S;
        e->optim = (3 * S + R * b) * sizeof(float);
    } else {
        e->optim = 2 * P * sizeof(float);
    }
    e->masks = 7 * p->mask_gates * sizeof(float);
    e->acts = memest_acts_bytes(&p->cfg, B, p->T, p->recompute);
    e->workspace = memest_classifier_bytes(&p->cfg, B, p->T, p->cuda);
    e->gemm_workspace = p->cuda ? SHEAR_CUDA_GEMM_WORKSPACE_BYTES : 0; // one per rank, whatever the shapes
    if (p->bf16) e->bf16 = memest_bf16_bytes(&p->cfg, B, p->T, p->cuda, p->teacher ? p->teacher_cfg.dim : 0);
    // the reference model: weights only, one block of activations at the run's micro-batch (src/run_dbl.c)
    if (p->ref_eval) {
        param_table_build(&t, &p->ref_cfg);
        e->reference = t.total * sizeof(float) + memest_acts_bytes(&p->ref_cfg, B, p->T, 1);
        param_table_free(&t);
    }
    if (p->teacher) {
        param_table_build(&t, &p->teacher_cfg);
        e->teacher = t.total * sizeof(float) + memest_acts_bytes(&p->teacher_cfg, B, p->T, 1) +
                     memest_kd_bytes(&p->teacher_cfg, B, p->T, p->cuda, p->topk);
        param_table_free(&t);
    }
    e->total = e->weights + e->grads + e->optim + e->masks + e->acts + e->workspace + e->gemm_workspace + e->bf16 +
               e->reference + e->teacher;
}

int memest_fit_micro_batch(const MemPlan *p, int global_batch, size_t avail) {
    // the total grows with B: walk the divisors of the global batch from the top
    for (int b = global_batch; b >= 1; b--) {
        if (global_batch % b) continue;
        MemEstimate e;
        memest_compute(p, b, &e);
        if (e.total <= avail) return b;
    }
    return 0;
}

// "123", "512M", "2G", "1.5T" (binary multiples); 0 and sets *ok = 0 when it is not a size
static size_t parse_size(const char *s, int *ok) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    *ok = 0;
    if (end == s || errno || !(v >= 0)) return 0;
    double mul = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': mul = 1024.0; end++; break;
    case 'M': mul = 1024.0 * 1024; end++; break;
    case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
    case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (end[0] == 'i' && end[1] == 'B') end += 2; // "2GiB"
    else if (end[0] == 'B') end++;                // "2GB", "100B"
    if (*end) return 0;
    *ok = 1;
    return (size_t)(v * mul);
}

static size_t proc_mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    fclose(f);
    return (size_t)kb * 1024;
}

size_t memest_available(int cuda, int local_ranks, char *what, size_t whatlen) {
    char dummy[8];
    if (!what) { what = dummy; whatlen = sizeof dummy; }
    const char *env = getenv("SHEAR_MEM_AVAILABLE");
    if (env && *env) {
        int ok;
        size_t v = parse_size(env, &ok);
        if (!ok)
            SHEAR_DIE("SHEAR_MEM_AVAILABLE='%s': expected a size in bytes, optionally with a K, M, G or T suffix "
                      "(e.g. 2G), or unset it", env);
        snprintf(what, whatlen, "SHEAR_MEM_AVAILABLE");
        return v;
    }
    if (cuda) {
        const ShearOps *cu = ops_cuda(); // NULL: the CUDA backend is not built
        if (!cu) {
            snprintf(what, whatlen, "unknown");
            return 0;
        }
        ShearDeviceInfo di;
        cu->device_info(&di);
        snprintf(what, whatlen, "free on the GPU");
        return di.mem_free;
    }
    size_t avail = proc_mem_available();
    if (local_ranks < 1) local_ranks = 1;
    snprintf(what, whatlen, "MemAvailable / %d rank%s on this node", local_ranks, local_ranks == 1 ? "" : "s");
    return avail / (size_t)local_ranks;
}

void memest_fmt_bytes(char *buf, size_t len, double bytes) {
    if (bytes >= 1024.0 * 1024 * 1024) snprintf(buf, len, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
    else if (bytes >= 1024.0 * 1024) snprintf(buf, len, "%.1f MiB", bytes / (1024.0 * 1024));
    else snprintf(buf, len, "%.1f KiB", bytes / 1024.0);
}

// "weights X, grads X, optim X, [masks X,] activations X (micro-batch B x T), classifier chunk X[, cuBLASLt
// workspace X][, bf16 GEMM operands X][, DBL reference model X][, distillation teacher X]"
static void fmt_parts(char *buf, size_t len, const MemEstimate *e, int zero) {
    char w[32], g[32], o[32], m[32], a[32], ws[32], gw[32], r[32], te[32], bf[32];
    memest_fmt_bytes(bf, sizeof bf, (double)e->bf16);
    memest_fmt_bytes(w, sizeof w, (double)e->weights);
    memest_fmt_bytes(g, sizeof g, (double)e->grads);
    memest_fmt_bytes(o, sizeof o, (double)e->optim);
    memest_fmt_bytes(m, sizeof m, (double)e->masks);
    memest_fmt_bytes(a, sizeof a, (double)e->acts);
    memest_fmt_bytes(ws, sizeof ws, (double)e->workspace);
    memest_fmt_bytes(gw, sizeof gw, (double)e->gemm_workspace);
    memest_fmt_bytes(r, sizeof r, (double)e->reference);
    memest_fmt_bytes(te, sizeof te, (double)e->teacher);
    size_t n = (size_t)snprintf(buf, len, "weights %s, grads %s, optim %s%s, ", w, g, o,
                                zero ? " (ZeRO-1 shard + buffers)" : "");
    if (e->masks && n < len) n += (size_t)snprintf(buf + n, len - n, "masks %s, ", m);
    if (n < len)
        n += (size_t)snprintf(buf + n, len - n, "activations %s (micro-batch %d x %d), classifier chunk %s", a, e->B,
                              e->T, ws);
    if (e->gemm_workspace && n < len) n += (size_t)snprintf(buf + n, len - n, ", cuBLASLt workspace %s", gw);
    if (e->bf16 && n < len) n += (size_t)snprintf(buf + n, len - n, ", bf16 GEMM operands %s", bf);
    if (e->reference && n < len) n += (size_t)snprintf(buf + n, len - n, ", DBL reference model %s", r);
    if (e->teacher && n < len) snprintf(buf + n, len - n, ", distillation teacher %s", te);
}

void memest_run_check(const MemPlan *p, const Dist *dist, int micro_batch, int global_batch, const char *deck_path) {
    char what[96], parts[512], tot[32], av[32];
    if (model_config_check(&p->cfg, parts, sizeof parts)) return; // model_create reports a bad shape
    size_t avail = memest_available(p->cuda, dist->local_size, what, sizeof what);
    // every rank must reach the same verdict: the smallest rank decides
    unsigned long long a = avail, amin = dist_world_min_u64(a), amax = dist_world_max_u64(a);
    MemEstimate e;
    memest_compute(p, micro_batch, &e);
    fmt_parts(parts, sizeof parts, &e, p->zero);
    memest_fmt_bytes(tot, sizeof tot, (double)e.total);
    if (amin == 0) { // nothing readable on some rank: report, do not judge
        shear_log("memory estimate per rank: %s, total %s (available memory unknown: not checked)\n", parts, tot);
        return;
    }
    memest_fmt_bytes(av, sizeof av, (double)amin);
    shear_log("memory estimate per rank: %s, total %s of %s available (%s%s)\n", parts, tot, av, what,
              amin != amax ? ", smallest rank" : "");
    if (e.total <= amin) return;
    // one clear message: rank 0 reports and aborts the job, the others wait for that
    if (dist->rank != 0) {
        dist_world_barrier("memory check");
        exit(SHEAR_EXIT_ERROR);
    }

    // the sizes once, then the one lever that works
    char head[512], acts[32];
    memest_fmt_bytes(acts, sizeof acts, (double)e.acts);
    snprintf(head, sizeof head, "%s: the run needs an estimated %s per rank at train.micro_batch = %d (activations %s "
             "of it, the rest: weights, grads, optimizer state) but %s is available (%s)", deck_path, tot, micro_batch,
             acts, av, what);
    int fit = memest_fit_micro_batch(p, global_batch, (size_t)amin);
    if (fit > 0) {
        MemEstimate f;
        memest_compute(p, fit, &f);
        char ft[32];
        memest_fmt_bytes(ft, sizeof ft, (double)f.total);
        SHEAR_DIE("%s: train.micro_batch = %d is the largest that fits (%s; a divisor of train.global_batch = %d): "
                  "--set train.micro_batch=%d", head, fit, ft, global_batch, fit);
    }
    MemEstimate one;
    memest_compute(p, 1, &one);
    char ot[32], os[32];
    memest_fmt_bytes(ot, sizeof ot, (double)one.total);
    memest_fmt_bytes(os, sizeof os, (double)one.optim);
    if (one.total - one.optim <= (size_t)amin)
        SHEAR_DIE("%s; even train.micro_batch = 1 needs %s, of which the optimizer state is %s: run on more ranks "
                  "with run.zero = 1 (it divides the optimizer state by the ranks) or use a shorter train.seq_len "
                  "(%d now)", head, ot, os, p->T);
    SHEAR_DIE("%s; even train.micro_batch = 1 needs %s, more than fits without the optimizer state, so more ranks "
              "do not help (weights and gradients are not sharded): use a shorter train.seq_len (%d now; activations "
              "grow with it) or devices with more memory", head, ot, p->T);
}
