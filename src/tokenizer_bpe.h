// Private to the tokenizer (tokenizer.c encodes LLaMA-2's kind, tokenizer_bpe.c holds the merge loop, tokenizer_load.c
// reads tokenizer.json, tokenizer_bytelevel_load.c and tokenizer_bytelevel.c load and encode the byte-level
// kind): the Tokenizer struct, its hash maps, the merge work space and UTF-8 decoding.
#ifndef SHEAR_TOKENIZER_INTERNAL_H
#define SHEAR_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

// piece string (or raw bytes) -> id
typedef struct {
    const char **strs;  // [cap] NULL = empty slot
    uint32_t *lens;     // [cap]
    int32_t *ids;       // [cap]
    size_t mask;
} StrMap;

static inline uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}
#define FNV_OFFSET 0xcbf29ce484222325ULL

static inline int32_t strmap_get(const StrMap *m, const char *s, size_t n) {
    for (size_t i = mix64(fnv1a(FNV_OFFSET, s, n)) & m->mask;; i = (i + 1) & m->mask) {
        if (!m->strs[i]) return -1;
        if (m->lens[i] == n && memcmp(m->strs[i], s, n) == 0) return m->ids[i];
    }
}

static inline int strmap_put(StrMap *m, const char *s, size_t n, int32_t id) {  // 0 when s was already there
    size_t i = mix64(fnv1a(FNV_OFFSET, s, n)) & m->mask;
    for (; m->strs[i]; i = (i + 1) & m->mask)
        if (m->lens[i] == n && memcmp(m->strs[i], s, n) == 0) return 0;
    m->strs[i] = s;
    m->lens[i] = (uint32_t)n;
    m->ids[i] = id;
    return 1;
}

// ---------------------------------------------------------------------------------------------------------

// The byte-level kind's own state (tokenizer_bytelevel*.c)
typedef struct {
    const char *text;  // an added token's content (points into Tokenizer.piece)
    uint32_t len;
    int32_t id;
} AddedTok;

typedef struct ByteLevel {
    pcre2_code *re;           // the pre-tokenizer's pattern, JIT-compiled when the platform allows
    int nfc;                  // normalizer NFC
    int ignore_merges;        // a pre-token found whole in the vocabulary is that token (Llama 3)
    int32_t byte_id[256];     // id of the 1-byte piece of each byte (its byte-to-unicode character)
    StrMap raw;               // raw bytes of each vocabulary piece -> id (for ignore_merges)
    AddedTok *added;          // [n_added] sorted by first byte, then longest first
    int n_added;
    int first[257];           // added[first[b] .. first[b+1]) start with byte b
    char pattern[1024];       // the pattern as compiled (for the identity hash)
} ByteLevel;

struct Tokenizer {
    TokenizerKind kind;
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
    int32_t bos_id, eos_id; // the family's BOS (-1: none, as Qwen) and end-of-text token
    ByteLevel *bl;         // the byte-level kind's pre-tokenizer, added tokens and byte symbols; NULL for LLaMA-2
    char identity[64];
};

// ---------------------------------------------------------------------------------------------------------
// BPE merging (tokenizer_bpe.c), shared by both kinds: symbols in, lowest-rank adjacent pair merged first.

typedef struct {
    uint64_t key;  // rank << 32 | left position: lowest rank first, leftmost on ties
    int32_t right, lid, rid;  // the pair as it was when pushed
    int32_t merged;           // id of the merged piece
} Cand;

typedef struct {
    int32_t *id, *next, *prev;  // [cap] symbols of the current chunk: id -1 once merged into its left neighbour
    Cand *heap;                 // [hcap] min-heap of merge candidates
    size_t cap, hcap, n, nh;
} Work;

void *tok_grow(void *p, size_t bytes);
void work_add(Work *w, int32_t id);
void work_free(Work *w);
// Merges the symbols in w, appends the resulting ids to (*out)[n..] (grown as needed), empties w; returns the
// new count.
size_t work_merge(const Tokenizer *t, Work *w, int32_t **out, size_t *cap, size_t n);

// JSON helpers for messages and ids (tokenizer_json.c), shared by both loaders
void tok_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int tok_is_string(const cJSON *j, const char *s);
void tok_brief_json(const cJSON *j, char *out, size_t n);  // a JSON value shortened for an error message
int tok_json_id(const cJSON *v, int32_t *id);              // a JSON number that is a valid token id
int tok_load_vocab(Tokenizer *t, const cJSON *vocab, StrMap *sm, const char *path, char *err, size_t errlen);
int tok_load_merges(Tokenizer *t, const cJSON *merges, const StrMap *sm, uint64_t *h, const char *path, char *err,
                    size_t errlen);

// The byte-level kind: loading in tokenizer_bytelevel_load.c, encoding in tokenizer_bytelevel.c.
void byte_to_unicode(uint32_t cp_of[256]);  // GPT-2's table: the code point that stands for each byte
int bytelevel_detect(const cJSON *root);    // pre_tokenizer or decoder is ByteLevel
int bytelevel_load(Tokenizer *t, const cJSON *root, const char *path, char *err, size_t errlen);
size_t bytelevel_encode(const Tokenizer *t, const char *text, size_t len, int bos, int32_t **out, size_t *cap);
void bytelevel_free(ByteLevel *bl);
// s[0..n) with each maximal invalid UTF-8 subpart replaced by U+FFFD (Unicode's recommended practice, what Rust's
// String::from_utf8_lossy does); malloc'd, NUL-terminated, length in *out_len.
char *utf8_lossy(const char *s, size_t n, size_t *out_len);

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
