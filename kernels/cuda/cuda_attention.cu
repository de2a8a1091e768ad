// Causal self-attention with grouped-query heads (ops.h attention_fwd / attention_bwd, and attention_cached_fwd,
// generation's attention to a KV cache), fused flash-attention style in fp32: no T x T matrix ever exists, only
// BQ x BK score tiles in shared memory.
//
// Tiling. Every kernel runs 128 threads seen as 16 row groups of 8 lanes (an aligned quarter of a warp). A
// thread owns RM = rows/16 rows of each tile (rows ty, ty+16, ...) and, for an 8-lane group, the 8 lanes split
// the columns of a score tile (j*8 + tx) and the head dimension in float4 chunks ((k*8 + tx)*4 ..). Row
// reductions are three xor shuffles inside the group, and a group writes and then reads back only its own rows
// of a score tile, so __syncwarp orders them (a __syncthreads only guards the K/V/Q tile loads). Tiles live in
// shared memory with rows padded to HD + 4 floats: float4 aligned, and the 8 rows that one 8-lane group reads at
// the same column fall on distinct banks. head_dim is rounded up to a bucket HD in {32, 64, 128, 256} with
// zero-filled columns (zeros change no dot product); T is arbitrary: rows past T are loaded as zeros and masked.
//
// Kernels (s = q.k / sqrt(hd), computed in base 2: scores are pre-multiplied by log2(e)):
//   attn_fwd      grid (B*H, Q tiles), heaviest (last) Q tiles first. Q tile in smem; loops over the K/V tiles up
//                 to the diagonal, online softmax (running max m, running sum l, the output accumulator rescaled
//                 by exp(m_old - m_new)) with the output rows in registers; writes out = acc / l and
//                 lse = m + log(l) (natural log, as the CPU). Its queries may start at a position pos0 > 0 of
//                 their keys' sequence: attention_cached_fwd is this kernel with B = 1, the n new query rows at
//                 positions pos0 .. pos0+n-1 and the cache's first pos0 + n rows as K and V (no lse). pos0 = 0 is
//                 attention_fwd. A row's result does not depend on BQ (each row is reduced over the same BK-key
//                 tiles in the same order), so the 16-row Q tile used when there are at most 16 queries (decode:
//                 n = 1) gives the same bits as the large one and computes 4x (hd > 128: 2x) fewer rows.
//   attn_rowdot   D[b,h,t] = dout . out per row, one warp per row, into a scratch buffer.
//   attn_bwd_dkdv grid (B*Hkv, KV tiles). Holds its K and V tile in smem and its dK, dV rows in registers, and
//                 loops over all H/Hkv query heads of its KV head and over the Q tiles at or below the diagonal:
//                 P = exp(s - lse), dP = dout v^T, dS = P (dP - D); dV += P^T dout; dK += dS^T q. So the GQA
//                 heads of a group are summed inside one block, in a fixed order, with no atomics.
//   attn_bwd_dq   grid (B*H, Q tiles). Holds its Q and dout tile; loops over the K/V tiles up to the diagonal,
//                 recomputes P and dS the same way and accumulates dQ += dS k in registers.
// The backward thus computes the scores and dP twice (once per KV tile, once per Q tile) in exchange for having
// each dq/dk/dv element written by exactly one thread: results are bitwise reproducible run to run (for a given
// hd bucket; the summation order differs from the CPU's, so parity is to rounding).
//
// Memory: the forward needs nothing beyond its arguments; the backward one [B,H,T] fp32 scratch for D.
// Shared memory per block (bytes), opted in above the 48 KB default where needed (sm_80 allows 163 KB):
//   bucket   fwd BQxBK    fwd smem   dkdv BKVxBQ  dkdv smem   dq BQxBKV   dq smem   fwd, <= 16 queries
//   32       64x64        45 056     64x32        46 336      64x32       36 864    16x64  25 088
//   64       64x32        44 032     64x32        70 912      64x32       61 440    16x32  24 064
//   128      64x32        76 800     32x32        77 056      32x32       72 192    16x32  44 544
//   256      32x16        69 120     16x16        69 248      16x16       67 840    16x16  51 200
// Backward ADDS into dq, dk, dv; any of them may be NULL (that gradient is skipped), as on the CPU.
#include <limits.h>
#include <math.h>

#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace {

constexpr int NT = 128;     // threads per block
constexpr int TC = 8;       // lanes of one row group (they split a tile row's columns)
constexpr int TR = NT / TC; // row groups per block
constexpr float LOG2E = 1.4426950408889634f;
constexpr float LN2 = 0.6931471805599453f;

// Rows [t0, t0 + ROWS) of head `head` of x[B,T,nh,hd] into s[ROWS][HD+4]; zeros past T and past hd.
template <int HD, int ROWS>
__device__ __forceinline__ void load_tile(float *s, const float *__restrict__ x, size_t b, int t0, int T, int nh,
                                          int head, int hd) {
#pragma unroll 8
    for (int idx = threadIdx.x; idx < ROWS * HD; idx += NT) {
        const int r = idx / HD, d = idx % HD; // HD is a power of two
        const int t = t0 + r;
        float val = 0.0f;
        if (t < T && d < hd) val = x[((b * (size_t)T + (size_t)t) * (size_t)nh + (size_t)head) * (size_t)hd + d];
        s[r * (HD + 4) + d] = val;
    }
}

// c[i][j] = A[i*TR+ty, :] . Bm[j*TC+tx, :] over the HD columns of two [rows][HD+4] smem tiles.
template <int HD, int RM, int CN>
__device__ __forceinline__ void tile_nt(float (&c)[RM][CN], const float *A, const float *Bm, int ty, int tx) {
    constexpr int LD = HD + 4;
#pragma unroll
    for (int i = 0; i < RM; i++) {
#pragma unroll
        for (int j = 0; j < CN; j++) c[i][j] = 0.0f;
    }
#pragma unroll 2
    for (int d = 0; d < HD; d += 4) {
        float4 a[RM], bb[CN];
#pragma unroll
        for (int i = 0; i < RM; i++) a[i] = *reinterpret_cast<const float4 *>(A + (i * TR + ty) * LD + d);
#pragma unroll
        for (int j = 0; j < CN; j++) bb[j] = *reinterpret_cast<const float4 *>(Bm + (j * TC + tx) * LD + d);
#pragma unroll
        for (int i = 0; i < RM; i++) {
#pragma unroll
            for (int j = 0; j < CN; j++) {
                c[i][j] = fmaf(a[i].x, bb[j].x, c[i][j]);
                c[i][j] = fmaf(a[i].y, bb[j].y, c[i][j]);
                c[i][j] = fmaf(a[i].z, bb[j].z, c[i][j]);
                c[i][j] = fmaf(a[i].w, bb[j].w, c[i][j]);
            }
        }
    }
}

// acc[i][k*4+e] += sum_c S[i*TR+ty, c] * V[c, (k*TC+tx)*4+e] for c < BC: S is a [rows][LDS] smem score tile,
// V a [BC][HD+4] smem tile.
template <int HD, int RM, int BC, int LDS>
__device__ __forceinline__ void tile_nn(float (&acc)[RM][HD / TC], const float *S, const float *V, int ty,
                                        int tx) {
    constexpr int LD = HD + 4, DN = HD / TC;
#pragma unroll 2
    for (int c = 0; c < BC; c += 4) {
        float s[RM][4];
#pragma unroll
        for (int i = 0; i < RM; i++) {
            const float4 t = *reinterpret_cast<const float4 *>(S + (i * TR + ty) * LDS + c);
            s[i][0] = t.x;
            s[i][1] = t.y;
            s[i][2] = t.z;
            s[i][3] = t.w;
        }
#pragma unroll
        for (int cc = 0; cc < 4; cc++) {
#pragma unroll
            for (int k = 0; k < DN / 4; k++) {
                const float4 v = *reinterpret_cast<const float4 *>(V + (c + cc) * LD + (k * TC + tx) * 4);
#pragma unroll
                for (int i = 0; i < RM; i++) {
                    acc[i][k * 4 + 0] = fmaf(s[i][cc], v.x, acc[i][k * 4 + 0]);
                    acc[i][k * 4 + 1] = fmaf(s[i][cc], v.y, acc[i][k * 4 + 1]);
                    acc[i][k * 4 + 2] = fmaf(s[i][cc], v.z, acc[i][k * 4 + 2]);
                    acc[i][k * 4 + 3] = fmaf(s[i][cc], v.w, acc[i][k * 4 + 3]);
                }
            }
        }
    }
}

// Sum or max over the 8 lanes of a row group (lanes 8g .. 8g+7 of a warp).
__device__ __forceinline__ float group_sum(float x) {
    x += __shfl_xor_sync(0xffffffffu, x, 1);
    x += __shfl_xor_sync(0xffffffffu, x, 2);
    x += __shfl_xor_sync(0xffffffffu, x, 4);
    return x;
}
__device__ __forceinline__ float group_max(float x) {
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 4));
    return x;
}

// acc rows of one thread (dims (k*TC+tx)*4+e) added, times mul, into row t of head `head` of x[B,T,nh,hd].
template <int HD>
__device__ __forceinline__ void add_row(float *__restrict__ x, const float (&acc)[HD / TC], float mul, size_t b,
                                        int t, int T, int nh, int head, int hd, int tx) {
    float *row = x + ((b * (size_t)T + (size_t)t) * (size_t)nh + (size_t)head) * (size_t)hd;
#pragma unroll
    for (int k = 0; k < HD / TC / 4; k++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int d = (k * TC + tx) * 4 + e;
            if (d < hd) row[d] += mul * acc[k * 4 + e];
        }
    }
}

// ---- forward ----
template <int HD, int BQ, int BK>
constexpr size_t fwd_smem() {
    return (size_t)(BQ * (HD + 4) + 2 * BK * (HD + 4) + BQ * (BK + 4)) * sizeof(float);
}

// q, out [B,T,H,hd]: the query rows, row t at position pos0 + t of its sequence; k, v [B,pos0+T,Hkv,hd]: that
// sequence's keys and values from position 0 (with B = 1, as for the KV cache, k and v may have more rows: only
// the first pos0 + T are read); lse [B,H,T] or NULL (not written). Query t sees keys 0 .. pos0 + t.
template <int HD, int BQ, int BK>
// At most 2 blocks per SM: the hd-128 tile's 77 KB of shared memory allows no more on sm_80 or sm_90, and the
// 255 registers that leaves a thread hold its 64 output accumulators without the spills that ptxas's default
// target of 3 blocks (168 registers) causes.
__global__ void __launch_bounds__(NT, 2)
    attn_fwd_kernel(float *__restrict__ out, float *__restrict__ lse, const float *__restrict__ q,
                    const float *__restrict__ k, const float *__restrict__ v, int T, int pos0, int H, int Hkv,
                    int hd, float sl2) {
    constexpr int LD = HD + 4, LDP = BK + 4, RM = BQ / TR, CN = BK / TC, DN = HD / TC;
    static_assert(BQ % TR == 0 && BK % TC == 0 && BK % 4 == 0 && HD % (TC * 4) == 0, "tile shape");
    CUDA_SHARED_DYNAMIC(float, smem);
    float *Qs = smem;         // [BQ][LD]
    float *Ks = Qs + BQ * LD; // [BK][LD]
    float *Vs = Ks + BK * LD; // [BK][LD]
    float *Ps = Vs + BK * LD; // [BQ][LDP] exp(s - m) of the current K/V tile
    const int tx = threadIdx.x % TC, ty = threadIdx.x / TC;
    const size_t b = blockIdx.x / (unsigned)H;
    const int h = (int)(blockIdx.x % (unsigned)H), kvh = h / (H / Hkv);
    const int q0 = (int)(gridDim.y - 1 - blockIdx.y) * BQ;
    const int Tk = pos0 + T; // key rows per sequence

    load_tile<HD, BQ>(Qs, q, b, q0, T, H, h, hd);
    float o[RM][DN], m[RM], l[RM]; // l: this lane's share of the row sum, summed over the group at the end
#pragma unroll
    for (int i = 0; i < RM; i++) {
        m[i] = -INFINITY;
        l[i] = 0.0f;
#pragma unroll
        for (int d = 0; d < DN; d++) o[i][d] = 0.0f;
    }
    // key 0 is in tile 0 and visible to every row, so m is finite from the first tile on
    const int ntiles = (pos0 + min(q0 + BQ, T) - 1) / BK + 1;
    for (int kt = 0; kt < ntiles; kt++) {
        const int k0 = kt * BK;
        __syncthreads(); // the previous tile's readers are done (and Qs is complete on the first pass)
        load_tile<HD, BK>(Ks, k, b, k0, Tk, Hkv, kvh, hd);
        load_tile<HD, BK>(Vs, v, b, k0, Tk, Hkv, kvh, hd);
        __syncthreads();
        float s[RM][CN];
        tile_nt<HD, RM, CN>(s, Qs, Ks, ty, tx);
#pragma unroll
        for (int i = 0; i < RM; i++) {
            const int r = i * TR + ty, t = q0 + r;
            float mt = -INFINITY;
#pragma unroll
            for (int j = 0; j < CN; j++) {
                s[i][j] = (k0 + j * TC + tx <= pos0 + t) ? s[i][j] * sl2 : -INFINITY;
                mt = fmaxf(mt, s[i][j]);
            }
            const float mn = fmaxf(m[i], group_max(mt));
            const float alpha = exp2f(m[i] - mn); // 0 on the first tile (m = -inf)
            m[i] = mn;
            float ps = 0.0f;
#pragma unroll
            for (int j = 0; j < CN; j++) {
                const float p = exp2f(s[i][j] - mn); // masked: exp2(-inf) = 0
                ps += p;
                Ps[r * LDP + j * TC + tx] = p;
            }
            l[i] = l[i] * alpha + ps;
#pragma unroll
            for (int d = 0; d < DN; d++) o[i][d] *= alpha;
        }
        __syncwarp(); // a row group reads back only the Ps rows it wrote
        tile_nn<HD, RM, BK, LDP>(o, Ps, Vs, ty, tx);
    }
#pragma unroll
    for (int i = 0; i < RM; i++) {
        const float lt = group_sum(l[i]);
        const int t = q0 + i * TR + ty;
        if (t < T) {
            float *row = out + ((b * (size_t)T + (size_t)t) * (size_t)H + (size_t)h) * (size_t)hd;
            const float inv = 1.0f / lt;
#pragma unroll
            for (int kk = 0; kk < DN / 4; kk++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int d = (kk * TC + tx) * 4 + e;
                    if (d < hd) row[d] = o[i][kk * 4 + e] * inv;
                }
            }
            if (lse && tx == 0) lse[(b * (size_t)H + (size_t)h) * (size_t)T + (size_t)t] = (m[i] + log2f(lt)) * LN2;
        }
    }
}

// ---- backward: D = rowsum(dout * out) ----
__global__ void attn_rowdot_kernel(float *__restrict__ D, const float *__restrict__ dout,
                                   const float *__restrict__ out, size_t rows, int T, int H, int hd) {
    const size_t r = (size_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; // [B,H,T] order, one warp each
    const int lane = threadIdx.x % 32;
    if (r >= rows) return; // whole warps leave together
    const int t = (int)(r % (size_t)T);
    const size_t bh = r / (size_t)T;
    const size_t h = bh % (size_t)H, b = bh / (size_t)H;
    const size_t off = ((b * (size_t)T + (size_t)t) * (size_t)H + h) * (size_t)hd;
    float acc = 0.0f;
    for (int d = lane; d < hd; d += 32) acc = fmaf(dout[off + d], out[off + d], acc);
#pragma unroll
    for (int w = 16; w > 0; w /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, w);
    if (lane == 0) D[r] = acc;
}

// ---- backward: dK, dV per KV tile ----
template <int HD, int BKV, int BQ>
constexpr size_t dkdv_smem() {
    return (size_t)(2 * BKV * (HD + 4) + 2 * BQ * (HD + 4) + 2 * BKV * (BQ + 4) + 2 * BQ) * sizeof(float);
}

template <int HD, int BKV, int BQ>
__global__ void __launch_bounds__(NT)
    attn_bwd_dkdv_kernel(float *__restrict__ dk, float *__restrict__ dv, const float *__restrict__ dout,
                         const float *__restrict__ q, const float *__restrict__ k, const float *__restrict__ v,
                         const float *__restrict__ lse, const float *__restrict__ D, int T, int H, int Hkv,
                         int hd, float scale, float sl2) {
    constexpr int LD = HD + 4, LDT = BQ + 4, RM = BKV / TR, CN = BQ / TC, DN = HD / TC;
    static_assert(BKV % TR == 0 && BQ % TC == 0 && BQ % 4 == 0 && HD % (TC * 4) == 0, "tile shape");
    CUDA_SHARED_DYNAMIC(float, smem);
    float *Ks = smem;            // [BKV][LD]
    float *Vs = Ks + BKV * LD;   // [BKV][LD]
    float *Qs = Vs + BKV * LD;   // [BQ][LD]
    float *dOs = Qs + BQ * LD;   // [BQ][LD]
    float *Pt = dOs + BQ * LD;   // [BKV][LDT] P^T of the current Q tile
    float *dSt = Pt + BKV * LDT; // [BKV][LDT] dS^T
    float *lse_s = dSt + BKV * LDT; // [BQ] lse * log2(e)
    float *D_s = lse_s + BQ;        // [BQ]
    const int tx = threadIdx.x % TC, ty = threadIdx.x / TC;
    const size_t b = blockIdx.x / (unsigned)Hkv;
    const int kvh = (int)(blockIdx.x % (unsigned)Hkv), rep = H / Hkv;
    const int k0 = (int)blockIdx.y * BKV; // low tiles see the most queries and are scheduled first

    load_tile<HD, BKV>(Ks, k, b, k0, T, Hkv, kvh, hd);
    load_tile<HD, BKV>(Vs, v, b, k0, T, Hkv, kvh, hd);
    float adk[RM][DN], adv[RM][DN];
#pragma unroll
    for (int i = 0; i < RM; i++) {
#pragma unroll
        for (int d = 0; d < DN; d++) adk[i][d] = adv[i][d] = 0.0f;
    }
    const int nqt = (T + BQ - 1) / BQ;
    for (int h = kvh * rep; h < (kvh + 1) * rep; h++) {
        const size_t rowbase = (b * (size_t)H + (size_t)h) * (size_t)T; // lse and D of head h, [T]
        for (int qt = k0 / BQ; qt < nqt; qt++) {
            const int q0 = qt * BQ;
            __syncthreads(); // the previous Q tile's readers are done
            load_tile<HD, BQ>(Qs, q, b, q0, T, H, h, hd);
            load_tile<HD, BQ>(dOs, dout, b, q0, T, H, h, hd);
            for (int r = threadIdx.x; r < BQ; r += NT) {
                const int t = q0 + r;
                lse_s[r] = t < T ? lse[rowbase + t] * LOG2E : 0.0f;
                D_s[r] = t < T ? D[rowbase + t] : 0.0f;
            }
            __syncthreads();
            float st[RM][CN], dpt[RM][CN];
            tile_nt<HD, RM, CN>(st, Ks, Qs, ty, tx);
            tile_nt<HD, RM, CN>(dpt, Vs, dOs, ty, tx);
#pragma unroll
            for (int i = 0; i < RM; i++) {
                const int r = i * TR + ty, kv = k0 + r;
#pragma unroll
                for (int j = 0; j < CN; j++) {
                    const int c = j * TC + tx, t = q0 + c;
                    // masked entries give p = 0 and ds = 0 (dpt and D are finite there: zero-filled rows)
                    const float p = (t < T && kv <= t) ? exp2f(st[i][j] * sl2 - lse_s[c]) : 0.0f;
                    Pt[r * LDT + c] = p;
                    dSt[r * LDT + c] = p * (dpt[i][j] - D_s[c]);
                }
            }
            __syncwarp(); // a row group reads back only the Pt/dSt rows it wrote
            tile_nn<HD, RM, BQ, LDT>(adv, Pt, dOs, ty, tx);
            tile_nn<HD, RM, BQ, LDT>(adk, dSt, Qs, ty, tx);
        }
    }
#pragma unroll
    for (int i = 0; i < RM; i++) {
        const int kv = k0 + i * TR + ty;
        if (kv < T) {
            if (dk) add_row<HD>(dk, adk[i], scale, b, kv, T, Hkv, kvh, hd, tx);
            if (dv) add_row<HD>(dv, adv[i], 1.0f, b, kv, T, Hkv, kvh, hd, tx);
        }
    }
}

// ---- backward: dQ per Q tile ----
template <int HD, int BQ, int BKV>
constexpr size_t dq_smem() {
    return (size_t)(2 * BQ * (HD + 4) + 2 * BKV * (HD + 4) + BQ * (BKV + 4)) * sizeof(float);
}

template <int HD, int BQ, int BKV>
__global__ void __launch_bounds__(NT)
    attn_bwd_dq_kernel(float *__restrict__ dq, const float *__restrict__ dout, const float *__restrict__ q,
                       const float *__restrict__ k, const float *__restrict__ v, const float *__restrict__ lse,
                       const float *__restrict__ D, int T, int H, int Hkv, int hd, float scale, float sl2) {
    constexpr int LD = HD + 4, LDS = BKV + 4, RM = BQ / TR, CN = BKV / TC, DN = HD / TC;
    static_assert(BQ % TR == 0 && BKV % TC == 0 && BKV % 4 == 0 && HD % (TC * 4) == 0, "tile shape");
    CUDA_SHARED_DYNAMIC(float, smem);
    float *Qs = smem;           // [BQ][LD]
    float *dOs = Qs + BQ * LD;  // [BQ][LD]
    float *Ks = dOs + BQ * LD;  // [BKV][LD]
    float *Vs = Ks + BKV * LD;  // [BKV][LD]
    float *dSs = Vs + BKV * LD; // [BQ][LDS] dS of the current K/V tile
    const int tx = threadIdx.x % TC, ty = threadIdx.x / TC;
    const size_t b = blockIdx.x / (unsigned)H;
    const int h = (int)(blockIdx.x % (unsigned)H), kvh = h / (H / Hkv);
    const int q0 = (int)(gridDim.y - 1 - blockIdx.y) * BQ;
    const size_t rowbase = (b * (size_t)H + (size_t)h) * (size_t)T;

    load_tile<HD, BQ>(Qs, q, b, q0, T, H, h, hd);
    load_tile<HD, BQ>(dOs, dout, b, q0, T, H, h, hd);
    float lr[RM], dr[RM], acc[RM][DN];
#pragma unroll
    for (int i = 0; i < RM; i++) {
        const int t = q0 + i * TR + ty;
        lr[i] = t < T ? lse[rowbase + t] * LOG2E : 0.0f;
        dr[i] = t < T ? D[rowbase + t] : 0.0f;
#pragma unroll
        for (int d = 0; d < DN; d++) acc[i][d] = 0.0f;
    }
    const int ntiles = (min(q0 + BQ, T) - 1) / BKV + 1;
    for (int kt = 0; kt < ntiles; kt++) {
        const int k0 = kt * BKV;
        __syncthreads();
        load_tile<HD, BKV>(Ks, k, b, k0, T, Hkv, kvh, hd);
        load_tile<HD, BKV>(Vs, v, b, k0, T, Hkv, kvh, hd);
        __syncthreads();
        float s[RM][CN], dp[RM][CN];
        tile_nt<HD, RM, CN>(s, Qs, Ks, ty, tx);
        tile_nt<HD, RM, CN>(dp, dOs, Vs, ty, tx);
#pragma unroll
        for (int i = 0; i < RM; i++) {
            const int r = i * TR + ty, t = q0 + r;
#pragma unroll
            for (int j = 0; j < CN; j++) {
                const int c = j * TC + tx;
                const float p = (t < T && k0 + c <= t) ? exp2f(s[i][j] * sl2 - lr[i]) : 0.0f;
                dSs[r * LDS + c] = p * (dp[i][j] - dr[i]);
            }
        }
        __syncwarp(); // a row group reads back only the dSs rows it wrote
        tile_nn<HD, RM, BKV, LDS>(acc, dSs, Ks, ty, tx);
    }
#pragma unroll
    for (int i = 0; i < RM; i++) {
        const int t = q0 + i * TR + ty;
        if (t < T) add_row<HD>(dq, acc[i], scale, b, t, T, H, h, hd, tx);
    }
}

// ---- launchers, one per (kernel, bucket) ----

// Above 48 KB a kernel's dynamic shared memory must be opted into, once per kernel (and device).
template <typename Kernel>
void smem_opt_in(Kernel kern, size_t bytes, int *done) {
    if (*done || bytes <= 48 * 1024) return;
    CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
    *done = 1;
}

struct Shape {
    size_t B;
    int T, H, Hkv, hd;
};

unsigned tiles(int T, int rows) {
    const int n = (T + rows - 1) / rows;
    if (n > 65535)
        CUDA_DIE("attention: seq_len %d needs %d tiles of %d rows, above the 65535 a CUDA grid allows", T, n, rows);
    return (unsigned)n;
}

// out, q [B,T,H,hd]; k, v [B,pos0+T,Hkv,hd] (B = 1 where pos0 > 0); lse [B,H,T] or NULL
template <int HD, int BQ, int BK>
void launch_fwd(float *out, float *lse, const float *q, const float *k, const float *v, const Shape &s, int pos0) {
    static int opted = 0;
    const size_t bytes = fwd_smem<HD, BQ, BK>();
    smem_opt_in(attn_fwd_kernel<HD, BQ, BK>, bytes, &opted);
    const dim3 grid((unsigned)(s.B * (size_t)s.H), tiles(s.T, BQ));
    const float sl2 = LOG2E / sqrtf((float)s.hd);
    CUDA_LAUNCH((attn_fwd_kernel<HD, BQ, BK>), grid, NT, bytes, cuda_stream(), out, lse, q, k, v, s.T, pos0, s.H, s.Hkv,
                s.hd, sl2);
    CUDA_LAUNCH_CHECK();
}

// The forward's tile per head_dim bucket. BK is the same for both query tiles, so the small one (at most 16
// queries: one row per row group) gives the same bits per row and wastes less work on padding rows.
void dispatch_fwd(float *out, float *lse, const float *q, const float *k, const float *v, const Shape &s,
                  int pos0) {
    if (s.T <= 16) {
        if (s.hd <= 32) launch_fwd<32, 16, 64>(out, lse, q, k, v, s, pos0);
        else if (s.hd <= 64) launch_fwd<64, 16, 32>(out, lse, q, k, v, s, pos0);
        else if (s.hd <= 128) launch_fwd<128, 16, 32>(out, lse, q, k, v, s, pos0);
        else launch_fwd<256, 16, 16>(out, lse, q, k, v, s, pos0);
    } else {
        if (s.hd <= 32) launch_fwd<32, 64, 64>(out, lse, q, k, v, s, pos0);
        else if (s.hd <= 64) launch_fwd<64, 64, 32>(out, lse, q, k, v, s, pos0);
        else if (s.hd <= 128) launch_fwd<128, 64, 32>(out, lse, q, k, v, s, pos0);
        else launch_fwd<256, 32, 16>(out, lse, q, k, v, s, pos0);
    }
}

template <int HD, int BKV, int BQ>
void launch_dkdv(float *dk, float *dv, const float *dout, const float *q, const float *k, const float *v,
                 const float *lse, const float *D, const Shape &s) {
    static int opted = 0;
    const size_t bytes = dkdv_smem<HD, BKV, BQ>();
    smem_opt_in(attn_bwd_dkdv_kernel<HD, BKV, BQ>, bytes, &opted);
    const dim3 grid((unsigned)(s.B * (size_t)s.Hkv), tiles(s.T, BKV));
    const float scale = 1.0f / sqrtf((float)s.hd);
    CUDA_LAUNCH((attn_bwd_dkdv_kernel<HD, BKV, BQ>), grid, NT, bytes, cuda_stream(), dk, dv, dout, q, k, v, lse, D, s.T,
                s.H, s.Hkv, s.hd, scale, scale * LOG2E);
    CUDA_LAUNCH_CHECK();
}

template <int HD, int BQ, int BKV>
void launch_dq(float *dq, const float *dout, const float *q, const float *k, const float *v, const float *lse,
               const float *D, const Shape &s) {
    static int opted = 0;
    const size_t bytes = dq_smem<HD, BQ, BKV>();
    smem_opt_in(attn_bwd_dq_kernel<HD, BQ, BKV>, bytes, &opted);
    const dim3 grid((unsigned)(s.B * (size_t)s.H), tiles(s.T, BQ));
    const float scale = 1.0f / sqrtf((float)s.hd);
    CUDA_LAUNCH((attn_bwd_dq_kernel<HD, BQ, BKV>), grid, NT, bytes, cuda_stream(), dq, dout, q, k, v, lse, D, s.T, s.H,
                s.Hkv, s.hd, scale, scale * LOG2E);
    CUDA_LAUNCH_CHECK();
}

// The shape checks shared by both directions; returns 0 when there is nothing to compute.
int check_shape(const Shape &s) {
    if (s.H <= 0 || s.Hkv <= 0 || s.H % s.Hkv != 0)
        CUDA_DIE("attention: %d query heads cannot share %d kv heads evenly", s.H, s.Hkv);
    if (s.hd <= 0 || s.hd > 256)
        CUDA_DIE("attention: head_dim %d is not supported by the CUDA backend (expected 1 to 256)", s.hd);
    if (s.B == 0 || s.T <= 0) return 0;
    if (s.B * (size_t)s.H > 0x7fffffffu)
        CUDA_DIE("attention: batch %zu x %d heads exceeds the 2^31 - 1 blocks of a CUDA grid", s.B, s.H);
    return 1;
}

} // namespace

void cuda_attention_fwd(float *out, float *lse, const float *q, const float *k, const float *v, size_t B, int T,
                        int H, int Hkv, int hd) {
    const Shape s = {B, T, H, Hkv, hd};
    if (!check_shape(s)) return;
    dispatch_fwd(out, lse, q, k, v, s, 0);
}

// out, q [n,H,hd]; kc, vc [>= pos0 + n, Hkv, hd]: the forward kernel with B = 1, T = n, the queries at
// positions pos0 .. pos0+n-1 and the cache's rows 0 .. pos0+n-1 as the keys and values; no lse
void cuda_attention_cached_fwd(float *out, const float *q, const float *kc, const float *vc, int n, int pos0, int H,
                               int Hkv, int hd) {
    const Shape s = {1, n, H, Hkv, hd};
    if (!check_shape(s)) return;
    if (pos0 < 0) CUDA_DIE("attention_cached: position %d is negative", pos0);
    if (n > INT_MAX - pos0) CUDA_DIE("attention_cached: positions %d + %d exceed 2^31 - 1", pos0, n);
    dispatch_fwd(out, NULL, q, kc, vc, s, pos0);
}

void cuda_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                        const float *v, const float *out, const float *lse, size_t B, int T, int H, int Hkv,
                        int hd) {
    const Shape s = {B, T, H, Hkv, hd};
    if (!check_shape(s) || (!dq && !dk && !dv)) return;
    const size_t rows = B * (size_t)H * (size_t)T;
    float *D = (float *)cuda_scratch(CUDA_SCRATCH_ATTENTION, rows * sizeof(float)); // [B,H,T]
    const int warps = 256 / 32;
    CUDA_LAUNCH(attn_rowdot_kernel, (unsigned)((rows + warps - 1) / warps), 256, 0, cuda_stream(), D, dout, out, rows,
                T, H, hd);
    CUDA_LAUNCH_CHECK();
    if (dk || dv) {
        if (hd <= 32) launch_dkdv<32, 64, 32>(dk, dv, dout, q, k, v, lse, D, s);
        else if (hd <= 64) launch_dkdv<64, 64, 32>(dk, dv, dout, q, k, v, lse, D, s);
        else if (hd <= 128) launch_dkdv<128, 32, 32>(dk, dv, dout, q, k, v, lse, D, s);
        else launch_dkdv<256, 16, 16>(dk, dv, dout, q, k, v, lse, D, s);
    }
    if (dq) {
        if (hd <= 32) launch_dq<32, 64, 32>(dq, dout, q, k, v, lse, D, s);
        else if (hd <= 64) launch_dq<64, 64, 32>(dq, dout, q, k, v, lse, D, s);
        else if (hd <= 128) launch_dq<128, 32, 32>(dq, dout, q, k, v, lse, D, s);
        else launch_dq<256, 16, 16>(dq, dout, q, k, v, lse, D, s);
    }
}
