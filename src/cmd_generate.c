// shear generate: text from a model file. The prompt is tokenized with the family's BOS, fed once through the
// KV cache (generate.c), then one token at a time is sampled (sample.c) until the tokenizer's end-of-text id,
// --max-new tokens, or the model's length limit. Text is streamed to stdout as it is produced; --json prints
// one object per prompt instead. One process, no MPI: generation is one sequence at a time.
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shear/cli.h"
#include "shear/common.h"
#include "shear/deck.h"
#include "shear/generate.h"
#include "shear/h5util.h"
#include "shear/hf.h"
#include "shear/model.h"
#include "shear/modelfile.h"
#include "shear/prep.h"
#include "shear/precision.h"
#include "shear/rng.h"
#include "shear/sample.h"
#include "shear/tokenizer.h"

enum {
    O_MODEL, O_TOKENIZER, O_PROMPT, O_PROMPT_FILE, O_MAX_NEW, O_TEMPERATURE, O_TOP_K, O_TOP_P, O_SEED, O_GREEDY,
    O_JSON, O_MAX_LEN, O_NO_CACHE, O_THREADS, O_DEVICE, O_PRECISION, N_OPTS
};

typedef struct {
    char **text;  // [n] prompts, NUL-terminated UTF-8
    size_t n, cap;
} Prompts;

static void prompts_add(Prompts *p, char *text) {
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 8;
        p->text = realloc(p->text, p->cap * sizeof *p->text);
        if (!p->text) SHEAR_DIE("out of memory for %zu prompts", p->cap);
    }
    p->text[p->n++] = text;
}

// A prompt must be non-empty UTF-8 (what the tokenizers and the corpus take); where names it for the message.
static void prompt_check(const char *text, const char *where) {
    size_t len = strlen(text), ok = utf8_valid_prefix(text, len);
    if (len == 0) SHEAR_DIE("%s: the prompt is empty; expected some text to continue", where);
    if (ok != len) SHEAR_DIE("%s: the prompt is not valid UTF-8 (byte %zu of %zu); expected UTF-8 text", where, ok, len);
}

// JSON Lines {"prompt": "..."} on stdin, every line checked before anything is generated.
static void prompts_from_stdin(Prompts *p) {
    char *line = NULL, where[64];
    size_t cap = 0, lineno = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        if (n == 0) continue; // blank lines separate nothing
        snprintf(where, sizeof where, "stdin line %zu", lineno);
        cJSON *j = cJSON_ParseWithLength(line, n);
        const cJSON *t = j ? cJSON_GetObjectItemCaseSensitive(j, "prompt") : NULL;
        if (!j || !cJSON_IsObject(j)) SHEAR_DIE("%s: not a JSON object; expected {\"prompt\": \"...\"}", where);
        if (!cJSON_IsString(t))
            SHEAR_DIE("%s: %s; expected {\"prompt\": \"...\"}", where, t ? "\"prompt\" is not a string" : "no \"prompt\" key");
        if (shear_json_has_nul_escape(line, n)) SHEAR_DIE("%s: the prompt holds a \\u0000 escape, which is not supported", where);
        prompt_check(t->valuestring, where);
        prompts_add(p, shear_strdup(t->valuestring));
        cJSON_Delete(j);
    }
    free(line);
    if (p->n == 0) SHEAR_DIE("stdin held no prompt; expected JSON Lines {\"prompt\": \"...\"} (or --prompt TEXT)");
}

// The longest sequence the model is meant for: --max-len, else the max_position_embeddings recorded at import,
// else train.seq_len of the deck stored in the file (what it was trained on); 0 when none is known. what[]
// names the source for messages.
static int length_limit(const char *path, ModelFileReader *r, const CliOption *o, char *what, size_t len) {
    if (o[O_MAX_LEN].set) {
        snprintf(what, len, "--max-len");
        return (int)cli_long(&o[O_MAX_LEN], 2, 1 << 24);
    }
    int64_t v;
    if (modelfile_read_attr_int(r, "max_position_embeddings", &v) == 0 && v > 0) {
        snprintf(what, len, "max_position_embeddings of '%s'", path);
        return (int)v;
    }
    int limit = 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    char *text = f >= 0 ? h5_read_text(f, "deck") : NULL;
    if (f >= 0) H5Fclose(f);
    if (text) {
        Deck d;
        char err[512];
        deck_defaults(&d);
        if (deck_parse(&d, path, text, err, sizeof err) == 0 && d.train_seq_len > 0) {
            limit = d.train_seq_len;
            snprintf(what, len, "train.seq_len of the deck stored in '%s'", path);
        }
        deck_free(&d);
        free(text);
    }
    return limit;
}

// The decoded text of ids[n] that is final: trailing U+FFFD (bytes of a character not yet complete) held back.
static size_t stable_len(const char *s, size_t len) {
    while (len >= 3 && memcmp(s + len - 3, "\xef\xbf\xbd", 3) == 0) len -= 3;
    return len;
}

static void json_ids(FILE *f, const int32_t *ids, size_t n) {
    fputc('[', f);
    for (size_t i = 0; i < n; i++) fprintf(f, "%s%d", i ? "," : "", ids[i]);
    fputc(']', f);
}

typedef struct {
    Generator gen;
    Tokenizer *tok;
    SampleParams sp;
    uint64_t seed;
    int max_new, limit, no_cache, json;
    const char *limit_what;
    ShearPrecision precision;
    int32_t stop_ids[16]; // the tokenizer's end-of-text id and the eos ids `shear import` recorded
    int n_stop;
} Session;

static int is_stop(const Session *s, int32_t id) {
    for (int i = 0; i < s->n_stop; i++)
        if (s->stop_ids[i] == id) return 1;
    return 0;
}

static void stop_add(Session *s, int32_t id) {
    if (id >= 0 && !is_stop(s, id) && s->n_stop < (int)(sizeof s->stop_ids / sizeof s->stop_ids[0]))
        s->stop_ids[s->n_stop++] = id;
}

// One prompt: prints the completion (streamed) or its JSON object.
static void generate_one(Session *s, const char *prompt, size_t index) {
    const ModelConfig *c = &s->gen.m->cfg;
    int V = c->vocab;
    // ids the tokenizer lacks (a vocabulary padded for the hardware, as Qwen's) are never drawn: they have no text
    int V_draw = tokenizer_vocab_size(s->tok);
    int32_t *ids = NULL; // [cap] prompt, then the new tokens
    size_t cap = 0;
    size_t n_prompt = tokenizer_encode(s->tok, prompt, strlen(prompt), 1, &ids, &cap);
    char where[64];
    snprintf(where, sizeof where, "prompt %zu", index + 1);
    if (n_prompt == 0) SHEAR_DIE("%s tokenizes to no tokens; expected some text", where);
    if (s->limit > 0 && n_prompt >= (size_t)s->limit)
        SHEAR_DIE("%s is %zu tokens, and the model's limit (%s) is %d: nothing is left to generate; shorten the "
                  "prompt or raise the limit with --max-len", where, n_prompt, s->limit_what, s->limit);
    size_t want = n_prompt + (size_t)s->max_new, goal = want; // goal: where the sequence ends at the latest
    if (s->limit > 0 && goal > (size_t)s->limit) goal = (size_t)s->limit;
    if (cap < goal) {
        cap = goal;
        ids = realloc(ids, cap * sizeof *ids);
        if (!ids) SHEAR_DIE("out of memory for %zu token ids", cap);
    }
    float *logits = shear_malloc((size_t)V * sizeof(float)); // [V]
    int32_t *work = shear_malloc((size_t)V * sizeof(int32_t)); // [V] sampler scratch

    size_t plen, flen;
    char *ptext = tokenizer_decode_utf8(s->tok, ids, n_prompt, &plen); // the prompt as decoded: printed first
    if (!s->json) {
        fwrite(ptext, 1, plen, stdout);
        fflush(stdout);
    }
    double t0 = shear_now();
    gen_reset(&s->gen);
    gen_feed(&s->gen, ids, (int)n_prompt, logits);
    double t_prefill = shear_now() - t0;
    size_t n = n_prompt, printed = plen;
    const char *stop = goal < want ? "length" : "max_new";
    while (n < goal) {
        double u = rng_uniform(s->seed, RNG_STREAM_GENERATE, ((uint64_t)index << 32) + (n - n_prompt));
        int32_t next = sample_token(logits, V_draw, &s->sp, u, work, NULL);
        if (is_stop(s, next)) { stop = "eos"; break; }
        ids[n++] = next;
        if (!s->json) { // the new stable bytes of the whole decoded sequence
            char *full = tokenizer_decode_utf8(s->tok, ids, n, &flen);
            size_t st = stable_len(full, flen);
            if (st > printed && memcmp(full, ptext, plen) == 0) {
                fwrite(full + printed, 1, st - printed, stdout);
                fflush(stdout);
                printed = st;
            }
            free(full);
        }
        if (n == goal) break;
        if (s->no_cache) { // the check mode: the whole sequence again from position 0
            gen_reset(&s->gen);
            gen_feed(&s->gen, ids, (int)n, logits);
        } else {
            gen_feed(&s->gen, ids + n - 1, 1, logits);
        }
    }
    double secs = shear_now() - t0, t_decode = secs - t_prefill;
    size_t n_new = n - n_prompt;
    char *full = tokenizer_decode_utf8(s->tok, ids, n, &flen);
    // the completion is what decoding the whole sequence adds to the decoded prompt
    const char *comp = flen >= plen && memcmp(full, ptext, plen) == 0 ? full + plen : full;
    double tps = n_new > 0 && t_decode > 0 ? (double)n_new / t_decode : 0.0;
    if (s->json) {
        printf("{\"prompt\":");
        shear_json_string(stdout, prompt);
        printf(",\"completion\":");
        shear_json_string(stdout, comp);
        printf(",\"prompt_ids\":");
        json_ids(stdout, ids, n_prompt);
        printf(",\"ids\":");
        json_ids(stdout, ids + n_prompt, n_new);
        printf(",\"stop\":\"%s\",\"prompt_tokens\":%zu,\"new_tokens\":%zu,\"prefill_seconds\":%.4f,"
               "\"seconds\":%.4f,\"tokens_per_s\":%.2f,\"precision\":\"%s\"}\n", stop, n_prompt, n_new, t_prefill, secs, tps,
               precision_name(s->precision));
    } else {
        if (flen > printed && comp != full) fwrite(full + printed, 1, flen - printed, stdout); // held-back bytes
        fputc('\n', stdout);
        fprintf(stderr, "shear generate: prompt %zu: %zu prompt tokens (prefill %.3f s), %zu new, %.1f tokens/s, stop: %s\n",
                  index + 1, n_prompt, t_prefill, n_new, tps, stop);
    }
    fflush(stdout);
    free(full);
    free(ptext);
    free(work);
    free(logits);
    free(ids);
}

int cmd_generate(int argc, char **argv) {
    CliOption o[N_OPTS] = {
        [O_MODEL] = {"model", "MODEL.h5", "model file (from train, finalize, import; a checkpoint too)", "", 0},
        [O_TOKENIZER] = {"tokenizer", "FILE", "tokenizer.json of the model (default: the one `shear import` recorded)",
                         "", 0},
        [O_PROMPT] = {"prompt", "TEXT", "one prompt (else --prompt-file, else JSON Lines {\"prompt\": ...} on stdin)",
                      "", 0},
        [O_PROMPT_FILE] = {"prompt-file", "FILE", "one prompt: the whole file (one trailing newline dropped)", "", 0},
        [O_MAX_NEW] = {"max-new", "N", "new tokens at most per prompt", "64", 0},
        [O_TEMPERATURE] = {"temperature", "X", "softmax temperature (> 0)", "1.0", 0},
        [O_TOP_K] = {"top-k", "K", "sample among the K most likely tokens; 0 = all", "50", 0},
        [O_TOP_P] = {"top-p", "P", "then among the most likely tokens whose mass reaches P, in (0, 1]", "1.0", 0},
        [O_SEED] = {"seed", "S", "sampling seed: a (seed, prompt, step) always picks the same token", "1", 0},
        [O_GREEDY] = {"greedy", NULL, "the most likely token at every step (no sampling)", NULL, 0},
        [O_JSON] = {"json", NULL, "one JSON object per prompt (prompt, completion, ids, stop, tokens/s)", NULL, 0},
        [O_MAX_LEN] = {"max-len", "N", "the model's length limit in tokens (default: max_position_embeddings, else "
                       "the stored deck's train.seq_len)", "", 0},
        [O_NO_CACHE] = {"no-cache", NULL, "recompute the whole sequence every step (checks the KV cache; slow)", NULL, 0},
        [O_THREADS] = {"threads", "N", "CPU threads; 0 = OMP_NUM_THREADS or all cores", "0", 0},
        [O_DEVICE] = {"device", "cpu|cuda", "backend", "cpu", 0},
        [O_PRECISION] = {"precision", "fp32|bf16", "the GEMMs' arithmetic (default: the run.precision the model was "
                         "trained in, as its file records; else fp32)", "", 0},
    };
    cli_parse(argc, argv, o, N_OPTS,
              "shear generate --model M.h5 [--tokenizer T.json] [--prompt TEXT | --prompt-file F | < prompts.jsonl]\n"
              "       [--max-new N] [--temperature X] [--top-k K] [--top-p P] [--seed S] [--greedy] [--json]\n"
              "       [--precision fp32|bf16]",
              "Continues each prompt with the model: BOS (when the tokenizer's family has one) and the prompt are\n"
              "fed once through a KV cache, then one token at a time is drawn until the tokenizer's end-of-text\n"
              "token, --max-new tokens, or the model's length limit. Sampling: temperature, then top-k, then\n"
              "top-p; a token is a function of (seed, prompt index, step) only. Text streams to stdout (the\n"
              "prompt, then the completion); per-prompt statistics go to stderr. A model trained with\n"
              "run.precision: bf16 is run with bf16 GEMMs (inputs rounded to bf16, fp32 accumulation), as trained.",
              NULL, 0);
    if (!o[O_MODEL].set || !o[O_MODEL].value[0]) {
        fprintf(stderr, "shear generate: --model MODEL.h5 is required (see shear generate --help)\n");
        return SHEAR_EXIT_USAGE;
    }
    if (o[O_PROMPT].set && o[O_PROMPT_FILE].set) {
        fprintf(stderr, "shear generate: give --prompt or --prompt-file, not both\n");
        return SHEAR_EXIT_USAGE;
    }
    if (!o[O_PROMPT].set && !o[O_PROMPT_FILE].set && isatty(0)) {
        fprintf(stderr, "shear generate: no prompt: give --prompt TEXT, --prompt-file FILE, or JSON Lines "
                        "{\"prompt\": ...} on stdin\n");
        return SHEAR_EXIT_USAGE;
    }
    Session s = {0};
    s.max_new = (int)cli_long(&o[O_MAX_NEW], 1, 1 << 24);
    s.sp.greedy = o[O_GREEDY].set;
    s.sp.top_k = (int)cli_long(&o[O_TOP_K], 0, 1 << 30);
    char *end;
    s.sp.temperature = strtod(o[O_TEMPERATURE].value, &end);
    if (*end || !(s.sp.temperature > 0) || !isfinite(s.sp.temperature)) {
        fprintf(stderr, "shear: option --temperature: expected a number > 0 (or --greedy), got '%s'\n",
                o[O_TEMPERATURE].value);
        return SHEAR_EXIT_USAGE;
    }
    s.sp.top_p = strtod(o[O_TOP_P].value, &end);
    if (*end || !(s.sp.top_p > 0 && s.sp.top_p <= 1)) {
        fprintf(stderr, "shear: option --top-p: expected a number in (0, 1], got '%s'\n", o[O_TOP_P].value);
        return SHEAR_EXIT_USAGE;
    }
    s.seed = (uint64_t)cli_long(&o[O_SEED], 0, 0x7fffffffffffffffL);
    s.json = o[O_JSON].set;
    s.no_cache = o[O_NO_CACHE].set;
    int threads = (int)cli_long(&o[O_THREADS], 0, 4096);
    const char *dev = o[O_DEVICE].value;
    if (strcmp(dev, "cpu") != 0 && strcmp(dev, "cuda") != 0) {
        fprintf(stderr, "shear: option --device: expected cpu or cuda, got '%s'\n", dev);
        return SHEAR_EXIT_USAGE;
    }

    if (o[O_PRECISION].set) precision_option(o[O_PRECISION].value); // a bad value before anything is read

    // every prompt is read and checked before the model loads: a bad one costs nothing
    Prompts pr = {0};
    if (o[O_PROMPT].set) {
        prompt_check(o[O_PROMPT].value, "--prompt");
        prompts_add(&pr, shear_strdup(o[O_PROMPT].value));
    } else if (o[O_PROMPT_FILE].set) {
        size_t len;
        char *text = shear_read_file(o[O_PROMPT_FILE].value, &len);
        if (len && text[len - 1] == '\n') text[--len] = 0;
        if (len && text[len - 1] == '\r') text[--len] = 0;
        if (strlen(text) != len) SHEAR_DIE("--prompt-file '%s' holds a NUL byte; expected text", o[O_PROMPT_FILE].value);
        char where[PATH_MAX + 32];
        snprintf(where, sizeof where, "--prompt-file '%s'", o[O_PROMPT_FILE].value);
        prompt_check(text, where);
        prompts_add(&pr, text);
    } else {
        prompts_from_stdin(&pr);
    }

    const char *model_path = o[O_MODEL].value;
    const char *precision_source;
    s.precision = precision_for_model(o[O_PRECISION].set ? o[O_PRECISION].value : NULL, model_path, &precision_source);
    ModelConfig cfg;
    ModelFileReader *r = modelfile_open(model_path, &cfg);
    char tok_path[PATH_MAX], limit_what[PATH_MAX + 64] = "";
    if (o[O_TOKENIZER].set) snprintf(tok_path, sizeof tok_path, "%s", o[O_TOKENIZER].value);
    else if (hf_recorded_tokenizer(model_path, r, tok_path, sizeof tok_path))
        SHEAR_DIE("'%s' records no tokenizer (it was not made by `shear import`): give the model's tokenizer.json "
                  "with --tokenizer FILE", model_path);
    s.limit = length_limit(model_path, r, o, limit_what, sizeof limit_what);
    char eos_ids[256];
    if (modelfile_read_attr_string(r, "eos_token_ids", eos_ids, sizeof eos_ids) == 0)
        for (char *p = eos_ids, *end; *p; p = *end ? end + 1 : end) {
            long id = strtol(p, &end, 10);
            if (end == p || (*end && *end != ',') || id < 0 || id >= cfg.vocab)
                SHEAR_DIE("'%s': attribute eos_token_ids is '%s'; expected ids below the vocabulary size %d, comma "
                          "separated", model_path, eos_ids, cfg.vocab);
            stop_add(&s, (int32_t)id);
        }
    s.limit_what = limit_what;
    modelfile_close(r);
    char err[1024];
    s.tok = tokenizer_load(tok_path, err, sizeof err);
    if (!s.tok) SHEAR_DIE("%s", err);
    stop_add(&s, tokenizer_eos_id(s.tok));
    int tv = tokenizer_vocab_size(s.tok);
    if (tv > cfg.vocab)
        SHEAR_DIE("tokenizer '%s' has %d tokens but the model '%s' has vocab %d: the tokenizer does not belong to the "
                  "model", tok_path, tv, model_path, cfg.vocab);

    const ShearOps *ops = ops_cpu();
    if (strcmp(dev, "cuda") == 0) {
        ops = ops_cuda();
        if (!ops) SHEAR_DIE("--device cuda: this build has no CUDA backend (configure with CUDA, see README)");
        if (ops->device_count() <= 0) SHEAR_DIE("--device cuda: no CUDA device is visible; use --device cpu");
        ops->select_device(0);
    } else {
        ops_cpu_set_threads(threads);
    }
    precision_apply(ops, s.precision);
    Model m;
    model_create(&m, ops, &cfg);
    ops->free(m.g); // generation needs no gradients: half the memory back
    m.g = NULL;
    modelfile_load_weights(model_path, &m);

    size_t longest = 0; // the cache holds the longest prompt plus --max-new, within the limit
    int32_t *tmp = NULL;
    size_t tcap = 0;
    for (size_t i = 0; i < pr.n; i++) {
        size_t k = tokenizer_encode(s.tok, pr.text[i], strlen(pr.text[i]), 1, &tmp, &tcap);
        if (k > longest) longest = k;
    }
    free(tmp);
    size_t max_len = longest + (size_t)s.max_new;
    if (s.limit > 0 && max_len > (size_t)s.limit) max_len = (size_t)s.limit;
    if (max_len > (size_t)(1 << 24)) SHEAR_DIE("a sequence of %zu tokens is beyond what shear generate holds (2^24)", max_len);
    gen_init(&s.gen, &m, (int)max_len, 512);
    if (!s.json)
        fprintf(stderr, "shear generate: %s (d %d, %d layers, %d/%d heads, vocab %d) on %s | %s | %s | precision %s (%s)\n",
                model_path, cfg.dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads, cfg.vocab, ops->name, tok_path,
                s.sp.greedy ? "greedy" : "sampling", precision_name(s.precision), precision_source);
    for (size_t i = 0; i < pr.n; i++) {
        generate_one(&s, pr.text[i], i);
        free(pr.text[i]);
    }
    free(pr.text);
    gen_free(&s.gen);
    model_free(&m);
    tokenizer_free(s.tok);
    return 0;
}
