// Unit tests of src/safetensors*.c: dtype conversions (exhaustive over 16-bit values, against the compiler's
// _Float16 and an independent nearest-even rule for bf16), the header and index parsers on valid and broken
// inputs (each rejection must name the problem), and writer -> mmap reader round trips.
// test_safetensors TMPDIR
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shear/safetensors.h"

static int fails = 0, checks = 0;
#define CHECK(cond, ...) do { checks++; if (!(cond)) { fails++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
    printf(__VA_ARGS__); printf("\n"); } } while (0)

static uint32_t bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd32(void) { // splitmix64
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)(z ^ (z >> 31));
}

// bf16 by definition: the two neighbours that keep the top 16 bits, the nearer in exact (double) distance,
// the even one on a tie. Finite inputs only. Past the largest finite value IEEE rounds as if the exponent
// went on: infinity counts as 2^128.
static double bf16_value(uint16_t b) {
    if ((b & 0x7fff) == 0x7f80) return (b & 0x8000) ? -0x1p128 : 0x1p128;
    return (double)from_bits((uint32_t)b << 16);
}

static uint16_t bf16_reference(float f) {
    uint16_t lo = (uint16_t)(bits(f) >> 16), hi = (uint16_t)(lo + 1);
    double dl = fabs((double)f - bf16_value(lo)), dh = fabs((double)f - bf16_value(hi));
    if (dl < dh) return lo;
    if (dh < dl) return hi;
    return (lo & 1) ? hi : lo;
}

static void test_conversions(void) {
    int bad16 = 0, badbf = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = st_f16_to_f32((uint16_t)h);
        _Float16 x;
        uint16_t hh = (uint16_t)h;
        memcpy(&x, &hh, 2);
        int nan = ((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff);
        if (nan) bad16 += !isnan(f) || !isnan(st_f16_to_f32(st_f32_to_f16(f)));
        else bad16 += bits(f) != bits((float)x) || st_f32_to_f16(f) != h;
        float g = st_bf16_to_f32((uint16_t)h);
        if (isnan(g)) badbf += !isnan(st_bf16_to_f32(st_f32_to_bf16(g)));
        else badbf += st_f32_to_bf16(g) != h;
    }
    CHECK(bad16 == 0, "%d of 65536 f16 values do not convert to f32 as _Float16 does, or do not come back", bad16);
    CHECK(badbf == 0, "%d of 65536 bf16 values do not survive bf16 -> f32 -> bf16", badbf);

    // f32 -> f16 against the compiler: random bit patterns, and every exact midpoint between neighbours (ties)
    int bad = 0;
    for (int i = 0; i < 2000000; i++) {
        float f = from_bits(rnd32());
        if (isnan(f)) continue;
        _Float16 x = (_Float16)f;
        uint16_t want;
        memcpy(&want, &x, 2);
        bad += st_f32_to_f16(f) != want;
    }
    for (uint32_t h = 0; h < 0x7c00; h++) {
        float mid = (float)(((double)st_f16_to_f32((uint16_t)h) + (double)st_f16_to_f32((uint16_t)(h + 1))) / 2);
        for (int s = 0; s < 2; s++) {
            float f = s ? -mid : mid;
            _Float16 x = (_Float16)f;
            uint16_t want;
            memcpy(&want, &x, 2);
            bad += st_f32_to_f16(f) != want;
        }
    }
    CHECK(bad == 0, "%d f32 -> f16 conversions differ from the compiler's _Float16", bad);

    bad = 0;
    for (int i = 0; i < 2000000; i++) {
        float f = from_bits(rnd32());
        if (!isfinite(f)) continue;
        bad += st_f32_to_bf16(f) != bf16_reference(f);
    }
    for (uint32_t b = 0; b < 0x7f7f; b++) { // midpoints: the 0x8000 pattern below the kept bits
        float f = from_bits(((uint32_t)b << 16) | 0x8000u);
        bad += st_f32_to_bf16(f) != ((b & 1) ? b + 1 : b);
        bad += st_f32_to_bf16(-f) != (uint16_t)(0x8000u | ((b & 1) ? b + 1 : b));
    }
    CHECK(bad == 0, "%d f32 -> bf16 conversions are not round to nearest even", bad);

    float big[5] = {65504.0f, 65519.99f, -65519.99f, 65520.0f, 1e5f};
    uint16_t out[5];
    CHECK(st_from_f32(ST_F16, big, 5, out) == 3, "F16 overflow: first index %ld, expected 3 (65520 rounds to inf)",
          st_from_f32(ST_F16, big, 5, out));
    CHECK(st_from_f32(ST_F16, big, 3, out) == -1, "65504 and 65519.99 fit in F16");
    float huge[2] = {3e38f, FLT_MAX};
    CHECK(st_from_f32(ST_BF16, huge, 2, out) == 1, "FLT_MAX rounds to bf16 infinity: expected index 1");
}

// ---- header parser ----

// A whole file: 8-byte length, header text, then data_len bytes.
static uint8_t *file_of(const char *header, size_t data_len, size_t *len) {
    size_t n = strlen(header);
    *len = 8 + n + data_len;
    uint8_t *b = calloc(*len, 1);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(b + 8, header, n);
    return b;
}

static void expect_header(const char *what, const char *header, size_t data_len, const char *expect) {
    size_t len;
    uint8_t *b = file_of(header, data_len, &len);
    StHeader h;
    char err[512] = "";
    int rc = st_header_parse(b, len, &h, err, sizeof err);
    if (expect) CHECK(rc == -1 && strstr(err, expect), "%s: expected an error with '%s', got rc %d '%s'", what, expect, rc, err);
    else CHECK(rc == 0, "%s: expected a valid header, got '%s'", what, err);
    if (rc == 0) st_header_free(&h);
    free(b);
}

static void test_header(void) {
    const char *good = "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[16,28]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}   ";
    size_t len;
    uint8_t *b = file_of(good, 28, &len);
    StHeader h;
    char err[512] = "";
    CHECK(st_header_parse(b, len, &h, err, sizeof err) == 0, "valid header rejected: %s", err);
    CHECK(h.n == 2 && h.data_start == 8 + strlen(good) && h.data_len == 28, "parsed %d tensors, data at %llu", h.n,
          (unsigned long long)h.data_start);
    int i = st_header_find(&h, "b");
    CHECK(i >= 0 && h.t[i].dtype == ST_BF16 && h.t[i].ndim == 2 && h.t[i].shape[1] == 3 && h.t[i].numel == 6 &&
          h.t[i].begin == 16 && h.t[i].end == 28, "tensor 'b' parsed wrong");
    CHECK(st_header_find(&h, "c") == -1, "find of an absent name");
    st_header_free(&h);
    free(b);

    expect_header("no tensors", "{}", 0, NULL);
    expect_header("metadata only", "{\"__metadata__\":{}}", 0, NULL);
    expect_header("zero-size tensor", "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[0,0]},"
                  "\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", 1, NULL);
    expect_header("not an object", "[1,2]", 0, "does not start with '{'");
    expect_header("bad json", "{\"a\":", 0, "not valid JSON");
    expect_header("bytes after json", "{} x", 0, "bytes after its JSON object");
    expect_header("entry not an object", "{\"a\":3}", 0, "tensor 'a': entry is not a JSON object");
    expect_header("no dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "\"dtype\" is missing");
    expect_header("unknown dtype", "{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype \"Q4\"");
    expect_header("negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                  "shape entry 0 is not a non-negative integer");
    expect_header("fractional dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
                  "shape entry 0");
    expect_header("too many dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
                  "9 dimensions");
    expect_header("shape overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}",
                  4, "shape overflows");
    expect_header("one offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4, "[begin, end]");
    expect_header("reversed offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, "end before they begin");
    expect_header("past the data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "truncated file?");
    expect_header("size mismatch", "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "header lies");
    expect_header("overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlaps");
    expect_header("hole", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "belong to no tensor");
    expect_header("not covered", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "trailing garbage");
    expect_header("duplicate", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "tensor 'a' appears twice");
    expect_header("metadata not strings", "{\"__metadata__\":{\"n\":1}}", 0, "is not a string");

    uint8_t small[12] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    CHECK(st_header_parse(small, 5, &h, err, sizeof err) == -1 && strstr(err, "too short"), "5-byte file: %s", err);
    CHECK(st_header_parse(small, 12, &h, err, sizeof err) == -1 && strstr(err, "header length 200 exceeds"),
          "header length past the end: %s", err);
}

static void expect_index(const char *what, const char *text, const char *expect) {
    StIndex ix;
    char err[512] = "";
    int rc = st_index_parse(text, strlen(text), &ix, err, sizeof err);
    if (expect) CHECK(rc == -1 && strstr(err, expect), "%s: expected '%s', got rc %d '%s'", what, expect, rc, err);
    else CHECK(rc == 0, "%s: rejected: %s", what, err);
    if (rc == 0) st_index_free(&ix);
}

static void test_index(void) {
    const char *good = "{\"metadata\":{\"total_size\":12},\"weight_map\":{\"a\":\"m-1.safetensors\",\"b\":\"m-2.safetensors\","
                       "\"c\":\"m-1.safetensors\"}}";
    StIndex ix;
    char err[512] = "";
    CHECK(st_index_parse(good, strlen(good), &ix, err, sizeof err) == 0, "valid index rejected: %s", err);
    CHECK(ix.n == 3 && ix.n_files == 2 && ix.shard[0] == 0 && ix.shard[1] == 1 && ix.shard[2] == 0 &&
          strcmp(ix.files[1], "m-2.safetensors") == 0, "index parsed wrong");
    st_index_free(&ix);
    expect_index("no weight_map", "{\"metadata\":{}}", "\"weight_map\" is missing");
    expect_index("empty", "{\"weight_map\":{}}", "is empty");
    expect_index("not a string", "{\"weight_map\":{\"a\":1}}", "is not a file name string");
    expect_index("directory", "{\"weight_map\":{\"a\":\"x/m.safetensors\"}}", "plain file name");
    expect_index("parent", "{\"weight_map\":{\"a\":\"..\"}}", "plain file name");
    expect_index("duplicate", "{\"weight_map\":{\"a\":\"m\",\"a\":\"m\"}}", "appears twice");
    expect_index("not json", "{\"weight_map\":", "not valid JSON");
}

// ---- writer -> reader ----

static void test_roundtrip(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    float a[6] = {1.0f, -2.5f, 3.140625f, 1e-3f, -0.0f, 65504.0f}; // [2, 3]
    float b[3] = {0.1f, 0.2f, 0.3f};                              // [3]
    StSpec spec[3] = {{"a.f32", ST_F32, 2, {2, 3}}, {"a.bf16", ST_BF16, 2, {2, 3}}, {"b.f16", ST_F16, 1, {3}}};
    StWriter *w = st_writer_open(path, spec, 3);
    st_writer_put(w, a);
    st_writer_put(w, a);
    st_writer_put(w, b);
    st_writer_close(w);
    StFile f;
    st_file_open(&f, path);
    CHECK(f.h.n == 3 && f.h.data_start % 8 == 0, "%d tensors, data at %llu (expected 3, 8-aligned)", f.h.n,
          (unsigned long long)f.h.data_start);
    float got[6];
    for (int k = 0; k < 3; k++) {
        int i = st_header_find(&f.h, spec[k].name);
        CHECK(i >= 0 && f.h.t[i].dtype == spec[k].dtype && f.h.t[i].ndim == spec[k].ndim, "tensor %s", spec[k].name);
        if (i < 0) continue;
        const float *src = k == 2 ? b : a;
        size_t n = (size_t)f.h.t[i].numel;
        st_to_f32(f.h.t[i].dtype, st_file_data(&f, &f.h.t[i]), n, got);
        for (size_t j = 0; j < n; j++) {
            float want = k == 0 ? src[j] : k == 1 ? st_bf16_to_f32(st_f32_to_bf16(src[j])) : st_f16_to_f32(st_f32_to_f16(src[j]));
            CHECK(bits(got[j]) == bits(want), "%s[%zu] = %g, expected %g", spec[k].name, j, (double)got[j], (double)want);
        }
        st_file_release(&f, &f.h.t[i]);
    }
    st_file_close(&f);
    remove(path);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_safetensors TMPDIR\n");
        return 2;
    }
    test_conversions();
    test_header();
    test_index();
    test_roundtrip(argv[1]);
    printf("%d checks, %d failed\n", checks, fails);
    return fails ? 1 : 0;
}
