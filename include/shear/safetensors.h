// Hugging Face safetensors files: file access (mmap), dtype conversion and the streaming writer
// (src/safetensors.c). The format and its pure parsers are in safetensors_parse.h.
#ifndef SHEAR_SAFETENSORS_H
#define SHEAR_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "shear/safetensors_parse.h"

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
