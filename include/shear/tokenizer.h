// Tokenizers read from a Hugging Face tokenizer.json, of two kinds picked from the file:
//   LLaMA-2's: BPE with byte fallback, encoding exactly as SentencePiece does (../shared/spec/data.md);
//   byte-level BPE (GPT-2 / tiktoken kind, Llama 3.x and Qwen2.5/Qwen3): added tokens matched first, NFC where
//   the file asks, the Split regex (PCRE2), bytes mapped to pieces, merges by rank, the post-processor's BOS.
// Pure logic: no MPI, only the one file read.
#ifndef SHEAR_TOKENIZER_H
#define SHEAR_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct Tokenizer Tokenizer;

typedef enum { TOKENIZER_SENTENCEPIECE = 0, TOKENIZER_BYTELEVEL = 1 } TokenizerKind;

// Loads tokenizer.json; on failure writes why (file, what was expected) to err and returns NULL.
Tokenizer *tokenizer_load(const char *path, char *err, size_t errlen);
void tokenizer_free(Tokenizer *t);
int tokenizer_vocab_size(const Tokenizer *t);
TokenizerKind tokenizer_kind(const Tokenizer *t);
// A short stable identity (kind, vocab size, a hash of pieces and merges) stored with token stores.
const char *tokenizer_identity(const Tokenizer *t);
// The family's BOS id (LLaMA-2 1, Llama 3.1 <|begin_of_text|> 128000), -1 when the family puts none (Qwen,
// and a tokenizer.json whose post-processor adds none), and its end-of-text id (LLaMA-2 2, Llama 3
// <|end_of_text|>, Qwen <|endoftext|>) that ends each document in a token store.
int32_t tokenizer_bos_id(const Tokenizer *t);
int32_t tokenizer_eos_id(const Tokenizer *t);

// Encodes len bytes of text. The BOS first when bos != 0 and the family has one. Returns the number of ids
// written to *out (grown with realloc; *cap is its capacity in ids). LLaMA-2: invalid UTF-8 bytes become byte
// tokens, "<s>" in text is text. Byte-level: every byte has a piece; added tokens ("<|endoftext|>") in text are
// those tokens.
size_t tokenizer_encode(const Tokenizer *t, const char *text, size_t len, int bos, int32_t **out, size_t *cap);
// Decodes ids to UTF-8 text. LLaMA-2: BOS/EOS skipped, byte tokens fused, one leading space stripped.
// Byte-level: every token's bytes, added and special tokens as their text (so decode(encode(s)) == s for UTF-8
// text; Qwen gives NFC(s)); bytes that are not UTF-8 (a cut sequence) decode to U+FFFD, as Hugging Face's.
// Returns a malloc'd NUL-terminated string; *len gets its length.
char *tokenizer_decode(const Tokenizer *t, const int32_t *ids, size_t n, size_t *len);
// tokenizer_decode, then bytes that do not form UTF-8 as U+FFFD for both kinds (LLaMA-2's byte tokens of a cut or
// invalid sequence too, which tokenizer_decode gives back raw so that decode(encode(x)) == x for any bytes): text
// that is always valid UTF-8, for output (shear generate).
char *tokenizer_decode_utf8(const Tokenizer *t, const int32_t *ids, size_t n, size_t *len);

// LLaMA-2's ids
#define TOKEN_BOS 1
#define TOKEN_EOS 2

#endif
