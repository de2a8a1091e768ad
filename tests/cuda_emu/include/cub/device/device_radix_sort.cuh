// CUDA emulation: cub::DeviceRadixSort::SortPairs as the backend calls it (the embedding backward sorts token
// ids with their rows, cuda_pointwise.cu): the two-phase protocol (a NULL workspace asks for its size), a stable
// sort by the key bits [begin_bit, end_bit) with signed keys in numeric order as cub orders them, and the
// workspace really used, so a workspace smaller than asked for is caught. 4-byte keys and values only (what the
// backend uses); the work is done by emu_sort_pairs_4 (src/emu_cub.cc).
#ifndef SHEAR_CUDA_EMU_CUB_RADIX_SORT_CUH
#define SHEAR_CUDA_EMU_CUB_RADIX_SORT_CUH

#include <stddef.h>
#include <stdint.h>

#include <type_traits>

#include "../../cuda_runtime_api.h"

// key_signed: keys are two's-complement integers (their order puts negatives first)
extern "C" cudaError_t emu_sort_pairs_4(void *temp, size_t *temp_bytes, const void *keys_in, void *keys_out,
                                        const void *values_in, void *values_out, int n, int begin_bit, int end_bit,
                                        int key_signed, cudaStream_t stream);

namespace cub {
struct DeviceRadixSort {
    template <typename K, typename V>
    static cudaError_t SortPairs(void *d_temp_storage, size_t &temp_storage_bytes, const K *d_keys_in, K *d_keys_out,
                                 const V *d_values_in, V *d_values_out, int num_items, int begin_bit = 0,
                                 int end_bit = (int)(sizeof(K) * 8), cudaStream_t stream = 0) {
        static_assert(sizeof(K) == 4 && sizeof(V) == 4, "the emulated cub sorts 4-byte keys and values only");
        static_assert(std::is_integral<K>::value, "the emulated cub sorts integer keys only");
        return emu_sort_pairs_4(d_temp_storage, &temp_storage_bytes, d_keys_in, d_keys_out, d_values_in, d_values_out,
                                num_items, begin_bit, end_bit, std::is_signed<K>::value ? 1 : 0, stream);
    }
};
} // namespace cub
#endif
