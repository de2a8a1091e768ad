// CUDA emulation: the part of the toolkit's cuda_bf16.h the kernels use. __nv_bfloat16 is the top half of a
// float; __float2bfloat16_rn rounds to nearest even as the GPU's cvt.rn.bf16.f32 does (NaN stays a quiet NaN,
// subnormals are kept), so the emulated kernels round exactly like the real ones and like shear/bf16.h.
#ifndef SHEAR_CUDA_EMU_BF16_H
#define SHEAR_CUDA_EMU_BF16_H

#include <stdint.h>
#include <string.h>

typedef struct __nv_bfloat16 {
    uint16_t x;
} __nv_bfloat16;

static inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    __nv_bfloat16 h;
    if ((u & 0x7fffffffu) > 0x7f800000u) h.x = (uint16_t)((u >> 16) | 0x40);
    else h.x = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    return h;
}

static inline float __bfloat162float(__nv_bfloat16 h) {
    uint32_t u = (uint32_t)h.x << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#endif
