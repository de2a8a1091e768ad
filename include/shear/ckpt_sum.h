// The checkpoint checksum (ckpt_sum.c), stored in each checkpoint dataset's "checksum" attribute (ckpt.h).
#ifndef SHEAR_CKPT_SUM_H
#define SHEAR_CKPT_SUM_H

#include <stddef.h>
#include <stdint.h>

// A polynomial hash over the byte string read as little-endian 32-bit words w_0..w_{n-1} (a partial last word
// is zero-padded): h = sum_i w_i X^(n-1-i) mod 2^61-1. It composes: the hash of A followed by B is
// h_A X^(n_B) + h_B, so ranks (and threads) hash their own rows and the pieces combine to the hash of the
// whole dataset, whatever the split. Not cryptographic: it detects corruption, not tampering.
typedef struct {
    uint64_t h;
    uint64_t bytes;
} CkptSum;

// Hash of bytes [0, n); OpenMP-parallel for large n.
CkptSum ckpt_sum_bytes(const void *p, size_t n);
// The hash of a's bytes followed by b's; a.bytes must be a multiple of 4.
CkptSum ckpt_sum_cat(CkptSum a, CkptSum b);
// The stored 64-bit value: mixes the hash with the length.
uint64_t ckpt_sum_final(CkptSum s);

#endif
