// `shear prep DECK`: tokenizes per-domain text into one HDF5 token store (layout in store.h).
// Per domain: every rank reads and tokenizes the documents that start in its share of the domain's bytes; the
// ranks exchange per-document token counts so each knows where its tokens land; the documents are split into
// eval and train by a seeded shuffle (prep_split); each rank writes its contiguous run of each split's windows
// with one collective write. The result does not depend on the rank count. The file is PATH.tmp until the
// collective close succeeds; a data error (bad UTF-8, empty domain, too little text) removes it.
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shear/ckpt.h"
#include "shear/cli.h"
#include "shear/common.h"
#include "shear/deck.h"
#include "shear/dist.h"
#include "shear/h5util.h"
#include "shear/prep.h"
#include "shear/store.h"
#include "shear/store_write.h"
#include "shear/tokenizer.h"

#define PREP_ERR_LEN 1536

typedef struct {
    Dist dist;
    StoreWriter writer;
    int writing; // PATH.tmp is open: an error must remove it
} Prep;

// Every rank knows the error: rank 0 says it once, the temporary file goes, every rank exits non-zero.
static void fail_all(Prep *p, const char *msg) __attribute__((noreturn));
static void fail_all(Prep *p, const char *msg) {
    if (p->dist.rank == 0) {
        fprintf(stderr, "shear: error: %s\n", msg);
        fflush(stderr);
    }
    if (p->writing) store_writer_abort(&p->writer);
    dist_finalize(&p->dist);
    exit(SHEAR_EXIT_ERROR);
}

// Collective: if any rank failed, the lowest such rank's message wins and everyone fails with it.
static void agree(Prep *p, int failed, char *err) {
    // fail_all, not dist_agree_or_die: every rank removes its half-written store and exits itself
    if (dist_world_first_failure(failed, err, PREP_ERR_LEN) < 0) return;
    fail_all(p, err);
}

// deck_load + --set + deck_validate, with the message returned (not printed by every rank).
static int load_deck(Deck *d, const char *path, const char **sets, int n_sets, char *err, size_t errlen) {
    deck_defaults(d);
    d->text = NULL;
    if (!shear_file_exists(path)) {
        snprintf(err, errlen, "input deck '%s' does not exist", path);
        return -1;
    }
    size_t len = 0;
    char *text = shear_read_file(path, &len);
    if (strlen(text) != len) {
        snprintf(err, errlen, "%s: expected a YAML text file, got NUL bytes (a binary file?)", path);
        free(text);
        return -1;
    }
    if (strlen(path) >= sizeof d->path || deck_parse(d, path, text, err, errlen)) {
        if (strlen(path) >= sizeof d->path) snprintf(err, errlen, "deck path '%s' is too long", path);
        free(text);
        return -1;
    }
    d->text = text;
    snprintf(d->path, sizeof d->path, "%s", path);
    for (int i = 0; i < n_sets; i++)
        if (deck_set(d, sets[i], err, errlen)) return -1;
    if (deck_validate(d, err, errlen)) return -1;
    const char *need = !d->prep_input_dir[0] ? "prep.input_dir" : !d->prep_tokenizer[0] ? "prep.tokenizer"
                                                               : !d->prep_out[0]      ? "prep.out" : NULL;
    if (need) {
        snprintf(err, errlen, "%s: %s is required (see `shear keys`)", path, need);
        return -1;
    }
    return 0;
}

// One domain's documents on this rank, tokenized: BOS + encode(text) + EOS per document.
typedef struct {
    const Tokenizer *tok;
    int32_t *tokens;      // [n_tokens] this rank's documents, concatenated in document order
    size_t n_tokens, cap_tokens;
    uint64_t *doc_tokens; // [n_docs] tokens of each of this rank's documents
    size_t n_docs, cap_docs;
    int32_t *ids;         // encoder scratch, [ids_cap]
    size_t ids_cap;
} DomainTokens;

static int tokenize_doc(const char *text, size_t len, const CorpusFile *file, void *ctx) {
    (void)file;
    DomainTokens *t = ctx;
    size_t n = tokenizer_encode(t->tok, text, len, 0, &t->ids, &t->ids_cap);
    if (t->n_tokens + n + 2 > t->cap_tokens) {
        size_t cap = t->cap_tokens ? t->cap_tokens : 1 << 16;
        while (cap < t->n_tokens + n + 2) cap *= 2;
        int32_t *grown = realloc(t->tokens, cap * sizeof *grown);
        if (!grown) SHEAR_DIE("out of memory holding %zu tokens; run prep on more ranks", cap);
        t->tokens = grown;
        t->cap_tokens = cap;
    }
    if (t->n_docs == t->cap_docs) {
        t->cap_docs = t->cap_docs ? 2 * t->cap_docs : 1024;
        uint64_t *grown = realloc(t->doc_tokens, t->cap_docs * sizeof *grown);
        if (!grown) SHEAR_DIE("out of memory holding %zu document counts", t->cap_docs);
        t->doc_tokens = grown;
    }
    int32_t bos = tokenizer_bos_id(t->tok);  // the family's: LLaMA-2 and Llama 3.1 have one, Qwen none
    if (bos >= 0) t->tokens[t->n_tokens++] = bos;
    memcpy(t->tokens + t->n_tokens, t->ids, n * sizeof *t->ids);
    t->n_tokens += n;
    t->tokens[t->n_tokens++] = tokenizer_eos_id(t->tok);
    t->doc_tokens[t->n_docs++] = (uint64_t)n + 1 + (bos >= 0);
    return 0;
}

// Copies this rank's documents of one split (is_eval[d] == want) into out and returns where they start in
// the split's concatenated stream, clipped to the stored windows: *first and *count for the writer.
static int32_t *split_run(const DomainTokens *t, const uint64_t *all_doc_tokens, uint64_t my_first_doc,
                          const unsigned char *is_eval, int want, uint64_t stored, size_t *first, size_t *count) {
    uint64_t offset = 0; // tokens of this split in documents before this rank's
    for (uint64_t d = 0; d < my_first_doc; d++)
        if (is_eval[d] == want) offset += all_doc_tokens[d];
    size_t n = 0, pos = 0;
    for (size_t k = 0; k < t->n_docs; k++)
        if (is_eval[my_first_doc + k] == want) n += t->doc_tokens[k];
    int32_t *out = shear_malloc(n * sizeof *out); // [n]
    n = 0;
    for (size_t k = 0; k < t->n_docs; k++) {
        if (is_eval[my_first_doc + k] == want) {
            memcpy(out + n, t->tokens + pos, t->doc_tokens[k] * sizeof *out);
            n += t->doc_tokens[k];
        }
        pos += t->doc_tokens[k];
    }
    // the remainder after the last full window (and windows past max_train_seqs) is dropped
    *first = offset < stored ? offset : 0;
    *count = offset < stored ? (offset + n <= stored ? n : stored - offset) : 0;
    return out;
}

typedef struct {
    uint64_t documents, tokens, n_train, n_eval, dropped, bytes;
} Totals;

static const char *human_bytes(double b, char *buf, size_t len) {
    const char *unit[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000.0 && u < 4) b /= 1000.0, u++;
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
    return buf;
}

static void prep_domain(Prep *p, const Deck *deck, const Tokenizer *tok, const char *name, const CorpusFile *files,
                        int n_files, Totals *tot) {
    int rank = p->dist.rank, size = p->dist.size;
    char err[PREP_ERR_LEN];
    double t0 = shear_now();
    uint64_t total_bytes = 0;
    for (int i = 0; i < n_files; i++) total_bytes += files[i].size;
    // this rank's share of the domain's bytes; a document belongs to the rank its first byte falls in
    uint64_t lo = (uint64_t)((unsigned __int128)total_bytes * (unsigned)rank / (unsigned)size);
    uint64_t hi = (uint64_t)((unsigned __int128)total_bytes * (unsigned)(rank + 1) / (unsigned)size);
    DomainTokens t = {.tok = tok};
    uint64_t bytes = 0;
    int rc = corpus_read_range(files, n_files, lo, hi, tokenize_doc, &t, &bytes, err, sizeof err);
    agree(p, rc != 0, err);

    // every rank learns every document's token count, in global document order
    long long mine = (long long)t.n_docs;
    long long *per_rank = shear_malloc((size_t)size * sizeof *per_rank);
    dist_world_allgather_u64((const uint64_t *)&mine, (uint64_t *)per_rank, 1); // the same 64 bits
    int *counts = shear_malloc((size_t)size * sizeof *counts), *displs = shear_malloc((size_t)size * sizeof *displs);
    uint64_t n_docs = 0, my_first_doc = 0;
    for (int r = 0; r < size; r++) {
        SHEAR_CHECK(per_rank[r] < (1LL << 31) && n_docs + (uint64_t)per_rank[r] < (1ull << 31),
                    "domain '%s': more than 2^31 documents; split the domain", name);
        if (r == rank) my_first_doc = n_docs;
        counts[r] = (int)per_rank[r];
        displs[r] = (int)n_docs;
        n_docs += (uint64_t)per_rank[r];
    }
    if (n_docs == 0) {
        snprintf(err, sizeof err,
                 "domain '%s': no text in its %d file(s) under '%s/%s'; expected non-empty *.txt files or *.jsonl "
                 "lines with a non-empty \"text\" string",
                 name, n_files, deck->prep_input_dir, name);
        fail_all(p, err);
    }
    // the store's readers trust ids in [0, vocab_size): check this rank's output before anything is written
    int vocab = tokenizer_vocab_size(tok);
    int bad = 0;
    for (size_t k = 0, pos = 0; k < t.n_docs && !bad; pos += t.doc_tokens[k++])
        for (size_t j = 0; j < t.doc_tokens[k]; j++) {
            int32_t id = t.tokens[pos + j];
            if (id >= 0 && id < vocab) continue;
            snprintf(err, sizeof err, "domain '%s': document %llu, token %zu: the tokenizer '%s' gave id %d, outside "
                     "its vocabulary [0, %d); expected a tokenizer.json whose special tokens (BOS, EOS) lie in its "
                     "vocabulary", name, (unsigned long long)(my_first_doc + k), j, deck->prep_tokenizer, (int)id,
                     vocab);
            bad = 1;
            break;
        }
    agree(p, bad, err);

    uint64_t *all_doc_tokens = shear_malloc(n_docs * sizeof *all_doc_tokens); // [n_docs]
    dist_world_allgatherv_u64(t.doc_tokens, all_doc_tokens, counts, displs);

    uint64_t L = (uint64_t)deck->prep_seq_len;
    unsigned char *is_eval = shear_malloc(n_docs); // [n_docs]
    PrepSplit sp;
    prep_split(all_doc_tokens, n_docs, (uint64_t)deck->prep_seed, name, (uint64_t)deck->prep_eval_seqs, L,
               (uint64_t)deck->prep_max_train_seqs, is_eval, &sp);
    if (!sp.feasible) {
        snprintf(err, sizeof err,
                 "domain '%s': %llu documents, %llu tokens: expected prep.eval_seqs = %d eval sequences of "
                 "prep.seq_len = %d tokens (%llu tokens of whole documents) plus at least one train sequence "
                 "(%llu more), got %llu eval and %llu train tokens%s; lower prep.seq_len or prep.eval_seqs, or add text",
                 name, (unsigned long long)n_docs, (unsigned long long)sp.tokens, deck->prep_eval_seqs,
                 deck->prep_seq_len, (unsigned long long)((uint64_t)deck->prep_eval_seqs * L),
                 (unsigned long long)L, (unsigned long long)sp.eval_doc_tokens,
                 (unsigned long long)sp.train_doc_tokens,
                 sp.train_docs == 0 ? " (eval takes whole documents: none was left for train)" : "");
        fail_all(p, err);
    }

    size_t first, count;
    int32_t *run = split_run(&t, all_doc_tokens, my_first_doc, is_eval, 0, sp.n_train * L, &first, &count);
    store_writer_split(&p->writer, name, "train", sp.n_train, (int)L, first, count, run);
    free(run);
    run = split_run(&t, all_doc_tokens, my_first_doc, is_eval, 1, sp.n_eval * L, &first, &count);
    store_writer_split(&p->writer, name, "eval", sp.n_eval, (int)L, first, count, run);
    free(run);

    char obj[64];
    snprintf(obj, sizeof obj, "/domains/%s", name);
    struct { const char *key; uint64_t v; } attrs[] = {
        {"documents", n_docs},           {"tokens", sp.tokens},
        {"train_tokens", sp.n_train * L}, {"eval_tokens", sp.n_eval * L},
        {"dropped_tokens", sp.dropped},   {"train_documents", sp.train_docs},
        {"eval_documents", sp.eval_docs}, {"bytes", total_bytes},
    };
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        store_writer_attr_int(&p->writer, obj, attrs[i].key, (int64_t)attrs[i].v);

    unsigned long long read_all = dist_world_sum_u64(bytes);
    // every byte belongs to exactly one rank's documents
    SHEAR_CHECK(read_all == total_bytes, "domain '%s': ranks read %llu bytes of %llu; did files change during prep?",
                name, read_all, (unsigned long long)total_bytes);
    double dt = shear_now() - t0;
    char hb[32];
    shear_log("prep: %-14s %8llu documents %11llu tokens -> %7llu train + %4llu eval sequences of %llu "
              "(%llu tokens dropped); %s of text at %.1f MB/s\n",
              name, (unsigned long long)n_docs, (unsigned long long)sp.tokens, (unsigned long long)sp.n_train,
              (unsigned long long)sp.n_eval, (unsigned long long)L, (unsigned long long)sp.dropped,
              human_bytes((double)total_bytes, hb, sizeof hb), (double)total_bytes / 1e6 / (dt > 1e-9 ? dt : 1e-9));
    tot->documents += n_docs;
    tot->tokens += sp.tokens;
    tot->n_train += sp.n_train;
    tot->n_eval += sp.n_eval;
    tot->dropped += sp.dropped;
    tot->bytes += total_bytes;
    free(is_eval);
    free(all_doc_tokens);
    free(per_rank);
    free(counts);
    free(displs);
    free(t.tokens);
    free(t.doc_tokens);
    free(t.ids);
}

// An existing store at prep.out: skip when it is valid and was written from this very deck (a requeued job
// reruns prep), refuse to overwrite anything else without --force. Rank 0 decides.
static int existing_store(Prep *p, const Deck *deck, char *err, size_t errlen) {
    int verdict = 0; // 0 absent, 1 skip, -1 error
    if (p->dist.rank == 0 && shear_file_exists(deck->prep_out)) {
        TokenStore s;
        char why[1024];
        if (store_try_open(&s, deck->prep_out, why, sizeof why) != 0) {
            snprintf(err, errlen, "prep.out '%s' exists and is not a valid token store (%s); remove it or pass --force",
                     deck->prep_out, why);
            verdict = -1;
        } else {
            char *text = h5_read_text((hid_t)s.file, "deck");
            if (text && strcmp(text, deck->text ? deck->text : "") == 0) {
                verdict = 1;
            } else {
                snprintf(err, errlen,
                         "prep.out '%s' exists but was written from another deck; pass --force to rewrite it, or "
                         "choose another prep.out",
                         deck->prep_out);
                verdict = -1;
            }
            free(text);
            store_close(&s);
        }
    }
    dist_world_bcast(&verdict, sizeof verdict, 0);
    dist_world_bcast(err, errlen, 0);
    return verdict;
}

int cmd_prep(int argc, char **argv) {
    CliOption opts[] = {
        {"set", "SECTION.KEY=VALUE", "override a deck key (repeatable)", NULL, 0},
        {"force", NULL, "rewrite prep.out even if it already holds a token store", NULL, 0},
    };
    const char *sets[CLI_MAX_SETS];
    int n_sets = cli_collect_sets(argc, argv, sets, CLI_MAX_SETS);
    const char *pos[1];
    int npos = cli_parse(argc, argv, opts, 2, "shear prep DECK [--set section.key=value]... [--force]",
                         "Tokenizes per-domain text (prep.input_dir/<domain>/*.txt, *.jsonl with a \"text\" field) into\n"
                         "an HDF5 token store (prep.out): per domain a train and an eval split of prep.seq_len-token\n"
                         "sequences. MPI-parallel: mpirun -np N shear prep DECK gives the same store for any N.",
                         pos, 1);
    if (npos != 1) {
        fprintf(stderr, "shear prep: expected one input deck (usage: shear prep DECK)\n");
        return SHEAR_EXIT_USAGE;
    }
    Prep p;
    memset(&p, 0, sizeof p);
    dist_init(&p.dist, &argc, &argv);
    double t0 = shear_now();
    char err[PREP_ERR_LEN] = "";

    // ---- deck ----
    Deck deck;
    if (load_deck(&deck, pos[0], sets, n_sets, err, sizeof err)) fail_all(&p, err);
    int exists = existing_store(&p, &deck, err, sizeof err);
    if (exists != 0 && !opts[1].set) {
        if (exists < 0) fail_all(&p, err);
        shear_log("prep: '%s' already holds this deck's token store; nothing to do (--force rewrites it)\n",
                  deck.prep_out);
        deck_free(&deck);
        dist_finalize(&p.dist);
        return SHEAR_EXIT_OK;
    }

    // ---- tokenizer ----
    char why[PREP_ERR_LEN - 64];
    Tokenizer *tok = tokenizer_load(deck.prep_tokenizer, why, sizeof why);
    if (!tok) snprintf(err, sizeof err, "%s: prep.tokenizer: %s", deck.path, why);
    agree(&p, tok == NULL, err);

    // ---- domains and their files (before any output exists) ----
    char names[STORE_MAX_DOMAINS][32];
    int n_domains = deck.data_n_domains;
    if (n_domains > 0) {
        for (int i = 0; i < n_domains; i++) snprintf(names[i], sizeof names[i], "%s", deck.data_domains[i]);
    } else {
        n_domains = corpus_list_domains(deck.prep_input_dir, names, STORE_MAX_DOMAINS, err, sizeof err);
        if (n_domains < 0) fail_all(&p, err);
    }
    // Listed domains must hold text. Discovered folders without any *.txt / *.jsonl (the corpus recipe's
    // licenses/, say) are skipped with a warning.
    int listed = deck.data_n_domains > 0, kept = 0;
    CorpusFile *files[STORE_MAX_DOMAINS];
    int n_files[STORE_MAX_DOMAINS];
    for (int i = 0; i < n_domains; i++) {
        for (int j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0) {
                snprintf(err, sizeof err, "%s: data.domains lists '%s' twice", deck.path, names[i]);
                fail_all(&p, err);
            }
        if (!names[i][0] || strspn(names[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") !=
                                strlen(names[i]) || names[i][0] == '.') {
            snprintf(err, sizeof err, "domain name '%s': expected letters, digits, '_', '-' or '.' (not first)", names[i]);
            fail_all(&p, err);
        }
        char dir[DECK_PATH_LEN + 40];
        snprintf(dir, sizeof dir, "%s/%s", deck.prep_input_dir, names[i]);
        CorpusFile *list = NULL;
        int n = corpus_list_files(dir, &list, err, sizeof err);
        if (n < 0) {
            char msg[PREP_ERR_LEN + 64];
            snprintf(msg, sizeof msg, "domain '%s': %s", names[i], err);
            fail_all(&p, msg);
        }
        if (n == 0 && !listed) {
            shear_warn("prep: skipping folder '%s': no *.txt or *.jsonl files", dir);
            continue;
        }
        if (n == 0) {
            snprintf(err, sizeof err, "domain '%s': folder '%s' has no *.txt or *.jsonl files; expected the domain's text",
                     names[i], dir);
            fail_all(&p, err);
        }
        memmove(names[kept], names[i], sizeof names[i]);
        files[kept] = list;
        n_files[kept++] = n;
    }
    n_domains = kept;
    if (n_domains == 0) {
        snprintf(err, sizeof err, "prep.input_dir '%s': no sub-folder holds *.txt or *.jsonl files; expected one folder "
                 "of text per domain", deck.prep_input_dir);
        fail_all(&p, err);
    }
    shear_log("prep: %d domains from '%s', tokenizer %s (%s), seq_len %d, %d eval sequences per domain, %d ranks\n",
              n_domains, deck.prep_input_dir, deck.prep_tokenizer, tokenizer_identity(tok), deck.prep_seq_len,
              deck.prep_eval_seqs, p.dist.size);

    // ---- write ----
    if (p.dist.rank == 0) {
        char parent[DECK_PATH_LEN];
        snprintf(parent, sizeof parent, "%s", deck.prep_out);
        char *dir = dirname(parent);
        if (strcmp(dir, ".") != 0) shear_mkdirs(dir);
    }
    dist_world_barrier("prep output directory");
    store_writer_create(&p.writer, deck.prep_out, dist_comm_world());
    p.writing = 1;
    Totals tot = {0};
    for (int i = 0; i < n_domains; i++) prep_domain(&p, &deck, tok, names[i], files[i], n_files[i], &tot);

    char joined[STORE_MAX_DOMAINS * 33] = "";
    for (int i = 0; i < n_domains; i++) {
        if (i) strcat(joined, ",");
        strcat(joined, names[i]);
    }
    store_writer_attr_string(&p.writer, "/", "format", STORE_FORMAT);
    store_writer_attr_int(&p.writer, "/", "version", STORE_VERSION);
    store_writer_attr_int(&p.writer, "/", "seq_len", deck.prep_seq_len);
    store_writer_attr_string(&p.writer, "/", "tokenizer", tokenizer_identity(tok));
    store_writer_attr_int(&p.writer, "/", "vocab_size", tokenizer_vocab_size(tok));
    store_writer_attr_int(&p.writer, "/", "n_domains", n_domains);
    store_writer_attr_string(&p.writer, "/", "domains", joined);
    store_writer_attr_int(&p.writer, "/", "eval_seqs", deck.prep_eval_seqs);
    store_writer_attr_int(&p.writer, "/", "max_train_seqs", deck.prep_max_train_seqs);
    store_writer_attr_int(&p.writer, "/", "seed", deck.prep_seed);
    store_writer_attr_string(&p.writer, "/", "shear_version", SHEAR_VERSION " (" SHEAR_GIT ")");
    store_writer_attr_string(&p.writer, "/", "checksum_algorithm", CKPT_SUM_NAME); // of every split's checksum
    store_writer_deck(&p.writer, deck.text ? deck.text : "");
    store_writer_commit(&p.writer);
    p.writing = 0;

    double dt = shear_now() - t0;
    char hb[32];
    shear_log("prep: wrote '%s': %llu documents, %llu tokens = %llu stored (%llu train + %llu eval sequences) + "
              "%llu dropped; %s of text in %.1f s (%.1f MB/s, %.0f tokens/s)\n",
              deck.prep_out, (unsigned long long)tot.documents, (unsigned long long)tot.tokens,
              (unsigned long long)((tot.n_train + tot.n_eval) * (uint64_t)deck.prep_seq_len),
              (unsigned long long)tot.n_train, (unsigned long long)tot.n_eval, (unsigned long long)tot.dropped,
              human_bytes((double)tot.bytes, hb, sizeof hb), dt, (double)tot.bytes / 1e6 / (dt > 1e-9 ? dt : 1e-9),
              (double)tot.tokens / (dt > 1e-9 ? dt : 1e-9));
    for (int i = 0; i < n_domains; i++) free(files[i]);
    tokenizer_free(tok);
    deck_free(&deck);
    dist_finalize(&p.dist);
    return SHEAR_EXIT_OK;
}
