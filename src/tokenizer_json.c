// The JSON helpers both tokenizer loaders share (tokenizer_load.c for LLaMA-2's kind, tokenizer_bytelevel_load.c
// for the byte-level kind): error text, string and id checks, a value shortened for a message.
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shear/common.h"
#include "tokenizer_bpe.h"

void tok_seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int tok_is_string(const cJSON *j, const char *s) { return cJSON_IsString(j) && strcmp(j->valuestring, s) == 0; }

// A JSON value shortened for an error message.
void tok_brief_json(const cJSON *j, char *out, size_t n) {
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    snprintf(out, n, "%s", s ? s : "(absent)");
    if (s && strlen(s) >= n && n > 4) strcpy(out + n - 4, "...");
    free(s);
}

int tok_json_id(const cJSON *v, int32_t *id) {  // a JSON number that is a valid token id
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 16777216.0 ||
        v->valuedouble != (double)(int32_t)v->valuedouble)
        return 0;
    *id = (int32_t)v->valuedouble;
    return 1;
}

// model.merges in rank order ("left right" strings, or [left, right] arrays, the newer Hugging Face form) into
// t->pairs, each merge's (left id, right id) hashed into *h for the identity; sm maps piece strings to ids.
// Returns 0 with err set when an entry is malformed or names a piece the vocabulary lacks.
int tok_load_merges(Tokenizer *t, const cJSON *merges, const StrMap *sm, uint64_t *h, const char *path, char *err,
                    size_t errlen) {
    int n_merges = cJSON_GetArraySize(merges);
    size_t pcap = table_cap((size_t)n_merges);
    t->pairs = (PairMap){shear_calloc(pcap, sizeof(uint64_t)), shear_calloc(pcap, sizeof(int32_t)),
                         shear_calloc(pcap, sizeof(int32_t)), pcap - 1};
    char buf[1024];
    int rank = 0;
    for (const cJSON *m = merges->child; m; m = m->next, rank++) {
        const char *l = NULL, *r = NULL;
        size_t ln = 0, rn = 0;
        if (cJSON_IsString(m) && strchr(m->valuestring, ' ')) {
            l = m->valuestring;
            ln = (size_t)(strchr(l, ' ') - l);
            r = l + ln + 1;
            rn = strlen(r);
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
                   cJSON_IsString(m->child->next)) {
            l = m->child->valuestring, r = m->child->next->valuestring;
            ln = strlen(l), rn = strlen(r);
        } else {
            tok_brief_json(m, buf, 80);
            tok_seterr(err, errlen, "%s: model.merges[%d] is %s, expected a \"left right\" string", path, rank, buf);
            return 0;
        }
        int32_t li = strmap_get(sm, l, ln), ri = strmap_get(sm, r, rn), mi = -1;
        if (li >= 0 && ri >= 0 && ln + rn < sizeof buf) {
            memcpy(buf, l, ln);
            memcpy(buf + ln, r, rn);
            mi = strmap_get(sm, buf, ln + rn);
        }
        if (mi < 0) {
            tok_seterr(err, errlen, "%s: model.merges[%d] \"%.*s\" + \"%.*s\": %s not in model.vocab", path, rank,
                       (int)ln, l, (int)rn, r,
                       li < 0 ? "the left piece is" : ri < 0 ? "the right piece is" : "the merged piece is");
            return 0;
        }
        uint64_t key = ((uint64_t)(uint32_t)li << 32 | (uint32_t)ri) + 1;
        size_t s = mix64(key) & t->pairs.mask;
        while (t->pairs.keys[s] != 0 && t->pairs.keys[s] != key) s = (s + 1) & t->pairs.mask;
        if (t->pairs.keys[s] == 0) {  // a repeated merge keeps its first (best) rank
            t->pairs.keys[s] = key;
            t->pairs.ranks[s] = rank;
            t->pairs.merged[s] = mi;
        }
        uint32_t lr[2] = {(uint32_t)li, (uint32_t)ri};
        *h = fnv1a(*h, lr, sizeof lr);
    }
    return 1;
}

// model.vocab ({"piece": id}, ids already checked by tok_json_id, t->n_vocab set) into t->piece / t->piece_len
// and *sm (piece string -> id, allocated here). Returns 0 with err set on an id given twice or a piece listed twice.
int tok_load_vocab(Tokenizer *t, const cJSON *vocab, StrMap *sm, const char *path, char *err, size_t errlen) {
    t->piece = shear_calloc((size_t)t->n_vocab, sizeof(char *));
    t->piece_len = shear_calloc((size_t)t->n_vocab, sizeof(uint32_t));
    size_t cap = table_cap((size_t)t->n_vocab);
    *sm = (StrMap){shear_calloc(cap, sizeof(char *)), shear_calloc(cap, sizeof(uint32_t)),
                   shear_calloc(cap, sizeof(int32_t)), cap - 1};
    int32_t id = 0;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        tok_json_id(e, &id);
        size_t n = strlen(e->string);
        if (t->piece[id]) {
            tok_seterr(err, errlen, "%s: model.vocab gives id %d to both \"%s\" and \"%s\"", path, id, t->piece[id],
                       e->string);
            return 0;
        }
        t->piece[id] = shear_strdup(e->string);
        t->piece_len[id] = (uint32_t)n;
        if (!strmap_put(sm, t->piece[id], n, id)) {
            tok_seterr(err, errlen, "%s: model.vocab lists the piece \"%s\" twice", path, e->string);
            return 0;
        }
    }
    return 1;
}
