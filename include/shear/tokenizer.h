// The LLaMA-2 tokenizer: BPE with byte fallback read from a Hugging Face tokenizer.json, encoding exactly as
// SentencePiece does (../shared/spec/data.md). Pure logic: no MPI, only the one file read.
#ifndef SHEAR_TOKENIZER_H
#define SHEAR_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct Tokenizer Tokenizer;

// Loads tokenizer.json; on failure writes why (file, what was expected) to err and returns NULL.
Tokenizer *tokenizer_load(const char *path, char *err, size_t errlen);
void tokenizer_free(Tokenizer *t);
int tokenizer_vocab_size(const Tokenizer *t);
// A short stable identity (vocab size + a hash of pieces and merges) stored with token stores.
const char *tokenizer_identity(const Tokenizer *t);

// Encodes len bytes of text. BOS (id 1) first when bos != 0. Returns the number of ids written to *out
// (grown with realloc; *cap is its capacity in ids). Invalid UTF-8 bytes become byte tokens.
size_t tokenizer_encode(const Tokenizer *t, const char *text, size_t len, int bos, int32_t **out, size_t *cap);
// Decodes ids to UTF-8 text (BOS/EOS skipped, byte tokens fused, one leading space stripped).
// Returns a malloc'd NUL-terminated string; *len gets its length.
char *tokenizer_decode(const Tokenizer *t, const int32_t *ids, size_t n, size_t *len);

#define TOKEN_BOS 1
#define TOKEN_EOS 2

#endif
