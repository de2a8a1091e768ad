// Input-deck parsing (deck.h): YAML through libyaml's document API onto the Deck struct, every key checked
// against DECK_SCHEMA (src/deck_schema.c). Defaults, decks and --set overrides all go through one path,
// apply_node, so they share every check and every message. Only deck_load touches files.
#include "shear/deck.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "shear/common.h"

#define MAX_SECTIONS 16
#define SHOWN_LEN 64  // values quoted in messages are cut here: one message stays one line

// One parse: the deck being filled, the YAML document the nodes belong to, and where messages go.
typedef struct {
    Deck *d;
    yaml_document_t *doc;
    const char *path;  // NULL: the value came from --set
    char *err;
    size_t errlen;
} Ctx;

// Writes "<path>:<line>: <name>: <message>" (or "--set: <name>: ...") into c->err and returns -1.
static int fail(const Ctx *c, size_t line, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(const Ctx *c, size_t line, const char *name, const char *fmt, ...) {
    if (!c->err || c->errlen == 0) return -1;
    int n = c->path ? snprintf(c->err, c->errlen, "%s:%zu: ", c->path, line) : snprintf(c->err, c->errlen, "--set: ");
    if (name && n >= 0 && (size_t)n < c->errlen) n += snprintf(c->err + n, c->errlen - (size_t)n, "%s: ", name);
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

// ---- schema lookups ----

static size_t list_sections(const char **names) {
    size_t n = 0;
    for (size_t i = 0; i < DECK_SCHEMA_LEN; i++) {
        size_t j = 0;
        while (j < n && strcmp(names[j], DECK_SCHEMA[i].section) != 0) j++;
        if (j == n && n < MAX_SECTIONS) names[n++] = DECK_SCHEMA[i].section;
    }
    return n;
}

static int find_section(const char *name) {
    const char *secs[MAX_SECTIONS];
    size_t n = list_sections(secs);
    for (size_t i = 0; i < n; i++)
        if (strcmp(secs[i], name) == 0) return (int)i;
    return -1;
}

static const DeckKey *find_key(const char *section, const char *key) {
    for (size_t i = 0; i < DECK_SCHEMA_LEN; i++)
        if (strcmp(DECK_SCHEMA[i].section, section) == 0 && strcmp(DECK_SCHEMA[i].key, key) == 0)
            return &DECK_SCHEMA[i];
    return NULL;
}

static void full_name(const DeckKey *k, char *buf, size_t n) { snprintf(buf, n, "%s.%s", k->section, k->key); }

// Levenshtein distance, case-insensitive; long names are cut (suggestions only need short ones).
static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63) la = 63;
    if (lb > 63) lb = 63;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb];
}

// A suggestion is "obvious" when few edits separate the names relative to their length.
static int close_enough(const char *typed, size_t dist) {
    size_t len = strlen(typed);
    size_t limit = len <= 3 ? 1 : len <= 8 ? 2 : 3;
    return dist <= limit;
}

// " (did you mean optim.lr?)" for a key typed in the wrong section or misspelt; "" when nothing is close.
static void suggest_key(const char *section, const char *key, char *out, size_t n) {
    out[0] = 0;
    const DeckKey *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < DECK_SCHEMA_LEN; i++) {
        const DeckKey *k = &DECK_SCHEMA[i];
        size_t dist = edit_distance(key, k->key);
        // a key of another section only counts when spelt exactly: "train.lr" -> optim.lr
        if (section && strcmp(k->section, section) != 0 && dist != 0) continue;
        if (dist < best_d || (dist == best_d && section && strcmp(k->section, section) == 0)) best = k, best_d = dist;
    }
    if (best && close_enough(key, best_d)) snprintf(out, n, " (did you mean %s.%s?)", best->section, best->key);
}

static void suggest_section(const char *name, char *out, size_t n) {
    out[0] = 0;
    const char *dot = strchr(name, '.');
    if (dot) {  // "optim.lr:" at the top level
        char sec[64];
        snprintf(sec, sizeof sec, "%.*s", (int)(dot - name), name);
        if (find_key(sec, dot + 1)) {
            snprintf(out, n, " (write it as '%s:' with '%s:' indented under it)", sec, dot + 1);
            return;
        }
    }
    const char *secs[MAX_SECTIONS];
    size_t ns = list_sections(secs), best_d = (size_t)-1;
    const char *best = NULL;
    for (size_t i = 0; i < ns; i++) {
        size_t dist = edit_distance(name, secs[i]);
        if (dist < best_d) best = secs[i], best_d = dist;
    }
    if (best && close_enough(name, best_d)) {
        snprintf(out, n, " (did you mean %s?)", best);
        return;
    }
    for (size_t i = 0; i < DECK_SCHEMA_LEN; i++)  // "lr:" at the top level
        if (strcmp(DECK_SCHEMA[i].key, name) == 0) {
            snprintf(out, n, " (did you mean %s.%s? keys go inside their section)", DECK_SCHEMA[i].section, name);
            return;
        }
}

static void join_sections(char *out, size_t n) {
    const char *secs[MAX_SECTIONS];
    size_t ns = list_sections(secs), used = 0;
    out[0] = 0;
    for (size_t i = 0; i < ns && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "", secs[i]);
}

static void join_keys(const char *section, char *out, size_t n) {
    size_t used = 0, count = 0;
    out[0] = 0;
    for (size_t i = 0; i < DECK_SCHEMA_LEN && used < n; i++)
        if (strcmp(DECK_SCHEMA[i].section, section) == 0)
            used += (size_t)snprintf(out + used, n - used, "%s%s", count++ ? ", " : "", DECK_SCHEMA[i].key);
}

// ---- scalar values ----

// Numbers in messages: integers without exponent (2147483647, not 2.14748e+09), others in %g.
static void fmt_num(double v, char *buf, size_t n) {
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%g", v);
}

static void fmt_range(const DeckKey *k, char *buf, size_t n) {
    char lo[32], hi[32];
    fmt_num(k->min, lo, sizeof lo);
    fmt_num(k->max, hi, sizeof hi);
    snprintf(buf, n, "[%s, %s]", lo, hi);
}

// "'abc'" for messages, cut at SHOWN_LEN or a line break; "an empty value" when there is nothing.
static const char *shown(const char *s, size_t len, char *buf, size_t n) {
    if (len == 0) return "an empty value";
    size_t keep = 0;
    while (keep < len && keep < SHOWN_LEN && s[keep] != '\n' && s[keep] != '\r') keep++;
    snprintf(buf, n, "'%.*s%s'", (int)keep, s, keep < len ? "..." : "");
    return buf;
}

static int is_name_char(int ch) { return isalnum(ch) || ch == '_' || ch == '-' || ch == '.'; }

// What a key (or one element of a list key) takes, for "expected ..." and the README.
static void describe(const DeckKey *k, int element, char *buf, size_t n) {
    char range[80];
    fmt_range(k, range, sizeof range);
    switch (k->type) {
    case DECK_INT: snprintf(buf, n, "an integer in %s", range); break;
    case DECK_DOUBLE: snprintf(buf, n, "a number in %s", range); break;
    case DECK_STRING: snprintf(buf, n, "a string of at most %.0f bytes", k->max); break;
    case DECK_ENUM: snprintf(buf, n, "one of %s", k->choices); break;
    case DECK_STRING_LIST:
        if (element)
            snprintf(buf, n, "a name of 1 to %.0f letters, digits, '_', '-' or '.'", k->max);
        else
            snprintf(buf, n, "a list of at most %d names like [web, code]", DECK_MAX_DOMAINS);
        break;
    case DECK_DOUBLE_LIST:
        if (element)
            snprintf(buf, n, "a number in %s", range);
        else
            snprintf(buf, n, "a list of at most %d numbers in %s like [0.5, 0.5]", DECK_MAX_DOMAINS, range);
        break;
    }
}

// Converts one scalar for key k (for a list key: one element) into dst. On a bad value writes
// "expected ..., got ..." into why and returns -1. is_null: a plain empty / ~ / null scalar.
static int set_value(const DeckKey *k, void *dst, const char *s, size_t len, int is_null, char *why, size_t n) {
    char sh[SHOWN_LEN + 8], range[80];
    const char *got = shown(s, len, sh, sizeof sh);
    fmt_range(k, range, sizeof range);
    int is_double = k->type == DECK_DOUBLE || k->type == DECK_DOUBLE_LIST;
    if (k->type == DECK_INT) {
        char *end = NULL;
        errno = 0;
        long v = (len && !isspace((unsigned char)s[0])) ? strtol(s, &end, 10) : 0;
        if (!len || !end || end == s || (size_t)(end - s) != len) {
            snprintf(why, n, "expected an integer, got %s", got);
            return -1;
        }
        if (errno == ERANGE || (double)v < k->min || (double)v > k->max) {
            snprintf(why, n, "expected an integer in %s, got %.*s", range, SHOWN_LEN, s);
            return -1;
        }
        *(int *)dst = (int)v;
        return 0;
    }
    if (is_double) {
        // strtod alone would also take "inf", "nan" and hex floats; a deck number is decimal
        int ok = len > 0;
        for (size_t i = 0; i < len && ok; i++) ok = isdigit((unsigned char)s[i]) || strchr("+-.eE", s[i]);
        char *end = NULL;
        double v = ok ? strtod(s, &end) : 0;
        if (!ok || end == s || (size_t)(end - s) != len) {
            snprintf(why, n, "expected a number, got %s", got);
            return -1;
        }
        if (!isfinite(v) || v < k->min || v > k->max) {
            snprintf(why, n, "expected a number in %s, got %.*s", range, SHOWN_LEN, s);
            return -1;
        }
        *(double *)dst = v;
        return 0;
    }
    if (strlen(s) != len) {  // a "\0" escape in a quoted string
        snprintf(why, n, "expected text without NUL characters, got a string with a \\0 escape");
        return -1;
    }
    if (k->type == DECK_STRING) {
        if (is_null) len = 0;
        if ((double)len > k->max) {
            snprintf(why, n, "expected a string of at most %.0f bytes, got %zu bytes (%s)", k->max, len, got);
            return -1;
        }
        memcpy(dst, s, len);
        ((char *)dst)[len] = 0;
        return 0;
    }
    if (k->type == DECK_ENUM) {
        const char *c = k->choices;
        while (*c) {
            size_t cl = strcspn(c, "|");
            if (cl == len && strncmp(c, s, len) == 0 && len < DECK_NAME_LEN) {
                memcpy(dst, s, len);
                ((char *)dst)[len] = 0;
                return 0;
            }
            c += cl + (c[cl] == '|');
        }
        snprintf(why, n, "expected one of %s, got %s", k->choices, got);
        return -1;
    }
    // DECK_STRING_LIST element: a name that can label a domain everywhere (HDF5 groups, JSON, logs)
    int ok = len >= 1 && (double)len <= k->max;
    for (size_t i = 0; i < len && ok; i++) ok = is_name_char((unsigned char)s[i]);
    if (!ok) {
        char what[160];
        describe(k, 1, what, sizeof what);
        snprintf(why, n, "expected %s, got %s", what, got);
        return -1;
    }
    memcpy(dst, s, len);
    ((char *)dst)[len] = 0;
    return 0;
}

// ---- YAML nodes ----

static const char *node_kind(const yaml_node_t *v) {
    return v->type == YAML_SEQUENCE_NODE ? "a list" : v->type == YAML_MAPPING_NODE ? "a mapping" : "a scalar";
}

static int is_null_scalar(const yaml_node_t *v) {
    if (v->type != YAML_SCALAR_NODE || v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *s = (const char *)v->data.scalar.value;
    return v->data.scalar.length == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static size_t line_of(const yaml_node_t *v) { return v->start_mark.line + 1; }

// Applies the value node v to key k. key_line: where the key is, for errors about the value's kind.
static int apply_node(Ctx *c, const DeckKey *k, yaml_node_t *v, size_t key_line) {
    char name[80], what[160], why[320];
    full_name(k, name, sizeof name);
    describe(k, 0, what, sizeof what);
    char *field = (char *)c->d + k->offset;
    int is_list = k->type == DECK_STRING_LIST || k->type == DECK_DOUBLE_LIST;
    if (v->type == YAML_MAPPING_NODE) return fail(c, key_line, name, "expected %s, got a mapping", what);
    if (v->type == YAML_SCALAR_NODE) {
        const char *s = (const char *)v->data.scalar.value;
        size_t len = v->data.scalar.length;
        if (is_list) {
            if (!is_null_scalar(v)) {
                char sh[SHOWN_LEN + 8];
                return fail(c, line_of(v), name, "expected %s, got the scalar %s", what, shown(s, len, sh, sizeof sh));
            }
            *(int *)((char *)c->d + k->count_offset) = 0;
            return 0;
        }
        if (set_value(k, field, s, len, is_null_scalar(v), why, sizeof why))
            return fail(c, line_of(v), name, "%s", why);
        return 0;
    }
    if (!is_list) return fail(c, key_line, name, "expected %s, got a list", what);
    yaml_node_item_t *items = v->data.sequence.items.start;
    size_t count = (size_t)(v->data.sequence.items.top - items);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *e = yaml_document_get_node(c->doc, items[i]);
        char ename[96];
        snprintf(ename, sizeof ename, "%s[%zu]", name, i);
        if (i >= DECK_MAX_DOMAINS)
            return fail(c, line_of(e), name, "expected at most %d elements, got %zu", DECK_MAX_DOMAINS, count);
        if (e->type != YAML_SCALAR_NODE) {
            describe(k, 1, what, sizeof what);
            return fail(c, line_of(e), ename, "expected %s, got %s", what, node_kind(e));
        }
        const char *s = (const char *)e->data.scalar.value;
        size_t len = e->data.scalar.length;
        void *dst = k->type == DECK_DOUBLE_LIST ? (void *)((double *)field + i) : (void *)(field + i * DECK_NAME_LEN);
        if (set_value(k, dst, s, len, is_null_scalar(e), why, sizeof why)) return fail(c, line_of(e), ename, "%s", why);
        if (k->type == DECK_STRING_LIST)
            for (size_t j = 0; j < i; j++)
                if (strcmp(field + j * DECK_NAME_LEN, s) == 0)
                    return fail(c, line_of(e), ename,
                                "'%s' is listed twice (as element %zu too), expected distinct names", s, j);
    }
    *(int *)((char *)c->d + k->count_offset) = (int)count;
    return 0;
}

// Loads the single YAML document of text into doc (*has_root = 0 for an empty text). On a syntax error or a
// second document writes the problem into why, its 1-based line into *line, and returns -1.
// expect: what valid input looks like here, for the message.
// Depth of nested mappings and sequences, found with libyaml's event parser before the document is built:
// libyaml 0.2.5 takes time quadratic in the depth (a 2 MB deck of nested flow sequences takes minutes), and a
// deck is at most section -> key -> list. Returns 0, 1 when too deep (*line: where), or -1 on a syntax error
// (load_document reports it).
static int check_depth(const char *text, size_t *line) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) SHEAR_DIE("out of memory initialising the YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    int depth = 0, rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = -1;
            break;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT) depth++;
        if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT) depth--;
        *line = ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (depth > DECK_MAX_DEPTH) {
            rc = 1;
            break;
        }
        if (t == YAML_STREAM_END_EVENT) break;
    }
    yaml_parser_delete(&parser);
    return rc;
}

static int load_document(const char *text, const char *expect, yaml_document_t *doc, int *has_root, char *why, size_t n,
                         size_t *line) {
    size_t len = strlen(text);
    if (len > DECK_MAX_BYTES) {
        *line = 1;
        snprintf(why, n, "%zu bytes of YAML, expected at most %d (a deck is a few dozen 'key: value' lines)", len,
                 DECK_MAX_BYTES);
        return -1;
    }
    if (check_depth(text, line) == 1) {
        snprintf(why, n, "YAML nested more than %d levels deep, expected a deck's 'section: key: value' with a "
                 "value at most a flat list", DECK_MAX_DEPTH);
        return -1;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) SHEAR_DIE("out of memory initialising the YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = -1;
    if (!yaml_parser_load(&parser, doc)) goto syntax;
    *has_root = yaml_document_get_root_node(doc) != NULL;
    yaml_document_t next;
    if (!yaml_parser_load(&parser, &next)) {
        yaml_document_delete(doc);
        goto syntax;
    }
    yaml_node_t *next_root = yaml_document_get_root_node(&next);
    if (next_root) {
        *line = next.start_mark.line + 1;
        snprintf(why, n, "a second YAML document starts here, expected one document");
        yaml_document_delete(&next);
        yaml_document_delete(doc);
        goto done;
    }
    yaml_document_delete(&next);
    rc = 0;
    goto done;
syntax:;
    // A key without ':' and a construct left open at the end of the text are reported where they start (the
    // context): that is the line to fix. Everything else is reported where libyaml stopped.
    size_t problem = parser.problem_mark.line + 1, context = parser.context_mark.line + 1;
    int at_end = parser.problem_mark.index >= strlen(text);
    int simple_key = parser.context && strstr(parser.context, "simple key");
    *line = parser.context && (at_end || simple_key) ? context : problem;
    char ctx[160] = "";
    if (parser.context && context != *line)
        snprintf(ctx, sizeof ctx, " (%s at line %zu)", parser.context, context);
    else if (parser.context)
        snprintf(ctx, sizeof ctx, " (%s)", parser.context);
    const char *p = text;  // tabs are the usual cause of indentation errors: say so
    for (size_t l = 1; l < *line && (p = strchr(p, '\n')); l++) p++;
    int tab = p && memchr(p, '\t', strcspn(p, "\n")) != NULL;
    snprintf(why, n, "YAML syntax error: %s%s, expected %s", parser.problem ? parser.problem : "unknown problem", ctx,
             tab ? "indentation with spaces (YAML does not allow tabs)" : expect);
done:
    yaml_parser_delete(&parser);
    return rc;
}

// Parses value (YAML text: a scalar or a flow list) and applies it to k, as --set and the defaults do.
static int apply_text(Deck *d, const DeckKey *k, const char *value, char *err, size_t errlen) {
    Ctx c = {d, NULL, NULL, err, errlen};
    char name[80], why[400];
    full_name(k, name, sizeof name);
    yaml_document_t doc;
    int has_root = 0;
    size_t line = 0;
    if (load_document(value, "a YAML scalar or a flow list like [a, b]", &doc, &has_root, why, sizeof why, &line))
        return fail(&c, 0, name, "%s", why);
    int rc;
    c.doc = &doc;
    if (has_root) {
        rc = apply_node(&c, k, yaml_document_get_root_node(&doc), 0);
    } else {  // nothing at all: the empty value
        yaml_node_t empty = {0};
        empty.type = YAML_SCALAR_NODE;
        empty.data.scalar.value = (yaml_char_t *)"";
        empty.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
        rc = apply_node(&c, k, &empty, 0);
    }
    yaml_document_delete(&doc);
    return rc;
}

// Every schema field to its default; path and text are left alone.
static void apply_defaults(Deck *d) {
    char err[512];
    for (size_t i = 0; i < DECK_SCHEMA_LEN; i++)
        if (apply_text(d, &DECK_SCHEMA[i], DECK_SCHEMA[i].def, err, sizeof err))
            SHEAR_DIE("the built-in default of %s.%s is invalid: %s", DECK_SCHEMA[i].section, DECK_SCHEMA[i].key, err);
}

void deck_defaults(Deck *d) {
    memset(d, 0, sizeof *d);
    apply_defaults(d);
}

// ---- decks ----

// One section: a mapping of key: value (or nothing: "model:" alone leaves the defaults).
static int apply_section(Ctx *c, const char *section, yaml_node_t *v, size_t sec_line, size_t *key_line) {
    char keys[512], hint[128], name[160];
    if (is_null_scalar(v)) return 0;
    if (v->type != YAML_MAPPING_NODE) {
        join_keys(section, keys, sizeof keys);
        return fail(c, sec_line, section, "expected a mapping of %s keys (%s), got %s", section, keys, node_kind(v));
    }
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);
        if (kn->type != YAML_SCALAR_NODE)
            return fail(c, line_of(kn), section, "expected a key name, got %s", node_kind(kn));
        const char *key = (const char *)kn->data.scalar.value;
        snprintf(name, sizeof name, "%s.%.*s", section, SHOWN_LEN, key);
        const DeckKey *k = find_key(section, key);
        if (!k) {
            suggest_key(section, key, hint, sizeof hint);
            join_keys(section, keys, sizeof keys);
            return fail(c, line_of(kn), name, "unknown key%s, expected one of %s", hint, keys);
        }
        size_t *seen = &key_line[k - DECK_SCHEMA];
        if (*seen)
            return fail(c, line_of(kn), name, "duplicate key (first given at line %zu), expected each key once", *seen);
        *seen = line_of(kn);
        if (apply_node(c, k, vn, line_of(kn))) return -1;
    }
    return 0;
}

int deck_parse(Deck *d, const char *path, const char *text, char *err, size_t errlen) {
    Ctx c = {d, NULL, path ? path : "<deck>", err, errlen};
    apply_defaults(d);
    yaml_document_t doc;
    int has_root = 0;
    size_t line = 0;
    char why[400];
    if (load_document(text ? text : "",
                      "valid YAML: 'section:' lines, each with its 'key: value' lines indented the same under it", &doc,
                      &has_root, why, sizeof why, &line))
        return fail(&c, line, NULL, "%s", why);
    c.doc = &doc;
    int rc = 0;
    size_t sec_line[MAX_SECTIONS] = {0};
    size_t *key_line = shear_calloc(DECK_SCHEMA_LEN, sizeof(size_t));
    yaml_node_t *root = has_root ? yaml_document_get_root_node(&doc) : NULL;
    char list[256], hint[160], name[SHOWN_LEN + 8];
    join_sections(list, sizeof list);
    if (root && is_null_scalar(root)) root = NULL;  // a file of comments only
    if (root && root->type != YAML_MAPPING_NODE) {
        rc = fail(&c, line_of(root), NULL, "expected a mapping of sections (%s), got %s", list, node_kind(root));
        goto done;
    }
    for (yaml_node_pair_t *p = root ? root->data.mapping.pairs.start : NULL; root && p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(&doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(&doc, p->value);
        if (kn->type != YAML_SCALAR_NODE) {
            rc = fail(&c, line_of(kn), NULL, "expected a section name (%s), got %s", list, node_kind(kn));
            goto done;
        }
        const char *sec = (const char *)kn->data.scalar.value;
        snprintf(name, sizeof name, "%.*s", SHOWN_LEN, sec);
        int si = find_section(sec);
        if (si < 0) {
            suggest_section(sec, hint, sizeof hint);
            rc = fail(&c, line_of(kn), name, "unknown section%s, expected one of %s", hint, list);
            goto done;
        }
        if (sec_line[si]) {
            rc = fail(&c, line_of(kn), name, "duplicate section (first given at line %zu), expected each section once",
                      sec_line[si]);
            goto done;
        }
        sec_line[si] = line_of(kn);
        if ((rc = apply_section(&c, sec, vn, line_of(kn), key_line))) goto done;
    }
done:
    free(key_line);
    yaml_document_delete(&doc);
    return rc;
}

char *deck_read_text(const char *path, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot open '%s': %s (the input deck)", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "input deck '%s' is a directory, expected a YAML file", path);
        return NULL;
    }
    // checked before reading: a deck path that names a 50 GB file must not be read into memory first
    if (S_ISREG(st.st_mode) && st.st_size > DECK_MAX_BYTES) {
        snprintf(err, errlen, "input deck '%s' is %lld bytes, expected at most %d (a deck is a few dozen "
                 "'key: value' lines; is this the right file?)", path, (long long)st.st_size, DECK_MAX_BYTES);
        return NULL;
    }
    size_t len = 0;
    char *text = shear_read_file(path, &len);
    if (strlen(text) != len) {
        snprintf(err, errlen, "%s: expected a YAML text file, got NUL bytes (a binary file?)", path);
        free(text);
        return NULL;
    }
    return text;
}

void deck_load(Deck *d, const char *path) {
    char err[1024];
    deck_defaults(d);  // d may be uninitialised: never free what it holds
    char *text = deck_read_text(path, err, sizeof err);
    if (!text) SHEAR_DIE("%s", err);
    if (deck_parse(d, path, text, err, sizeof err)) {
        free(text);
        SHEAR_DIE("%s", err);
    }
    if (strlen(path) >= sizeof d->path) SHEAR_DIE("deck path '%s' is longer than %zu bytes", path, sizeof d->path - 1);
    d->text = text;
    snprintf(d->path, sizeof d->path, "%s", path);
}

// ---- --set ----

// The overrides are appended to d->text as comments, so the deck stored with every output says what ran.
static void record_set(Deck *d, const char *assignment) {
    size_t old = d->text ? strlen(d->text) : 0, add = strlen(assignment);
    char *t = realloc(d->text, old + add + 16);
    if (!t) SHEAR_DIE("out of memory recording --set %s", assignment);
    size_t n = old;
    if (n && t[n - 1] != '\n') t[n++] = '\n';
    n += (size_t)sprintf(t + n, "# --set ");
    for (size_t i = 0; i < add; i++) t[n++] = (assignment[i] == '\n' || assignment[i] == '\r') ? ' ' : assignment[i];
    t[n++] = '\n';
    t[n] = 0;
    d->text = t;
}

int deck_set(Deck *d, const char *assignment, char *err, size_t errlen) {
    Ctx c = {d, NULL, NULL, err, errlen};
    char name[128], hint[160], keys[512], sh[SHOWN_LEN + 8];
    const char *eq = strchr(assignment, '=');
    size_t nlen = eq ? (size_t)(eq - assignment) : strlen(assignment);
    while (nlen && isspace((unsigned char)assignment[nlen - 1])) nlen--;
    const char *a = assignment;
    while (nlen && isspace((unsigned char)*a)) a++, nlen--;
    if (nlen >= sizeof name) nlen = sizeof name - 1;
    memcpy(name, a, nlen);
    name[nlen] = 0;
    if (!eq)
        return fail(&c, 0, NULL, "%s: expected section.key=value, e.g. optim.lr=3e-4",
                    shown(assignment, strlen(assignment), sh, sizeof sh));
    char *dot = strchr(name, '.');
    if (!dot) {
        suggest_key(NULL, name, hint, sizeof hint);
        return fail(&c, 0, name, "not a section.key name%s, expected section.key=value, e.g. optim.lr=3e-4", hint);
    }
    *dot = 0;
    const char *section = name, *key = dot + 1;
    char list[256];
    if (find_section(section) < 0) {
        suggest_section(section, hint, sizeof hint);
        join_sections(list, sizeof list);
        *dot = '.';
        return fail(&c, 0, name, "unknown section%s, expected one of %s", hint, list);
    }
    const DeckKey *k = find_key(section, key);
    if (!k) {
        suggest_key(section, key, hint, sizeof hint);
        join_keys(section, keys, sizeof keys);
        *dot = '.';
        return fail(&c, 0, name, "unknown key%s, expected one of %s", hint, keys);
    }
    Deck *tmp = shear_malloc(sizeof *tmp);  // a failed --set leaves d as it was
    *tmp = *d;
    const char *value = eq + 1;
    while (isspace((unsigned char)*value)) value++;
    int rc = apply_text(tmp, k, value, err, errlen);
    if (rc == 0) {
        *d = *tmp;
        record_set(d, assignment);
    }
    free(tmp);
    return rc;
}

// ---- cross-key rules ----

static int vfail(const Deck *d, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int vfail(const Deck *d, char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return -1;
    int n = d->path[0] ? snprintf(err, errlen, "%s: ", d->path) : 0;
    if (n >= 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int deck_validate(const Deck *d, char *err, size_t errlen) {
    // the schema ranges keep these >= 1 for any parsed deck; a hand-filled one must not divide by zero
    if (d->model_n_heads < 1 || d->model_n_kv_heads < 1 || d->model_dim < 1 || d->train_micro_batch < 1)
        return vfail(d, err, errlen,
                     "model.dim, model.n_heads, model.n_kv_heads, train.micro_batch: got %d, %d, %d, %d, "
                     "expected every one >= 1",
                     d->model_dim, d->model_n_heads, d->model_n_kv_heads, d->train_micro_batch);
    if (d->model_head_dim == 0 && d->model_dim % d->model_n_heads != 0)
        return vfail(d, err, errlen,
                     "model.dim, model.n_heads: model.dim = %d is not a multiple of model.n_heads = %d, expected a "
                     "multiple when model.head_dim is 0 (head_dim = dim / n_heads), or an explicit model.head_dim",
                     d->model_dim, d->model_n_heads);
    if (d->model_n_heads % d->model_n_kv_heads != 0)
        return vfail(d, err, errlen,
                     "model.n_heads, model.n_kv_heads: model.n_heads = %d is not a multiple of model.n_kv_heads = %d, "
                     "expected n_kv_heads to divide n_heads (each KV head serves a group of query heads)",
                     d->model_n_heads, d->model_n_kv_heads);
    int head_dim = d->model_head_dim ? d->model_head_dim : d->model_dim / d->model_n_heads;
    if (head_dim % 2 != 0)
        return vfail(
            d, err, errlen,
            "model.head_dim: the head size is %d (%s), expected an even size (RoPE rotates pairs of dimensions)",
            head_dim, d->model_head_dim ? "model.head_dim" : "model.dim / model.n_heads, model.head_dim is 0");
    if (d->train_global_batch % d->train_micro_batch != 0)
        return vfail(d, err, errlen,
                     "train.global_batch, train.micro_batch: train.global_batch = %d is not a multiple of "
                     "train.micro_batch = %d, expected global_batch to be a whole number of micro-batches",
                     d->train_global_batch, d->train_micro_batch);
    if (d->data_n_proportions > 0 && d->data_n_domains > 0 && d->data_n_proportions != d->data_n_domains)
        return vfail(d, err, errlen,
                     "data.proportions, data.domains: %d proportions for %d domains, expected one proportion per "
                     "domain of data.domains (or data.proportions: [])",
                     d->data_n_proportions, d->data_n_domains);
    if (d->data_n_proportions > 0) {
        double sum = 0;
        for (int i = 0; i < d->data_n_proportions; i++) sum += d->data_proportions[i];
        if (fabs(sum - 1.0) > 1e-6)
            return vfail(d, err, errlen,
                         "data.proportions: the proportions sum to %.9g, expected a sum of 1 (within 1e-6)", sum);
    }
    if (d->optim_warmup > d->train_steps)
        return vfail(
            d, err, errlen,
            "optim.warmup, train.steps: optim.warmup = %d is more than train.steps = %d, expected warmup <= steps",
            d->optim_warmup, d->train_steps);
    return 0;
}

void deck_free(Deck *d) {
    free(d->text);
    d->text = NULL;
}

// ---- the README table ----

static const char *TYPE_NAMES[] = {"int", "number", "string", "enum", "list of names", "list of numbers"};

void deck_print_keys(FILE *out) {
    fprintf(out, "| key | type | default | range/choices | meaning |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < DECK_SCHEMA_LEN; i++) {
        const DeckKey *k = &DECK_SCHEMA[i];
        char range[160], def[80];
        int is_list = k->type == DECK_STRING_LIST || k->type == DECK_DOUBLE_LIST;
        if (k->def[0])
            snprintf(def, sizeof def, "`%s`", k->def);
        else
            snprintf(def, sizeof def, "%s", is_list ? "`[]`" : "`\"\"`");
        switch (k->type) {
        case DECK_INT:
        case DECK_DOUBLE: fmt_range(k, range, sizeof range); break;
        case DECK_STRING: snprintf(range, sizeof range, "at most %.0f bytes", k->max); break;
        case DECK_ENUM: {  // '|' would split the Markdown cell
            size_t n = 0;
            for (const char *c = k->choices; *c && n + 8 < sizeof range; c++)
                n += (size_t)snprintf(range + n, sizeof range - n, *c == '|' ? " \\| " : "%c", *c);
            break;
        }
        case DECK_STRING_LIST:
            snprintf(range, sizeof range, "at most %d names of 1 to %.0f chars `[A-Za-z0-9_.-]`", DECK_MAX_DOMAINS,
                     k->max);
            break;
        case DECK_DOUBLE_LIST: {
            char r[80];
            fmt_range(k, r, sizeof r);
            snprintf(range, sizeof range, "at most %d, each in %s", DECK_MAX_DOMAINS, r);
            break;
        }
        }
        fprintf(out, "| `%s.%s` | %s | %s | %s | %s |\n", k->section, k->key, TYPE_NAMES[k->type], def, range, k->doc);
    }
}

void deck_open(Deck *d, const char *path, const char **sets, int n) {
    deck_load(d, path);
    char err[1024];
    for (int i = 0; i < n; i++)
        if (deck_set(d, sets[i], err, sizeof err)) SHEAR_DIE("%s", err);
    if (deck_validate(d, err, sizeof err)) SHEAR_DIE("%s", err);
}
