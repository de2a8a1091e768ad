// The fused classifier + cross-entropy on the GPU, the same algorithm as kernels/cpu/cpu_classifier.c: rows go
// through in chunks so at most a chunk x V block of logits exists at once (N x V logits of a real batch would
// not fit next to the model), logits by cuBLAS, one kernel per chunk that turns each row into its loss and, when
// gradients are wanted, into dlogits in place, then dx and dw straight from that block by cuBLAS.
// Per-row losses are kept in double and summed by one fixed-shape reduction at the end, so the returned loss is
// the same bits on every run (no atomics in the sum), and the host waits for the device once per call.
#include <limits.h>

#include "cuda_common.cuh"

// Row-major gemm on cuBLAS (cuda_matmul.cu), shared with the linear layers.
void cuda_gemm_rm(int transA, int transB, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                  const float *B, size_t ldb, float beta, float *C, size_t ldc);

// At most 64 MiB of logits per chunk: with V = 32000 that is 524 rows, enough for cuBLAS to run at speed, and
// small next to the activations of the model.
#define CLS_BLOCK_FLOATS ((size_t)1 << 24)
#define CLS_THREADS 512 // threads per row in the softmax kernel (a multiple of 32)
#define CLS_SUM_THREADS 1024

// What the host reads back at the end of a call: one copy.
typedef struct {
    double total;                // sum of the row losses
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
    if (tgt >= V) {
        // the host dies after the call with the first such row; keep the memory access inside the row meanwhile
        if (threadIdx.x == 0) atomicMin(&res->bad_row, (unsigned long long)(row0 + r));
    }
    if (tgt < 0 || tgt >= V) {
        if (threadIdx.x == 0) {
            loss[r] = 0.0;
            if (row_loss) row_loss[r] = 0.0f;
        }
        if (want_grad) {
            for (int i = threadIdx.x; i < V; i += blockDim.x) row[i] = 0.0f;
        }
        return;
    }
    const float target_logit = row[tgt];
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, row[i]);
    mx = block_max(mx, shf);
    // exponentials in float, their sum in double, as the CPU backend
    double sum = 0.0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) sum += (double)expf(row[i] - mx);
    sum = cuda_block_sum(sum);
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

// res->total = sum of loss[N], one block, a fixed order: the same bits on every run.
__global__ static void __launch_bounds__(CLS_SUM_THREADS) cls_sum_kernel(const double *loss, size_t N, ClsResult *res) {
    double s = 0.0;
    for (size_t i = threadIdx.x; i < N; i += blockDim.x) s += loss[i];
    s = cuda_block_sum(s);
    if (threadIdx.x == 0) res->total = s;
}

extern "C" double cuda_classifier(float *dx, float *dw, float *row_loss, float *logits_out, const float *x,
                                  const float *w, const int32_t *targets, size_t N, int d, int V, float dscale) {
    if (N == 0) return 0.0;
    if (V <= 0 || d <= 0) {
        CUDA_DIE("classifier: vocabulary %d and width %d must be positive", V, d);
    }
    const cudaStream_t st = cuda_stream();
    const int want_grad = dx != NULL || dw != NULL;
    size_t chunk = CLS_BLOCK_FLOATS / (size_t)V;
    if (chunk < 1) chunk = 1;
    if (chunk > N) chunk = N;
    if (chunk > INT_MAX) chunk = INT_MAX; // grid x limit is 2^31-1
    // one grow-only workspace, carved in 256-byte aligned pieces: [result | loss [N] doubles | block [chunk, V]]
    const size_t loss_off = 256, block_off = loss_off + (N * sizeof(double) + 255) / 256 * 256;
    char *ws = (char *)cuda_scratch(CUDA_SCRATCH_CLASSIFIER, block_off + chunk * (size_t)V * sizeof(float));
    ClsResult *ws_result = (ClsResult *)ws;         // [1]
    double *ws_loss = (double *)(ws + loss_off);    // [N] row losses in double
    float *ws_block = (float *)(ws + block_off);    // [chunk, V] logits, then dlogits
    CUDA_CHECK(cudaMemsetAsync(&ws_result->bad_row, 0xff, sizeof(unsigned long long), st));

    for (size_t start = 0; start < N; start += chunk) {
        const size_t rows = N - start < chunk ? N - start : chunk;
        const float *xc = x + start * (size_t)d; // [rows, d]
        // block[rows, V] = xc[rows, d] @ w[V, d]^T
        cuda_gemm_rm(0, 1, rows, (size_t)V, (size_t)d, 1.0f, xc, (size_t)d, w, (size_t)d, 0.0f, ws_block, (size_t)V);
        if (logits_out) {
            CUDA_CHECK(cudaMemcpyAsync(logits_out + start * (size_t)V, ws_block, rows * (size_t)V * sizeof(float),
                                       cudaMemcpyDeviceToDevice, st));
        }
        CUDA_LAUNCH(cls_softmax_kernel, (unsigned)rows, CLS_THREADS, 0, st, ws_block, ws_loss + start,
                    row_loss ? row_loss + start : NULL, targets + start, V, want_grad, dscale, start, ws_result);
        CUDA_LAUNCH_CHECK();
        if (!want_grad) continue;
        // dx[rows, d] += dlogits[rows, V] @ w[V, d]
        if (dx) {
            cuda_gemm_rm(0, 0, rows, (size_t)d, (size_t)V, 1.0f, ws_block, (size_t)V, w, (size_t)d, 1.0f,
                         dx + start * (size_t)d, (size_t)d);
        }
        // dw[V, d] += dlogits[rows, V]^T @ xc[rows, d]
        if (dw) {
            cuda_gemm_rm(1, 0, (size_t)V, (size_t)d, rows, 1.0f, ws_block, (size_t)V, xc, (size_t)d, 1.0f, dw,
                         (size_t)d);
        }
    }
    CUDA_LAUNCH(cls_sum_kernel, 1, CLS_SUM_THREADS, 0, st, ws_loss, N, ws_result);
    CUDA_LAUNCH_CHECK();
    ClsResult host;
    cuda_to_host(&host, ws_result, sizeof host);
    if (host.bad_row != ULLONG_MAX) {
        int32_t t = 0;
        cuda_to_host(&t, targets + host.bad_row, sizeof t);
        CUDA_DIE("classifier: target %d of row %llu is outside the vocabulary [0, %d)", t, host.bad_row, V);
    }
    return host.total;
}
