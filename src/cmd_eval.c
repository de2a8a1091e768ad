// shear eval: loss and perplexity of a model file, MPI-parallel. Two modes:
//   text: shear eval --model M.h5 --tokenizer T.json --text FILE --seq-len N   (one document, cut in windows)
//   deck: shear eval DECK [--model M.h5]   (per domain, on the token store's eval splits)
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shear/cli.h"
#include "shear/common.h"
#include "shear/prep.h"
#include "shear/deck.h"
#include "shear/dist.h"
#include "shear/evaluate.h"
#include "shear/model.h"
#include "shear/modelfile.h"
#include "shear/precision.h"
#include "shear/store.h"
#include "shear/tokenizer.h"


enum { O_MODEL, O_TOKENIZER, O_TEXT, O_SEQ_LEN, O_MICRO, O_MAX_SEQS, O_THREADS, O_PRECISION, O_JSON, O_SET, N_OPTS };


// Number or null: JSON has no NaN / inf.
static void json_number(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.12g", v);
    else fputs("null", f);
}

static void load_model(Model *m, const char *path, int B, int T) {
    ModelConfig cfg;
    modelfile_read_config(path, &cfg);
    model_create(m, ops_cpu(), &cfg);
    modelfile_load_weights(path, m);
    model_alloc_acts(m, B, T);
}

static int eval_text(const Dist *dist, CliOption *o) {
    const char *text_path = o[O_TEXT].value, *model_path = o[O_MODEL].value;
    if (!o[O_MODEL].set) SHEAR_DIE("shear eval --text: --model MODEL.h5 is required");
    if (!o[O_TOKENIZER].set) SHEAR_DIE("shear eval --text: --tokenizer tokenizer.json is required");
    if (!o[O_SEQ_LEN].set) SHEAR_DIE("shear eval --text: --seq-len N (tokens per window, >= 2) is required");
    int T = (int)cli_long(&o[O_SEQ_LEN], 2, 1 << 20);
    int mb = o[O_MICRO].set ? (int)cli_long(&o[O_MICRO], 1, 1 << 16) : 4;
    ops_cpu_set_threads(dist_threads(dist, o[O_THREADS].set ? (int)cli_long(&o[O_THREADS], 0, 4096) : 0));

    ModelConfig cfg;
    modelfile_read_config(model_path, &cfg);
    const char *precision_source;
    ShearPrecision prec = precision_for_model(o[O_PRECISION].set ? o[O_PRECISION].value : NULL, model_path,
                                              &precision_source);
    precision_apply(ops_cpu(), prec);
    size_t len, cap = 0;
    char *text = shear_read_file(text_path, &len);
    if (len == 0) SHEAR_DIE("text file '%s' is empty: expected text to score", text_path);
    size_t utf8_ok = utf8_valid_prefix(text, len);
    if (utf8_ok != len) {
        size_t line = 1;
        for (size_t i = 0; i < utf8_ok; i++) line += text[i] == '\n';
        SHEAR_DIE("text file '%s' is not valid UTF-8 at byte %zu (line %zu): expected UTF-8 text (like shear prep)",
                  text_path, utf8_ok, line);
    }
    char err[1024];
    Tokenizer *tk = tokenizer_load(o[O_TOKENIZER].value, err, sizeof err);
    if (!tk) SHEAR_DIE("%s", err);
    int32_t *ids = NULL; // [n] the whole file, BOS first, no EOS
    size_t n = tokenizer_encode(tk, text, len, 1, &ids, &cap);
    free(text);
    int window_len;
    size_t windows = eval_window_plan(n, T, &window_len);
    if (windows == 0)
        SHEAR_DIE("text file '%s' gives %zu token(s) with BOS: at least 2 are needed to score a prediction",
                  text_path, n);

    int vocab = tokenizer_vocab_size(tk);
    // every id that reaches the embedding (inputs and targets of the scored windows), negative ones too
    for (size_t i = 0; i < windows * (size_t)T && i < n; i++)
        if (ids[i] < 0 || ids[i] >= cfg.vocab)
            SHEAR_DIE("token id %d of '%s' (tokenizer '%s', %d tokens) is outside the vocabulary of model '%s' "
                      "(%d): the tokenizer does not belong to the model", ids[i], text_path, o[O_TOKENIZER].value,
                      vocab, model_path, cfg.vocab);
    Model m;
    if ((size_t)mb > windows) mb = (int)windows;
    load_model(&m, model_path, mb, window_len);

    double t0 = shear_now(), loss_sum, count;
    eval_windows(dist, &m, ids, windows, T, window_len, &loss_sum, &count);
    double loss = loss_sum / count, secs = shear_now() - t0;
    if (dist->rank == 0) {
        if (o[O_JSON].set) {
            printf("{\"text\":");
            shear_json_string(stdout, text_path);
            printf(",\"model\":");
            shear_json_string(stdout, model_path);
            printf(",\"seq_len\":%d,\"text_tokens\":%zu,\"windows\":%zu,\"window_len\":%d,\"tokens\":%.0f,"
                   "\"loss\":", T, n, windows, window_len, count);
            json_number(stdout, loss);
            printf(",\"ppl\":");
            json_number(stdout, exp(loss));
            printf(",\"precision\":\"%s\",\"ranks\":%d,\"seconds\":%.3f}\n", precision_name(prec), dist->size, secs);
        } else {
            printf("shear eval: %s: %zu tokens, %zu window(s) of %d, %.0f positions scored | loss %.4f | ppl %.3f | "
                   "precision %s (%s) | %d rank(s), %.2f s\n", text_path, n, windows, window_len, count, loss,
                   exp(loss), precision_name(prec), precision_source, dist->size, secs);
        }
        fflush(stdout);
    }
    if (!isfinite(loss)) SHEAR_DIE("loss on '%s' is %f: the model '%s' overflows", text_path, loss, model_path);
    model_free(&m);
    free(ids);
    tokenizer_free(tk);
    return 0;
}

static int eval_deck(const Dist *dist, CliOption *o, const char *deck_path, const char **sets, int n_sets) {
    Deck deck;
    deck_open(&deck, deck_path, sets, n_sets);
    if (!deck.data_store[0]) SHEAR_DIE("%s: data.store is required: the token store written by `shear prep`", deck.path);
    const char *model_path = o[O_MODEL].set ? o[O_MODEL].value : deck.train_init;
    if (!model_path[0]) SHEAR_DIE("shear eval: no model to evaluate: give --model MODEL.h5 or set train.init in %s", deck.path);
    int mb = o[O_MICRO].set ? (int)cli_long(&o[O_MICRO], 1, 1 << 16) : deck.train_micro_batch;
    int max_seqs = (int)cli_long(&o[O_MAX_SEQS], 0, 1 << 30);
    int threads = o[O_THREADS].set ? (int)cli_long(&o[O_THREADS], 0, 4096) : deck.run_threads;
    ops_cpu_set_threads(dist_threads(dist, threads));
    // run.precision: the GEMMs as the deck's train and prune runs (and their DBL evaluations) compute them
    // (deck_open has checked the key's value); --precision overrides it
    const char *precision_source = o[O_PRECISION].set ? "--precision" : "run.precision";
    ShearPrecision prec = precision_option(o[O_PRECISION].set ? o[O_PRECISION].value : deck.run_precision);
    precision_apply(ops_cpu(), prec);
    int T = deck.train_seq_len;
    if (T < 2) SHEAR_DIE("%s: train.seq_len is %d; evaluation needs at least 2 tokens per sequence", deck.path, T);

    TokenStore store;
    // every rank opens (and verifies) the store; a bad store is the same on all: one message, from the lowest rank
    char err[1536] = "";
    dist_agree_or_die(store_try_open(&store, deck.data_store, err, sizeof err) != 0, err, sizeof err);
    if (T > store.seq_len)
        SHEAR_DIE("%s: train.seq_len %d is longer than the token store's sequences (%d in '%s')", deck.path, T,
                  store.seq_len, deck.data_store);
    int dom[STORE_MAX_DOMAINS];
    int nd = deck.data_n_domains ? deck.data_n_domains : store.n_domains;
    for (int i = 0; i < nd; i++) {
        dom[i] = deck.data_n_domains ? store_domain(&store, deck.data_domains[i]) : i;
        if (dom[i] < 0)
            SHEAR_DIE("%s: data.domains: domain '%s' is not in the token store '%s'", deck.path, deck.data_domains[i],
                      deck.data_store);
        if (store.n_eval[dom[i]] == 0)
            SHEAR_DIE("token store '%s': domain '%s' has no eval sequences (prep.eval_seqs)", deck.data_store,
                      store.names[dom[i]]);
    }
    Model m;
    load_model(&m, model_path, mb, T);
    if (store.vocab_size > m.cfg.vocab)
        SHEAR_DIE("token store '%s' uses a vocabulary of %d tokens but the model '%s' has vocab %d", deck.data_store,
                  store.vocab_size, model_path, m.cfg.vocab);

    double loss_sum[STORE_MAX_DOMAINS], tokens[STORE_MAX_DOMAINS];
    double t0 = shear_now();
    eval_domains(dist, &m, &store, dom, nd, T, max_seqs, NULL, loss_sum, tokens, NULL, NULL);
    double secs = shear_now() - t0, avg = 0, total = 0;
    for (int i = 0; i < nd; i++) {
        avg += loss_sum[i] / tokens[i] / nd;
        total += tokens[i];
    }
    if (dist->rank == 0) {
        if (o[O_JSON].set) {
            printf("{\"model\":");
            shear_json_string(stdout, model_path);
            printf(",\"store\":");
            shear_json_string(stdout, deck.data_store);
            printf(",\"seq_len\":%d,\"domains\":{", T);
            for (int i = 0; i < nd; i++) {
                double l = loss_sum[i] / tokens[i];
                printf("%s", i ? "," : "");
                shear_json_string(stdout, store.names[dom[i]]);
                printf(":{\"loss\":");
                json_number(stdout, l);
                printf(",\"ppl\":");
                json_number(stdout, exp(l));
                printf(",\"tokens\":%.0f}", tokens[i]);
            }
            printf("},\"average_loss\":");
            json_number(stdout, avg);
            printf(",\"average_ppl\":");
            json_number(stdout, exp(avg));
            printf(",\"tokens\":%.0f,\"precision\":\"%s\",\"ranks\":%d,\"seconds\":%.3f}\n", total,
                   precision_name(prec), dist->size, secs);
        } else {
            printf("shear eval: model %s | store %s | %d tokens per sequence | precision %s (%s) | %d rank(s), %.2f s\n",
                   model_path, deck.data_store, T, precision_name(prec), precision_source, dist->size, secs);
            printf("%-16s %10s %12s %12s\n", "domain", "loss", "ppl", "tokens");
            for (int i = 0; i < nd; i++) {
                double l = loss_sum[i] / tokens[i];
                printf("%-16s %10.4f %12.3f %12.0f\n", store.names[dom[i]], l, exp(l), tokens[i]);
            }
            printf("%-16s %10.4f %12.3f %12.0f\n", "average", avg, exp(avg), total);
        }
        fflush(stdout);
    }
    if (!isfinite(avg)) SHEAR_DIE("eval loss is %f: the model '%s' overflows", avg, model_path);
    model_free(&m);
    store_close(&store);
    deck_free(&deck);
    return 0;
}

int cmd_eval(int argc, char **argv) {
    CliOption opts[N_OPTS] = {
        [O_MODEL] = {"model", "MODEL.h5", "model file to evaluate (deck mode: default train.init)", "", 0},
        [O_TOKENIZER] = {"tokenizer", "FILE", "text mode: Hugging Face tokenizer.json of the model", "", 0},
        [O_TEXT] = {"text", "FILE", "text mode: score this text file as one document (BOS first, no EOS)", "", 0},
        [O_SEQ_LEN] = {"seq-len", "N", "text mode: tokens per window (>= 2)", "", 0},
        [O_MICRO] = {"micro-batch", "B", "sequences per forward pass (default: 4 in text mode, train.micro_batch in deck mode)",
                     "", 0},
        [O_MAX_SEQS] = {"max-seqs", "N", "deck mode: score the first N eval sequences of each domain; 0 = all", "0", 0},
        [O_THREADS] = {"threads", "N", "threads per rank (default: run.threads in deck mode; else, or 0: "
                       "OMP_NUM_THREADS or cores / local ranks)", "", 0},
        [O_PRECISION] = {"precision", "fp32|bf16", "the GEMMs' arithmetic (default: text mode, the run.precision the "
                         "model was trained in, as its file records, else fp32; deck mode, run.precision)", "", 0},
        [O_JSON] = {"json", NULL, "print one JSON object instead of the table", NULL, 0},
        [O_SET] = {"set", "SECTION.KEY=VALUE", "deck mode: override a deck key (repeatable)", NULL, 0},
    };
    const char *sets[CLI_MAX_SETS];
    int n_sets = cli_collect_sets(argc, argv, sets, CLI_MAX_SETS);
    const char *pos[1];
    int npos = cli_parse(argc, argv, opts, N_OPTS,
                         "shear eval --model M.h5 --tokenizer T.json --text FILE --seq-len N [--precision P] [--json]\n"
                         "       shear eval DECK [--model M.h5] [--set section.key=value]... [--precision P] [--json]",
                         "Mean next-token cross-entropy (loss) and perplexity exp(loss) of a model file, MPI-parallel.\n"
                         "Text mode: the file is tokenized as one document (BOS first, no EOS) and cut into consecutive\n"
                         "windows of N tokens; a trailing partial window is dropped unless it is the only one. A window\n"
                         "of n tokens scores n-1 predictions; the loss is the mean over all of them.\n"
                         "Deck mode: per domain of data.domains (default: every domain of data.store), the first\n"
                         "train.seq_len tokens of each eval sequence of the token store; the average is the unweighted\n"
                         "mean of the domain losses.\n"
                         "With bf16 (--precision bf16, a model file written by a run.precision: bf16 run, or deck mode's\n"
                         "run.precision: bf16) both inputs of every GEMM are rounded to bf16, accumulated in fp32.", pos, 1);
    if (npos == 1 && opts[O_TEXT].set) {
        fprintf(stderr, "shear eval: give either a DECK or --text FILE, not both\n");
        return SHEAR_EXIT_USAGE;
    }
    if (npos == 0 && !opts[O_TEXT].set) {
        fprintf(stderr, "shear eval: expected an input deck or --text FILE (see shear eval --help)\n");
        return SHEAR_EXIT_USAGE;
    }
    if (npos == 0 && n_sets) {
        fprintf(stderr, "shear eval: --set applies to deck mode only\n");
        return SHEAR_EXIT_USAGE;
    }
    if (opts[O_PRECISION].set) precision_option(opts[O_PRECISION].value); // a bad value before any file is read
    Dist dist;
    dist_init(&dist, &argc, &argv);
    shear_errors_shared(1); // every rank reads the same model, text, deck and store: one message, from rank 0
    int rc = npos ? eval_deck(&dist, opts, pos[0], sets, n_sets) : eval_text(&dist, opts);
    dist_finalize(&dist);
    return rc;
}
