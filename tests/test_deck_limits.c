// Issue 19, item 3: a deck far bigger or deeper than a deck can be is refused with one message, before libyaml
// builds it (libyaml 0.2.5 takes minutes on 200,000 nested flow sequences). ctest's TIMEOUT is the time bound;
// the checks here are what is refused, what is accepted, and that the message says so.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expect.h"
#include "shear/deck.h"

// "train:\n  steps: " followed by n levels of "[{a: " ... "1" ... "}]"
static char *nested(size_t n) {
    const char *head = "train:\n  steps: ";
    size_t len = strlen(head) + n * 7 + 2;
    char *t = malloc(len + 1), *p = t;
    p += sprintf(p, "%s", head);
    for (size_t i = 0; i < n; i++) p += sprintf(p, "[{a: ");
    *p++ = '1';
    for (size_t i = 0; i < n; i++) p += sprintf(p, "}]");
    *p++ = '\n';
    *p = 0;
    return t;
}

static int parse(const char *text, char *err, size_t n) {
    Deck d;
    deck_defaults(&d);
    int rc = deck_parse(&d, "t.yaml", text, err, n);
    deck_free(&d);
    return rc;
}

int main(void) {
    char err[1024];
    // the deck: 200,000 levels, over 1 MiB
    char *t = nested(200000);
    EXPECT(strlen(t) > DECK_MAX_BYTES, "the 200,000-level deck is %zu bytes", strlen(t));
    EXPECT(parse(t, err, sizeof err) != 0 && strstr(err, "expected at most 1048576"), "2 MB deck: %s", err);
    free(t);
    // under the size limit but deep: refused by depth, with the line
    t = nested(100000);
    EXPECT(strlen(t) < DECK_MAX_BYTES, "the 100,000-level deck is %zu bytes", strlen(t));
    EXPECT(parse(t, err, sizeof err) != 0 && strstr(err, "t.yaml:2:") && strstr(err, "nested more than 4 levels"),
           "deep deck: %s", err);
    free(t);
    // block-style nesting counts too
    EXPECT(parse("a:\n b:\n  c:\n   d:\n    e: 1\n", err, sizeof err) != 0 && strstr(err, "nested more than"),
           "block nesting: %s", err);
    // the deepest legal deck: root -> section -> list value
    EXPECT(parse("data:\n  domains: [a, b]\n  proportions: [0.5, 0.5]\n", err, sizeof err) == 0, "flat lists: %s",
           err);
    // one level more than a deck has is a schema error (a list where a name goes), not a depth error
    EXPECT(parse("data:\n  domains: [[a], b]\n", err, sizeof err) != 0 && !strstr(err, "nested"), "list in list: %s",
           err);
    // --set values go through the same parser
    Deck d;
    deck_defaults(&d);
    EXPECT(deck_set(&d, "data.domains=[[[[[[a]]]]]]", err, sizeof err) != 0 && strstr(err, "nested more than"),
           "--set nesting: %s", err);
    deck_free(&d);

    // files: a deck over the limit is refused from its size, before it is read; a directory is not a deck
    char dir[] = "/tmp/shear_deck_limits_XXXXXX";
    EXPECT(mkdtemp(dir) != NULL, "mkdtemp");
    char big[64];
    snprintf(big, sizeof big, "%s/big.yaml", dir);
    FILE *f = fopen(big, "w");
    EXPECT(f && ftruncate(fileno(f), (off_t)8 << 30) == 0, "sparse 8 GiB deck");
    if (f) fclose(f);
    char *text = deck_read_text(big, err, sizeof err);
    EXPECT(!text && strstr(err, "8589934592 bytes") && strstr(err, "at most 1048576"), "8 GiB deck file: %s", err);
    free(text);
    text = deck_read_text(dir, err, sizeof err);
    EXPECT(!text && strstr(err, "is a directory"), "directory: %s", err);
    free(text);
    unlink(big);
    rmdir(dir);

    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
