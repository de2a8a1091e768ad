// Hugging Face safetensors files: an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {str: str}, "<name>": {"dtype": "BF16", "shape": [r, c], "data_offsets": [begin, end]}, ...}
// then the data region, which the tensors must cover exactly (no holes, no overlaps).
// The pure parsers (st_header_parse, st_index_parse) take a buffer and a length, never die and never read
// outside the buffer: the fuzzer (tests/fuzz/fuzz_safetensors.c) calls them on arbitrary bytes.
// File access (mmap), dtype conversion and the streaming writer are in src/safetensors.c.
#ifndef SHEAR_SAFETENSORS_H
#define SHEAR_SAFETENSORS_H

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

// Conversions. n elements; src may be unaligned. Rounding to F16/BF16 is to nearest, ties to even.
void st_to_f32(StDtype d, const void *src, size_t n, float *dst); // d: F32, F16 or BF16
// Returns the index of the first finite value that overflows the target dtype, or -1 when all fit.
long st_from_f32(StDtype d, const float *src, size_t n, void *dst);
float st_f16_to_f32(uint16_t h);
uint16_t st_f32_to_f16(float f);
float st_bf16_to_f32(uint16_t b);
uint16_t st_f32_to_bf16(float f);

// A mapped file (read-only). st_file_open dies naming the path and what is wrong with it.
typedef struct {
    char *path;
    int fd;
    const uint8_t *map; // [size]
    size_t size;
    StHeader h;
} StFile;

void st_file_open(StFile *f, const char *path);
const uint8_t *st_file_data(const StFile *f, const StTensor *t); // [end - begin] bytes of t
// Tells the kernel the tensor's pages will not be read again (keeps a streaming import's RSS small).
void st_file_release(const StFile *f, const StTensor *t);
void st_file_close(StFile *f);

// Streaming writer: the header is written first from the specs, then each tensor in spec order.
// Writes PATH.tmp and renames it to PATH on st_writer_close.
typedef struct {
    const char *name;
    StDtype dtype; // F32, F16 or BF16
    int ndim;
    uint64_t shape[ST_MAX_DIMS];
} StSpec;
typedef struct StWriter StWriter;

StWriter *st_writer_open(const char *path, const StSpec *specs, int n);
// Converts data [numel of the next tensor] to its dtype and appends it; dies naming the tensor and element
// when a value overflows the dtype (F16 above 65504) or is not finite.
void st_writer_put(StWriter *w, const float *data);
void st_writer_close(StWriter *w);

#endif
