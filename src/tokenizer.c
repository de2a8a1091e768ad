// The LLaMA-2 tokenizer (tokenizer.h): loads a Hugging Face tokenizer.json (BPE, byte fallback) and encodes
// exactly as SentencePiece does (../shared/spec/data.md, "The LLaMA-2 tokenizer"):
//   s = "▁" + text with every ' ' replaced by "▁"; one symbol per code point (its 1-character piece, else one
//   byte token <0xHH> per UTF-8 byte; invalid UTF-8 bytes are byte tokens); then repeatedly merge the adjacent
//   pair of lowest merge rank, leftmost first. A literal "<s>" in text is text.
// Speed: s is cut before every "▁" that follows a non-"▁" code point. No LLaMA piece crosses such a point
// (checked at load; when a vocabulary has such a piece the text is encoded whole), so the chunks, mostly single
// words, are merged independently with a linked list + min-heap whose stale entries are skipped on pop.
// Loading tokenizer.json is in tokenizer_load.c.
#include "shear/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "shear/common.h"
#include "tokenizer_internal.h"

int tokenizer_vocab_size(const Tokenizer *t) { return t->n_vocab; }
const char *tokenizer_identity(const Tokenizer *t) { return t->identity; }

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
    free(t);
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

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

static void *grow(void *p, size_t bytes) {
    void *q = realloc(p, bytes);
    if (!q) SHEAR_DIE("out of memory: tokenizer needs %zu bytes", bytes);
    return q;
}

static void heap_push(Work *w, Cand c) {
    if (w->nh == w->hcap) {
        w->hcap = w->hcap ? 2 * w->hcap : 256;
        w->heap = grow(w->heap, w->hcap * sizeof(Cand));
    }
    size_t i = w->nh++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (w->heap[p].key <= c.key) break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = c;
}

static Cand heap_pop(Work *w) {
    Cand top = w->heap[0], last = w->heap[--w->nh];
    size_t i = 0, n = w->nh;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && w->heap[c + 1].key < w->heap[c].key) c++;
        if (last.key <= w->heap[c].key) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

static void push_pair(const Tokenizer *t, Work *w, int32_t left, int32_t right) {
    size_t s = pairmap_find(&t->pairs, w->id[left], w->id[right]);
    if (s == SIZE_MAX) return;
    heap_push(w, (Cand){(uint64_t)(uint32_t)t->pairs.ranks[s] << 32 | (uint32_t)left, right, w->id[left],
                        w->id[right], t->pairs.merged[s]});
}

static void add_symbol(Work *w, int32_t id) {
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 256;
        w->id = grow(w->id, w->cap * sizeof(int32_t));
        w->next = grow(w->next, w->cap * sizeof(int32_t));
        w->prev = grow(w->prev, w->cap * sizeof(int32_t));
    }
    w->id[w->n++] = id;
}

// Merges the symbols in w and appends the resulting ids to out[n..].
static size_t merge_chunk(const Tokenizer *t, Work *w, int32_t **out, size_t *cap, size_t n) {
    size_t ns = w->n;
    if (ns > 1) {
        w->nh = 0;
        for (size_t i = 0; i < ns; i++) {
            w->next[i] = i + 1 < ns ? (int32_t)i + 1 : -1;
            w->prev[i] = (int32_t)i - 1;
        }
        for (size_t i = 0; i + 1 < ns; i++) push_pair(t, w, (int32_t)i, (int32_t)i + 1);
        while (w->nh) {
            Cand c = heap_pop(w);
            int32_t l = (int32_t)(uint32_t)c.key, r = c.right;
            // stale: either side was merged away or changed since this candidate was pushed
            if (w->id[l] != c.lid || w->next[l] != r || w->id[r] != c.rid) continue;
            w->id[l] = c.merged;
            w->id[r] = -1;
            w->next[l] = w->next[r];
            if (w->next[r] >= 0) w->prev[w->next[r]] = l;
            if (w->prev[l] >= 0) push_pair(t, w, w->prev[l], l);
            if (w->next[l] >= 0) push_pair(t, w, l, w->next[l]);
        }
    }
    if (n + ns > *cap) {
        *cap = 2 * (n + ns) + 64;
        *out = grow(*out, *cap * sizeof(int32_t));
    }
    for (size_t i = 0; i < ns; i++)
        if (w->id[i] >= 0) (*out)[n++] = w->id[i];
    w->n = 0;
    return n;
}

size_t tokenizer_encode(const Tokenizer *t, const char *text, size_t len, int bos, int32_t **out, size_t *cap) {
    size_t n = 0;
    if (*cap < 16 || !*out) {
        *cap = *cap < 16 ? 16 : *cap;
        *out = grow(*out, *cap * sizeof(int32_t));
    }
    if (bos) (*out)[n++] = TOKEN_BOS;
    if (len == 0) return n;
    Work w = {0};
    const unsigned char *s = (const unsigned char *)text;
    add_symbol(&w, t->ws_id);  // the prepended "▁"
    int prev_ws = 1;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = utf8_decode(s + i, len - i, &cp);
        if (k == 0) {  // invalid UTF-8: this byte alone, as a byte token
            add_symbol(&w, t->byte_id[s[i]] >= 0 ? t->byte_id[s[i]] : t->unk_id);
            prev_ws = 0;
            i++;
            continue;
        }
        int ws = cp == ' ' || cp == WS_CP;
        if (ws && !prev_ws && t->split_chunks) n = merge_chunk(t, &w, out, cap, n);
        prev_ws = ws;
        int32_t id = cp < 128 ? t->ascii_id[cp] : cpmap_get(&t->cps, cp);  // ' ' -> "▁"
        if (id >= 0) add_symbol(&w, id);
        else if (t->byte_id[s[i]] >= 0)
            for (int b = 0; b < k; b++) add_symbol(&w, t->byte_id[s[i + b]]);
        else add_symbol(&w, t->unk_id);
        i += (size_t)k;
    }
    n = merge_chunk(t, &w, out, cap, n);
    free(w.id);
    free(w.next);
    free(w.prev);
    free(w.heap);
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
    size_t skip = o > 0 && s[0] == ' ';  // the space the normalizer prepended
    memmove(s, s + skip, o - skip);
    s[o - skip] = 0;
    if (len) *len = o - skip;
    return s;
}
