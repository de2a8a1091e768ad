// Counter-based RNG (Philox4x32-10, Salmon et al. 2011). Every random number Shear draws is a pure function of
// (seed, stream, counter), so 1, 2 or 64 ranks, a restart, or a GPU all see the same numbers.
// Header-only and dependency-free: host code, the CPU kernels and the CUDA kernels all include it.
#ifndef SHEAR_RNG_H
#define SHEAR_RNG_H

#include <stdint.h>

#ifdef __CUDACC__
#define SHEAR_HD __host__ __device__ __forceinline__
#else
#define SHEAR_HD static inline
#endif

// Streams keep unrelated uses of the same seed apart.
enum {
    RNG_STREAM_INIT = 1,     // weight initialisation: counter = (tensor index << 40) + element
    RNG_STREAM_DOMAIN = 2,   // sampler: domain of a global sample
    RNG_STREAM_SHUFFLE = 3,  // sampler: per-domain epoch permutations
    RNG_STREAM_MASK = 4,     // hard-concrete u per (step, micro-batch, gate)
    RNG_STREAM_LOGALPHA = 5, // log-alpha initialisation
    RNG_STREAM_GENERATE = 6, // shear generate: counter = (prompt index << 32) + new-token index
};

typedef struct { uint32_t v[4]; } rng_block;

SHEAR_HD rng_block rng_philox(uint64_t seed, uint64_t stream, uint64_t counter) {
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32);
    uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0; c1 = (uint32_t)p1; c2 = n2; c3 = (uint32_t)p0;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    rng_block b = {{c0, c1, c2, c3}};
    return b;
}

SHEAR_HD uint64_t rng_u64(uint64_t seed, uint64_t stream, uint64_t counter) {
    rng_block b = rng_philox(seed, stream, counter);
    return ((uint64_t)b.v[0] << 32) | b.v[1];
}

// Uniform in [0, 1) with 53 random bits.
SHEAR_HD double rng_uniform(uint64_t seed, uint64_t stream, uint64_t counter) {
    return (double)(rng_u64(seed, stream, counter) >> 11) * (1.0 / 9007199254740992.0);
}

// Standard normal by Box-Muller from one Philox block (both uniforms from the same counter).
SHEAR_HD double rng_normal(uint64_t seed, uint64_t stream, uint64_t counter) {
    rng_block b = rng_philox(seed, stream, counter);
    uint64_t a = ((uint64_t)b.v[0] << 32) | b.v[1];
    uint64_t c = ((uint64_t)b.v[2] << 32) | b.v[3];
    double u1 = ((double)(a >> 11) + 0.5) * (1.0 / 9007199254740992.0); // (0,1): log is finite
    double u2 = (double)(c >> 11) * (1.0 / 9007199254740992.0);
    // sqrt/log/cos from math.h: the includer links libm
    return __builtin_sqrt(-2.0 * __builtin_log(u1)) * __builtin_cos(6.283185307179586 * u2);
}

#endif
