// The checkpoint checksum (ckpt_sum.h): a polynomial hash modulo the Mersenne prime 2^61-1 over 32-bit words.
// It composes across pieces, so every rank hashes only the rows it writes or reads and threads split a buffer
// freely; eight words per step keep the multiplies independent (about 1 cycle per word).
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "shear/ckpt_sum.h"

#define P61 (((uint64_t)1 << 61) - 1)
#define XBASE ((uint64_t)0x0f3d5b79a2c4e681ULL) // any fixed value in [2, P61)

typedef unsigned __int128 u128;

// v < 2^124 -> v mod P61
static inline uint64_t mod61(u128 v) {
    uint64_t s = (uint64_t)(v & P61) + (uint64_t)(v >> 61); // < 2^61 + 2^63
    s = (s & P61) + (s >> 61);
    return s >= P61 ? s - P61 : s;
}

static inline uint64_t mulmod(uint64_t a, uint64_t b) { return mod61((u128)a * b); }

static uint64_t powmod(uint64_t x, uint64_t e) {
    uint64_t r = 1;
    while (e) {
        if (e & 1) r = mulmod(r, x);
        x = mulmod(x, x);
        e >>= 1;
    }
    return r;
}

static inline uint32_t load_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// Serial hash of whole words p[0, n_words).
static uint64_t sum_words(const unsigned char *p, size_t n_words) {
    uint64_t xp[9]; // X^0..X^8
    uint64_t v = 1;
    for (int i = 0; i <= 8; i++, v = mulmod(v, XBASE)) xp[i] = v;
    uint64_t h = 0;
    size_t i = 0;
    for (; i + 8 <= n_words; i += 8, p += 32) {
        // h X^8 + sum_j w_j X^(7-j): 122-bit + 8 x 93-bit < 2^123
        u128 acc = (u128)h * xp[8];
        for (int j = 0; j < 8; j++) acc += (u128)load_le32(p + 4 * j) * xp[7 - j];
        h = mod61(acc);
    }
    for (; i < n_words; i++, p += 4) h = mod61((u128)h * XBASE + load_le32(p));
    return h;
}

CkptSum ckpt_sum_cat(CkptSum a, CkptSum b) {
    uint64_t nb = (b.bytes + 3) / 4;
    CkptSum r = {mod61((u128)mulmod(a.h, powmod(XBASE, nb)) + b.h), a.bytes + b.bytes};
    return r;
}

CkptSum ckpt_sum_bytes(const void *p, size_t n) {
    const unsigned char *c = p;
    size_t words = n / 4, tail = n % 4;
    CkptSum s = {0, 0};
    // split whole words among threads: pieces of at least 4 MiB so small buffers stay serial
    size_t min_piece = (size_t)1 << 20;
    int nt = words >= 2 * min_piece ? omp_get_max_threads() : 1;
    if ((size_t)nt > words / min_piece && words / min_piece > 0) nt = (int)(words / min_piece);
    if (nt <= 1) {
        s.h = sum_words(c, words);
        s.bytes = words * 4;
    } else {
        CkptSum part[256];
        if (nt > 256) nt = 256;
#pragma omp parallel for num_threads(nt) schedule(static, 1)
        for (int t = 0; t < nt; t++) {
            size_t lo = words * (size_t)t / (size_t)nt, hi = words * (size_t)(t + 1) / (size_t)nt;
            part[t].h = sum_words(c + 4 * lo, hi - lo);
            part[t].bytes = (hi - lo) * 4;
        }
        for (int t = 0; t < nt; t++) s = ckpt_sum_cat(s, part[t]);
    }
    if (tail) {
        unsigned char last[4] = {0, 0, 0, 0};
        memcpy(last, c + 4 * words, tail);
        CkptSum t = {load_le32(last), tail};
        s = ckpt_sum_cat(s, t);
    }
    return s;
}

uint64_t ckpt_sum_final(CkptSum s) {
    // splitmix64 finaliser over the hash and the length
    uint64_t z = s.h ^ (s.bytes * 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

int ckpt_sum_no_verify(void) {
    const char *v = getenv(CKPT_SUM_NO_VERIFY_ENV);
    return v && v[0] && strcmp(v, "0") != 0;
}
