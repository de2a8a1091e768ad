// CUDA emulation: the work of cub::DeviceRadixSort::SortPairs (include/cub/device/device_radix_sort.cuh) for
// 4-byte keys and values. The size query asks for room for the keys and values in flight and the sort really
// keeps them there, so a workspace smaller than asked for is refused (cudaErrorInvalidValue, as cub returns): by
// the temp_storage_bytes passed, or by the allocation the workspace really has when that size is wrong. Pointers
// that are not device memory are refused at the call (a GPU would fault in cub's kernels instead).
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "cub/device/device_radix_sort.cuh"
#include "emu_internal.h"

static size_t workspace_bytes(int n) { return ((size_t)(n > 0 ? n : 0) * 8 + 511) / 256 * 256; }

static cudaError_t bad(const char *what, const void *p, size_t bytes) {
    char where[160];
    emu_describe_pointer(p, where, sizeof where);
    fprintf(stderr, EMU_PREFIX "cub::DeviceRadixSort::SortPairs: %s (%zu bytes at %p) is not device memory (%s)\n",
            what, bytes, p, where);
    // cub launches kernels on these pointers; a GPU would fault later, the emulation refuses at the call
    emu_set_error(cudaErrorInvalidValue, 0);
    return cudaErrorInvalidValue;
}

extern "C" cudaError_t emu_sort_pairs_4(void *temp, size_t *temp_bytes, const void *keys_in, void *keys_out,
                                        const void *values_in, void *values_out, int n, int begin_bit, int end_bit,
                                        int key_signed, cudaStream_t stream) {
    (void)stream;
    if (!temp_bytes || n < 0 || begin_bit < 0 || end_bit > 32 || begin_bit > end_bit) {
        emu_set_error(cudaErrorInvalidValue, 0);
        return cudaErrorInvalidValue;
    }
    if (!temp) {
        *temp_bytes = workspace_bytes(n);
        return cudaSuccess;
    }
    if (cudaError_t e = emu_sticky_error()) return e;
    if (*temp_bytes < workspace_bytes(n)) {
        fprintf(stderr, EMU_PREFIX "cub::DeviceRadixSort::SortPairs: workspace of %zu bytes, %zu needed for %d items\n",
                *temp_bytes, workspace_bytes(n), n);
        emu_set_error(cudaErrorInvalidValue, 0);
        return cudaErrorInvalidValue;
    }
    size_t vec = (size_t)n * 4;
    if (!emu_is_device_range(temp, *temp_bytes)) return bad("d_temp_storage", temp, *temp_bytes);
    if (n == 0) return cudaSuccess;
    if (!emu_is_device_range(keys_in, vec)) return bad("d_keys_in", keys_in, vec);
    if (!emu_is_device_range(keys_out, vec)) return bad("d_keys_out", keys_out, vec);
    if (!emu_is_device_range(values_in, vec)) return bad("d_values_in", values_in, vec);
    if (!emu_is_device_range(values_out, vec)) return bad("d_values_out", values_out, vec);
    // keys and values pass through the workspace as cub's double buffers do
    uint32_t *k = (uint32_t *)temp, *v = (uint32_t *)((char *)temp + vec);
    memcpy(k, keys_in, vec);
    memcpy(v, values_in, vec);
    uint32_t mask = end_bit - begin_bit == 32 ? 0xffffffffu : ((1u << (end_bit - begin_bit)) - 1u) << begin_bit;
    // cub flips the sign bit of signed keys so that their bits order as the numbers do
    uint32_t flip = key_signed ? 0x80000000u : 0u;
    std::vector<int> order((size_t)n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return ((k[a] ^ flip) & mask) < ((k[b] ^ flip) & mask); });
    uint32_t *ko = (uint32_t *)keys_out, *vo = (uint32_t *)values_out;
    for (int i = 0; i < n; i++) {
        ko[i] = k[order[(size_t)i]];
        vo[i] = v[order[(size_t)i]];
    }
    return emu_check_guards("cub::DeviceRadixSort::SortPairs") ? cudaSuccess : cudaErrorIllegalAddress;
}
