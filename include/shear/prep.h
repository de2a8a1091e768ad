// The pieces of `shear prep` below the command: finding a domain's documents, reading the ones that start in a
// byte range (so ranks split a domain by bytes), UTF-8 validation, and the train/eval split by document.
// No MPI here; src/cmd_prep.c wires these to MPI and the store writer.
#ifndef SHEAR_PREP_H
#define SHEAR_PREP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char path[1200];
    uint64_t size;   // bytes
    int jsonl;       // 1: one document per line ({"text": ...}); 0: the whole file is one document
} CorpusFile;

// The domain folders of input_dir (every sub-folder, sorted by name). Returns the count, or -1 with err.
int corpus_list_domains(const char *input_dir, char names[][32], int max, char *err, size_t errlen);
// The *.txt and *.jsonl files of dir, sorted by name (*files malloc'd). Returns the count, or -1 with err.
int corpus_list_files(const char *dir, CorpusFile **files, char *err, size_t errlen);

// Called once per document with its text (valid UTF-8, non-empty) and the file it came from. Returns 0 to go
// on; non-zero stops the read (the callback reports its own error).
typedef int (*CorpusDocFn)(const char *text, size_t len, const CorpusFile *file, void *ctx);

// Reads, in order, every document whose first byte lies in [lo, hi) of the files' concatenated bytes: a .txt
// file starts at its first byte, a JSONL document at the first byte of its line. Ranks given a partition of
// [0, total bytes) together read each document exactly once. *bytes_read gets the bytes of those documents.
// Returns 0, or -1 with err naming the file (and line) and what was expected.
int corpus_read_range(const CorpusFile *files, int n_files, uint64_t lo, uint64_t hi, CorpusDocFn fn, void *ctx,
                      uint64_t *bytes_read, char *err, size_t errlen);

// Offset of the first byte that is not part of valid UTF-8 (overlong forms, surrogates and code points above
// U+10FFFF are invalid), or len when all of s is valid.
size_t utf8_valid_prefix(const char *s, size_t len);

// The train/eval split of one domain, by document: a seeded shuffle of the documents; documents are taken for
// eval in shuffled order until eval_seqs windows of seq_len tokens are filled; the rest is train. Each split is
// its documents concatenated in original order and cut into windows; remainders (and train beyond
// max_train_seqs when > 0) are dropped.
typedef struct {
    uint64_t tokens;          // tokens of every document (BOS and EOS included)
    uint64_t eval_docs, train_docs;
    uint64_t eval_doc_tokens, train_doc_tokens; // tokens of the documents of each split
    uint64_t n_eval, n_train; // windows stored
    uint64_t dropped;         // tokens - (n_eval + n_train) * seq_len
    int feasible;             // eval filled and at least one train window
} PrepSplit;

// doc_tokens[n_docs] in; is_eval[n_docs] out (1 for eval documents).
void prep_split(const uint64_t *doc_tokens, uint64_t n_docs, uint64_t seed, const char *domain, uint64_t eval_seqs,
                uint64_t seq_len, uint64_t max_train_seqs, unsigned char *is_eval, PrepSplit *out);

#endif
