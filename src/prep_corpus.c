// Finding and reading a domain's documents for `shear prep`, UTF-8 validation, and the train/eval split by
// document (prep.h). Errors are returned as messages (never fatal here) so that the MPI command can agree on
// one error across ranks and remove its temporary file before exiting.
#include "shear/prep.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shear/common.h"
#include "shear/rng.h"

static int cmp_names(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

int corpus_list_domains(const char *input_dir, char names[][32], int max, char *err, size_t errlen) {
    DIR *dir = opendir(input_dir);
    if (!dir) {
        snprintf(err, errlen, "prep.input_dir '%s': %s; expected a folder with one sub-folder per domain", input_dir,
                 strerror(errno));
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        char path[2048];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", input_dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (strlen(e->d_name) >= 32 || n >= max) {
            snprintf(err, errlen, "prep.input_dir '%s': %s; expected at most %d domain folders with names under 32 bytes",
                     input_dir, n >= max ? "too many domain folders" : e->d_name, max);
            closedir(dir);
            return -1;
        }
        snprintf(names[n++], 32, "%s", e->d_name);
    }
    closedir(dir);
    qsort(names, (size_t)n, 32, cmp_names);
    if (n == 0) {
        snprintf(err, errlen, "prep.input_dir '%s' has no sub-folders; expected one folder of *.txt / *.jsonl per domain",
                 input_dir);
        return -1;
    }
    return n;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_files(const void *a, const void *b) {
    return strcmp(((const CorpusFile *)a)->path, ((const CorpusFile *)b)->path);
}

int corpus_list_files(const char *dir_path, CorpusFile **files, char *err, size_t errlen) {
    *files = NULL;
    DIR *dir = opendir(dir_path);
    if (!dir) {
        snprintf(err, errlen, "domain folder '%s': %s; expected a folder of *.txt / *.jsonl files", dir_path,
                 strerror(errno));
        return -1;
    }
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.' || !(ends_with(e->d_name, ".txt") || ends_with(e->d_name, ".jsonl"))) continue;
        CorpusFile cf;
        struct stat st;
        int len = snprintf(cf.path, sizeof cf.path, "%s/%s", dir_path, e->d_name);
        if (len < 0 || (size_t)len >= sizeof cf.path || stat(cf.path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        cf.size = (uint64_t)st.st_size;
        cf.jsonl = ends_with(e->d_name, ".jsonl");
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            CorpusFile *grown = realloc(*files, (size_t)cap * sizeof **files);
            if (!grown) SHEAR_DIE("out of memory listing '%s'", dir_path);
            *files = grown;
        }
        (*files)[n++] = cf;
    }
    closedir(dir);
    // sorted by name, so ranks and reruns agree on the document order
    if (n) qsort(*files, (size_t)n, sizeof **files, cmp_files);
    return n;
}

size_t utf8_valid_prefix(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c < 0x80) { i++; continue; }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;      // overlong
            if (c == 0xED) hi = 0x9F;      // surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;      // overlong
            if (c == 0xF4) hi = 0x8F;      // above U+10FFFF
        } else return i;
        if (i + need >= len) return i; // truncated sequence
        if (p[i + 1] < lo || p[i + 1] > hi) return i;
        for (size_t k = 2; k <= need; k++)
            if ((p[i + k] & 0xC0) != 0x80) return i;
        i += need + 1;
    }
    return len;
}

// 1-based line of byte offset `at` of a file (only on the error path: it rereads the file up to there).
static size_t line_of(const char *path, uint64_t at) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t line = 1;
    for (uint64_t i = 0; i < at; i++) {
        int c = fgetc(f);
        if (c == EOF) break;
        line += c == '\n';
    }
    fclose(f);
    return line;
}

static int read_txt(const CorpusFile *cf, CorpusDocFn fn, void *ctx, uint64_t *bytes, char *err, size_t errlen) {
    FILE *f = fopen(cf->path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open '%s': %s", cf->path, strerror(errno));
        return -1;
    }
    char *buf = shear_malloc(cf->size + 1);
    size_t got = fread(buf, 1, cf->size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != cf->size) {
        free(buf);
        snprintf(err, errlen, "cannot read '%s' (%zu of %llu bytes); was it changed during prep?", cf->path, got,
                 (unsigned long long)cf->size);
        return -1;
    }
    buf[got] = 0;
    *bytes += got;
    size_t ok = utf8_valid_prefix(buf, got);
    if (ok != got) {
        size_t col = ok;
        while (col > 0 && buf[col - 1] != '\n') col--;
        snprintf(err, errlen, "'%s' line %zu, column %zu: invalid UTF-8 (byte 0x%02X); expected UTF-8 text",
                 cf->path, line_of(cf->path, ok), ok - col + 1, (unsigned char)buf[ok]);
        free(buf);
        return -1;
    }
    int rc = got ? fn(buf, got, cf, ctx) : 0; // an empty file holds no document
    free(buf);
    return rc;
}

// cJSON keeps strings NUL-terminated: a "\u0000" escape would silently cut the text short.
static int has_nul_escape(const char *s, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\') continue;
        if (s[i + 1] == 'u' && i + 6 <= n && memcmp(s + i + 2, "0000", 4) == 0) return 1;
        i++; // skip the escaped character, so "\\u0000" (a backslash, then text) is not taken for one
    }
    return 0;
}

// One JSONL line (newline stripped) at byte `at` of its file.
static int jsonl_line(const CorpusFile *cf, char *line, size_t len, uint64_t at, CorpusDocFn fn, void *ctx,
                      char *err, size_t errlen) {
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
    size_t blank = 0;
    while (blank < len && (line[blank] == ' ' || line[blank] == '\t')) blank++;
    if (blank == len) return 0; // blank lines separate nothing and hold nothing
    size_t ok = utf8_valid_prefix(line, len);
    if (ok != len) {
        snprintf(err, errlen, "'%s' line %zu, column %zu: invalid UTF-8 (byte 0x%02X); expected UTF-8 text",
                 cf->path, line_of(cf->path, at), ok + 1, (unsigned char)line[ok]);
        return -1;
    }
    if (has_nul_escape(line, len)) {
        snprintf(err, errlen, "'%s' line %zu: a \\u0000 escape; expected text without U+0000", cf->path,
                 line_of(cf->path, at));
        return -1;
    }
    cJSON *obj = cJSON_ParseWithLength(line, len);
    const cJSON *text = obj ? cJSON_GetObjectItemCaseSensitive(obj, "text") : NULL;
    if (!cJSON_IsString(text) || !text->valuestring) {
        snprintf(err, errlen, "'%s' line %zu: %s; expected one JSON object per line with a \"text\" string", cf->path,
                 line_of(cf->path, at), obj ? "no \"text\" string field" : "not valid JSON");
        cJSON_Delete(obj);
        return -1;
    }
    size_t tlen = strlen(text->valuestring);
    int rc = 0;
    // \u escapes decode to UTF-8 too, but an escaped lone surrogate would not: check what the tokenizer sees
    if (utf8_valid_prefix(text->valuestring, tlen) != tlen) {
        snprintf(err, errlen, "'%s' line %zu: the \"text\" string decodes to invalid UTF-8; expected UTF-8 text",
                 cf->path, line_of(cf->path, at));
        rc = -1;
    } else if (tlen) {
        rc = fn(text->valuestring, tlen, cf, ctx);
    }
    cJSON_Delete(obj);
    return rc;
}

int corpus_read_range(const CorpusFile *files, int n_files, uint64_t lo, uint64_t hi, CorpusDocFn fn, void *ctx,
                      uint64_t *bytes_read, char *err, size_t errlen) {
    *bytes_read = 0;
    uint64_t file_start = 0;
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    for (int i = 0; i < n_files && rc == 0; i++) {
        const CorpusFile *cf = &files[i];
        uint64_t fs = file_start, fe = file_start + cf->size;
        file_start = fe;
        if (!cf->jsonl) {
            if (fs >= lo && fs < hi) rc = read_txt(cf, fn, ctx, bytes_read, err, errlen);
            continue;
        }
        if (fe <= lo || fs >= hi) continue;
        // the lines of this file that start in [a, b) (file offsets)
        uint64_t a = lo > fs ? lo - fs : 0, b = (hi < fe ? hi : fe) - fs;
        FILE *f = fopen(cf->path, "rb");
        if (!f) {
            snprintf(err, errlen, "cannot open '%s': %s", cf->path, strerror(errno));
            rc = -1;
            break;
        }
        uint64_t pos = 0;
        if (a > 0) { // a line starts at a only if the byte before it is a newline; else skip to the next line
            fseeko(f, (off_t)(a - 1), SEEK_SET);
            int c = fgetc(f);
            pos = a;
            if (c != '\n' && c != EOF) {
                ssize_t n = getline(&line, &cap, f);
                pos += n > 0 ? (uint64_t)n : 0;
            }
        }
        while (rc == 0 && pos < b) {
            ssize_t n = getline(&line, &cap, f);
            if (n <= 0) break;
            *bytes_read += (uint64_t)n;
            rc = jsonl_line(cf, line, (size_t)n, pos, fn, ctx, err, errlen);
            pos += (uint64_t)n;
        }
        if (rc == 0 && ferror(f)) {
            snprintf(err, errlen, "error reading '%s'", cf->path);
            rc = -1;
        }
        fclose(f);
    }
    free(line);
    return rc;
}

static uint32_t fnv1a32(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

void prep_split(const uint64_t *doc_tokens, uint64_t n_docs, uint64_t seed, const char *domain, uint64_t eval_seqs,
                uint64_t seq_len, uint64_t max_train_seqs, unsigned char *is_eval, PrepSplit *out) {
    memset(out, 0, sizeof *out);
    SHEAR_CHECK(n_docs < (1ull << 32), "domain '%s': %llu documents; at most 2^32 per domain", domain,
                (unsigned long long)n_docs);
    // Fisher-Yates over document indices, keyed by the domain's name so that adding or removing another domain
    // leaves this one's split alone. [n_docs]
    uint64_t *order = shear_malloc((size_t)n_docs * sizeof *order);
    for (uint64_t i = 0; i < n_docs; i++) order[i] = i;
    uint64_t key = (uint64_t)fnv1a32(domain) << 32;
    for (uint64_t i = n_docs; i > 1; i--) {
        uint64_t j = rng_u64(seed, RNG_STREAM_SHUFFLE, key | (i - 1)) % i;
        uint64_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    memset(is_eval, 0, (size_t)n_docs);
    uint64_t need = eval_seqs * seq_len;
    for (uint64_t k = 0; k < n_docs && out->eval_doc_tokens < need; k++) {
        is_eval[order[k]] = 1;
        out->eval_doc_tokens += doc_tokens[order[k]];
        out->eval_docs++;
    }
    free(order);
    for (uint64_t d = 0; d < n_docs; d++) out->tokens += doc_tokens[d];
    out->train_docs = n_docs - out->eval_docs;
    out->train_doc_tokens = out->tokens - out->eval_doc_tokens;
    out->n_eval = out->eval_doc_tokens >= need ? eval_seqs : out->eval_doc_tokens / seq_len;
    out->n_train = out->train_doc_tokens / seq_len;
    if (max_train_seqs > 0 && out->n_train > max_train_seqs) out->n_train = max_train_seqs;
    out->dropped = out->tokens - (out->n_eval + out->n_train) * seq_len;
    out->feasible = out->eval_doc_tokens >= need && out->n_train >= 1;
}
