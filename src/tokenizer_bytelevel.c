// Byte-level BPE (the GPT-2 / tiktoken kind that Llama 3.x and Qwen2.5/Qwen3 ship as tokenizer.json), encoded
// as Hugging Face tokenizers does (loading is in tokenizer_bytelevel_load.c):
//   1. added tokens ("<|begin_of_text|>", "<|endoftext|>", "<think>", ...) are found in the raw text first,
//      leftmost and then longest, and become their ids; the text between them goes on alone;
//   2. NFC normalization when the normalizer is {"type": "NFC"} (Qwen), by utf8proc;
//   3. the Split pre-tokenizer's regex (Isolated: every match and every gap between matches is a pre-token),
//      by PCRE2 in UTF mode with JIT; a ByteLevel pre-tokenizer with use_regex uses GPT-2's pattern;
//   4. each pre-token's bytes become the pieces of GPT-2's byte-to-unicode table (one symbol per byte), then
//      adjacent pairs merge by rank (tokenizer.c's work_merge). With model.ignore_merges (Llama 3) a pre-token
//      that is itself in the vocabulary is that one token.
//   5. the post-processor's BOS: TemplateProcessing's SpecialToken before the sequence (Llama 3.1), none for
//      a ByteLevel post-processor (Qwen, the first Llama 3 files).
// Invalid UTF-8 (possible in raw corpus bytes, never in tokenizer.json): PCRE2 matches around it
// (PCRE2_MATCH_INVALID_UTF), so the bad bytes form gap pre-tokens and are encoded byte by byte; NFC is
// skipped for a segment that is not valid UTF-8.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "shear/common.h"
#include "tokenizer_bpe.h"

// GPT-2's table: printable Latin-1 bytes stand for themselves, the other 68 bytes for U+0100.. in byte order.
void byte_to_unicode(uint32_t cp_of[256]) {
    uint32_t next = 256;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        cp_of[b] = keep ? (uint32_t)b : next++;
    }
}

void bytelevel_free(ByteLevel *bl) {
    if (!bl) return;
    pcre2_code_free(bl->re);
    free(bl->raw.strs);
    free(bl->raw.lens);
    free(bl->raw.ids);
    free(bl->added);
    free(bl);
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

static size_t push_id(int32_t **out, size_t *cap, size_t n, int32_t id) {
    if (n + 1 > *cap) {
        *cap = 2 * (n + 1) + 64;
        *out = tok_grow(*out, *cap * sizeof(int32_t));
    }
    (*out)[n++] = id;
    return n;
}

// One pre-token: its bytes as 1-byte pieces, merged by rank (or the whole of it, with ignore_merges).
static size_t encode_word(const Tokenizer *t, Work *w, const unsigned char *s, size_t len, int32_t **out, size_t *cap,
                          size_t n) {
    const ByteLevel *bl = t->bl;
    if (len == 1) return push_id(out, cap, n, bl->byte_id[s[0]]);
    if (bl->ignore_merges) {
        int32_t id = strmap_get(&bl->raw, (const char *)s, len);
        if (id >= 0) return push_id(out, cap, n, id);
    }
    for (size_t i = 0; i < len; i++) work_add(w, bl->byte_id[s[i]]);
    return work_merge(t, w, out, cap, n);
}

// Text between added tokens: NFC, then the pre-tokenizer's matches and the gaps between them, each a word.
static size_t encode_segment(const Tokenizer *t, Work *w, pcre2_match_data *md, const unsigned char *s, size_t len,
                             int32_t **out, size_t *cap, size_t n) {
    if (len == 0) return n;
    const ByteLevel *bl = t->bl;
    utf8proc_uint8_t *nfc = NULL;
    if (bl->nfc) {
        size_t i = 0;
        while (i < len && s[i] < 0x80) i++;
        if (i < len) {  // not all ASCII: NFC may change it
            utf8proc_ssize_t got = utf8proc_map(s, (utf8proc_ssize_t)len, &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            if (got >= 0) { s = nfc; len = (size_t)got; }
            else nfc = NULL;  // not valid UTF-8: encoded as it is
        }
    }
    size_t at = 0;
    while (at < len) {
        int rc = pcre2_match(bl->re, s, len, at, 0, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            SHEAR_DIE("tokenizer: PCRE2 match failed at byte %zu of a %zu-byte text: %s", at, len, (char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a = ov[0], b = ov[1];
        if (a > at) n = encode_word(t, w, s + at, a - at, out, cap, n);  // the gap before the match
        if (b == a) {  // an empty match (not in the families' patterns): step over one code point
            b = a + 1;
            while (b < len && (s[b] & 0xC0) == 0x80) b++;
        }
        n = encode_word(t, w, s + a, b - a, out, cap, n);
        at = b;
    }
    if (at < len) n = encode_word(t, w, s + at, len - at, out, cap, n);
    free(nfc);
    return n;
}

size_t bytelevel_encode(const Tokenizer *t, const char *text, size_t len, int bos, int32_t **out, size_t *cap) {
    const ByteLevel *bl = t->bl;
    size_t n = 0;
    if (*cap < 16 || !*out) {
        *cap = *cap < 16 ? 16 : *cap;
        *out = tok_grow(*out, *cap * sizeof(int32_t));
    }
    if (bos && t->bos_id >= 0) (*out)[n++] = t->bos_id;
    if (len == 0) return n;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(bl->re, NULL);
    if (!md) SHEAR_DIE("out of memory: PCRE2 match data");
    Work w = {0};
    const unsigned char *s = (const unsigned char *)text;
    size_t start = 0;  // the segment not yet encoded begins here
    for (size_t i = 0; i < len; i++) {
        int lo = bl->first[s[i]], hi = bl->first[s[i] + 1];
        for (int k = lo; k < hi; k++) {  // longest first
            const AddedTok *a = &bl->added[k];
            if (a->len > len - i || memcmp(s + i, a->text, a->len) != 0) continue;
            n = encode_segment(t, &w, md, s + start, i - start, out, cap, n);
            n = push_id(out, cap, n, a->id);
            i += a->len - 1;
            start = i + 1;
            break;
        }
    }
    n = encode_segment(t, &w, md, s + start, len - start, out, cap, n);
    work_free(&w);
    pcre2_match_data_free(md);
    return n;
}

// ---------------------------------------------------------------------------------------------------------
// Decoding: joined bytes to text

char *utf8_lossy(const char *text, size_t n, size_t *out_len) {
    const unsigned char *s = (const unsigned char *)text;
    char *out = shear_malloc(3 * n + 1);  // U+FFFD is 3 bytes and replaces at least 1
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = utf8_decode(s + i, n - i, &cp);
        if (k > 0) {
            memcpy(out + o, s + i, (size_t)k);
            o += (size_t)k;
            i += (size_t)k;
            continue;
        }
        // the maximal subpart: a lead byte and the continuation bytes that could still have completed it
        unsigned c = s[i];
        size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 1;
        unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80, hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
        size_t j = i + 1;
        if (len > 1 && j < n && s[j] >= lo && s[j] <= hi)
            for (j++; j < n && j < i + len && (s[j] & 0xC0) == 0x80; j++) {}
        memcpy(out + o, "\xEF\xBF\xBD", 3);
        o += 3;
        i = j;
    }
    out[o] = 0;
    *out_len = o;
    return out;
}
