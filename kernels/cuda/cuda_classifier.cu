// The fused classifier + cross-entropy on the GPU, and its distillation twin, the same algorithm as
// kernels/cpu/cpu_classifier.c: rows go through in chunks so at most a chunk x V block of logits exists at once
// (N x V logits of a real batch would not fit next to the model), logits by cuBLAS, one kernel per chunk that
// turns each row into its loss and, when gradients are wanted, into dlogits in place, then dx and dw straight
// from that block by cuBLAS. With a teacher (classifier_kd) a second chunk x V block holds the teacher's logits
// of the same rows, and the chunk's kernel first turns the teacher's row into its (top-k) probabilities p.
// Per-row losses are kept in double and summed by one fixed-shape reduction at the end, so the returned losses
// are the same bits on every run (no atomics in the sum), and the host waits for the device once per call.
#include <limits.h>

#include "cuda_common.cuh"

// At most 64 MiB of logits per chunk: with V = 32000 that is 524 rows, enough for cuBLAS to run at speed, and
// small next to the activations of the model. classifier_kd holds two such blocks (student and teacher).
#define CLS_BLOCK_FLOATS ((size_t)1 << 24)
#define CLS_THREADS 512 // threads per row in the softmax kernels (a multiple of 32)
#define CLS_SUM_THREADS 1024

// What the host reads back at the end of a call: one copy.
typedef struct {
    double total;                // sum of the row losses (LM)
    double kd_total;             // sum of the rows' KD losses (classifier_kd only)
    unsigned long long bad_row;  // lowest row whose target is >= V, ULLONG_MAX when none
} ClsResult;

// Block-wide max, returned to every thread (the sum is cuda_block_sum). sh holds one value per warp.
__device__ static float block_max(float v, float *sh) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nwarp = blockDim.x / 32;
    __syncthreads(); // sh may still be read by an earlier reduction
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    v = lane < nwarp ? sh[lane] : -INFINITY;
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// The start of every scored row, shared by both kernels so that their LM losses (and, with alpha = 0, their
// dlogits) are the same bits: *mx = max of row[V], returns sum_i exp(row_i - mx), exponentials in float, their sum
// in double, as the CPU backend. Every thread of the block calls it.
__device__ static double cls_row_max_sum(const float *row, int V, float *shf, float *mx_out) {
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, row[i]);
    mx = block_max(mx, shf);
    double sum = 0.0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) sum += (double)expf(row[i] - mx);
    *mx_out = mx;
    return cuda_block_sum(sum);
}

// An ignored row (target < 0) or one whose target is >= V (the host dies after the call with the first such
// row; the memory accesses stay inside the row meanwhile): losses 0 and, when want_grad, dlogits 0.
// Returns 1 when the row is not scored. loss, kd_loss and row_loss point at this row's entries (may be NULL).
__device__ static int cls_skip_row(float *row, int32_t tgt, int V, int want_grad, double *loss, double *kd_loss,
                                   float *row_loss, size_t row_id, ClsResult *res) {
    if (tgt >= V) {
        if (threadIdx.x == 0) atomicMin(&res->bad_row, (unsigned long long)row_id);
    }
    if (tgt >= 0 && tgt < V) return 0;
    if (threadIdx.x == 0) {
        *loss = 0.0;
        if (kd_loss) *kd_loss = 0.0;
        if (row_loss) *row_loss = 0.0f;
    }
    if (want_grad) {
        for (int i = threadIdx.x; i < V; i += blockDim.x) row[i] = 0.0f;
    }
    return 1;
}

// One block per row of the chunk. block [rows, V] holds the logits; on exit, when want_grad, the dlogits
// (softmax - onehot) * dscale of scored rows and zeros on ignored ones. loss [rows] (this chunk's slice of the
// row-loss array) gets the loss in double, row_loss [rows] (optional) the same as float. targets [rows].
__global__ static void __launch_bounds__(CLS_THREADS)
    cls_softmax_kernel(float *block, double *loss, float *row_loss, const int32_t *targets, int V, int want_grad,
                       float dscale, size_t row0, ClsResult *res) {
    CUDA_SHARED(float, shf, 32);
    const size_t r = blockIdx.x;
    float *row = block + r * (size_t)V; // [V]
    const int32_t tgt = targets[r];
    if (cls_skip_row(row, tgt, V, want_grad, &loss[r], NULL, row_loss ? &row_loss[r] : NULL, row0 + r, res)) return;
    const float target_logit = row[tgt];
    float mx;
    const double sum = cls_row_max_sum(row, V, shf, &mx);
    if (threadIdx.x == 0) {
        const double l = (double)mx + log(sum) - (double)target_logit;
        loss[r] = l;
        if (row_loss) row_loss[r] = (float)l;
    }
    if (!want_grad) return;
    const float inv = (float)(1.0 / sum);
    const float p_target = expf(target_logit - mx) * inv;
    // every thread has read its own logits by now (cuda_block_sum synchronises), so overwriting in place is safe
    for (int i = threadIdx.x; i < V; i += blockDim.x) row[i] = expf(row[i] - mx) * inv * dscale;
    __syncthreads(); // the target element may belong to another thread's stride
    if (threadIdx.x == 0) row[tgt] = (p_target - 1.0f) * dscale;
}

// ---- distillation ----

// The rank of id i with teacher logit v as one unsigned key: a larger key ranks higher, by the larger logit,
// ties to the lower id (the CPU's kd_above), and no two ids share a key. The float's bits are mapped to an order
// that compares as the floats do (negatives flipped whole, positives above them); -0 counts as +0, as the CPU's
// comparison has them equal. The low 32 bits are V - 1 - i, so the lower id is the larger key.
__device__ static inline uint64_t kd_key(float v, int i, int V) {
    unsigned u = __float_as_uint(v == 0.0f ? 0.0f : v);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ((uint64_t)u << 32) | (uint64_t)(unsigned)(V - 1 - i);
}

// The key of the k-th ranked id of tl[V] (1 <= k <= V), to every thread: then K = {i : key_i >= the result} holds
// exactly k ids. A radix select, one bit per pass from the top: of the ids that agree with the prefix found so
// far, count those with the next bit set; if they are at least the `need` still to take, the k-th is among them,
// else all of them are above it. Integer counts, so the result does not depend on the summation order; 32 passes
// for the logit and ceil(log2 V) for the id, whatever k is (k argmax passes would cost k).
__device__ static uint64_t kd_select(const float *tl, int V, int k) {
    int ibits = 0; // bits of the id part that some id sets (the rest are 0 in every key, so skipped)
    while (ibits < 32 && ((unsigned)(V - 1) >> ibits) != 0u) ibits++;
    uint64_t prefix = 0;
    int need = k;
    for (int b = 63; b >= 0; b--) {
        if (b < 32 && b >= ibits) continue;
        const uint64_t hi = b == 63 ? 0 : ~(uint64_t)0 << (b + 1); // the bits already decided
        int c = 0;
        for (int i = threadIdx.x; i < V; i += blockDim.x) {
            const uint64_t key = kd_key(tl[i], i, V);
            c += (key & hi) == prefix && ((key >> b) & 1u);
        }
        c = cuda_block_sum(c);
        if (c >= need) prefix |= (uint64_t)1 << b;
        else need -= c;
    }
    return prefix;
}

// The teacher's row tl[V] (logits) becomes p[V] in place: softmax(tl / temp) over K (every id when k == 0, else
// the k largest, ties to the lower id), 0 off K. Returns sum_{j in K} p_j log p_j (double, to every thread), with
// log p_j = (tl_j - mt) / temp - log z, mt = max tl, as the CPU's kd_teacher_row. Each thread reads and writes
// only its own stride of the row, so the in-place update needs no barrier beyond the reductions'.
__device__ static double kd_teacher_row(float *tl, int V, float inv_temp, int k, float *shf) {
    float mt = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) mt = fmaxf(mt, tl[i]);
    mt = block_max(mt, shf);
    const uint64_t cut = k ? kd_select(tl, V, k) : 0; // every key is >= 0: k == 0 keeps every id
    double z = 0.0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        if (kd_key(tl[i], i, V) >= cut) z += (double)expf((tl[i] - mt) * inv_temp);
    }
    const double lz = log(cuda_block_sum(z));
    double plogp = 0.0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        float p = 0.0f;
        if (kd_key(tl[i], i, V) >= cut) {
            const double lp = (double)((tl[i] - mt) * inv_temp) - lz;
            const double pd = exp(lp);
            plogp += pd * lp;
            p = (float)pd;
        }
        tl[i] = p;
    }
    return cuda_block_sum(plogp);
}

// One block per row of the chunk, the classifier with a teacher (the CPU's kd_teacher_row + kd_student_row).
// block [rows, V]: student logits, on exit (want_grad) dscale ((1 - alpha) (softmax - onehot) + alpha temp (q - p)),
// q = softmax(logits / temp), zeros on ignored rows; tblock [rows, V]: teacher logits, on exit p (scored rows).
// loss, kd_loss [rows]: this chunk's slices of the LM and KD row losses (double). targets [rows].
// k: 0 = the full vocabulary, else the top-k (1 <= k < V). With alpha = 0 the KD term is not added, so the
// dlogits are cls_softmax_kernel's bits (c_lm = dscale (1 - 0) = dscale exactly).
__global__ static void __launch_bounds__(CLS_THREADS)
    kd_softmax_kernel(float *block, float *tblock, double *loss, double *kd_loss, const int32_t *targets, int V,
                      int want_grad, float dscale, float alpha, float temp, float inv_temp, int k, size_t row0,
                      ClsResult *res) {
    CUDA_SHARED(float, shf, 32);
    const size_t r = blockIdx.x;
    float *row = block + r * (size_t)V; // [V] student logits -> dlogits
    float *p = tblock + r * (size_t)V;  // [V] teacher logits -> p
    const int32_t tgt = targets[r];
    if (cls_skip_row(row, tgt, V, want_grad, &loss[r], &kd_loss[r], NULL, row0 + r, res)) return;
    const double plogp = kd_teacher_row(p, V, inv_temp, k, shf);
    const float target_logit = row[tgt];
    float mx;
    const double sum = cls_row_max_sum(row, V, shf, &mx);
    double sum_t = 0.0; // sum_i exp((s_i - mx) / temp): q's normaliser
    for (int i = threadIdx.x; i < V; i += blockDim.x) sum_t += (double)expf((row[i] - mx) * inv_temp);
    sum_t = cuda_block_sum(sum_t);
    // sum_{j in K} p_j log q_j, log q_j = (s_j - mx) / temp - log sum_t: p is 0 off K
    const double lzt = log(sum_t);
    double plogq = 0.0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        if (p[i] != 0.0f) plogq += (double)p[i] * ((double)((row[i] - mx) * inv_temp) - lzt);
    }
    plogq = cuda_block_sum(plogq);
    if (threadIdx.x == 0) {
        loss[r] = (double)mx + log(sum) - (double)target_logit;
        kd_loss[r] = (double)temp * temp * (plogp - plogq);
    }
    if (!want_grad) return;
    // the LM part in cls_softmax_kernel's arithmetic, so alpha = 0 gives its bits
    const float c_lm = dscale * (1.0f - alpha), c_kd = dscale * alpha * temp;
    const float inv = (float)(1.0 / sum), inv_t = (float)(1.0 / sum_t);
    const float p_target = expf(target_logit - mx) * inv;
    // every thread has read its own logits by now (the reductions synchronise), so overwriting in place is safe
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        const float s = row[i];
        float g = expf(s - mx) * inv * c_lm;
        if (c_kd != 0.0f) g += c_kd * (expf((s - mx) * inv_temp) * inv_t - p[i]);
        row[i] = g;
    }
    __syncthreads(); // the target element (and p[tgt]) may belong to another thread's stride
    if (threadIdx.x == 0) {
        float g = (p_target - 1.0f) * c_lm;
        if (c_kd != 0.0f) g += c_kd * (expf((target_logit - mx) * inv_temp) * inv_t - p[tgt]);
        row[tgt] = g;
    }
}

// *out = sum of loss[N], one block, a fixed order: the same bits on every run.
__global__ static void __launch_bounds__(CLS_SUM_THREADS) cls_sum_kernel(const double *loss, size_t N, double *out) {
    double s = 0.0;
    for (size_t i = threadIdx.x; i < N; i += blockDim.x) s += loss[i];
    s = cuda_block_sum(s);
    if (threadIdx.x == 0) *out = s;
}

// The shared body: kd = NULL is the plain classifier (row_loss, logits_out as ops.h), else classifier_kd (kd_sum).
static double classify(float *dx, float *dw, float *row_loss, float *logits_out, double *kd_sum, const float *x,
                       const float *w, const int32_t *targets, size_t N, int d, int V, float dscale,
                       const ShearKD *kd) {
    if (kd_sum) *kd_sum = 0.0;
    if (N == 0) return 0.0;
    if (V <= 0 || d <= 0) {
        CUDA_DIE("classifier: vocabulary %d and width %d must be positive", V, d);
    }
    if (kd && (kd->topk < 0 || kd->topk > V || !(kd->temperature > 0.0f) || kd->td <= 0)) {
        CUDA_DIE("classifier_kd: topk %d must be in [0, %d], temperature %g > 0, teacher width %d > 0", kd->topk, V,
                 (double)kd->temperature, kd->td);
    }
    const cudaStream_t st = cuda_stream();
    const int want_grad = dx != NULL || dw != NULL;
    size_t chunk = CLS_BLOCK_FLOATS / (size_t)V;
    if (chunk < 1) chunk = 1;
    if (chunk > N) chunk = N;
    if (chunk > INT_MAX) chunk = INT_MAX; // grid x limit is 2^31-1
    // one grow-only workspace, carved in 256-byte aligned pieces:
    //   [result | loss [N] doubles | block [chunk, V]]                                      (classifier)
    //   [result | loss [N] | kd loss [N] doubles | block [chunk, V] | tblock [chunk, V]]    (classifier_kd)
    // so classifier_kd needs round256(8 N) + round256(4 chunk V) bytes more than classifier
    const size_t loss_bytes = (N * sizeof(double) + 255) / 256 * 256;
    const size_t block_bytes = chunk * (size_t)V * sizeof(float);
    const size_t loss_off = 256, kd_loss_off = loss_off + loss_bytes;
    const size_t block_off = kd_loss_off + (kd ? loss_bytes : 0);
    const size_t tblock_off = block_off + (block_bytes + 255) / 256 * 256;
    char *ws = (char *)cuda_scratch(CUDA_SCRATCH_CLASSIFIER, kd ? tblock_off + block_bytes : block_off + block_bytes);
    ClsResult *ws_result = (ClsResult *)ws;                        // [1]
    double *ws_loss = (double *)(ws + loss_off);                   // [N] LM row losses in double
    double *ws_kd_loss = kd ? (double *)(ws + kd_loss_off) : NULL; // [N] KD row losses in double
    float *ws_block = (float *)(ws + block_off);                   // [chunk, V] logits, then dlogits
    float *ws_tblock = kd ? (float *)(ws + tblock_off) : NULL;     // [chunk, V] teacher logits, then p
    CUDA_CHECK(cudaMemsetAsync(&ws_result->bad_row, 0xff, sizeof(unsigned long long), st));
    const int k = kd && kd->topk > 0 && kd->topk < V ? kd->topk : 0; // topk = V is the full vocabulary

    // bf16 precision: each head rounded once for every chunk (NULL in fp32)
    const __nv_bfloat16 *wh = cuda_bf16_copy(CUDA_SCRATCH_BF16_HEAD, w, (size_t)V * (size_t)d);      // [V, d]
    const __nv_bfloat16 *twh = kd ? cuda_bf16_copy(CUDA_SCRATCH_BF16_THEAD, kd->tw, (size_t)V * (size_t)kd->td)
                                  : NULL;                                                           // [V, td]
    for (size_t start = 0; start < N; start += chunk) {
        const size_t rows = N - start < chunk ? N - start : chunk;
        const float *xc = x + start * (size_t)d; // [rows, d]
        // block[rows, V] = xc[rows, d] @ w[V, d]^T
        cuda_gemm_rm(0, 1, rows, (size_t)V, (size_t)d, 1.0f, xc, NULL, (size_t)d, w, wh, (size_t)d, 0.0f, ws_block,
                     (size_t)V);
        if (logits_out) {
            CUDA_CHECK(cudaMemcpyAsync(logits_out + start * (size_t)V, ws_block, rows * (size_t)V * sizeof(float),
                                       cudaMemcpyDeviceToDevice, st));
        }
        if (kd) {
            const size_t td = (size_t)kd->td;
            // tblock[rows, V] = tx[rows, td] @ tw[V, td]^T
            cuda_gemm_rm(0, 1, rows, (size_t)V, td, 1.0f, kd->tx + start * td, NULL, td, kd->tw, twh, td, 0.0f,
                         ws_tblock, (size_t)V);
            CUDA_LAUNCH(kd_softmax_kernel, (unsigned)rows, CLS_THREADS, 0, st, ws_block, ws_tblock, ws_loss + start,
                        ws_kd_loss + start, targets + start, V, want_grad, dscale, kd->alpha, kd->temperature,
                        1.0f / kd->temperature, k, start, ws_result);
        } else {
            CUDA_LAUNCH(cls_softmax_kernel, (unsigned)rows, CLS_THREADS, 0, st, ws_block, ws_loss + start,
                        row_loss ? row_loss + start : NULL, targets + start, V, want_grad, dscale, start, ws_result);
        }
        CUDA_LAUNCH_CHECK();
        if (!want_grad) continue;
        // [rows, V] bf16: the dlogits rounded once for both products
        const __nv_bfloat16 *bh = dx && dw ? cuda_bf16_copy(CUDA_SCRATCH_BF16_SHARED, ws_block, rows * (size_t)V) : NULL;
        // dx[rows, d] += dlogits[rows, V] @ w[V, d]
        if (dx) {
            cuda_gemm_rm(0, 0, rows, (size_t)d, (size_t)V, 1.0f, ws_block, bh, (size_t)V, w, wh, (size_t)d, 1.0f,
                         dx + start * (size_t)d, (size_t)d);
        }
        // dw[V, d] += dlogits[rows, V]^T @ xc[rows, d]
        if (dw) {
            cuda_gemm_rm(1, 0, (size_t)V, (size_t)d, rows, 1.0f, ws_block, bh, (size_t)V, xc, NULL, (size_t)d, 1.0f,
                         dw, (size_t)d);
        }
    }
    CUDA_LAUNCH(cls_sum_kernel, 1, CLS_SUM_THREADS, 0, st, ws_loss, N, &ws_result->total);
    CUDA_LAUNCH_CHECK();
    if (kd) {
        CUDA_LAUNCH(cls_sum_kernel, 1, CLS_SUM_THREADS, 0, st, ws_kd_loss, N, &ws_result->kd_total);
        CUDA_LAUNCH_CHECK();
    }
    ClsResult host;
    cuda_to_host(&host, ws_result, sizeof host);
    if (host.bad_row != ULLONG_MAX) {
        int32_t t = 0;
        cuda_to_host(&t, targets + host.bad_row, sizeof t);
        CUDA_DIE("classifier: target %d of row %llu is outside the vocabulary [0, %d)", t, host.bad_row, V);
    }
    if (kd_sum) *kd_sum = host.kd_total;
    return host.total;
}

extern "C" double cuda_classifier(float *dx, float *dw, float *row_loss, float *logits_out, const float *x,
                                  const float *w, const int32_t *targets, size_t N, int d, int V, float dscale) {
    return classify(dx, dw, row_loss, logits_out, NULL, x, w, targets, N, d, V, dscale, NULL);
}

extern "C" double cuda_classifier_kd(float *dx, float *dw, double *kd_sum, const float *x, const float *w,
                                     const int32_t *targets, size_t N, int d, int V, float dscale, const ShearKD *kd) {
    if (!kd) {
        CUDA_DIE("classifier_kd: no teacher (kd is NULL)");
    }
    return classify(dx, dw, NULL, NULL, kd_sum, x, w, targets, N, d, V, dscale, kd);
}
