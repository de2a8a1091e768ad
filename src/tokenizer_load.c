// Loading a Hugging Face tokenizer.json into a Tokenizer (tokenizer.h; encoding is in tokenizer.c): the
// normalizer, pre-tokenizer and decoder must be LLaMA-2's, every piece and merge is checked, and every
// rejection names the key or entry that is wrong.
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shear/common.h"
#include "tokenizer_internal.h"

// piece string -> id; used only while loading
typedef struct {
    const char **strs;  // [cap] NULL = empty slot
    uint32_t *lens;     // [cap]
    int32_t *ids;       // [cap]
    size_t mask;
} StrMap;

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}
#define FNV_OFFSET 0xcbf29ce484222325ULL

static int32_t strmap_get(const StrMap *m, const char *s, size_t n) {
    for (size_t i = mix64(fnv1a(FNV_OFFSET, s, n)) & m->mask;; i = (i + 1) & m->mask) {
        if (!m->strs[i]) return -1;
        if (m->lens[i] == n && memcmp(m->strs[i], s, n) == 0) return m->ids[i];
    }
}

static int strmap_put(StrMap *m, const char *s, size_t n, int32_t id) {  // 0 when s was already there
    size_t i = mix64(fnv1a(FNV_OFFSET, s, n)) & m->mask;
    for (; m->strs[i]; i = (i + 1) & m->mask)
        if (m->lens[i] == n && memcmp(m->strs[i], s, n) == 0) return 0;
    m->strs[i] = s;
    m->lens[i] = (uint32_t)n;
    m->ids[i] = id;
    return 1;
}

// ---------------------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------------------
// Loading

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *read_whole(const char *path, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        seterr(err, errlen, "cannot open tokenizer file '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 20, n = 0;
    char *buf = shear_malloc(cap);
    for (size_t got; (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) SHEAR_DIE("out of memory reading '%s' (%zu bytes)", path, cap);
            buf = nb;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        seterr(err, errlen, "cannot read tokenizer file '%s'", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int is_string(const cJSON *j, const char *s) { return cJSON_IsString(j) && strcmp(j->valuestring, s) == 0; }

// A JSON value shortened for an error message.
static void brief_json(const cJSON *j, char *out, size_t n) {
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    snprintf(out, n, "%s", s ? s : "(absent)");
    if (s && strlen(s) >= n && n > 4) strcpy(out + n - 4, "...");
    free(s);
}

// The normalization shear implements: LLaMA-2's normalizer Sequence[Prepend("▁"), Replace(" " -> "▁")] with
// no pre-tokenizer, or the later transformers form: no normalizer and a non-splitting Metaspace pre-tokenizer.
static int check_normalizer(const cJSON *root, const char *path, char *err, size_t errlen) {
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    int pre_none = !pre || cJSON_IsNull(pre);
    if (norm && !cJSON_IsNull(norm) && pre_none) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(norm, "normalizers");
        const cJSON *a = cJSON_IsArray(list) ? list->child : NULL, *b = a ? a->next : NULL;
        if (is_string(cJSON_GetObjectItemCaseSensitive(norm, "type"), "Sequence") && a && b && !b->next &&
            is_string(cJSON_GetObjectItemCaseSensitive(a, "type"), "Prepend") &&
            is_string(cJSON_GetObjectItemCaseSensitive(a, "prepend"), "\u2581") &&
            is_string(cJSON_GetObjectItemCaseSensitive(b, "type"), "Replace") &&
            is_string(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "pattern"), "String"),
                      " ") &&
            is_string(cJSON_GetObjectItemCaseSensitive(b, "content"), "\u2581"))
            return 1;
    }
    if ((!norm || cJSON_IsNull(norm)) && !pre_none &&
        is_string(cJSON_GetObjectItemCaseSensitive(pre, "type"), "Metaspace") &&
        is_string(cJSON_GetObjectItemCaseSensitive(pre, "replacement"), "\u2581") &&
        cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(pre, "split"))) {
        const cJSON *scheme = cJSON_GetObjectItemCaseSensitive(pre, "prepend_scheme");
        if (is_string(scheme, "first") || is_string(scheme, "always") ||
            (!scheme && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pre, "add_prefix_space"))))
            return 1;
    }
    char a[160], b[160];
    brief_json(norm, a, sizeof a);
    brief_json(pre, b, sizeof b);
    seterr(err, errlen,
           "%s: unsupported normalization: expected LLaMA-2's normalizer Sequence[Prepend \"\u2581\", Replace \" \" "
           "-> \"\u2581\"] with pre_tokenizer null (or no normalizer and a Metaspace pre_tokenizer with split "
           "false); found normalizer %s, pre_tokenizer %s",
           path, a, b);
    return 0;
}

static int json_id(const cJSON *v, int32_t *id) {  // a JSON number that is a valid token id
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 16777216.0 ||
        v->valuedouble != (double)(int32_t)v->valuedouble)
        return 0;
    *id = (int32_t)v->valuedouble;
    return 1;
}

// Parses the JSON into t; returns 0 (with err set) on any user error.
static int load_json(Tokenizer *t, const cJSON *root, const char *path, char *err, size_t errlen) {
    int ok = 0;
    StrMap sm = {0};
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) {
        seterr(err, errlen, "%s: no \"model\" object: expected a Hugging Face tokenizer.json", path);
        return 0;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (type && !is_string(type, "BPE")) {
        seterr(err, errlen, "%s: model.type is %s, expected \"BPE\" (LLaMA-2)", path,
               cJSON_IsString(type) ? type->valuestring : "not a string");
        return 0;
    }
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsObject(vocab) || !vocab->child) {
        seterr(err, errlen, "%s: model.vocab must be a non-empty object {piece: id}", path);
        return 0;
    }
    if (!cJSON_IsArray(merges)) {
        seterr(err, errlen, "%s: model.merges must be an array of \"left right\" strings", path);
        return 0;
    }
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added)) {
        seterr(err, errlen, "%s: added_tokens must be an array", path);
        return 0;
    }
    if (!check_normalizer(root, path, err, errlen)) return 0;

    // ids: model.vocab plus added tokens outside it; they must cover 0..n-1 with no hole
    int32_t max_id = -1, id = 0;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        if (!json_id(e, &id)) {
            seterr(err, errlen, "%s: model.vocab[\"%s\"] must be an integer id in [0, 2^24]", path, e->string);
            return 0;
        }
        if (id > max_id) max_id = id;
    }
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        if (!json_id(cJSON_GetObjectItemCaseSensitive(a, "id"), &id) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(a, "content"))) {
            seterr(err, errlen, "%s: every added_tokens entry needs an integer \"id\" and a string \"content\"", path);
            return 0;
        }
        if (id > max_id) max_id = id;
    }
    t->n_vocab = max_id + 1;
    t->piece = shear_calloc((size_t)t->n_vocab, sizeof(char *));
    t->piece_len = shear_calloc((size_t)t->n_vocab, sizeof(uint32_t));
    uint8_t *special = shear_calloc((size_t)t->n_vocab, 1);  // [n_vocab] skipped when decoding
    size_t cap = table_cap((size_t)t->n_vocab);
    sm = (StrMap){shear_calloc(cap, sizeof(char *)), shear_calloc(cap, sizeof(uint32_t)),
                  shear_calloc(cap, sizeof(int32_t)), cap - 1};
    for (const cJSON *e = vocab->child; e; e = e->next) {
        json_id(e, &id);
        size_t n = strlen(e->string);
        if (t->piece[id]) {
            seterr(err, errlen, "%s: model.vocab gives id %d to both \"%s\" and \"%s\"", path, id, t->piece[id],
                   e->string);
            goto done;
        }
        t->piece[id] = shear_strdup(e->string);
        t->piece_len[id] = (uint32_t)n;
        if (!strmap_put(&sm, t->piece[id], n, id)) {
            seterr(err, errlen, "%s: model.vocab lists the piece \"%s\" twice", path, e->string);
            goto done;
        }
    }
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        json_id(cJSON_GetObjectItemCaseSensitive(a, "id"), &id);
        const char *content = cJSON_GetObjectItemCaseSensitive(a, "content")->valuestring;
        if (!t->piece[id]) {
            t->piece[id] = shear_strdup(content);
            t->piece_len[id] = (uint32_t)strlen(content);
        } else if (strcmp(t->piece[id], content) != 0) {
            seterr(err, errlen, "%s: added_tokens gives id %d to \"%s\" but model.vocab has \"%s\"", path, id,
                   content, t->piece[id]);
            goto done;
        }
        // added tokens are never matched in text (SentencePiece behaviour: "<s>" in text is text)
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "special"))) special[id] = 1;
    }
    for (int i = 0; i < t->n_vocab; i++)
        if (!t->piece[i]) {
            seterr(err, errlen, "%s: no piece has id %d (ids must run 0..%d without holes)", path, i, max_id);
            goto done;
        }
    if (t->n_vocab <= TOKEN_EOS || strcmp(t->piece[TOKEN_BOS], "<s>") || strcmp(t->piece[TOKEN_EOS], "</s>")) {
        seterr(err, errlen, "%s: ids %d and %d must be \"<s>\" and \"</s>\" (LLaMA's BOS and EOS)", path, TOKEN_BOS,
               TOKEN_EOS);
        goto done;
    }

    // unknown token and byte fallback
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    t->unk_id = -1;
    if (cJSON_IsString(unk)) {
        t->unk_id = strmap_get(&sm, unk->valuestring, strlen(unk->valuestring));
        if (t->unk_id < 0) {
            seterr(err, errlen, "%s: model.unk_token \"%s\" is not in model.vocab", path, unk->valuestring);
            goto done;
        }
    }
    int byte_fallback = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"));
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_id[b] = byte_fallback ? strmap_get(&sm, name, 6) : -1;
        if (byte_fallback && t->byte_id[b] < 0) {
            seterr(err, errlen, "%s: model.byte_fallback is true but the piece \"%s\" is missing", path, name);
            goto done;
        }
    }
    if (!byte_fallback && t->unk_id < 0) {
        seterr(err, errlen, "%s: model needs byte_fallback true or an unk_token", path);
        goto done;
    }

    // 1-character pieces; whether any piece has "▁" after another code point (then chunks cannot be split)
    for (int i = 0; i < 128; i++) t->ascii_id[i] = -1;
    t->cps = (CpMap){shear_calloc(cap, sizeof(uint32_t)), shear_calloc(cap, sizeof(int32_t)), cap - 1};
    t->split_chunks = 1;
    for (int i = 0; i < t->n_vocab; i++) {
        const unsigned char *p = (const unsigned char *)t->piece[i];
        size_t n = t->piece_len[i], k = 0;
        uint32_t cp = 0;
        int prev_other = 0, len;
        for (; k < n && (len = utf8_decode(p + k, n - k, &cp)) > 0; k += (size_t)len) {
            if (cp == WS_CP && prev_other && !special[i]) t->split_chunks = 0;
            prev_other = cp != WS_CP;
        }
        if (k == n && n > 0 && n == (size_t)utf8_decode(p, n, &cp) && !special[i]) {
            if (cp < 128 && t->ascii_id[cp] < 0) t->ascii_id[cp] = i;
            else if (cp >= 128) cpmap_put(&t->cps, cp, i);
        }
    }
    t->ws_id = cpmap_get(&t->cps, WS_CP);
    if (t->ws_id < 0) {
        seterr(err, errlen, "%s: model.vocab has no \"\u2581\" piece (LLaMA's space)", path);
        goto done;
    }
    t->ascii_id[' '] = t->ws_id;

    // merges, in rank order: "left right" strings (or [left, right] arrays, the newer Hugging Face form)
    int n_merges = cJSON_GetArraySize(merges);
    size_t pcap = table_cap((size_t)n_merges);
    t->pairs = (PairMap){shear_calloc(pcap, sizeof(uint64_t)), shear_calloc(pcap, sizeof(int32_t)),
                         shear_calloc(pcap, sizeof(int32_t)), pcap - 1};
    uint64_t h = FNV_OFFSET;  // identity: pieces in id order, then merges as (left id, right id)
    for (int i = 0; i < t->n_vocab; i++) h = fnv1a(fnv1a(h, t->piece[i], t->piece_len[i]), "\xff", 1);
    char buf[512];
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
            brief_json(m, buf, 80);
            seterr(err, errlen, "%s: model.merges[%d] is %s, expected a \"left right\" string", path, rank, buf);
            goto done;
        }
        int32_t li = strmap_get(&sm, l, ln), ri = strmap_get(&sm, r, rn), mi = -1;
        if (li >= 0 && ri >= 0 && ln + rn < sizeof buf) {
            memcpy(buf, l, ln);
            memcpy(buf + ln, r, rn);
            mi = strmap_get(&sm, buf, ln + rn);
        }
        if (mi < 0) {
            seterr(err, errlen, "%s: model.merges[%d] \"%.*s\" + \"%.*s\": %s not in model.vocab", path, rank,
                   (int)ln, l, (int)rn, r, li < 0 ? "the left piece is" : ri < 0 ? "the right piece is" : "the merged piece is");
            goto done;
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
        h = fnv1a(h, lr, sizeof lr);
    }
    snprintf(t->identity, sizeof t->identity, "llama-bpe-v%d-%016" PRIx64, t->n_vocab, h);

    // decoded bytes of each piece: specials and the unknown token decode to nothing
    size_t total = 0;
    for (int i = 0; i < t->n_vocab; i++) total += t->piece_len[i];
    t->dec = shear_malloc(total + 1);
    t->dec_off = shear_malloc(((size_t)t->n_vocab + 1) * sizeof(uint32_t));
    size_t o = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        t->dec_off[i] = (uint32_t)o;
        const char *p = t->piece[i];
        size_t n = t->piece_len[i];
        if (special[i] || i == t->unk_id || i == TOKEN_BOS || i == TOKEN_EOS) continue;
        if (n == 6 && memcmp(p, "<0x", 3) == 0 && isxdigit((unsigned char)p[3]) && isxdigit((unsigned char)p[4]) &&
            p[5] == '>') {  // byte fallback token
            t->dec[o++] = (char)strtol((char[3]){p[3], p[4], 0}, NULL, 16);
            continue;
        }
        for (size_t k = 0; k < n;) {
            if (k + 3 <= n && memcmp(p + k, "\u2581", 3) == 0) { t->dec[o++] = ' '; k += 3; }
            else t->dec[o++] = p[k++];
        }
    }
    t->dec_off[t->n_vocab] = (uint32_t)o;
    ok = 1;
done:
    free(special);
    free(sm.strs);
    free(sm.lens);
    free(sm.ids);
    return ok;
}

Tokenizer *tokenizer_load(const char *path, char *err, size_t errlen) {
    size_t len = 0;
    char *text = read_whole(path, &len, err, errlen);
    if (!text) return NULL;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= text && at <= text + len ? (size_t)(at - text) : 0, line = 1, col = 1;
        for (size_t i = 0; i < off; i++) {
            if (text[i] == '\n') { line++; col = 1; }
            else col++;
        }
        seterr(err, errlen, "%s: not valid JSON (error at line %zu, column %zu); expected a Hugging Face "
               "tokenizer.json", path, line, col);
        free(text);
        return NULL;
    }
    free(text);
    Tokenizer *t = shear_calloc(1, sizeof(Tokenizer));
    int ok = cJSON_IsObject(root) ? load_json(t, root, path, err, errlen) : 0;
    if (!cJSON_IsObject(root)) seterr(err, errlen, "%s: expected a JSON object (a Hugging Face tokenizer.json)", path);
    cJSON_Delete(root);
    if (!ok) {
        tokenizer_free(t);
        return NULL;
    }
    return t;
}
