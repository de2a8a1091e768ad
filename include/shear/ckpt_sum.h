// The checksum of every dataset Shear writes (ckpt_sum.c): the "checksum" attribute of each checkpoint dataset
// (ckpt.h), each token-store split (store.h) and each model-file tensor (modelfile.h).
#ifndef SHEAR_CKPT_SUM_H
#define SHEAR_CKPT_SUM_H

#include <stddef.h>
#include <stdint.h>

// The hash's name, stored as the checksum_algorithm attribute of every file whose datasets carry checksums.
#define CKPT_SUM_NAME "poly61-u32le-v1"

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

// SHEAR_NO_VERIFY=1 (any value but "" and "0"): token stores and model files are opened without verifying their
// checksums (the store check reads the whole store once per rank at open). Checksums are still written, and
// `shear info` still verifies. Checkpoints have their own switch, run.verify.
#define CKPT_SUM_NO_VERIFY_ENV "SHEAR_NO_VERIFY"
int ckpt_sum_no_verify(void);

#endif
