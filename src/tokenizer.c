// The LLaMA-2 tokenizer (tokenizer.h) and the calls both kinds answer: loads a Hugging Face
// tokenizer.json (BPE, byte fallback) and encodes exactly as SentencePiece does (../shared/spec/data.md, "The LLaMA-2 tokenizer"):
//   s = "▁" + text with every ' ' replaced by "▁"; one symbol per code point (its 1-character piece, else one
//   byte token <0xHH> per UTF-8 byte; invalid UTF-8 bytes are byte tokens); then repeatedly merge the adjacent
//   pair of lowest merge rank, leftmost first. A literal "<s>" in text is text.
// Speed: s is cut before every "▁" that follows a non-"▁" code point. No LLaMA piece crosses such a point
// (checked at load; when a vocabulary has such a piece the text is encoded whole), so the chunks, mostly single
// words, are merged independently with a linked list + min-heap whose stale entries are skipped on pop.
// Loading tokenizer.json is in tokenizer_load.c, the merge loop in tokenizer_bpe.c.
#include "shear/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "shear/common.h"
#include "tokenizer_bpe.h"

int tokenizer_vocab_size(const Tokenizer *t) { return t->n_vocab; }
const char *tokenizer_identity(const Tokenizer *t) { return t->identity; }
TokenizerKind tokenizer_kind(const Tokenizer *t) { return t->kind; }
int32_t tokenizer_bos_id(const Tokenizer *t) { return t->bos_id; }
int32_t tokenizer_eos_id(const Tokenizer *t) { return t->eos_id; }

void tokenizer_free(Tokenizer *t) {
    if (!t) return;
    if (t->piece)
        for (int i = 0; i < t->n_vocab; i++) free(t->piece[i]);
    free(t->piece);
    free(t->piece_len);
    free(t->dec);
    free(t->dec_off);
    free(t->cps.keys);
    free(t->cps.ids);
    free(t->pairs.keys);
    free(t->pairs.ranks);
    free(t->pairs.merged);
    bytelevel_free(t->bl);
    free(t);
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

size_t tokenizer_encode(const Tokenizer *t, const char *text, size_t len, int bos, int32_t **out, size_t *cap) {
    if (t->kind == TOKENIZER_BYTELEVEL) return bytelevel_encode(t, text, len, bos, out, cap);
    size_t n = 0;
    if (*cap < 16 || !*out) {
        *cap = *cap < 16 ? 16 : *cap;
        *out = tok_grow(*out, *cap * sizeof(int32_t));
    }
    if (bos) (*out)[n++] = TOKEN_BOS;
    if (len == 0) return n;
    Work w = {0};
    const unsigned char *s = (const unsigned char *)text;
    work_add(&w, t->ws_id);  // the prepended "▁"
    int prev_ws = 1;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = utf8_decode(s + i, len - i, &cp);
        if (k == 0) {  // invalid UTF-8: this byte alone, as a byte token
            work_add(&w, t->byte_id[s[i]] >= 0 ? t->byte_id[s[i]] : t->unk_id);
            prev_ws = 0;
            i++;
            continue;
        }
        int ws = cp == ' ' || cp == WS_CP;
        if (ws && !prev_ws && t->split_chunks) n = work_merge(t, &w, out, cap, n);
        prev_ws = ws;
        int32_t id = cp < 128 ? t->ascii_id[cp] : cpmap_get(&t->cps, cp);  // ' ' -> "▁"
        if (id >= 0) work_add(&w, id);
        else if (t->byte_id[s[i]] >= 0)
            for (int b = 0; b < k; b++) work_add(&w, t->byte_id[s[i + b]]);
        else work_add(&w, t->unk_id);
        i += (size_t)k;
    }
    n = work_merge(t, &w, out, cap, n);
    work_free(&w);
    return n;
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

char *tokenizer_decode(const Tokenizer *t, const int32_t *ids, size_t n, size_t *len) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            SHEAR_DIE("tokenizer_decode: token id %d at position %zu is outside the vocabulary [0, %d)", ids[i], i,
                      t->n_vocab);
        total += t->dec_off[ids[i] + 1] - t->dec_off[ids[i]];
    }
    char *s = shear_malloc(total + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t a = t->dec_off[ids[i]], b = t->dec_off[ids[i] + 1];
        memcpy(s + o, t->dec + a, b - a);
        o += b - a;
    }
    if (t->kind == TOKENIZER_BYTELEVEL) {  // bytes of a cut or invalid sequence become U+FFFD, as Hugging Face
        char *lossy = utf8_lossy(s, o, &o);
        free(s);
        if (len) *len = o;
        return lossy;
    }
    size_t skip = o > 0 && s[0] == ' ';  // the space the normalizer prepended
    memmove(s, s + skip, o - skip);
    s[o - skip] = 0;
    if (len) *len = o - skip;
    return s;
}

char *tokenizer_decode_utf8(const Tokenizer *t, const int32_t *ids, size_t n, size_t *len) {
    size_t raw_len;
    char *raw = tokenizer_decode(t, ids, n, &raw_len);
    if (t->kind == TOKENIZER_BYTELEVEL) { // already lossy
        if (len) *len = raw_len;
        return raw;
    }
    char *text = utf8_lossy(raw, raw_len, len);
    free(raw);
    return text;
}
