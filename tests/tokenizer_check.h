// What the two tokenizer unit tests (test_tokenizer.c for LLaMA-2's kind, test_tokenizer_bytelevel.c for the
// byte-level kind) share: the check counter and the defect table run against tokenizer_load.
#ifndef SHEAR_TESTS_TOKENIZER_CHECK_H
#define SHEAR_TESTS_TOKENIZER_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shear/tokenizer.h"

static int failures = 0, checks = 0;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...) {
    checks++;
    if (ok) return;
    failures++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

// One defect: the first `from` in a good tokenizer.json replaced by `to` must be refused with a message that
// contains `expect` and the file's path.
typedef struct {
    const char *from, *to, *expect;
} TokDefect;

static void check_defects(const char *good, const TokDefect *defects, size_t n, const char *dir) {
    char path[4096], err[512];
    for (size_t d = 0; d < n; d++) {
        const char *at = strstr(good, defects[d].from);
        check(at != NULL, "defect %zu: '%s' not in the mini tokenizer.json", d, defects[d].from);
        if (!at) continue;
        snprintf(path, sizeof path, "%s/bad%zu.json", dir, d);
        FILE *f = fopen(path, "w");
        check(f != NULL, "cannot write '%s'", path);
        if (!f) continue;
        fprintf(f, "%.*s%s%s", (int)(at - good), good, defects[d].to, at + strlen(defects[d].from));
        fclose(f);
        err[0] = 0;
        Tokenizer *t = tokenizer_load(path, err, sizeof err);
        check(!t && strstr(err, defects[d].expect) && strstr(err, path),
              "defect '%s': expected an error with '%s', got '%s'", defects[d].to, defects[d].expect,
              t ? "(loaded)" : err);
        tokenizer_free(t);
    }
}

#endif
