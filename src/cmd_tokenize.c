// shear tokenize: JSON Lines of {"text": ...} on stdin -> one JSON array of token ids a line on stdout.
// A check of the tokenizer against other implementations, and a quick way to look at what the model sees.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shear/cli.h"
#include "shear/common.h"
#include "shear/tokenizer.h"

// cJSON keeps strings NUL-terminated, so a "\u0000" escape would silently cut the text short.
static int has_nul_escape(const char *s, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\') continue;
        if (s[i + 1] == 'u' && i + 6 <= n && memcmp(s + i + 2, "0000", 4) == 0) return 1;
        i++;  // skip the escaped character, so "\\u0000" (a backslash, then text) is not taken for one
    }
    return 0;
}

// Appends "[id,id,...]\n" to *buf (grown as needed); returns the new length.
static size_t format_ids(char **buf, size_t *cap, const int32_t *ids, size_t n) {
    size_t need = 12 * n + 4;
    if (need > *cap) {
        *cap = 2 * need;
        free(*buf);
        *buf = shear_malloc(*cap);
    }
    char *p = *buf;
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) *p++ = ',';
        char tmp[12];
        int k = 0;
        uint32_t v = (uint32_t)ids[i];  // ids are >= 0
        do tmp[k++] = (char)('0' + v % 10); while (v /= 10);
        while (k) *p++ = tmp[--k];
    }
    *p++ = ']';
    *p++ = '\n';
    return (size_t)(p - *buf);
}

int cmd_tokenize(int argc, char **argv) {
    CliOption opts[] = {
        {"tokenizer", "FILE", "Hugging Face tokenizer.json of LLaMA-2 (inputs/tokenizer/make_tokenizer.sh writes one)",
         NULL, 0},
        {"no-bos", NULL, "do not put the BOS token (id 1) first", NULL, 0},
    };
    cli_parse(argc, argv, opts, 2, "shear tokenize --tokenizer FILE [--no-bos] < in.jsonl > ids.jsonl",
              "Reads JSON Lines from stdin, each an object with a \"text\" string (other keys are ignored), and\n"
              "writes one line per input line: the JSON array of its token ids, BOS first unless --no-bos.\n"
              "A malformed line (not JSON, not an object, no \"text\" string, a \\u0000 escape) is reported on\n"
              "stderr as \"shear tokenize: line N: <what is wrong>\" and written as null, so output lines stay\n"
              "aligned with input lines; the other lines are still tokenized and the exit status is 1.",
              NULL, 0);
    if (!opts[0].set) {
        fprintf(stderr, "shear tokenize: --tokenizer FILE is required (see shear tokenize --help)\n");
        return SHEAR_EXIT_USAGE;
    }
    char err[1024];
    Tokenizer *tok = tokenizer_load(opts[0].value, err, sizeof err);
    if (!tok) {
        fprintf(stderr, "shear tokenize: %s\n", err);
        return SHEAR_EXIT_ERROR;
    }
    int bos = !opts[1].set;

    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    char *line = NULL, *text_out = NULL;
    size_t line_cap = 0, out_cap = 0, text_cap = 0, bad = 0, lineno = 0;
    int32_t *ids = NULL;
    ssize_t got;
    while ((got = getline(&line, &line_cap, stdin)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        const char *why = NULL;
        cJSON *j = NULL;
        const cJSON *text = NULL;
        if (n == 0) why = "empty line, expected a JSON object with a \"text\" string";
        else if (!(j = cJSON_ParseWithLength(line, n))) why = "not valid JSON, expected an object with a \"text\" string";
        else if (!cJSON_IsObject(j)) why = "not a JSON object, expected {\"text\": \"...\"}";
        else if (!cJSON_IsString(text = cJSON_GetObjectItemCaseSensitive(j, "text")))
            why = text ? "\"text\" is not a string" : "no \"text\" key, expected {\"text\": \"...\"}";
        else if (has_nul_escape(line, n)) why = "contains a \\u0000 escape; text with U+0000 is not supported";
        if (why) {
            fprintf(stderr, "shear tokenize: line %zu: %s\n", lineno, why);
            fputs("null\n", stdout);
            bad++;
        } else {
            size_t k = tokenizer_encode(tok, text->valuestring, strlen(text->valuestring), bos, &ids, &out_cap);
            fwrite(text_out, 1, format_ids(&text_out, &text_cap, ids, k), stdout);
        }
        cJSON_Delete(j);
    }
    if (ferror(stdin)) {
        fprintf(stderr, "shear tokenize: error reading stdin after line %zu\n", lineno);
        bad++;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "shear tokenize: error writing stdout\n");
        bad++;
    }
    free(line);
    free(text_out);
    free(ids);
    tokenizer_free(tok);
    if (bad) fprintf(stderr, "shear tokenize: %zu of %zu lines could not be tokenized\n", bad, lineno);
    return bad ? SHEAR_EXIT_ERROR : SHEAR_EXIT_OK;
}
