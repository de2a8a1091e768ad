// The HDF5 token store written by `shear prep`: per domain a train and an eval split of fixed-length
// sequences. Layout (documented in the README):
//   /                      attrs: format ("shear-token-store"), version, seq_len, tokenizer (identity string),
//                                 vocab_size, n_domains, domains (comma-separated names, in order)
//   /domains/<name>/train  int32 [n_train, seq_len]
//   /domains/<name>/eval   int32 [n_eval, seq_len]
//   /domains/<name>        attrs: documents, tokens (tokens of text read), train_tokens, eval_tokens
//   /deck                  string dataset: the prep deck, verbatim
// Reading is serial and can be done by every rank at once (read-only, no MPI).
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
} TokenStore;

// Opens a store read-only; dies with a message naming the file and what is wrong (not a store, bad shape).
void store_open(TokenStore *s, const char *path);
// Opens a store like store_open but returns -1 with the reason in err instead of dying (prep's skip check).
int store_try_open(TokenStore *s, const char *path, char *err, size_t errlen);
// Index of a domain by name or -1.
int store_domain(const TokenStore *s, const char *name);
// Reads sequence idx of a domain's split (eval != 0 for eval) into out[seq_len].
void store_read(const TokenStore *s, int domain, int eval, size_t idx, int32_t *out);
void store_close(TokenStore *s);

#endif
