// The CUDA backend's table, device selection (the stream and the cuBLASLt handle every op uses), device memory
// and the per-user scratch buffers. Memory ops are stream-ordered on the backend stream like the kernels, so a
// buffer allocated, zeroed, filled and used keeps that order without host waits; only downloads wait.
#include "cuda_common.cuh"

static int g_dev = -1;                      // selected device, -1 before cuda_select_device
static int g_sms = 0;                       // its streaming multiprocessors
static cudaStream_t g_stream = NULL;        // the one stream of the backend
static cublasLtHandle_t g_cublaslt = NULL;  // cuBLASLt takes the stream per call
static void *g_scratch[CUDA_SCRATCH_SLOTS]; // grow-only device workspaces
static size_t g_scratch_cap[CUDA_SCRATCH_SLOTS];

static void require_device(const char *what) {
    if (g_dev < 0)
        CUDA_DIE("the CUDA backend was used (%s) before cuda_select_device; select a device first", what);
}

cudaStream_t cuda_stream(void) {
    require_device("cuda_stream");
    return g_stream;
}

cublasLtHandle_t cuda_cublaslt(void) {
    require_device("cuda_cublaslt");
    return g_cublaslt;
}

int cuda_sm_count(void) {
    require_device("cuda_sm_count");
    return g_sms;
}

extern "C" void cuda_select_device(int dev) {
    if (g_dev == dev) return;
    if (g_dev >= 0)
        CUDA_DIE("cuda_select_device(%d) after device %d was selected; one process drives one GPU", dev, g_dev);
    int n = cuda_device_count();
    if (n == 0)
        CUDA_DIE("no CUDA device is visible (cudaGetDeviceCount found none); check nvidia-smi, the driver and "
                  "CUDA_VISIBLE_DEVICES, or run with the cpu backend");
    if (dev < 0 || dev >= n) CUDA_DIE("CUDA device %d requested, but only devices 0..%d are visible", dev, n - 1);
    CUDA_CHECK(cudaSetDevice(dev));
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    if (prop.major < 8)
        CUDA_DIE("CUDA device %d (%s) has compute capability %d.%d; Shear is built for 8.0 (A100) and newer", dev,
                  prop.name, prop.major, prop.minor);
    g_sms = prop.multiProcessorCount;
    // non-blocking: no implicit ordering with the legacy default stream that libraries might use
    CUDA_CHECK(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasLtCreate(&g_cublaslt));
    g_dev = dev;
}

void *cuda_scratch(int slot, size_t bytes) {
    if (slot < 0 || slot >= CUDA_SCRATCH_SLOTS)
        CUDA_DIE("cuda_scratch slot %d is not one of 0..%d", slot, CUDA_SCRATCH_SLOTS - 1);
    require_device("cuda_scratch");
    if (bytes > g_scratch_cap[slot]) {
        // queued kernels may still read the old buffer: let them finish before it goes
        CUDA_CHECK(cudaStreamSynchronize(g_stream));
        if (g_scratch[slot]) CUDA_CHECK(cudaFree(g_scratch[slot]));
        g_scratch[slot] = NULL;
        g_scratch_cap[slot] = 0;
        size_t cap = (bytes + 255) / 256 * 256; // whole 256-byte lines: every carved sub-buffer stays aligned
        if (cudaMalloc(&g_scratch[slot], cap) != cudaSuccess) {
            cudaGetLastError();
            size_t free_b = 0, total_b = 0;
            cudaMemGetInfo(&free_b, &total_b);
            CUDA_DIE("out of GPU memory growing kernel scratch %d to %zu bytes (%.2f GiB free of %.2f GiB); lower "
                      "micro_batch or seq_len",
                      slot, cap, free_b / 1073741824.0, total_b / 1073741824.0);
        }
        g_scratch_cap[slot] = cap;
    }
    return g_scratch[slot];
}

void cuda_to_host(void *dst_host, const void *src, size_t bytes) {
    if (bytes == 0) return;
    CUDA_CHECK(cudaMemcpyAsync(dst_host, src, bytes, cudaMemcpyDeviceToHost, cuda_stream()));
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
}

// ---- memory members of the table ----

static void *cuda_alloc(size_t bytes) {
    require_device("alloc");
    // a zero-byte request still gets a valid, freeable, distinct pointer, as on the CPU backend
    size_t rounded = bytes ? bytes : 256;
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, rounded);
    if (e != cudaSuccess) {
        cudaGetLastError(); // an allocation failure is not sticky; clear it before the next query
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        CUDA_DIE("cudaMalloc of %zu bytes (%.2f GiB) failed: %s; the GPU has %.2f GiB free of %.2f GiB. Lower "
                  "micro_batch or seq_len, or use more GPUs",
                  bytes, bytes / 1073741824.0, cudaGetErrorString(e), free_b / 1073741824.0,
                  total_b / 1073741824.0);
    }
    CUDA_CHECK(cudaMemsetAsync(p, 0, rounded, g_stream));
    return p;
}

static void cuda_free(void *p) {
    if (!p) return;
    // kernels queued on p finish before it goes (cudaFree's own implicit wait is not a documented guarantee)
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
    CUDA_CHECK(cudaFree(p));
}

// Waits for the copy: the caller may reuse or free src_host at once, pinned or pageable.
static void cuda_upload(void *dst, const void *src_host, size_t bytes) {
    if (bytes == 0) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src_host, bytes, cudaMemcpyHostToDevice, cuda_stream()));
    CUDA_CHECK(cudaStreamSynchronize(g_stream));
}

static void cuda_download(void *dst_host, const void *src, size_t bytes) { cuda_to_host(dst_host, src, bytes); }

static void cuda_copy(void *dst, const void *src, size_t bytes) {
    if (bytes == 0 || dst == src) return;
    const char *d = (const char *)dst, *s = (const char *)src;
    if (d < s + bytes && s < d + bytes)
        CUDA_DIE("device copy of %zu bytes between overlapping buffers (%p, %p); copies need disjoint buffers",
                  bytes, dst, src);
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_stream()));
}

static void cuda_zero(void *p, size_t bytes) {
    if (bytes == 0) return;
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cuda_stream()));
}

static void cuda_sync(void) { CUDA_CHECK(cudaStreamSynchronize(cuda_stream())); }

// designated initializers in the order of ops.h: nvcc rejects a member out of order, so no launcher can sit in
// the slot of another with the same signature
static const ShearOps cuda_ops_table = {
    .name = "cuda",
    .is_device = 1,
    .device_count = cuda_device_count,
    .select_device = cuda_select_device,
    .device_info = cuda_device_info,
    .version_info = cuda_version_info,
    .stream = cuda_stream_handle,
    .set_fatal = kernel_set_fatal,
    .set_precision = cuda_set_precision,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload = cuda_upload,
    .download = cuda_download,
    .copy = cuda_copy,
    .zero = cuda_zero,
    .sync = cuda_sync,
    .axpy = cuda_axpy,
    .scale = cuda_scale,
    .sumsq = cuda_sumsq,
    .all_finite = cuda_all_finite,
    .embedding_fwd = cuda_embedding_fwd,
    .embedding_bwd = cuda_embedding_bwd,
    .rmsnorm_fwd = cuda_rmsnorm_fwd,
    .rmsnorm_bwd = cuda_rmsnorm_bwd,
    .matmul_fwd = cuda_matmul_fwd,
    .matmul_bwd = cuda_matmul_bwd,
    .bias_fwd = cuda_bias_fwd,
    .bias_bwd = cuda_bias_bwd,
    .rope_fwd = cuda_rope_fwd,
    .rope_bwd = cuda_rope_bwd,
    .attention_fwd = cuda_attention_fwd,
    .attention_bwd = cuda_attention_bwd,
    .rope_at_fwd = cuda_rope_at_fwd,
    .attention_cached_fwd = cuda_attention_cached_fwd,
    .gate_fwd = cuda_gate_fwd,
    .gate_bwd = cuda_gate_bwd,
    .swiglu_fwd = cuda_swiglu_fwd,
    .swiglu_bwd = cuda_swiglu_bwd,
    .classifier = cuda_classifier,
    .classifier_kd = cuda_classifier_kd,
    .adamw = cuda_adamw,
    .hardconcrete_sample = cuda_hardconcrete_sample,
    .hardconcrete_bwd = cuda_hardconcrete_bwd,
};

// Never dies: the device members work before select_device; the ops need it (require_device).
extern "C" const ShearOps *ops_cuda(void) { return &cuda_ops_table; }
