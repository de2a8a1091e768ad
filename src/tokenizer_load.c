// Loading a Hugging Face tokenizer.json into a Tokenizer (tokenizer.h; encoding is in tokenizer.c): a
// ByteLevel pre-tokenizer or decoder hands the file to tokenizer_bytelevel.c; otherwise the normalizer,
// pre-tokenizer and decoder must be LLaMA-2's, every piece and merge is checked, and every
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
#include "tokenizer_bpe.h"

// ---------------------------------------------------------------------------------------------------------
// Loading


static char *read_whole(const char *path, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        tok_seterr(err, errlen, "cannot open tokenizer file '%s': %s", path, strerror(errno));
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
        tok_seterr(err, errlen, "cannot read tokenizer file '%s'", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
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
        if (tok_is_string(cJSON_GetObjectItemCaseSensitive(norm, "type"), "Sequence") && a && b && !b->next &&
            tok_is_string(cJSON_GetObjectItemCaseSensitive(a, "type"), "Prepend") &&
            tok_is_string(cJSON_GetObjectItemCaseSensitive(a, "prepend"), "\u2581") &&
            tok_is_string(cJSON_GetObjectItemCaseSensitive(b, "type"), "Replace") &&
            tok_is_string(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "pattern"), "String"),
                      " ") &&
            tok_is_string(cJSON_GetObjectItemCaseSensitive(b, "content"), "\u2581"))
            return 1;
    }
    if ((!norm || cJSON_IsNull(norm)) && !pre_none &&
        tok_is_string(cJSON_GetObjectItemCaseSensitive(pre, "type"), "Metaspace") &&
        tok_is_string(cJSON_GetObjectItemCaseSensitive(pre, "replacement"), "\u2581") &&
        cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(pre, "split"))) {
        const cJSON *scheme = cJSON_GetObjectItemCaseSensitive(pre, "prepend_scheme");
        if (tok_is_string(scheme, "first") || tok_is_string(scheme, "always") ||
            (!scheme && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pre, "add_prefix_space"))))
            return 1;
    }
    char a[160], b[160];
    tok_brief_json(norm, a, sizeof a);
    tok_brief_json(pre, b, sizeof b);
    tok_seterr(err, errlen,
               "%s: unsupported normalization: expected a ByteLevel pre_tokenizer (byte-level BPE: Llama 3, Qwen) or "
               "LLaMA-2's normalizer Sequence[Prepend \"\u2581\", Replace \" \" "
               "-> \"\u2581\"] with pre_tokenizer null (or no normalizer and a Metaspace pre_tokenizer with split "
               "false); found normalizer %s, pre_tokenizer %s",
               path, a, b);
    return 0;
}


// Parses the JSON into t; returns 0 (with err set) on any user error.
static int load_json(Tokenizer *t, const cJSON *root, const char *path, char *err, size_t errlen) {
    int ok = 0;
    StrMap sm = {0};
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) {
        tok_seterr(err, errlen, "%s: no \"model\" object: expected a Hugging Face tokenizer.json", path);
        return 0;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (type && !tok_is_string(type, "BPE")) {
        tok_seterr(err, errlen, "%s: model.type is %s, expected \"BPE\" (LLaMA-2, Llama 3, Qwen)", path,
                   cJSON_IsString(type) ? type->valuestring : "not a string");
        return 0;
    }
    if (bytelevel_detect(root)) {
        t->kind = TOKENIZER_BYTELEVEL;
        return bytelevel_load(t, root, path, err, errlen);
    }
    t->kind = TOKENIZER_SENTENCEPIECE;
    t->bos_id = TOKEN_BOS;
    t->eos_id = TOKEN_EOS;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsObject(vocab) || !vocab->child) {
        tok_seterr(err, errlen, "%s: model.vocab must be a non-empty object {piece: id}", path);
        return 0;
    }
    if (!cJSON_IsArray(merges)) {
        tok_seterr(err, errlen, "%s: model.merges must be an array of \"left right\" strings", path);
        return 0;
    }
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added)) {
        tok_seterr(err, errlen, "%s: added_tokens must be an array", path);
        return 0;
    }
    if (!check_normalizer(root, path, err, errlen)) return 0;

    // ids: model.vocab plus added tokens outside it; they must cover 0..n-1 with no hole
    int32_t max_id = -1, id = 0;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        if (!tok_json_id(e, &id)) {
            tok_seterr(err, errlen, "%s: model.vocab[\"%s\"] must be an integer id in [0, 2^24]", path, e->string);
            return 0;
        }
        if (id > max_id) max_id = id;
    }
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        if (!tok_json_id(cJSON_GetObjectItemCaseSensitive(a, "id"), &id) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(a, "content"))) {
            tok_seterr(err, errlen, "%s: every added_tokens entry needs an integer \"id\" and a string \"content\"",
                       path);
            return 0;
        }
        if (id > max_id) max_id = id;
    }
    t->n_vocab = max_id + 1;
    uint8_t *special = shear_calloc((size_t)t->n_vocab, 1);  // [n_vocab] skipped when decoding
    if (!tok_load_vocab(t, vocab, &sm, path, err, errlen)) goto done;
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        tok_json_id(cJSON_GetObjectItemCaseSensitive(a, "id"), &id);
        const char *content = cJSON_GetObjectItemCaseSensitive(a, "content")->valuestring;
        if (!t->piece[id]) {
            t->piece[id] = shear_strdup(content);
            t->piece_len[id] = (uint32_t)strlen(content);
        } else if (strcmp(t->piece[id], content) != 0) {
            tok_seterr(err, errlen, "%s: added_tokens gives id %d to \"%s\" but model.vocab has \"%s\"", path, id,
                       content, t->piece[id]);
            goto done;
        }
        // added tokens are never matched in text (SentencePiece behaviour: "<s>" in text is text)
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "special"))) special[id] = 1;
    }
    for (int i = 0; i < t->n_vocab; i++)
        if (!t->piece[i]) {
            tok_seterr(err, errlen, "%s: no piece has id %d (ids must run 0..%d without holes)", path, i, max_id);
            goto done;
        }
    if (t->n_vocab <= TOKEN_EOS || strcmp(t->piece[TOKEN_BOS], "<s>") || strcmp(t->piece[TOKEN_EOS], "</s>")) {
        tok_seterr(err, errlen, "%s: ids %d and %d must be \"<s>\" and \"</s>\" (LLaMA's BOS and EOS)", path, TOKEN_BOS,
                   TOKEN_EOS);
        goto done;
    }

    // unknown token and byte fallback
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    t->unk_id = -1;
    if (cJSON_IsString(unk)) {
        t->unk_id = strmap_get(&sm, unk->valuestring, strlen(unk->valuestring));
        if (t->unk_id < 0) {
            tok_seterr(err, errlen, "%s: model.unk_token \"%s\" is not in model.vocab", path, unk->valuestring);
            goto done;
        }
    }
    int byte_fallback = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"));
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_id[b] = byte_fallback ? strmap_get(&sm, name, 6) : -1;
        if (byte_fallback && t->byte_id[b] < 0) {
            tok_seterr(err, errlen, "%s: model.byte_fallback is true but the piece \"%s\" is missing", path, name);
            goto done;
        }
    }
    if (!byte_fallback && t->unk_id < 0) {
        tok_seterr(err, errlen, "%s: model needs byte_fallback true or an unk_token", path);
        goto done;
    }

    // 1-character pieces; whether any piece has "▁" after another code point (then chunks cannot be split)
    for (int i = 0; i < 128; i++) t->ascii_id[i] = -1;
    size_t cap = sm.mask + 1;  // as large as the vocabulary's map
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
        tok_seterr(err, errlen, "%s: model.vocab has no \"\u2581\" piece (LLaMA's space)", path);
        goto done;
    }
    t->ascii_id[' '] = t->ws_id;

    // merges, in rank order: "left right" strings (or [left, right] arrays, the newer Hugging Face form)
    uint64_t h = FNV_OFFSET;  // identity: pieces in id order, then merges as (left id, right id)
    for (int i = 0; i < t->n_vocab; i++) h = fnv1a(fnv1a(h, t->piece[i], t->piece_len[i]), "\xff", 1);
    if (!tok_load_merges(t, merges, &sm, &h, path, err, errlen)) goto done;
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
        tok_seterr(err, errlen, "%s: not valid JSON (error at line %zu, column %zu); expected a Hugging Face "
                   "tokenizer.json", path, line, col);
        free(text);
        return NULL;
    }
    free(text);
    Tokenizer *t = shear_calloc(1, sizeof(Tokenizer));
    int ok = cJSON_IsObject(root) ? load_json(t, root, path, err, errlen) : 0;
    if (!cJSON_IsObject(root))
        tok_seterr(err, errlen, "%s: expected a JSON object (a Hugging Face tokenizer.json)", path);
    cJSON_Delete(root);
    if (!ok) {
        tokenizer_free(t);
        return NULL;
    }
    return t;
}
