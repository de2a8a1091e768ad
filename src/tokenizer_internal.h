// Private to the tokenizer (tokenizer.c encodes, tokenizer_load.c reads tokenizer.json): the Tokenizer
// struct, its hash maps and UTF-8 decoding.
#ifndef SHEAR_TOKENIZER_INTERNAL_H
#define SHEAR_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "shear/tokenizer.h"

#define WS_CP 0x2581u  // "▁", what the normalizer puts in place of ' '

// ---------------------------------------------------------------------------------------------------------
// Open-addressing hash maps with power-of-two capacity and linear probing.

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static inline size_t table_cap(size_t n) {  // load factor <= 1/2
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    return cap;
}

// code point -> id of its 1-character piece
typedef struct {
    uint32_t *keys;  // [cap] code point + 1; 0 = empty slot
    int32_t *ids;    // [cap]
    size_t mask;
} CpMap;

// (left id, right id) -> (merge rank, id of the merged piece)
typedef struct {
    uint64_t *keys;   // [cap] (left << 32 | right) + 1; 0 = empty slot
    int32_t *ranks;   // [cap]
    int32_t *merged;  // [cap]
    size_t mask;
} PairMap;

static inline int32_t cpmap_get(const CpMap *m, uint32_t cp) {
    for (size_t i = mix64(cp) & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == cp + 1) return m->ids[i];
        if (m->keys[i] == 0) return -1;
    }
}

static inline void cpmap_put(CpMap *m, uint32_t cp, int32_t id) {
    size_t i = mix64(cp) & m->mask;
    while (m->keys[i] != 0 && m->keys[i] != cp + 1) i = (i + 1) & m->mask;
    if (m->keys[i] == 0) { m->keys[i] = cp + 1; m->ids[i] = id; }  // first piece wins
}

static inline size_t pairmap_find(const PairMap *m, int32_t l, int32_t r) {  // slot index, or SIZE_MAX
    uint64_t key = ((uint64_t)(uint32_t)l << 32 | (uint32_t)r) + 1;
    for (size_t i = mix64(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == key) return i;
        if (m->keys[i] == 0) return SIZE_MAX;
    }
}

// ---------------------------------------------------------------------------------------------------------

struct Tokenizer {
    int n_vocab;
    char **piece;          // [n_vocab] piece strings as in tokenizer.json ("▁the", "<0x0A>")
    uint32_t *piece_len;   // [n_vocab] bytes
    char *dec;             // decoded bytes of every piece, back to back ("▁" -> ' ', <0xHH> -> the byte)
    uint32_t *dec_off;     // [n_vocab + 1] piece id's decoded bytes are dec[dec_off[id] .. dec_off[id+1])
    int32_t ascii_id[128]; // 1-character piece of each ASCII code point (-1: none); ' ' maps to "▁"
    CpMap cps;             // the other 1-character pieces
    PairMap pairs;         // merges
    int32_t byte_id[256];  // byte fallback tokens; -1 without byte fallback
    int32_t unk_id;        // -1 when the model has no unk_token
    int32_t ws_id;         // id of "▁" (required)
    int split_chunks;      // no piece crosses a chunk boundary (see top of file)
    char identity[64];
};

// Length (1..4) of the valid UTF-8 sequence at s[0..n) with its code point in *cp; 0 when s[0] does not
// start one (bad lead byte, truncated, overlong, surrogate, > U+10FFFF).
static inline int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    if (c < 0x80) { *cp = c; return 1; }
    int len;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    if (n < (size_t)len || s[1] < lo || s[1] > hi) return 0;
    uint32_t v = c & (0xFFu >> (len + 1));
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    *cp = v;
    return len;
}

#endif
