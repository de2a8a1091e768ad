// Unit tests of the input-deck parser (src/deck.c, src/deck_schema.c) and `shear keys` (src/cmd_keys.c):
// defaults, full decks, lists, every error class with its key and line, --set, cross-key rules, the schema.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shear/cli.h"
#include "shear/deck.h"

static int n_pass, n_fail;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    ok ? n_pass++ : n_fail++;
}

static Deck deck;  // ~9 KB: static, not on the stack of every check
static char err[2048];

// Parses text as "t.yaml"; a check passes when it fails with a message holding every fragment.
static void expect_error(const char *what, const char *text, const char *frag1, const char *frag2) {
    deck_defaults(&deck);
    int rc = deck_parse(&deck, "t.yaml", text, err, sizeof err);
    int ok = rc == -1 && strstr(err, frag1) && (!frag2 || strstr(err, frag2)) && !strchr(err, '\n');
    check(ok, "%s: %s", what, rc ? err : "(parsed without error)");
    if (!ok) printf("     wanted: %s%s%s\n", frag1, frag2 ? " ... " : "", frag2 ? frag2 : "");
}

static void expect_set_error(const char *assignment, const char *frag1, const char *frag2) {
    deck_defaults(&deck);
    int rc = deck_set(&deck, assignment, err, sizeof err);
    int ok = rc == -1 && strstr(err, frag1) && (!frag2 || strstr(err, frag2));
    check(ok, "--set %s: %s", assignment, rc ? err : "(accepted)");
    if (!ok) printf("     wanted: %s%s%s\n", frag1, frag2 ? " ... " : "", frag2 ? frag2 : "");
    deck_free(&deck);
}

static void expect_invalid(const char *what, const Deck *d, const char *frag1, const char *frag2) {
    int rc = deck_validate(d, err, sizeof err);
    int ok = rc == -1 && strstr(err, frag1) && (!frag2 || strstr(err, frag2));
    check(ok, "validate %s: %s", what, rc ? err : "(accepted)");
}

static int parse_ok(const char *text) {
    deck_defaults(&deck);
    if (deck_parse(&deck, "t.yaml", text, err, sizeof err) == 0) return 1;
    printf("     unexpected error: %s\n", err);
    return 0;
}

// Field-by-field comparison driven by the schema (string padding past the NUL does not count).
static int decks_equal(const Deck *a, const Deck *b) {
    for (size_t i = 0; i < DECK_SCHEMA_LEN; i++) {
        const DeckKey *k = &DECK_SCHEMA[i];
        const char *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;
        int na = 0, nb = 0;
        switch (k->type) {
        case DECK_INT:
            if (*(const int *)fa != *(const int *)fb) return 0;
            break;
        case DECK_DOUBLE:
            if (*(const double *)fa != *(const double *)fb) return 0;
            break;
        case DECK_STRING:
        case DECK_ENUM:
            if (strcmp(fa, fb) != 0) return 0;
            break;
        case DECK_STRING_LIST:
        case DECK_DOUBLE_LIST:
            na = *(const int *)((const char *)a + k->count_offset);
            nb = *(const int *)((const char *)b + k->count_offset);
            if (na != nb) return 0;
            for (int j = 0; j < na; j++) {
                if (k->type == DECK_DOUBLE_LIST && ((const double *)fa)[j] != ((const double *)fb)[j]) return 0;
                if (k->type == DECK_STRING_LIST && strcmp(fa + j * DECK_NAME_LEN, fb + j * DECK_NAME_LEN)) return 0;
            }
            break;
        }
    }
    return 1;
}

static void test_defaults(void) {
    Deck *d = &deck;
    deck_defaults(d);
    check(d->model_dim == 64 && d->model_n_layers == 2 && d->model_n_heads == 4 && d->model_n_kv_heads == 4 &&
              d->model_head_dim == 0 && d->model_intermediate == 176 && d->model_vocab == 32000,
          "defaults: model ints");
    check(d->model_rope_theta == 10000 && d->model_norm_eps == 1e-5 && d->model_init_std == 0.02,
          "defaults: model floats");
    check(d->data_store[0] == 0 && d->data_n_domains == 0 && d->data_n_proportions == 0, "defaults: data empty");
    check(!d->prep_input_dir[0] && !d->prep_tokenizer[0] && !d->prep_out[0] && d->prep_seq_len == 256 &&
              d->prep_eval_seqs == 16 && d->prep_max_train_seqs == 0 && d->prep_seed == 1234,
          "defaults: prep");
    check(d->train_steps == 100 && d->train_seq_len == 128 && d->train_global_batch == 8 && d->train_micro_batch == 2 &&
              d->train_seed == 1234 && !d->train_init[0],
          "defaults: train");
    check(d->optim_lr == 1e-3 && !strcmp(d->optim_schedule, "cosine") && d->optim_warmup == 10 &&
              d->optim_min_lr_ratio == 0.1 && d->optim_beta1 == 0.9 && d->optim_beta2 == 0.95 && d->optim_eps == 1e-8 &&
              d->optim_weight_decay == 0.0 && d->optim_grad_clip == 1.0,
          "defaults: optim");
    check(!strcmp(d->run_out_dir, "runs/out") && d->run_log_every == 1 && d->run_threads == 0, "defaults: run");
    check(d->text == NULL && d->path[0] == 0, "defaults: no text, no path");
    check(deck_validate(d, err, sizeof err) == 0, "defaults pass deck_validate");

    static Deck ref, dirty;
    deck_defaults(&ref);
    const char *empties[] = {"", "# only a comment\n", "\n\n", "---\n", "~\n", "model:\n", "model: {}\ndata: ~\n"};
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        memset(&dirty, 0x5a, sizeof dirty);  // deck_parse must set every key, whatever d held
        dirty.text = NULL;
        int rc = deck_parse(&dirty, "t.yaml", empties[i], err, sizeof err);
        check(rc == 0 && decks_equal(&dirty, &ref), "empty deck %zu (%zu bytes) = all defaults", i, strlen(empties[i]));
    }
}

static const char *FULL_DECK =
    "# a full deck: every key, none at its default\n"
    "model:\n"
    "  dim: 96\n"
    "  n_layers: 3\n"
    "  n_heads: 6\n"
    "  n_kv_heads: 2\n"
    "  head_dim: 32\n"
    "  intermediate: 256\n"
    "  vocab: 1000\n"
    "  rope_theta: 5e5\n"
    "  norm_eps: 1e-6\n"
    "  init_std: 0.01\n"
    "data:\n"
    "  store: \"runs/store.h5\"\n"
    "  domains: [web, code, book]\n"
    "  proportions:\n"
    "    - 0.5\n"
    "    - 0.25\n"
    "    - 0.25\n"
    "prep:\n"
    "  input_dir: corpus/\n"
    "  tokenizer: 'tok/tokenizer.json'\n"
    "  out: store.h5\n"
    "  seq_len: 512\n"
    "  eval_seqs: 4\n"
    "  max_train_seqs: 1000\n"
    "  seed: 7\n"
    "train:\n"
    "  steps: 50\n"
    "  seq_len: 64\n"
    "  global_batch: 12\n"
    "  micro_batch: 3\n"
    "  seed: 99\n"
    "  init: models/base.h5\n"
    "optim: {lr: 3e-4, schedule: constant, warmup: 5, min_lr_ratio: 0.05, beta1: 0.8, beta2: 0.99,\n"
    "        eps: 1e-10, weight_decay: 0.1, grad_clip: 0}\n"
    "run:\n"
    "  out_dir: runs/full\n"
    "  log_every: 10\n"
    "  threads: 2\n";

static void test_full_deck(void) {
    Deck *d = &deck;
    int ok = parse_ok(FULL_DECK);
    check(ok, "full deck parses");
    check(d->model_dim == 96 && d->model_n_layers == 3 && d->model_n_heads == 6 && d->model_n_kv_heads == 2 &&
              d->model_head_dim == 32 && d->model_intermediate == 256 && d->model_vocab == 1000 &&
              d->model_rope_theta == 5e5 && d->model_norm_eps == 1e-6 && d->model_init_std == 0.01,
          "full deck: model");
    check(!strcmp(d->data_store, "runs/store.h5") && d->data_n_domains == 3 && !strcmp(d->data_domains[0], "web") &&
              !strcmp(d->data_domains[1], "code") && !strcmp(d->data_domains[2], "book") &&
              d->data_n_proportions == 3 && d->data_proportions[0] == 0.5 && d->data_proportions[1] == 0.25 &&
              d->data_proportions[2] == 0.25,
          "full deck: data (flow list of names, block list of numbers)");
    check(!strcmp(d->prep_input_dir, "corpus/") && !strcmp(d->prep_tokenizer, "tok/tokenizer.json") &&
              !strcmp(d->prep_out, "store.h5") && d->prep_seq_len == 512 && d->prep_eval_seqs == 4 &&
              d->prep_max_train_seqs == 1000 && d->prep_seed == 7,
          "full deck: prep");
    check(d->train_steps == 50 && d->train_seq_len == 64 && d->train_global_batch == 12 && d->train_micro_batch == 3 &&
              d->train_seed == 99 && !strcmp(d->train_init, "models/base.h5"),
          "full deck: train");
    check(d->optim_lr == 3e-4 && !strcmp(d->optim_schedule, "constant") && d->optim_warmup == 5 &&
              d->optim_min_lr_ratio == 0.05 && d->optim_beta1 == 0.8 && d->optim_beta2 == 0.99 &&
              d->optim_eps == 1e-10 && d->optim_weight_decay == 0.1 && d->optim_grad_clip == 0,
          "full deck: optim (flow mapping over two lines)");
    check(!strcmp(d->run_out_dir, "runs/full") && d->run_log_every == 10 && d->run_threads == 2, "full deck: run");
    check(deck_validate(d, err, sizeof err) == 0, "full deck passes deck_validate %s", err);

    // lists both ways, and the empty forms
    check(parse_ok("data:\n  domains:\n    - web\n    - code\n  proportions: [0.3, 0.7]\n") &&
              deck.data_n_domains == 2 && !strcmp(deck.data_domains[1], "code") && deck.data_n_proportions == 2 &&
              deck.data_proportions[1] == 0.7,
          "block list of names, flow list of numbers");
    check(parse_ok("data:\n  domains: []\n  proportions: ~\n") && deck.data_n_domains == 0 &&
              deck.data_n_proportions == 0,
          "empty lists: [] and ~");
    check(parse_ok("data:\n  domains: [only]\n") && deck.data_n_domains == 1 && !strcmp(deck.data_domains[0], "only"),
          "one-element list");
    check(parse_ok("optim:\n  lr: 1e-3\n  eps: 0\n  warmup: +3\n") && deck.optim_lr == 1e-3 && deck.optim_warmup == 3,
          "exponent for a double, sign on an int");
    check(parse_ok("train:\n  init:\nrun:\n  out_dir: \"a b: c\"\n") && !deck.train_init[0] &&
              !strcmp(deck.run_out_dir, "a b: c"),
          "empty string value, quoted string with ': '");
    check(parse_ok("model: &m\n  dim: 128\n") && deck.model_dim == 128, "anchors are allowed");
    char names[DECK_MAX_DOMAINS * 8 + 64] = "data:\n  domains: [";
    for (int i = 0; i < DECK_MAX_DOMAINS; i++) sprintf(names + strlen(names), "%sd%d", i ? ", " : "", i);
    strcat(names, "]\n");
    check(parse_ok(names) && deck.data_n_domains == DECK_MAX_DOMAINS && !strcmp(deck.data_domains[15], "d15"),
          "exactly DECK_MAX_DOMAINS domains");
}

static void test_errors(void) {
    expect_error("unknown section", "model:\n  dim: 64\nmodle:\n  dim: 3\n", "t.yaml:3: modle: unknown section",
                 "did you mean model?");
    expect_error("unknown section that is a key", "lr: 1e-3\n", "t.yaml:1: lr: unknown section", "optim.lr");
    expect_error("dotted key at top level", "\n\noptim.lr: 1e-3\n", "t.yaml:3: optim.lr: unknown section", "'optim:'");
    expect_error("unknown key", "model:\n  dim: 64\n  n_layer: 3\n", "t.yaml:3: model.n_layer: unknown key",
                 "did you mean model.n_layers?");
    expect_error("key in the wrong section", "optim:\n  lr: 1\ntrain:\n  lr: 1e-3\n", "t.yaml:4: train.lr: unknown key",
                 "did you mean optim.lr?");
    expect_error("unknown key, nothing close", "run:\n  frobnicate: 1\n",
                 "t.yaml:2: run.frobnicate: unknown key, expected one of out_dir, log_every, threads", NULL);
    expect_error("int: not a number", "train:\n  steps: abc\n", "t.yaml:2: train.steps: expected an integer, got 'abc'",
                 NULL);
    expect_error("int: a fraction", "model:\n\n  dim: 1.5\n", "t.yaml:3: model.dim: expected an integer, got '1.5'",
                 NULL);
    expect_error("int: an exponent", "model:\n  vocab: 1e4\n", "t.yaml:2: model.vocab: expected an integer, got '1e4'",
                 NULL);
    expect_error("int: empty", "model:\n  dim:\n", "t.yaml:2: model.dim: expected an integer, got an empty value",
                 NULL);
    expect_error("int: below range", "model:\n  dim: 0\n",
                 "t.yaml:2: model.dim: expected an integer in [1, 65536], got 0", NULL);
    expect_error("int: above range", "run:\n  threads: 1025\n",
                 "t.yaml:2: run.threads: expected an integer in [0, 1024], got 1025", NULL);
    expect_error("int: overflow", "train:\n  steps: 99999999999999999999999\n",
                 "t.yaml:2: train.steps: expected an integer in [1, 2147483647], got 99999999999999999999999", NULL);
    expect_error("double: not a number", "optim:\n  lr: fast\n", "t.yaml:2: optim.lr: expected a number, got 'fast'",
                 NULL);
    expect_error("double: nan", "optim:\n  eps: nan\n", "t.yaml:2: optim.eps: expected a number, got 'nan'", NULL);
    expect_error("double: zero lr", "optim:\n  lr: 0\n", "t.yaml:2: optim.lr: expected a number in [1e-10, 10], got 0",
                 NULL);
    expect_error("double: beta = 1", "optim:\n  beta1: 0.9\n  beta2: 1\n",
                 "t.yaml:3: optim.beta2: expected a number in [0, 0.99999], got 1", NULL);
    expect_error("double: negative", "optim:\n  grad_clip: -1\n",
                 "t.yaml:2: optim.grad_clip: expected a number in [0, ", "got -1");
    expect_error("double: infinite", "model:\n  rope_theta: 1e400\n",
                 "t.yaml:2: model.rope_theta: expected a number in [1, ", "1e400");
    expect_error("enum", "optim:\n  schedule: linear\n",
                 "t.yaml:2: optim.schedule: expected one of cosine|constant, got 'linear'", NULL);
    expect_error("enum: case matters", "optim:\n  schedule: Cosine\n", "t.yaml:2: optim.schedule: expected one of",
                 "'Cosine'");
    expect_error("list for an int", "model:\n  dim: [64, 128]\n",
                 "t.yaml:2: model.dim: expected an integer in [1, 65536], got a list", NULL);
    expect_error("block list for a string", "run:\n  out_dir:\n    - a\n", "t.yaml:2: run.out_dir: expected a string",
                 "got a list");
    expect_error("mapping for a number", "optim:\n  lr: {a: 1}\n", "t.yaml:2: optim.lr: expected a number",
                 "got a mapping");
    expect_error("scalar for a list", "data:\n  domains: web\n", "t.yaml:2: data.domains: expected a list",
                 "got the scalar 'web'");
    expect_error("scalar for a number list", "data:\n  proportions: 1\n", "t.yaml:2: data.proportions: expected a list",
                 "'1'");
    expect_error("nested list", "data:\n  domains: [a, [b]]\n", "t.yaml:2: data.domains[1]: expected a name",
                 "got a list");
    expect_error("bad list element", "data:\n  proportions:\n    - 0.5\n    - x\n",
                 "t.yaml:4: data.proportions[1]: expected a number, got 'x'", NULL);
    expect_error("list element out of range", "data:\n  proportions: [0.5, 1.5]\n",
                 "t.yaml:2: data.proportions[1]: expected a number in [0, 1], got 1.5", NULL);
    expect_error("bad domain name", "data:\n  domains: [web, a/b]\n", "t.yaml:2: data.domains[1]: expected a name",
                 "got 'a/b'");
    expect_error("duplicate domain", "data:\n  domains:\n  - web\n  - code\n  - web\n",
                 "t.yaml:5: data.domains[2]:", "listed twice");
    char big[2048] = "data:\n  domains:\n";
    for (int i = 0; i <= DECK_MAX_DOMAINS; i++) sprintf(big + strlen(big), "    - d%d\n", i);
    expect_error("too many list elements", big, "t.yaml:19: data.domains: expected at most 16 elements, got 17", NULL);
    expect_error("duplicate key", "model:\n  dim: 64\n  n_layers: 2\n  dim: 32\n",
                 "t.yaml:4: model.dim: duplicate key (first given at line 2)", NULL);
    expect_error("duplicate section", "model:\n  dim: 64\ntrain:\n  steps: 3\nmodel:\n  n_layers: 3\n",
                 "t.yaml:5: model: duplicate section (first given at line 1)", NULL);
    expect_error("section not a mapping", "model: 64\n", "t.yaml:1: model: expected a mapping of model keys",
                 "got a scalar");
    expect_error("deck not a mapping", "- model\n- train\n", "t.yaml:1: expected a mapping of sections", "got a list");
    expect_error("key not a scalar", "model:\n  [a]: 1\n", "t.yaml:2: model: expected a key name", NULL);
    expect_error("YAML: bad indentation", "model:\n  dim: 64\n n_layers: 3\n", "t.yaml:3: YAML syntax error", NULL);
    expect_error("YAML: tab", "model:\n  dim: 64\n\tn_layers: 3\n", "t.yaml:3: YAML syntax error", "tabs");
    expect_error("YAML: unclosed flow list", "model:\n  dim: 64\ndata:\n  domains: [a, b\n",
                 "t.yaml:4: YAML syntax error: did not find expected ',' or ']'", NULL);
    expect_error("YAML: unclosed quote", "run:\n  out_dir: 'runs\n", "t.yaml:2: YAML syntax error", "quoted scalar");
    expect_error("YAML: missing colon", "model:\n  dim: 64\n  n_layers 3\n  n_heads: 4\n",
                 "t.yaml:3: YAML syntax error", NULL);
    expect_error("YAML: two documents", "model:\n  dim: 64\n---\nmodel:\n  dim: 32\n",
                 "t.yaml:3: a second YAML document", NULL);
    char lng[1200 + 64] = "prep:\n  out: ";
    memset(lng + strlen(lng), 'x', 1100);
    strcpy(lng + strlen("prep:\n  out: ") + 1100, "\n");
    expect_error("string longer than the field", lng,
                 "t.yaml:2: prep.out: expected a string of at most 1023 bytes, got 1100 bytes", NULL);
    expect_error("name longer than the field", "data:\n  domains: [abcdefghijklmnopqrstuvwxyz0123456789]\n",
                 "t.yaml:2: data.domains[0]: expected a name of 1 to 31", NULL);
    expect_error("enum longer than any choice", "optim:\n  schedule: cosinecosinecosinecosinecosinecosine\n",
                 "t.yaml:2: optim.schedule: expected one of cosine|constant", NULL);
    expect_error("NUL escape in a string", "run:\n  out_dir: \"a\\0b\"\n",
                 "t.yaml:2: run.out_dir: expected text without NUL", NULL);
}

static void test_set(void) {
    deck_defaults(&deck);
    int rc = deck_set(&deck, "optim.lr=3e-4", err, sizeof err);
    check(rc == 0 && deck.optim_lr == 3e-4, "--set optim.lr=3e-4");
    rc = deck_set(&deck, "data.domains=[web, code]", err, sizeof err) |
         deck_set(&deck, "data.proportions=[0.5,0.5]", err, sizeof err) |
         deck_set(&deck, "train.init=", err, sizeof err) | deck_set(&deck, "optim.schedule=constant", err, sizeof err) |
         deck_set(&deck, " model.dim = 128", err, sizeof err);
    check(rc == 0 && deck.data_n_domains == 2 && !strcmp(deck.data_domains[1], "code") &&
              deck.data_n_proportions == 2 && !strcmp(deck.optim_schedule, "constant") && deck.model_dim == 128,
          "--set lists, empty string, enum, spaces around the name");
    check(deck.text && strstr(deck.text, "# --set optim.lr=3e-4\n") &&
              strstr(deck.text, "# --set data.domains=[web, code]\n"),
          "--set is recorded in the deck text as comments");
    static Deck before;
    before = deck;
    rc = deck_set(&deck, "model.dim=0", err, sizeof err);
    check(rc == -1 && decks_equal(&before, &deck) && deck.model_dim == 128, "a failed --set leaves the deck as it was");
    rc = deck_set(&deck, "data.domains=[a, b, a]", err, sizeof err);
    check(rc == -1 && deck.data_n_domains == 2 && !strcmp(deck.data_domains[0], "web"),
          "a failed list --set leaves the list");
    deck_free(&deck);
    check(deck.text == NULL, "deck_free clears the text");

    expect_set_error("optim.lr=fast", "--set: optim.lr: expected a number, got 'fast'", NULL);
    expect_set_error("model.dim=0", "--set: model.dim: expected an integer in [1, 65536], got 0", NULL);
    expect_set_error("model.dim=1.5", "--set: model.dim: expected an integer, got '1.5'", NULL);
    expect_set_error("model.dim=", "--set: model.dim: expected an integer, got an empty value", NULL);
    expect_set_error("optim.schedule=linear", "--set: optim.schedule: expected one of cosine|constant, got 'linear'",
                     NULL);
    expect_set_error("optim.lrr=1", "--set: optim.lrr: unknown key (did you mean optim.lr?)", NULL);
    expect_set_error("optimm.lr=1", "--set: optimm.lr: unknown section (did you mean optim?)", NULL);
    expect_set_error("lr=1", "--set: lr: not a section.key name (did you mean optim.lr?)", NULL);
    expect_set_error("optim.lr", "--set: 'optim.lr': expected section.key=value", NULL);
    expect_set_error("model.dim=[64]", "--set: model.dim: expected an integer in [1, 65536], got a list", NULL);
    expect_set_error("data.domains=web", "--set: data.domains: expected a list", "got the scalar 'web'");
    expect_set_error("data.domains=[a, b", "--set: data.domains: YAML syntax error", NULL);
    expect_set_error("data.proportions=[0.5, 2]", "--set: data.proportions[1]: expected a number in [0, 1], got 2",
                     NULL);
}

static void test_validate(void) {
    static Deck d;
    deck_defaults(&d);
    d.model_dim = 60, d.model_n_heads = 8;
    expect_invalid("dim % n_heads with head_dim 0", &d, "model.dim, model.n_heads", "60");
    d.model_head_dim = 8;
    check(deck_validate(&d, err, sizeof err) == 0, "validate: explicit head_dim need not divide dim");
    deck_defaults(&d);
    d.model_n_heads = 6, d.model_n_kv_heads = 4, d.model_dim = 96;
    expect_invalid("n_heads % n_kv_heads", &d, "model.n_heads, model.n_kv_heads", "6");
    d.model_n_kv_heads = 2;
    check(deck_validate(&d, err, sizeof err) == 0, "validate: GQA 6 heads over 2 KV heads");
    deck_defaults(&d);
    d.model_dim = 60, d.model_n_heads = 4;  // head size 15
    expect_invalid("odd head size from dim / n_heads", &d, "model.head_dim", "15");
    deck_defaults(&d);
    d.model_head_dim = 7;
    expect_invalid("odd explicit head_dim", &d, "model.head_dim", "7");
    deck_defaults(&d);
    d.train_global_batch = 10, d.train_micro_batch = 4;
    expect_invalid("global_batch % micro_batch", &d, "train.global_batch, train.micro_batch", "10");
    deck_defaults(&d);
    d.data_n_domains = 2, d.data_n_proportions = 3;
    d.data_proportions[0] = d.data_proportions[1] = 0.25, d.data_proportions[2] = 0.5;
    expect_invalid("proportions count != domains count", &d, "data.proportions, data.domains", "3 proportions for 2");
    d.data_n_domains = 0;
    check(deck_validate(&d, err, sizeof err) == 0, "validate: proportions without domains (store order)");
    d.data_proportions[2] = 0.4;
    expect_invalid("proportions sum", &d, "data.proportions", "sum to 0.9");
    d.data_proportions[2] = 0.5 + 2e-6;
    expect_invalid("proportions sum off by 2e-6", &d, "data.proportions", "expected a sum of 1");
    d.data_proportions[2] = 0.5 + 5e-7;
    check(deck_validate(&d, err, sizeof err) == 0, "validate: proportions sum off by 5e-7 is within 1e-6");
    deck_defaults(&d);
    d.optim_warmup = 101;
    expect_invalid("warmup > steps", &d, "optim.warmup, train.steps", "101");
    d.optim_warmup = 100;
    check(deck_validate(&d, err, sizeof err) == 0, "validate: warmup == steps");
    deck_defaults(&d);
    snprintf(d.path, sizeof d.path, "decks/x.yaml");
    d.train_micro_batch = 3;
    expect_invalid("message names the deck", &d, "decks/x.yaml: train.global_batch", NULL);
}

static size_t key_size(const DeckKey *k) {
    switch (k->type) {
    case DECK_INT: return sizeof(int);
    case DECK_DOUBLE: return sizeof(double);
    case DECK_STRING: return (size_t)k->max + 1;
    case DECK_ENUM: return DECK_NAME_LEN;
    case DECK_STRING_LIST: return DECK_MAX_DOMAINS * ((size_t)k->max + 1);
    case DECK_DOUBLE_LIST: return DECK_MAX_DOMAINS * sizeof(double);
    }
    return 0;
}

static int cmp_size(const void *a, const void *b) {
    const size_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

static void test_schema(void) {
    int all_ok = 1;
    for (size_t i = 0; i < DECK_SCHEMA_LEN; i++) {
        const DeckKey *k = &DECK_SCHEMA[i];
        char a[1200];
        snprintf(a, sizeof a, "%s.%s=%s", k->section, k->key, k->def);
        deck_defaults(&deck);
        int rc = deck_set(&deck, a, err, sizeof err);
        const char *f = (const char *)&deck + k->offset;
        int in = 0;
        switch (k->type) {
        case DECK_INT: in = *(const int *)f >= k->min && *(const int *)f <= k->max; break;
        case DECK_DOUBLE: in = *(const double *)f >= k->min && *(const double *)f <= k->max; break;
        case DECK_STRING: in = strlen(f) <= k->max; break;
        case DECK_ENUM: in = strstr(k->choices, f) != NULL && f[0]; break;
        case DECK_STRING_LIST:
        case DECK_DOUBLE_LIST: {
            // an empty default gives an empty list, a non-empty one at least one element (elements were
            // range-checked by deck_set above)
            int count = *(const int *)((const char *)&deck + k->count_offset);
            in = (k->def[0] == 0) == (count == 0);
            break;
        }
        }
        int doc_ok = k->doc && k->doc[0] && !strchr(k->doc, '|') && !strchr(k->doc, '\n');
        if (rc || !in || !doc_ok) {
            all_ok = 0;
            printf("     %s: rc %d in range %d doc %d %s\n", a, rc, in, doc_ok, rc ? err : "");
        }
        deck_free(&deck);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(DECK_SCHEMA[j].section, k->section) && !strcmp(DECK_SCHEMA[j].key, k->key)) {
                all_ok = 0;
                printf("     %s.%s appears twice\n", k->section, k->key);
            }
    }
    check(all_ok, "every one of %zu schema keys: default parses, lies in its range, unique, one-line doc",
          DECK_SCHEMA_LEN);

    // The fields the schema names tile the Deck up to `path`, with only alignment padding between them:
    // no field of Deck is missing from the schema and no two keys share bytes.
    size_t spans[2 * 64][2], n = 0;
    for (size_t i = 0; i < DECK_SCHEMA_LEN && n + 2 <= 128; i++) {
        const DeckKey *k = &DECK_SCHEMA[i];
        spans[n][0] = k->offset, spans[n++][1] = key_size(k);
        if (k->count_offset) spans[n][0] = k->count_offset, spans[n++][1] = sizeof(int);
    }
    qsort(spans, n, sizeof spans[0], cmp_size);
    int tiled = spans[0][0] == 0;
    for (size_t i = 0; i + 1 < n; i++) {
        size_t end = spans[i][0] + spans[i][1];
        if (end > spans[i + 1][0] || spans[i + 1][0] - end >= sizeof(double)) {
            tiled = 0;
            printf("     gap or overlap between offsets %zu+%zu and %zu\n", spans[i][0], spans[i][1], spans[i + 1][0]);
        }
    }
    size_t end = spans[n - 1][0] + spans[n - 1][1];
    tiled = tiled && end <= offsetof(Deck, path) && offsetof(Deck, path) - end < sizeof(double);
    check(tiled, "schema fields cover every Deck field before path (%zu spans)", n);
}

// Runs fn in a child with stdout and stderr in files; returns the exit status.
static int run_child(void (*fn)(void), const char *out_path, const char *err_path) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(out_path, "w", stdout) || !freopen(err_path, "w", stderr)) _exit(99);
        fn();
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static char tmpdir[] = "/tmp/test_deck_XXXXXX";
static char bad_path[256], out_path[256], err_path[256];

static void load_bad(void) {
    static Deck d;
    deck_load(&d, bad_path);
}
static void load_missing(void) {
    static Deck d;
    deck_load(&d, "/nonexistent/deck.yaml");
}
static void keys_plain(void) {
    char *argv[] = {"keys", NULL};
    exit(cmd_keys(1, argv));
}
static void keys_help(void) {
    char *argv[] = {"keys", "--help", NULL};
    exit(cmd_keys(2, argv));
}
static void keys_extra(void) {
    char *argv[] = {"keys", "extra", NULL};
    exit(cmd_keys(2, argv));
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_load_and_keys(void) {
    if (!mkdtemp(tmpdir)) {
        check(0, "mkdtemp");
        return;
    }
    char good[256];
    snprintf(good, sizeof good, "%s/good.yaml", tmpdir);
    snprintf(bad_path, sizeof bad_path, "%s/bad.yaml", tmpdir);
    snprintf(out_path, sizeof out_path, "%s/out.txt", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/err.txt", tmpdir);
    FILE *f = fopen(good, "w");
    fputs(FULL_DECK, f);
    fclose(f);
    f = fopen(bad_path, "w");
    fputs("model:\n  dim: 64\n  n_heads: four\n", f);
    fclose(f);

    static Deck d;
    memset(&d, 0x5a, sizeof d);  // deck_load must not trust what d held
    deck_load(&d, good);
    check(d.model_dim == 96 && d.text && !strcmp(d.text, FULL_DECK) && !strcmp(d.path, good),
          "deck_load keeps the values, the verbatim text and the path");
    deck_free(&d);

    int rc = run_child(load_bad, out_path, err_path);
    char *e = slurp(err_path), want[512];
    snprintf(want, sizeof want, "shear: error: %s:3: model.n_heads: expected an integer, got 'four'", bad_path);
    check(rc == 1 && e && strstr(e, want), "deck_load of a bad deck exits 1 with the message (%d: %s)", rc, e ? e : "");
    rc = run_child(load_missing, out_path, err_path);
    e = slurp(err_path);
    check(rc == 1 && e && strstr(e, "/nonexistent/deck.yaml"), "deck_load of a missing file exits 1 naming it");

    rc = run_child(keys_plain, out_path, err_path);
    char *o = slurp(out_path);
    size_t rows = 0, bad_rows = 0;
    for (char *line = o; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (line[0] != '|') continue;
        rows++;
        size_t bars = 0;  // unescaped '|' only: 6 per row of 5 cells
        for (char *c = line; *c && *c != '\n'; c++) bars += *c == '|' && (c == line || c[-1] != '\\');
        bad_rows += bars != 6;
    }
    int all_keys = 1;
    for (size_t i = 0; i < DECK_SCHEMA_LEN && o; i++) {
        char cell[96];
        snprintf(cell, sizeof cell, "| `%s.%s` |", DECK_SCHEMA[i].section, DECK_SCHEMA[i].key);
        all_keys &= strstr(o, cell) != NULL;
    }
    check(rc == 0 && rows == DECK_SCHEMA_LEN + 2 && bad_rows == 0 && all_keys,
          "shear keys: exit 0, %zu table rows of 5 cells, every key listed", rows);
    check(o && strstr(o, "| `optim.schedule` | enum | `cosine` | cosine \\| constant |"),
          "shear keys: enum choices escaped for Markdown");
    rc = run_child(keys_help, out_path, err_path);
    o = slurp(out_path);
    check(rc == 0 && o && strstr(o, "usage: shear keys"), "shear keys --help exits 0 with usage");
    rc = run_child(keys_extra, out_path, err_path);
    check(rc == 2, "shear keys with an extra argument exits 2 (%d)", rc);

    unlink(good), unlink(bad_path), unlink(out_path), unlink(err_path), rmdir(tmpdir);
}

int main(void) {
    test_defaults();
    test_full_deck();
    test_errors();
    test_set();
    test_validate();
    test_schema();
    test_load_and_keys();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
