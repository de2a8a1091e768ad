// The BPE merge loop both tokenizer kinds share (tokenizer_bpe.h's Work): the symbols of one chunk in a
// linked list, merge candidates in a min-heap keyed by (rank, left position) whose stale entries are skipped on
// pop, so the adjacent pair of lowest merge rank, leftmost first, merges until none is left.
#include <stdlib.h>
#include <string.h>

#include "shear/common.h"
#include "tokenizer_bpe.h"
void *tok_grow(void *p, size_t bytes) {
    void *q = realloc(p, bytes);
    if (!q) SHEAR_DIE("out of memory: tokenizer needs %zu bytes", bytes);
    return q;
}

static void heap_push(Work *w, Cand c) {
    if (w->nh == w->hcap) {
        w->hcap = w->hcap ? 2 * w->hcap : 256;
        w->heap = tok_grow(w->heap, w->hcap * sizeof(Cand));
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

void work_add(Work *w, int32_t id) {
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 256;
        w->id = tok_grow(w->id, w->cap * sizeof(int32_t));
        w->next = tok_grow(w->next, w->cap * sizeof(int32_t));
        w->prev = tok_grow(w->prev, w->cap * sizeof(int32_t));
    }
    w->id[w->n++] = id;
}

void work_free(Work *w) {
    free(w->id);
    free(w->next);
    free(w->prev);
    free(w->heap);
}

size_t work_merge(const Tokenizer *t, Work *w, int32_t **out, size_t *cap, size_t n) {
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
        *out = tok_grow(*out, *cap * sizeof(int32_t));
    }
    for (size_t i = 0; i < ns; i++)
        if (w->id[i] >= 0) (*out)[n++] = w->id[i];
    w->n = 0;
    return n;
}
