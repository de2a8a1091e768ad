// Hugging Face safetensors files: an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {str: str}, "<name>": {"dtype": "BF16", "shape": [r, c], "data_offsets": [begin, end]}, ...}
// then the data region, which the tensors must cover exactly (no holes, no overlaps).
// The pure parsers (src/safetensors_parse.c: st_header_parse, st_index_parse) take a buffer and a length, never
// die and never read outside the buffer: the fuzzer (tests/fuzz/fuzz_safetensors.c) calls them on arbitrary
// bytes. File access (mmap), dtype conversion and the streaming writer are in safetensors.h.
#ifndef SHEAR_SAFETENSORS_PARSE_H
#define SHEAR_SAFETENSORS_PARSE_H

#include <stddef.h>
#include <stdint.h>

// Every dtype of the format, so that size checks cover every tensor; only F32, F16, BF16 convert to float.
typedef enum {
    ST_BOOL, ST_U8, ST_I8, ST_I16, ST_U16, ST_F16, ST_BF16, ST_I32, ST_U32, ST_F32, ST_F64, ST_I64, ST_U64,
    ST_F8_E4M3, ST_F8_E5M2, ST_N_DTYPES
} StDtype;

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u * 1000u * 1000u) // the format's own limit on N

typedef struct {
    char *name;
    StDtype dtype;
    int ndim;
    uint64_t shape[ST_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end; // byte offsets into the data region
} StTensor;

typedef struct {
    StTensor *t;         // [n] in header order
    int n;
    uint64_t data_start; // 8 + N: where the data region starts in the file
    uint64_t data_len;   // bytes of the data region (file size - data_start)
} StHeader;

// Weight map of a sharded checkpoint (model.safetensors.index.json).
typedef struct {
    char **names; // [n] tensor names
    int *shard;   // [n] index into files
    int n;
    char **files; // [n_files] shard file names, in order of first appearance
    int n_files;
} StIndex;

const char *st_dtype_name(StDtype d);
size_t st_dtype_size(StDtype d);
int st_dtype_parse(const char *s); // StDtype, or -1

// Parses a whole safetensors file held in buf[0..len). Returns 0, or -1 with why in err (h left empty).
int st_header_parse(const uint8_t *buf, size_t len, StHeader *h, char *err, size_t errlen);
void st_header_free(StHeader *h);
int st_header_find(const StHeader *h, const char *name); // index or -1

// Parses model.safetensors.index.json text buf[0..len) (need not be NUL-terminated). Shard names must be
// plain file names (no directories). Returns 0, or -1 with why in err.
int st_index_parse(const char *buf, size_t len, StIndex *ix, char *err, size_t errlen);
void st_index_free(StIndex *ix);

#endif
