// The pure parts of `shear prep`: strict UTF-8 validation and the train/eval split by document.
#include <stdio.h>
#include <string.h>

#include "shear/prep.h"

#include "expect.h"

static void test_utf8(void) {
    struct { const char *s; size_t len, ok; const char *what; } cases[] = {
        {"plain ascii", 11, 11, "ASCII"},
        {"caf\xc3\xa9 \xe6\x9d\xb1 \xf0\x9f\xa6\x99", 15, 15, "2-, 3- and 4-byte sequences"},
        {"\xef\xbb\xbftext", 7, 7, "a byte-order mark"},
        {"ab\xff", 3, 2, "0xFF"},
        {"ab\x80", 3, 2, "a lone continuation byte"},
        {"\xc0\x80", 2, 0, "overlong NUL (C0 80)"},
        {"\xc1\xbf", 2, 0, "overlong C1"},
        {"x\xe0\x80\x80", 4, 1, "overlong 3-byte (E0 80 80)"},
        {"x\xed\xa0\x80", 4, 1, "a UTF-16 surrogate (ED A0 80)"},
        {"x\xf0\x80\x80\x80", 5, 1, "overlong 4-byte (F0 80 80 80)"},
        {"x\xf4\x90\x80\x80", 5, 1, "above U+10FFFF (F4 90 80 80)"},
        {"x\xf5\x80\x80\x80", 5, 1, "F5"},
        {"ok\xe6\x9d", 4, 2, "a truncated 3-byte sequence"},
        {"ok\xc3(", 4, 2, "a 2-byte lead followed by ASCII"},
        {"\xf4\x8f\xbf\xbf", 4, 4, "U+10FFFF itself"},
        {"\xed\x9f\xbf", 3, 3, "U+D7FF, just below the surrogates"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = utf8_valid_prefix(cases[i].s, cases[i].len);
        EXPECT(got == cases[i].ok, "utf8 %s: valid prefix %zu, expected %zu", cases[i].what, got, cases[i].ok);
    }
    printf("utf8: %zu cases\n", sizeof cases / sizeof cases[0]);
}

static void test_split(void) {
    enum { D = 200 };
    uint64_t tokens[D];
    for (int d = 0; d < D; d++) tokens[d] = 20 + (uint64_t)(d * 37 % 113); // 20..132 tokens per document
    unsigned char is_eval[D], again[D], other[D];
    PrepSplit sp, sp2, sp3;
    const uint64_t L = 64, E = 10;
    prep_split(tokens, D, 7, "cc", E, L, 0, is_eval, &sp);
    uint64_t total = 0, eval_tok = 0, n_eval_docs = 0;
    for (int d = 0; d < D; d++) {
        total += tokens[d];
        if (is_eval[d]) eval_tok += tokens[d], n_eval_docs++;
    }
    EXPECT(sp.feasible, "split of %llu tokens should be feasible", (unsigned long long)total);
    EXPECT(sp.tokens == total && sp.eval_doc_tokens == eval_tok && sp.eval_docs == n_eval_docs &&
               sp.train_docs == D - n_eval_docs && sp.train_doc_tokens == total - eval_tok,
           "split totals disagree with the flags");
    EXPECT(sp.n_eval == E && eval_tok >= E * L, "eval: %llu windows from %llu tokens", (unsigned long long)sp.n_eval,
           (unsigned long long)eval_tok);
    // eval stops as soon as it is full: without its last document it would not be
    EXPECT(n_eval_docs > 0 && eval_tok - 132 < E * L, "eval took more documents than it needed");
    EXPECT(sp.n_train == (total - eval_tok) / L, "train windows %llu", (unsigned long long)sp.n_train);
    EXPECT(sp.tokens == (sp.n_train + sp.n_eval) * L + sp.dropped, "tokens != stored + dropped");
    // eval documents are a shuffle, not the first documents
    int first_block = 1;
    for (uint64_t d = 0; d < n_eval_docs; d++) first_block &= is_eval[d];
    EXPECT(!first_block, "eval documents are simply the first ones");
    // deterministic; another seed or another domain name picks other documents
    prep_split(tokens, D, 7, "cc", E, L, 0, again, &sp2);
    EXPECT(memcmp(is_eval, again, D) == 0, "same seed and name: a different split");
    prep_split(tokens, D, 8, "cc", E, L, 0, other, &sp3);
    EXPECT(memcmp(is_eval, other, D) != 0, "seeds 7 and 8 gave the same split");
    prep_split(tokens, D, 7, "c4", E, L, 0, other, &sp3);
    EXPECT(memcmp(is_eval, other, D) != 0, "domains cc and c4 got the same split");
    // the cap on train sequences counts the rest as dropped
    prep_split(tokens, D, 7, "cc", E, L, 5, again, &sp2);
    EXPECT(sp2.n_train == 5 && sp2.tokens == (5 + E) * L + sp2.dropped, "max_train_seqs=5: %llu train",
           (unsigned long long)sp2.n_train);
    // no eval at all
    prep_split(tokens, D, 7, "cc", 0, L, 0, again, &sp2);
    EXPECT(sp2.n_eval == 0 && sp2.eval_docs == 0 && sp2.n_train == total / L, "eval_seqs=0");
    // too little text: flagged, not silently short
    prep_split(tokens, D, 7, "cc", total / L, L, 0, again, &sp2);
    EXPECT(!sp2.feasible, "eval taking every token should leave no train window and be infeasible");
    uint64_t one = 500;
    prep_split(&one, 1, 7, "book", 2, 64, 0, again, &sp2);
    EXPECT(!sp2.feasible && sp2.train_docs == 0, "a one-document domain cannot split by document");
    printf("split: %llu of %d documents to eval (%llu tokens for %llu x %llu), %llu train windows, %llu dropped\n",
           (unsigned long long)n_eval_docs, D, (unsigned long long)eval_tok, (unsigned long long)E,
           (unsigned long long)L, (unsigned long long)sp.n_train, (unsigned long long)sp.dropped);
}

int main(void) {
    test_utf8();
    test_split();
    if (failures) {
        fprintf(stderr, "test_prep: %d failures\n", failures);
        return 1;
    }
    printf("test_prep: all passed\n");
    return 0;
}
