// Loading a byte-level BPE tokenizer.json (tokenizer_bytelevel.c says how it encodes): normalizer null or NFC,
// pre-tokenizer ByteLevel (GPT-2's regex) or Sequence[Split(Regex, Isolated), ByteLevel], decoder ByteLevel,
// post-processor ByteLevel or a TemplateProcessing BOS; every piece must be spelled in GPT-2's byte alphabet,
// every byte must have a piece, every merge must name pieces. Each rejection names the key that is wrong.
// Regex dialect: the files are written for Oniguruma, whose \s is Unicode White_Space (U+0085 included);
// PCRE2's \s under UCP lacks U+0085, so \s and \S are rewritten to an explicit class before compiling.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shear/common.h"
#include "tokenizer_bpe.h"

// GPT-2's pattern, what a ByteLevel pre-tokenizer with use_regex true splits by
static const char GPT2_PATTERN[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
// Oniguruma's \s (Unicode White_Space) as a class body: Zs, Zl, Zp, TAB..CR and NEL
static const char WHITE_SPACE[] = "\\t-\\r\\x{85}\\p{Z}";

static int is_type(const cJSON *j, const char *type) {
    return cJSON_IsObject(j) && tok_is_string(cJSON_GetObjectItemCaseSensitive(j, "type"), type);
}

int bytelevel_detect(const cJSON *root) {
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (is_type(pre, "ByteLevel") || is_type(cJSON_GetObjectItemCaseSensitive(root, "decoder"), "ByteLevel"))
        return 1;
    const cJSON *list = is_type(pre, "Sequence") ? cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers") : NULL;
    for (const cJSON *p = cJSON_IsArray(list) ? list->child : NULL; p; p = p->next)
        if (is_type(p, "ByteLevel")) return 1;
    return 0;
}

// ---------------------------------------------------------------------------------------------------------
// Loading

// Rewrites \s and \S of an Oniguruma pattern for PCRE2 (see top of file). 0 when out is too small or \S
// appears inside a class (no class body can say "not white space" there).
static int translate_pattern(const char *in, char *out, size_t cap) {
    size_t o = 0;
    int in_class = 0;
#define EMIT(str)                                         \
    do {                                                  \
        size_t l_ = strlen(str);                          \
        if (o + l_ >= cap) return 0;                      \
        memcpy(out + o, str, l_);                         \
        o += l_;                                          \
    } while (0)
    for (const char *p = in; *p; p++) {
        if (*p == '\\' && p[1]) {
            if (p[1] == 's') {
                if (in_class) EMIT(WHITE_SPACE);
                else { EMIT("["); EMIT(WHITE_SPACE); EMIT("]"); }
            } else if (p[1] == 'S') {
                if (in_class) return 0;
                EMIT("[^"); EMIT(WHITE_SPACE); EMIT("]");
            } else {
                char two[3] = {p[0], p[1], 0};
                EMIT(two);
            }
            p++;
            continue;
        }
        if (*p == '[' && !in_class) {
            in_class = 1;
            EMIT("[");
            if (p[1] == '^') { EMIT("^"); p++; }
            if (p[1] == ']') { EMIT("]"); p++; }  // a leading ']' is a literal
            continue;
        }
        if (*p == ']' && in_class) in_class = 0;
        char one[2] = {*p, 0};
        EMIT(one);
    }
#undef EMIT
    out[o] = 0;
    return 1;
}

static int compile_pattern(ByteLevel *bl, const char *pattern, const char *path, char *err, size_t errlen) {
    if (!translate_pattern(pattern, bl->pattern, sizeof bl->pattern)) {
        tok_seterr(err, errlen, "%s: pre_tokenizer regex has \\S inside a class, or is over %zu bytes once \\s is "
                   "spelled out for PCRE2: not supported", path, sizeof bl->pattern - 1);
        return 0;
    }
    int code;
    PCRE2_SIZE at;
    bl->re = pcre2_compile((PCRE2_SPTR)bl->pattern, PCRE2_ZERO_TERMINATED,
                           PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &at, NULL);
    if (!bl->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        tok_seterr(err, errlen, "%s: pre_tokenizer regex does not compile (PCRE2: %s at offset %zu of \"%s\")", path,
                   (char *)msg, (size_t)at, pattern);
        return 0;
    }
    pcre2_jit_compile(bl->re, PCRE2_JIT_COMPLETE);  // falls back to the interpreter where JIT is not available
    return 1;
}

// The pre-tokenizer: ByteLevel(use_regex) alone, or Sequence[Split(Regex, Isolated), ByteLevel(no regex)].
static int load_pre_tokenizer(ByteLevel *bl, const cJSON *pre, const char *path, char *err, size_t errlen) {
    const cJSON *split = NULL, *bytelevel = NULL;
    if (is_type(pre, "ByteLevel")) bytelevel = pre;
    else if (is_type(pre, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
        const cJSON *a = cJSON_IsArray(list) ? list->child : NULL, *b = a ? a->next : NULL;
        if (a && b && !b->next && is_type(a, "Split") && is_type(b, "ByteLevel")) split = a, bytelevel = b;
    }
    char what[200];
    if (!bytelevel) {
        tok_brief_json(pre, what, sizeof what);
        tok_seterr(err, errlen, "%s: byte-level tokenizer with pre_tokenizer %s: expected ByteLevel or Sequence[Split, "
                   "ByteLevel] (Llama 3, Qwen)", path, what);
        return 0;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(bytelevel, "add_prefix_space"))) {
        tok_seterr(err, errlen, "%s: pre_tokenizer ByteLevel add_prefix_space true is not supported (Llama 3 and Qwen "
                   "have false)", path);
        return 0;
    }
    int use_regex = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(bytelevel, "use_regex"));  // default true
    if (split && use_regex) {
        tok_seterr(err, errlen, "%s: pre_tokenizer has both a Split and a ByteLevel with use_regex true: not "
                   "supported", path);
        return 0;
    }
    if (!split) {
        if (!use_regex) {
            tok_seterr(err, errlen, "%s: pre_tokenizer ByteLevel with use_regex false and no Split: not supported",
                       path);
            return 0;
        }
        return compile_pattern(bl, GPT2_PATTERN, path, err, errlen);
    }
    const cJSON *regex = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(split, "pattern"), "Regex");
    if (!cJSON_IsString(regex) || !tok_is_string(cJSON_GetObjectItemCaseSensitive(split, "behavior"), "Isolated") ||
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(split, "invert"))) {
        tok_brief_json(split, what, sizeof what);
        tok_seterr(err, errlen, "%s: pre_tokenizer Split %s: expected a \"Regex\" pattern, behavior \"Isolated\", "
                   "invert false", path, what);
        return 0;
    }
    return compile_pattern(bl, regex->valuestring, path, err, errlen);
}

// The BOS from the post-processor: TemplateProcessing's single = [SpecialToken X, Sequence A] gives X; single
// = [Sequence A] and ByteLevel give none. A Sequence of processors is read through.
static int load_post_processor(Tokenizer *t, const cJSON *post, const StrMap *added, const char *path, char *err,
                               size_t errlen) {
    char what[200];
    if (!post || cJSON_IsNull(post) || is_type(post, "ByteLevel")) return 1;
    if (is_type(post, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(post, "processors");
        for (const cJSON *p = cJSON_IsArray(list) ? list->child : NULL; p; p = p->next)
            if (!load_post_processor(t, p, added, path, err, errlen)) return 0;
        return 1;
    }
    if (is_type(post, "TemplateProcessing")) {
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(post, "single");
        int seen_seq = 0, ok = cJSON_IsArray(single);
        for (const cJSON *e = ok ? single->child : NULL; e && ok; e = e->next) {
            const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
            if (cJSON_GetObjectItemCaseSensitive(e, "Sequence")) { ok = !seen_seq; seen_seq = 1; continue; }
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(sp, "id");
            // only one special token, before the text: a BOS
            if (!cJSON_IsString(name) || seen_seq || t->bos_id >= 0) { ok = 0; break; }
            t->bos_id = strmap_get(added, name->valuestring, strlen(name->valuestring));
            if (t->bos_id < 0) {
                tok_seterr(err, errlen, "%s: post_processor adds \"%s\", which is not among added_tokens", path,
                           name->valuestring);
                return 0;
            }
        }
        if (ok && seen_seq) return 1;
    }
    tok_brief_json(post, what, sizeof what);
    tok_seterr(err, errlen, "%s: post_processor %s: expected ByteLevel, or TemplateProcessing whose \"single\" is at "
               "most one SpecialToken (the BOS) then the sequence", path, what);
    return 0;
}

static int cmp_added(const void *a, const void *b) {
    const AddedTok *x = a, *y = b;
    unsigned char fx = (unsigned char)x->text[0], fy = (unsigned char)y->text[0];
    if (fx != fy) return fx < fy ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int bytelevel_load(Tokenizer *t, const cJSON *root, const char *path, char *err, size_t errlen) {
    int ok = 0;
    char what[200];
    StrMap sm = {0}, am = {0};  // vocabulary piece -> id; added token content -> id
    uint8_t *is_added = NULL;   // [n_vocab]
    ByteLevel *bl = t->bl = shear_calloc(1, sizeof(ByteLevel));
    t->bos_id = t->eos_id = t->unk_id = -1;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    if (!cJSON_IsObject(vocab) || !vocab->child || !cJSON_IsArray(merges)) {
        tok_seterr(err, errlen, "%s: model.vocab must be a non-empty object {piece: id} and model.merges an array",
                   path);
        return 0;
    }
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added)) {
        tok_seterr(err, errlen, "%s: added_tokens must be an array", path);
        return 0;
    }
    if (norm && !cJSON_IsNull(norm) && !is_type(norm, "NFC")) {
        tok_brief_json(norm, what, sizeof what);
        tok_seterr(err, errlen, "%s: byte-level tokenizer with normalizer %s: expected null (Llama 3) or NFC (Qwen)",
                   path, what);
        return 0;
    }
    bl->nfc = is_type(norm, "NFC");
    if (!is_type(dec, "ByteLevel")) {
        tok_brief_json(dec, what, sizeof what);
        tok_seterr(err, errlen, "%s: byte-level tokenizer with decoder %s: expected ByteLevel", path, what);
        return 0;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"))) {
        tok_seterr(err, errlen, "%s: model.byte_fallback true with a ByteLevel pre_tokenizer: not supported", path);
        return 0;
    }
    const char *affix[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int k = 0; k < 2; k++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(model, affix[k]);
        if (a && !cJSON_IsNull(a) && !tok_is_string(a, "")) {
            tok_seterr(err, errlen, "%s: model.%s must be null or \"\" for byte-level BPE", path, affix[k]);
            return 0;
        }
    }
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (dropout && !cJSON_IsNull(dropout) && !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0)) {
        tok_seterr(err, errlen, "%s: model.dropout must be null (BPE dropout is random, not for a fixed corpus)", path);
        return 0;
    }
    bl->ignore_merges = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"));
    if (!load_pre_tokenizer(bl, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), path, err, errlen)) return 0;

    // ids: model.vocab plus added tokens; they must cover 0..n-1 with no hole
    int32_t max_id = -1, id = 0;
    int n_added = 0;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        if (!tok_json_id(e, &id)) {
            tok_seterr(err, errlen, "%s: model.vocab[\"%s\"] must be an integer id in [0, 2^24]", path, e->string);
            return 0;
        }
        if (id > max_id) max_id = id;
    }
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next, n_added++) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(a, "content");
        if (!tok_json_id(cJSON_GetObjectItemCaseSensitive(a, "id"), &id) || !cJSON_IsString(content) ||
            !content->valuestring[0]) {
            tok_seterr(err, errlen, "%s: every added_tokens entry needs an integer \"id\" and a non-empty string "
                       "\"content\"", path);
            return 0;
        }
        const char *flags[] = {"lstrip", "rstrip", "single_word"};
        for (int k = 0; k < 3; k++)
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, flags[k]))) {
                tok_seterr(err, errlen, "%s: added token \"%s\" has %s true: not supported (Llama 3 and Qwen have "
                           "false)", path, content->valuestring, flags[k]);
                return 0;
            }
        if (id > max_id) max_id = id;
    }
    t->n_vocab = max_id + 1;
    is_added = shear_calloc((size_t)t->n_vocab, 1);
    size_t acap = table_cap((size_t)n_added);
    am = (StrMap){shear_calloc(acap, sizeof(char *)), shear_calloc(acap, sizeof(uint32_t)),
                  shear_calloc(acap, sizeof(int32_t)), acap - 1};
    if (!tok_load_vocab(t, vocab, &sm, path, err, errlen)) goto done;
    bl->added = shear_calloc((size_t)n_added + 1, sizeof(AddedTok));
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
        if (!strmap_put(&am, t->piece[id], t->piece_len[id], id)) {
            tok_seterr(err, errlen, "%s: added_tokens lists \"%s\" twice", path, content);
            goto done;
        }
        is_added[id] = 1;
        bl->added[bl->n_added++] = (AddedTok){t->piece[id], t->piece_len[id], id};
    }
    for (int i = 0; i < t->n_vocab; i++)
        if (!t->piece[i]) {
            tok_seterr(err, errlen, "%s: no piece has id %d (ids must run 0..%d without holes)", path, i, max_id);
            goto done;
        }
    qsort(bl->added, (size_t)bl->n_added, sizeof(AddedTok), cmp_added);
    for (int b = 0, k = 0; b <= 256; b++) {
        while (k < bl->n_added && (unsigned char)bl->added[k].text[0] < b) k++;
        bl->first[b] = k;
    }
    const char *eos_names[] = {"<|end_of_text|>", "<|endoftext|>", "</s>"};
    for (int k = 0; k < 3 && t->eos_id < 0; k++) t->eos_id = strmap_get(&am, eos_names[k], strlen(eos_names[k]));
    if (t->eos_id < 0) {
        tok_seterr(err, errlen, "%s: no end-of-text token among added_tokens (expected \"<|end_of_text|>\" as Llama 3, "
                   "or \"<|endoftext|>\" as Qwen)", path);
        goto done;
    }
    if (!load_post_processor(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), &am, path, err, errlen))
        goto done;

    // raw bytes of each piece: vocabulary pieces through the byte-to-unicode table, added tokens as they are
    uint32_t cp_of[256];
    int16_t byte_of[324];  // inverse table over U+0000..U+0143, -1 outside the alphabet
    byte_to_unicode(cp_of);
    for (int c = 0; c < 324; c++) byte_of[c] = -1;
    for (int b = 0; b < 256; b++) byte_of[cp_of[b]] = (int16_t)b;
    size_t total = 0;
    for (int i = 0; i < t->n_vocab; i++) total += t->piece_len[i];
    t->dec = shear_malloc(total + 1);
    t->dec_off = shear_malloc(((size_t)t->n_vocab + 1) * sizeof(uint32_t));
    size_t o = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        t->dec_off[i] = (uint32_t)o;
        const unsigned char *p = (const unsigned char *)t->piece[i];
        size_t n = t->piece_len[i];
        if (is_added[i]) {
            memcpy(t->dec + o, p, n);
            o += n;
            continue;
        }
        for (size_t k = 0; k < n;) {
            uint32_t cp = 0;
            int len = utf8_decode(p + k, n - k, &cp);
            if (len == 0 || cp >= 324 || byte_of[cp] < 0) {
                tok_seterr(err, errlen, "%s: model.vocab piece \"%s\" (id %d) has a character outside the byte-level "
                           "alphabet: not a ByteLevel vocabulary", path, t->piece[i], i);
                goto done;
            }
            t->dec[o++] = (char)byte_of[cp];
            k += (size_t)len;
        }
    }
    t->dec_off[t->n_vocab] = (uint32_t)o;
    bl->raw = (StrMap){shear_calloc(sm.mask + 1, sizeof(char *)), shear_calloc(sm.mask + 1, sizeof(uint32_t)),
                       shear_calloc(sm.mask + 1, sizeof(int32_t)), sm.mask};  // as large as the vocabulary's map
    for (int i = 0; i < t->n_vocab; i++)
        if (!is_added[i]) strmap_put(&bl->raw, t->dec + t->dec_off[i], t->dec_off[i + 1] - t->dec_off[i], i);
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        bl->byte_id[b] = strmap_get(&bl->raw, &c, 1);
        if (bl->byte_id[b] < 0) {
            tok_seterr(err, errlen, "%s: model.vocab has no piece for the byte 0x%02X (U+%04X): every byte needs one "
                       "in a ByteLevel vocabulary", path, b, cp_of[b]);
            goto done;
        }
    }

    // merges, in rank order: "left right" strings or [left, right] arrays
    uint64_t h = fnv1a(FNV_OFFSET, bl->pattern, strlen(bl->pattern));  // identity: pattern, flags, pieces, merges
    int flags[3] = {bl->nfc, bl->ignore_merges, t->bos_id};
    h = fnv1a(h, flags, sizeof flags);
    for (int i = 0; i < t->n_vocab; i++)
        h = fnv1a(fnv1a(h, t->piece[i], t->piece_len[i]), is_added[i] ? "\xfe" : "\xff", 1);
    if (!tok_load_merges(t, merges, &sm, &h, path, err, errlen)) goto done;
    snprintf(t->identity, sizeof t->identity, "bytelevel-bpe-v%d-%016" PRIx64, t->n_vocab, h);
    ok = 1;
done:
    free(is_added);
    free(sm.strs);
    free(sm.lens);
    free(sm.ids);
    free(am.strs);
    free(am.lens);
    free(am.ids);
    return ok;
}

