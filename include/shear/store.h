// The HDF5 token store written by `shear prep`: per domain a train and an eval split of fixed-length
// sequences. Layout (documented in the README):
//   /                      attrs: format ("shear-token-store"), version, seq_len, tokenizer (identity string),
//                                 vocab_size, n_domains, domains (comma-separated names, in order)
//   /                      attr checksum_algorithm (CKPT_SUM_NAME) when the splits carry checksums
//   /domains/<name>/train  int32 [n_train, seq_len]; attr checksum (uint64): ckpt_sum_final (ckpt_sum.h) of its
//   /domains/<name>/eval   int32 [n_eval, seq_len]    little-endian bytes in row-major order (as checkpoints)
//   /domains/<name>        attrs: documents, tokens (tokens of text read), train_tokens, eval_tokens
//   /deck                  string dataset: the prep deck, verbatim; attr checksum
// Reading is serial and can be done by every rank at once (read-only, no MPI). Stores written before checksums
// (or by other tools) have no checksum attribute: they open with one warning that they are not verified.
#ifndef SHEAR_STORE_H
#define SHEAR_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_MAX_DOMAINS 16
#define STORE_FORMAT "shear-token-store"
#define STORE_VERSION 1

typedef struct {
    int64_t file;                 // hid_t of the open file
    int seq_len;
    int vocab_size;
    int n_domains;
    char names[STORE_MAX_DOMAINS][32];
    size_t n_train[STORE_MAX_DOMAINS];
    size_t n_eval[STORE_MAX_DOMAINS];
    int64_t train_ds[STORE_MAX_DOMAINS]; // open dataset handles
    int64_t eval_ds[STORE_MAX_DOMAINS];
    char tokenizer[128];
    char path[1024];              // for messages
} TokenStore;

// Opens a store read-only; dies with a message naming the file and what is wrong (not a store, bad shape, a
// split that fails its checksum, an id outside [0, vocab_size)). Unless SHEAR_NO_VERIFY=1 (ckpt_sum.h) it reads
// every split once to verify its checksum and its ids: one read of the whole store, on every rank that opens it.
void store_open(TokenStore *s, const char *path);
// Opens a store like store_open but returns -1 with the reason in err instead of dying (prep's skip check).
int store_try_open(TokenStore *s, const char *path, char *err, size_t errlen);
// Index of a domain by name or -1.
int store_domain(const TokenStore *s, const char *name);
// Reads sequence idx of a domain's split (eval != 0 for eval) into out[seq_len]. Dies naming the store, domain,
// split, sequence, position and id when an id is outside [0, vocab_size): no bad id reaches an embedding.
void store_read(const TokenStore *s, int domain, int eval, size_t idx, int32_t *out);
void store_close(TokenStore *s);

#endif
