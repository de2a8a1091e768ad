// bfloat16 <-> float: the one conversion every part of Shear uses (safetensors, the CPU backend's bf16 GEMMs;
// the CUDA backend's __float2bfloat16_rn rounds the same way). A bf16 is the top 16 bits of a float: 8 exponent
// bits, 7 mantissa bits.
#ifndef SHEAR_BF16_H
#define SHEAR_BF16_H

#include <stdint.h>
#include <string.h>

// Round to nearest, ties to even; a NaN stays a (quiet) NaN, infinities and signed zeros are kept, subnormals
// round like any other value (no flush to zero).
static inline uint16_t bf16_from_f32(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// Exact.
static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#endif
