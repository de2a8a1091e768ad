// safetensors files on disk (see safetensors.h): dtype conversion, memory-mapped reading, streaming writer.
#include "shear/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shear/bf16.h"
#include "shear/common.h"

// The format is little-endian and tensors are copied as they lie in memory.
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors I/O assumes a little-endian host"
#endif

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float st_bf16_to_f32(uint16_t b) { return bf16_to_f32(b); }

uint16_t st_f32_to_bf16(float f) { return bf16_from_f32(f); }

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13)); // inf, NaN
    if (exp == 0) {
        if (man == 0) return bits_f32(sign);                                // +-0
        float v = (float)man * 0x1p-24f;                                    // subnormal: exact in f32
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t st_f32_to_f16(float f) {
    uint32_t u = f32_bits(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); // NaN
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); // rounds to 65536 or more: infinity
    if (a < 0x38800000u) {
        // below the smallest normal 2^-14: a multiple of 2^-24, rounded to nearest even by the FPU's own
        // rounding of the exact product (the f32 value times 2^24 is exact, the conversion rounds once)
        float m = bits_f32(a) * 0x1p24f;
        return (uint16_t)(sign | (uint16_t)nearbyintf(m));
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u); // round the 13 dropped mantissa bits, ties to even
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

void st_to_f32(StDtype d, const void *src, size_t n, float *dst) {
    const uint8_t *s = src;
    if (d == ST_F32) {
        memcpy(dst, s, n * 4);
        return;
    }
    SHEAR_CHECK(d == ST_F16 || d == ST_BF16, "st_to_f32: dtype %s does not convert to float", st_dtype_name(d));
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        dst[i] = d == ST_F16 ? st_f16_to_f32(h) : st_bf16_to_f32(h);
    }
}

long st_from_f32(StDtype d, const float *src, size_t n, void *dst) {
    uint8_t *o = dst;
    if (d == ST_F32) {
        memcpy(o, src, n * 4);
        return -1;
    }
    SHEAR_CHECK(d == ST_F16 || d == ST_BF16, "st_from_f32: cannot write dtype %s", st_dtype_name(d));
    long bad = -1;
    uint16_t inf = d == ST_F16 ? 0x7c00u : 0x7f80u;
    for (size_t i = 0; i < n; i++) {
        uint16_t h = d == ST_F16 ? st_f32_to_f16(src[i]) : st_f32_to_bf16(src[i]);
        if (bad < 0 && isfinite(src[i]) && (h & 0x7fffu) == inf) bad = (long)i;
        memcpy(o + 2 * i, &h, 2);
    }
    return bad;
}

// ---- reading ----

void st_file_open(StFile *f, const char *path) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    int fd = open(path, O_RDONLY);
    if (fd < 0) SHEAR_DIE("cannot open safetensors file '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) SHEAR_DIE("'%s' is not a regular file", path);
    if (st.st_size < 8)
        SHEAR_DIE("safetensors file '%s': file is %lld bytes, too short for the 8-byte header length (truncated?)",
                  path, (long long)st.st_size);
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) SHEAR_DIE("cannot map '%s': %s", path, strerror(errno));
    madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    char err[512];
    if (st_header_parse(map, (size_t)st.st_size, &f->h, err, sizeof err))
        SHEAR_DIE("safetensors file '%s': %s", path, err);
    f->path = shear_strdup(path);
    f->fd = fd;
    f->map = map;
    f->size = (size_t)st.st_size;
}

const uint8_t *st_file_data(const StFile *f, const StTensor *t) { return f->map + f->h.data_start + t->begin; }

void st_file_release(const StFile *f, const StTensor *t) {
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)st_file_data(f, t), b = a + (t->end - t->begin);
    a = (a + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1); // whole pages only: neighbours may still be needed
    b &= ~((uintptr_t)pg - 1);
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

void st_file_close(StFile *f) {
    if (f->map) munmap((void *)f->map, f->size);
    if (f->fd >= 0) close(f->fd);
    st_header_free(&f->h);
    free(f->path);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

// ---- writing ----

struct StWriter {
    FILE *fp;
    char path[4096], tmp[4096 + 8];
    const StSpec *specs; // [n] (the caller's, alive until close)
    int n, next;
    void *buf;           // [largest tensor] converted bytes
};

static uint64_t spec_numel(const StSpec *s) {
    uint64_t n = 1;
    for (int k = 0; k < s->ndim; k++) n *= s->shape[k];
    return n;
}

StWriter *st_writer_open(const char *path, const StSpec *specs, int n) {
    StWriter *w = shear_calloc(1, sizeof *w);
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
    w->specs = specs;
    w->n = n;
    // header: {"__metadata__": {"format": "pt"}, name: {dtype, shape, data_offsets}, ...}; transformers
    // refuses files whose metadata lacks "format"
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(root, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    uint64_t at = 0, maxb = 0;
    for (int i = 0; i < n; i++) {
        const StSpec *s = &specs[i];
        SHEAR_CHECK(s->dtype == ST_F32 || s->dtype == ST_F16 || s->dtype == ST_BF16, "cannot write dtype %s",
                    st_dtype_name(s->dtype));
        uint64_t bytes = spec_numel(s) * st_dtype_size(s->dtype);
        cJSON *e = cJSON_AddObjectToObject(root, s->name), *sh = cJSON_AddArrayToObject(e, "shape");
        cJSON_AddStringToObject(e, "dtype", st_dtype_name(s->dtype));
        for (int k = 0; k < s->ndim; k++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)s->shape[k]));
        cJSON *off = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)at));
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)(at + bytes)));
        at += bytes;
        if (bytes > maxb) maxb = bytes;
    }
    char *js = cJSON_PrintUnformatted(root);
    SHEAR_CHECK(js, "out of memory writing the header of '%s'", path);
    cJSON_Delete(root);
    size_t jl = strlen(js), padded = (jl + 7) & ~(size_t)7; // data starts 8-byte aligned
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    w->fp = fopen(w->tmp, "wb");
    if (!w->fp) SHEAR_DIE("cannot create '%s': %s", w->tmp, strerror(errno));
    shear_tmp_begin(w->tmp);
    int ok = fwrite(len8, 1, 8, w->fp) == 8 && fwrite(js, 1, jl, w->fp) == jl;
    for (size_t i = jl; i < padded && ok; i++) ok = fputc(' ', w->fp) != EOF;
    if (!ok) SHEAR_DIE("cannot write '%s': %s", w->tmp, strerror(errno));
    free(js);
    w->buf = shear_malloc((size_t)maxb);
    return w;
}

void st_writer_put(StWriter *w, const float *data) {
    SHEAR_CHECK(w->next < w->n, "'%s': more tensors written than declared", w->path);
    const StSpec *s = &w->specs[w->next++];
    size_t n = (size_t)spec_numel(s);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(data[i])) SHEAR_DIE("tensor '%s' holds a non-finite value at element %zu; not exported", s->name, i);
    long bad = st_from_f32(s->dtype, data, n, w->buf);
    if (bad >= 0)
        SHEAR_DIE("tensor '%s' element %ld = %g does not fit in %s (largest finite %s); export with --dtype bf16 or f32",
                  s->name, bad, (double)data[bad], st_dtype_name(s->dtype), s->dtype == ST_F16 ? "65504" : "3.39e38");
    size_t bytes = n * st_dtype_size(s->dtype);
    if (fwrite(w->buf, 1, bytes, w->fp) != bytes) SHEAR_DIE("cannot write '%s' (disk full?): %s", w->tmp, strerror(errno));
}

void st_writer_close(StWriter *w) {
    SHEAR_CHECK(w->next == w->n, "'%s': %d of %d tensors written", w->path, w->next, w->n);
    if (fflush(w->fp) != 0 || fsync(fileno(w->fp)) != 0 || fclose(w->fp) != 0)
        SHEAR_DIE("cannot finish writing '%s' (disk full?): %s", w->tmp, strerror(errno));
    if (rename(w->tmp, w->path) != 0) SHEAR_DIE("cannot rename '%s' to '%s': %s", w->tmp, w->path, strerror(errno));
    shear_tmp_done(w->tmp);
    free(w->buf);
    free(w);
}
