// shear tokenize: JSON Lines of {"text": ...} on stdin -> one JSON array of token ids a line on stdout, or with
// --decode the reverse. A check of the tokenizer against other implementations, and a quick way to look at what
// the model sees. The tokenizer's kind (LLaMA-2 or byte-level BPE) comes from the file.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shear/cli.h"
#include "shear/common.h"
#include "shear/prep.h"
#include "shear/tokenizer.h"

// cJSON keeps strings NUL-terminated, so a "\u0000" escape would silently cut the text short.
// A bad input line: a warning now, and (first != NULL) kept for the closing error.
static void report_line(size_t lineno, const char *why, char *first, size_t len) {
    shear_warn("line %zu: %s", lineno, why);
    if (first) snprintf(first, len, "line %zu: %s", lineno, why);
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

// One line "[id, ...]" -> {"text": ...} on stdout; returns why it cannot be decoded, or NULL.
static const char *decode_line(const Tokenizer *tok, const char *line, size_t n, int32_t **ids, size_t *cap) {
    cJSON *j = cJSON_ParseWithLength(line, n);
    const char *why = NULL;
    size_t k = 0;
    if (!j || !cJSON_IsArray(j)) why = "not a JSON array of token ids";
    for (const cJSON *e = j ? j->child : NULL; e && !why; e = e->next, k++) {
        if (!cJSON_IsNumber(e) || e->valuedouble != (double)(int32_t)e->valuedouble || e->valuedouble < 0 ||
            e->valuedouble >= tokenizer_vocab_size(tok)) {
            why = "an entry is not a token id of this tokenizer (an integer in [0, vocab size))";
            break;
        }
        if (k == *cap) {
            *cap = *cap ? 2 * *cap : 1024;
            int32_t *grown = realloc(*ids, *cap * sizeof **ids);
            if (!grown) SHEAR_DIE("out of memory decoding a line of %zu ids", *cap);
            *ids = grown;
        }
        (*ids)[k] = (int32_t)e->valuedouble;
    }
    cJSON_Delete(j);
    if (why) return why;
    size_t len = 0;
    char *text = tokenizer_decode(tok, *ids, k, &len);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "text", cJSON_CreateString(text));
    char *out = cJSON_PrintUnformatted(o);
    if (!out) SHEAR_DIE("out of memory writing a decoded line of %zu bytes", len);
    fputs(out, stdout);
    fputc('\n', stdout);
    free(out);
    cJSON_Delete(o);
    free(text);
    return NULL;
}

int cmd_tokenize(int argc, char **argv) {
    CliOption opts[] = {
        {"tokenizer", "FILE", "Hugging Face tokenizer.json: LLaMA-2's (inputs/tokenizer/make_tokenizer.sh writes one) "
         "or a byte-level BPE one (Llama 3.x, Qwen2.5/Qwen3; inputs/tokenizer/fetch_bytelevel.sh fetches them)",
         NULL, 0},
        {"no-bos", NULL, "do not put the family's BOS token first (LLaMA-2 id 1, Llama 3.1 <|begin_of_text|>)",
         NULL, 0},
        {"decode", NULL, "the reverse: read JSON arrays of ids, write {\"text\": ...} lines", NULL, 0},
    };
    cli_parse(argc, argv, opts, 3, "shear tokenize --tokenizer FILE [--no-bos | --decode] < in.jsonl > out.jsonl",
              "Reads JSON Lines from stdin, each an object with a \"text\" string (other keys are ignored), and\n"
              "writes one line per input line: the JSON array of its token ids, the family's BOS first unless\n"
              "--no-bos (Qwen has none). The kind of tokenizer (LLaMA-2's SentencePiece BPE, or byte-level BPE\n"
              "as Llama 3 and Qwen ship) is read from the file.\n"
              "With --decode each input line is a JSON array of ids and the output line is {\"text\": ...}\n"
              "(LLaMA-2: BOS/EOS dropped, the prepended space stripped; byte-level: every token's text, special\n"
              "tokens included, so decoding the ids of --no-bos gives the text back).\n"
              "A malformed line (not JSON, not an object, no \"text\" string, text that is not UTF-8, a \\u0000\n"
              "escape; with --decode not an array of ids of this vocabulary) is reported on stderr as\n"
              "\"shear: warning: line N: <what is wrong>\" and written as null, so output lines stay aligned with\n"
              "input lines; the other lines are still processed, and at the end one \"shear: error:\" line counts\n"
              "them and names the first; the exit status is 1.",
              NULL, 0);
    if (!opts[0].set) {
        fprintf(stderr, "shear tokenize: --tokenizer FILE is required (see shear tokenize --help)\n");
        return SHEAR_EXIT_USAGE;
    }
    char err[1024];
    Tokenizer *tok = tokenizer_load(opts[0].value, err, sizeof err);
    if (!tok) {
        SHEAR_DIE("%s", err);
    }
    int bos = !opts[1].set, decode = opts[2].set;
    if (decode && opts[1].set) {
        fprintf(stderr, "shear tokenize: --no-bos and --decode do not go together (--decode reads ids)\n");
        tokenizer_free(tok);
        return SHEAR_EXIT_USAGE;
    }

    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    char *line = NULL, *text_out = NULL;
    size_t line_cap = 0, out_cap = 0, text_cap = 0, bad = 0, lineno = 0;
    char first[512] = "", utf8_why[96]; // the first bad line's report, for the closing error
    int32_t *ids = NULL;
    ssize_t got;
    while ((got = getline(&line, &line_cap, stdin)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        const char *why = NULL;
        cJSON *j = NULL;
        const cJSON *text = NULL;
        if (decode) {
            if ((why = n ? decode_line(tok, line, n, &ids, &out_cap) : "empty line, expected a JSON array of ids")) {
                report_line(lineno, why, bad++ ? NULL : first, sizeof first);
                fputs("null\n", stdout);
            }
            continue;
        }
        if (n == 0) why = "empty line, expected a JSON object with a \"text\" string";
        else if (!(j = cJSON_ParseWithLength(line, n))) why = "not valid JSON, expected an object with a \"text\" string";
        else if (!cJSON_IsObject(j)) why = "not a JSON object, expected {\"text\": \"...\"}";
        else if (!cJSON_IsString(text = cJSON_GetObjectItemCaseSensitive(j, "text")))
            why = text ? "\"text\" is not a string" : "no \"text\" key, expected {\"text\": \"...\"}";
        else if (shear_json_has_nul_escape(line, n)) why = "contains a \\u0000 escape; text with U+0000 is not supported";
        else {
            // like shear prep: a text that is not UTF-8 is refused, not tokenized as bytes
            size_t tl = strlen(text->valuestring), ok = utf8_valid_prefix(text->valuestring, tl);
            if (ok != tl) {
                snprintf(utf8_why, sizeof utf8_why, "\"text\" is not valid UTF-8 (byte %zu of %zu), expected UTF-8 text",
                         ok, tl);
                why = utf8_why;
            }
        }
        if (why) {
            report_line(lineno, why, bad++ ? NULL : first, sizeof first);
            fputs("null\n", stdout);
        } else {
            size_t k = tokenizer_encode(tok, text->valuestring, strlen(text->valuestring), bos, &ids, &out_cap);
            fwrite(text_out, 1, format_ids(&text_out, &text_cap, ids, k), stdout);
        }
        cJSON_Delete(j);
    }
    if (ferror(stdin)) {
        report_line(lineno, "error reading stdin after this line", bad++ ? NULL : first, sizeof first);
    }
    if (fflush(stdout) != 0) {
        report_line(lineno, "error writing stdout", bad++ ? NULL : first, sizeof first);
    }
    free(line);
    free(text_out);
    free(ids);
    tokenizer_free(tok);
    if (bad) SHEAR_DIE("%zu of %zu lines could not be %s (first: %s)", bad, lineno, decode ? "decoded" : "tokenized",
                       first);
    return SHEAR_EXIT_OK;
}
