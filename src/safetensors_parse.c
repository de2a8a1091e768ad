// The pure safetensors parsers (see safetensors_parse.h): header and index. No I/O, no dying, no reads outside the
// buffer given, so the fuzzer can call them on anything. Every rejection says which tensor or key is wrong.
#include "shear/safetensors_parse.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; size_t size; } DTYPES[ST_N_DTYPES] = {
    [ST_BOOL] = {"BOOL", 1}, [ST_U8] = {"U8", 1},     [ST_I8] = {"I8", 1},     [ST_I16] = {"I16", 2},
    [ST_U16] = {"U16", 2},   [ST_F16] = {"F16", 2},   [ST_BF16] = {"BF16", 2}, [ST_I32] = {"I32", 4},
    [ST_U32] = {"U32", 4},   [ST_F32] = {"F32", 4},   [ST_F64] = {"F64", 8},   [ST_I64] = {"I64", 8},
    [ST_U64] = {"U64", 8},   [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_F8_E5M2] = {"F8_E5M2", 1},
};

const char *st_dtype_name(StDtype d) { return (unsigned)d < ST_N_DTYPES ? DTYPES[d].name : "?"; }
size_t st_dtype_size(StDtype d) { return (unsigned)d < ST_N_DTYPES ? DTYPES[d].size : 0; }

int st_dtype_parse(const char *s) {
    for (int i = 0; i < ST_N_DTYPES; i++)
        if (strcmp(s, DTYPES[i].name) == 0) return i;
    return -1;
}

// Local on purpose: the libFuzzer target compiles this file alone, without the rest of Shear.
static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

// JSON numbers are doubles: an offset or a dimension must be a non-negative integer below 2^53 to be exact.
static int json_u64(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || d != (double)(uint64_t)d) return -1;
    *out = (uint64_t)d;
    return 0;
}

static int cmp_offsets(const void *a, const void *b) {
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp((*(const StTensor *const *)a)->name, (*(const StTensor *const *)b)->name);
}

// One tensor entry; err names the tensor.
static int parse_tensor(const cJSON *e, StTensor *t, uint64_t data_len, char *err, size_t errlen) {
    const char *nm = t->name;
    if (!cJSON_IsObject(e)) return fail(err, errlen, "tensor '%s': entry is not a JSON object", nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt)) return fail(err, errlen, "tensor '%s': \"dtype\" is missing or not a string", nm);
    int d = st_dtype_parse(dt->valuestring);
    if (d < 0) return fail(err, errlen, "tensor '%s': unknown dtype \"%.32s\"", nm, dt->valuestring);
    t->dtype = (StDtype)d;
    if (!cJSON_IsArray(sh)) return fail(err, errlen, "tensor '%s': \"shape\" is missing or not an array", nm);
    int nd = cJSON_GetArraySize(sh);
    if (nd > ST_MAX_DIMS) return fail(err, errlen, "tensor '%s': %d dimensions, at most %d supported", nm, nd, ST_MAX_DIMS);
    t->ndim = nd;
    uint64_t numel = 1;
    int k = 0;
    for (const cJSON *v = sh->child; v; v = v->next, k++) {
        if (json_u64(v, &t->shape[k]))
            return fail(err, errlen, "tensor '%s': shape entry %d is not a non-negative integer", nm, k);
        if (__builtin_mul_overflow(numel, t->shape[k], &numel))
            return fail(err, errlen, "tensor '%s': shape overflows 64 bits", nm);
    }
    t->numel = numel;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || json_u64(off->child, &t->begin) ||
        json_u64(off->child->next, &t->end))
        return fail(err, errlen, "tensor '%s': \"data_offsets\" must be [begin, end], two non-negative integers", nm);
    if (t->begin > t->end)
        return fail(err, errlen, "tensor '%s': data_offsets [%llu, %llu] end before they begin", nm,
                    (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > data_len)
        return fail(err, errlen, "tensor '%s': data_offsets [%llu, %llu] run past the %llu data bytes in the file "
                    "(truncated file?)", nm, (unsigned long long)t->begin, (unsigned long long)t->end,
                    (unsigned long long)data_len);
    uint64_t bytes;
    if (__builtin_mul_overflow(numel, (uint64_t)st_dtype_size(t->dtype), &bytes) || bytes != t->end - t->begin)
        return fail(err, errlen, "tensor '%s': %s shape of %llu elements needs %llu bytes but data_offsets [%llu, %llu] "
                    "give %llu (header lies about sizes or dtype?)", nm, DTYPES[t->dtype].name,
                    (unsigned long long)numel, (unsigned long long)(numel * st_dtype_size(t->dtype)),
                    (unsigned long long)t->begin, (unsigned long long)t->end,
                    (unsigned long long)(t->end - t->begin));
    return 0;
}

// Exactly covered data region and unique names: checked on sorted views of the tensors.
static int check_layout(StHeader *h, char *err, size_t errlen) {
    if (h->n == 0) {
        if (h->data_len) return fail(err, errlen, "no tensors but %llu data bytes", (unsigned long long)h->data_len);
        return 0;
    }
    StTensor **v = malloc((size_t)h->n * sizeof *v);
    if (!v) return fail(err, errlen, "out of memory for %d tensors", h->n);
    for (int i = 0; i < h->n; i++) v[i] = &h->t[i];
    int rc = 0;
    qsort(v, (size_t)h->n, sizeof *v, cmp_names);
    for (int i = 1; i < h->n && !rc; i++)
        if (strcmp(v[i - 1]->name, v[i]->name) == 0) rc = fail(err, errlen, "tensor '%s' appears twice", v[i]->name);
    qsort(v, (size_t)h->n, sizeof *v, cmp_offsets);
    uint64_t at = 0;
    for (int i = 0; i < h->n && !rc; i++) {
        if (v[i]->begin < at)
            rc = fail(err, errlen, "tensor '%s' at [%llu, %llu] overlaps the tensor before it (ends at %llu)",
                      v[i]->name, (unsigned long long)v[i]->begin, (unsigned long long)v[i]->end, (unsigned long long)at);
        else if (v[i]->begin > at)
            rc = fail(err, errlen, "data bytes [%llu, %llu) belong to no tensor (hole before '%s')",
                      (unsigned long long)at, (unsigned long long)v[i]->begin, v[i]->name);
        at = v[i]->end;
    }
    if (!rc && at != h->data_len)
        rc = fail(err, errlen, "tensors end at data byte %llu but the file holds %llu data bytes (trailing garbage?)",
                  (unsigned long long)at, (unsigned long long)h->data_len);
    free(v);
    return rc;
}

int st_header_parse(const uint8_t *buf, size_t len, StHeader *h, char *err, size_t errlen) {
    memset(h, 0, sizeof *h);
    if (len < 8) return fail(err, errlen, "file is %zu bytes, too short for the 8-byte header length (truncated?)", len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | buf[i];
    if (n > len - 8)
        return fail(err, errlen, "header length %llu exceeds the %zu bytes after it (truncated, or not a safetensors "
                    "file?)", (unsigned long long)n, len - 8);
    if (n > ST_MAX_HEADER)
        return fail(err, errlen, "header length %llu is over the format's limit of %u bytes", (unsigned long long)n,
                    ST_MAX_HEADER);
    if (n < 2 || buf[8] != '{')
        return fail(err, errlen, "header does not start with '{' (not a safetensors file?)");
    const char *js = (const char *)buf + 8, *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(js, (size_t)n, &end, 0);
    if (!root) {
        size_t at = cJSON_GetErrorPtr() && cJSON_GetErrorPtr() >= js ? (size_t)(cJSON_GetErrorPtr() - js) : 0;
        return fail(err, errlen, "header is not valid JSON (near byte %zu of %llu)", at, (unsigned long long)n);
    }
    // the format pads the header with spaces so that data starts aligned
    for (const char *p = end; p && p < js + n; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return fail(err, errlen, "header has bytes after its JSON object (at byte %zu of %llu)", (size_t)(p - js),
                        (unsigned long long)n);
        }
    int rc = 0;
    if (!cJSON_IsObject(root)) rc = fail(err, errlen, "header is not a JSON object");
    h->data_start = 8 + n;
    h->data_len = (uint64_t)len - h->data_start;
    int count = 0;
    for (const cJSON *e = rc ? NULL : root->child; e; e = e->next) count++;
    h->t = calloc((size_t)(count ? count : 1), sizeof *h->t);
    if (!h->t) rc = fail(err, errlen, "out of memory for %d tensors", count);
    for (const cJSON *e = rc ? NULL : root->child; e && !rc; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e)) rc = fail(err, errlen, "\"__metadata__\" is not a JSON object");
            for (const cJSON *m = rc ? NULL : e->child; m && !rc; m = m->next)
                if (!cJSON_IsString(m)) rc = fail(err, errlen, "\"__metadata__\" value \"%.64s\" is not a string", m->string);
            continue;
        }
        StTensor *t = &h->t[h->n];
        t->name = strdup(e->string);
        if (!t->name) rc = fail(err, errlen, "out of memory");
        else {
            h->n++;
            rc = parse_tensor(e, t, h->data_len, err, errlen);
        }
    }
    cJSON_Delete(root);
    if (!rc) rc = check_layout(h, err, errlen);
    if (rc) st_header_free(h);
    return rc;
}

void st_header_free(StHeader *h) {
    for (int i = 0; h->t && i < h->n; i++) free(h->t[i].name);
    free(h->t);
    memset(h, 0, sizeof *h);
}

int st_header_find(const StHeader *h, const char *name) {
    for (int i = 0; i < h->n; i++)
        if (strcmp(h->t[i].name, name) == 0) return i;
    return -1;
}

// A shard must sit next to the index: a name with a directory part could point anywhere on the machine.
static int plain_file_name(const char *s) {
    return s[0] && s[0] != '.' && !strchr(s, '/') && !strchr(s, '\\') && strlen(s) < 256;
}

int st_index_parse(const char *buf, size_t len, StIndex *ix, char *err, size_t errlen) {
    memset(ix, 0, sizeof *ix);
    cJSON *root = cJSON_ParseWithLength(buf, len);
    if (!root) return fail(err, errlen, "not valid JSON");
    int rc = 0;
    const cJSON *wm = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!cJSON_IsObject(wm)) rc = fail(err, errlen, "\"weight_map\" is missing or not a JSON object");
    int count = 0;
    for (const cJSON *e = rc ? NULL : wm->child; e; e = e->next) count++;
    if (!rc && count == 0) rc = fail(err, errlen, "\"weight_map\" is empty");
    if (!rc) {
        ix->names = calloc((size_t)count, sizeof *ix->names);
        ix->shard = calloc((size_t)count, sizeof *ix->shard);
        ix->files = calloc((size_t)count, sizeof *ix->files);
        if (!ix->names || !ix->shard || !ix->files) rc = fail(err, errlen, "out of memory for %d entries", count);
    }
    for (const cJSON *e = rc ? NULL : wm->child; e && !rc; e = e->next) {
        if (!cJSON_IsString(e)) {
            rc = fail(err, errlen, "weight_map entry '%.96s' is not a file name string", e->string);
            break;
        }
        if (!plain_file_name(e->valuestring)) {
            rc = fail(err, errlen, "weight_map entry '%.96s' names shard \"%.96s\": expected a plain file name in the "
                      "same folder", e->string, e->valuestring);
            break;
        }
        for (int i = 0; i < ix->n; i++)
            if (strcmp(ix->names[i], e->string) == 0) rc = fail(err, errlen, "tensor '%.96s' appears twice in weight_map", e->string);
        if (rc) break;
        int s = -1;
        for (int i = 0; i < ix->n_files && s < 0; i++)
            if (strcmp(ix->files[i], e->valuestring) == 0) s = i;
        if (s < 0) {
            if (!(ix->files[ix->n_files] = strdup(e->valuestring))) { rc = fail(err, errlen, "out of memory"); break; }
            s = ix->n_files++;
        }
        if (!(ix->names[ix->n] = strdup(e->string))) { rc = fail(err, errlen, "out of memory"); break; }
        ix->shard[ix->n++] = s;
    }
    cJSON_Delete(root);
    if (rc) st_index_free(ix);
    return rc;
}

void st_index_free(StIndex *ix) {
    for (int i = 0; ix->names && i < ix->n; i++) free(ix->names[i]);
    for (int i = 0; ix->files && i < ix->n_files; i++) free(ix->files[i]);
    free(ix->names);
    free(ix->shard);
    free(ix->files);
    memset(ix, 0, sizeof *ix);
}
