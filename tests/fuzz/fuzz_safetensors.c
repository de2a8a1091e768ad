// libFuzzer target: the safetensors header parser and the index parser on arbitrary bytes. Beyond "no crash,
// no out-of-bounds read" (AddressSanitizer), an accepted header must describe tensors that lie inside the file
// and cover its data region exactly, and an accepted index must point only at plain file names.
// Built by tests/hf.cmake with clang -fsanitize=fuzzer,address,undefined; run by run_fuzz.sh.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shear/safetensors_parse.h"

#define INVARIANT(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    StHeader h;
    char err[512];
    err[0] = 0;
    if (st_header_parse(data, size, &h, err, sizeof err) == 0) {
        INVARIANT(h.data_start <= size && h.data_start + h.data_len == size);
        uint64_t covered = 0;
        volatile uint8_t sink = 0;
        for (int i = 0; i < h.n; i++) {
            const StTensor *t = &h.t[i];
            INVARIANT(t->begin <= t->end && t->end <= h.data_len);
            INVARIANT(t->end - t->begin == t->numel * st_dtype_size(t->dtype));
            INVARIANT(st_header_find(&h, t->name) == i);
            if (t->end > t->begin) sink ^= data[h.data_start + t->begin] ^ data[h.data_start + t->end - 1];
            covered += t->end - t->begin;
        }
        (void)sink;
        INVARIANT(covered == h.data_len);
        st_header_free(&h);
    } else {
        INVARIANT(err[0] != 0); // every rejection says why
    }
    StIndex ix;
    err[0] = 0;
    if (st_index_parse((const char *)data, size, &ix, err, sizeof err) == 0) {
        INVARIANT(ix.n > 0 && ix.n_files > 0 && ix.n_files <= ix.n);
        for (int i = 0; i < ix.n; i++) INVARIANT(ix.shard[i] >= 0 && ix.shard[i] < ix.n_files);
        for (int f = 0; f < ix.n_files; f++) INVARIANT(!strchr(ix.files[f], '/') && ix.files[f][0] != '.');
        st_index_free(&ix);
    } else {
        INVARIANT(err[0] != 0);
    }
    return 0;
}
