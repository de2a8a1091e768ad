// Input decks: YAML files with fixed sections and keys. Every key has a type, a default, a range and one line
// of documentation in the schema table (src/deck.c, DECK_SCHEMA); the README's key table is printed from it by
// `shear keys`. Pure logic: no MPI. Errors name the file, the line and the key, and what was expected.
#ifndef SHEAR_DECK_H
#define SHEAR_DECK_H

#include <stddef.h>
#include <stdio.h>

#define DECK_MAX_DOMAINS 16
#define DECK_NAME_LEN 32
#define DECK_PATH_LEN 1024
// A deck is two levels deep (section: key: value, a value at most a flat list) and a few KB: anything far
// bigger or deeper is the wrong file or an attack on the parser, refused before libyaml builds it.
#define DECK_MAX_BYTES (1 << 20)
#define DECK_MAX_DEPTH 4

typedef struct {
    // model: the shape of a model trained from random init (prune reads the source shape from its file)
    int model_dim;          // hidden size d
    int model_n_layers;     // L
    int model_n_heads;      // H (query heads)
    int model_n_kv_heads;   // KV heads; == n_heads for MHA, fewer for GQA
    int model_head_dim;     // 0 = dim / n_heads
    int model_intermediate; // I, SwiGLU width
    int model_vocab;        // V
    double model_rope_theta;
    double model_norm_eps;
    double model_init_std;  // std of normal init for every 2-D weight; norms start at 1

    // data: where training sequences come from and in which mix
    char data_store[DECK_PATH_LEN];                   // HDF5 token store written by `shear prep`
    int data_n_domains;                               // 0 = every domain of the store, in store order
    char data_domains[DECK_MAX_DOMAINS][DECK_NAME_LEN];
    int data_n_proportions;                           // 0 = proportional to each domain's train sequences
    double data_proportions[DECK_MAX_DOMAINS];        // initial proportions, same order as data_domains

    // prep: building the token store
    char prep_input_dir[DECK_PATH_LEN]; // one sub-folder per domain holding *.txt / *.jsonl files
    char prep_tokenizer[DECK_PATH_LEN]; // Hugging Face tokenizer.json
    char prep_out[DECK_PATH_LEN];       // token store to write
    int prep_seq_len;                   // tokens per stored sequence
    int prep_eval_seqs;                 // held-out eval sequences per domain
    int prep_max_train_seqs;            // 0 = no cap; caps train sequences per domain
    int prep_seed;                      // seeds the document shuffle that splits train from eval

    // train: the optimisation loop
    int train_steps;        // optimizer steps
    int train_seq_len;      // tokens per training sequence (<= the store's seq_len)
    int train_global_batch; // sequences per optimizer step, over all ranks
    int train_micro_batch;  // sequences per forward/backward on one rank
    int train_seed;         // seeds init, sampler and masks
    char train_init[DECK_PATH_LEN]; // start from this model file instead of random init ("" = random)

    // optim: AdamW and the schedule
    double optim_lr;
    char optim_schedule[DECK_NAME_LEN]; // "cosine" or "constant"
    int optim_warmup;                   // linear warm-up steps
    double optim_min_lr_ratio;          // cosine floor as a fraction of lr
    double optim_beta1;
    double optim_beta2;
    double optim_eps;
    double optim_weight_decay;          // applied to 2-D weights only
    double optim_grad_clip;             // global-norm clip; 0 = off

    // prune: targeted structured pruning (shear prune); target dims of 0 keep the source's
    char prune_source[DECK_PATH_LEN];   // source model file
    int prune_target_dim;               // d_T
    int prune_target_n_layers;          // L_T
    int prune_target_n_heads;           // H_T (GQA: KV heads follow, the group size is kept)
    int prune_target_intermediate;      // I_T
    int prune_n_masks;
    char prune_masks[DECK_MAX_DOMAINS][DECK_NAME_LEN]; // learned mask types: layer head intermediate hidden head_layer mlp
    double prune_target_warmup_frac;    // target sparsity warms up linearly over this fraction of the steps
    double prune_lr_log_alpha;          // learning rate of the log-alphas (AdamW, same schedule)
    double prune_lr_lambda;             // learning rate of the Lagrange multipliers (negative = ascent)
    double prune_log_alpha_init;        // log-alpha init mean
    double prune_log_alpha_init_std;    // log-alpha init std
    int prune_uniform;                  // 1 = per-layer targets (targeted); 0 = per-type totals (non-uniform)

    // dbl: dynamic batch loading
    char dbl_rule[DECK_NAME_LEN];       // "paper" (clamp at 0), "code" (no clamp), "constant" (no updates)
    int dbl_interval;                   // update every N steps
    int dbl_at_start;                   // 1 = also update before step 1
    double dbl_eta;                     // step size of the update
    double dbl_smoothing;               // c: w <- (1-c) w + c/k
    char dbl_reference[DECK_NAME_LEN];  // "deck" (dbl.ref_losses), "source" (measured at start), "scaling"
    int dbl_n_ref_losses;
    double dbl_ref_losses[DECK_MAX_DOMAINS]; // reference loss per domain, order of data.domains
    char dbl_scaling_file[DECK_PATH_LEN];    // CSV: params,<domain>,... one row per model, for the scaling-law fit
    int dbl_eval_seqs;                  // eval sequences scored per domain at each update; 0 = all

    // distill: knowledge distillation from a teacher model (shear/distill.h), in train and prune
    char distill_teacher[DECK_PATH_LEN]; // teacher model file; "" = no distillation
    double distill_alpha;                // loss = alpha KD + (1 - alpha) LM
    double distill_temperature;          // T of the KD term T^2 KL(softmax(teacher/T) || softmax(student/T))
    int distill_topk;                    // 0 = full vocabulary; k = the teacher's k largest logits per position

    // run: outputs and logging
    char run_out_dir[DECK_PATH_LEN];
    int run_log_every;  // progress line every N steps
    int run_threads;    // OpenMP threads per rank; 0 = OMP_NUM_THREADS or all cores / local ranks
    double run_peak_tflops; // peak TFLOP/s per rank for the progress line's MFU; 0 = auto (CUDA: from the device)
    int run_ckpt_every; // checkpoint every N steps; 0 = only when stopping and at the end
    int run_keep_last;  // committed checkpoints kept (0 = all)
    int run_major_every;// checkpoints at multiples of N steps are never deleted (0 = none)
    double run_walltime;// seconds this process may run before it checkpoints and exits 75 (0 = no budget)
    int run_fallback;   // 1 = resume from an older checkpoint when the newest is corrupt
    int run_verify;     // 1 = verify checksums when resuming
    int run_zero;       // 1 = ZeRO-1: Adam state sharded over the ranks (shear/zero.h); 0 = replicated
    int run_zero_bucket;// floats per ZeRO-1 bucket over all ranks
    int run_watchdog;   // seconds one collective may take before the job is aborted (0 = no watchdog)
    char run_device[DECK_NAME_LEN];     // "cpu" or "cuda": the ops backend of train and prune
    char run_precision[DECK_NAME_LEN];  // "fp32" or "bf16": the GEMMs' arithmetic (ShearOps.set_precision)
    int run_recompute;  // 1 = activation recomputation per block (shear/model.h model_set_recompute)

    // the verbatim text of the deck and where it came from: stored in every output
    char path[DECK_PATH_LEN];
    char *text;
} Deck;

typedef enum { DECK_INT, DECK_DOUBLE, DECK_STRING, DECK_ENUM, DECK_STRING_LIST, DECK_DOUBLE_LIST } DeckType;

typedef struct {
    const char *section;  // "model", "train", ...
    const char *key;      // "dim", ...
    DeckType type;
    size_t offset;        // offsetof(Deck, field)
    size_t count_offset;  // lists: offsetof(Deck, n_field); else 0
    const char *def;      // default as YAML text ("" for empty string / empty list)
    double min, max;      // numeric range (inclusive); lists: per element
    const char *choices;  // DECK_ENUM: "cosine|constant"
    const char *doc;      // one line for the README
} DeckKey;

extern const DeckKey DECK_SCHEMA[];
extern const size_t DECK_SCHEMA_LEN;

// Fills every field with its default.
void deck_defaults(Deck *d);
// Parses YAML text over the defaults. Returns 0 on success; on error writes one message to err
// ("deck.yaml:12: optim.lr: expected a number in [0, 10], got 'fast'") and returns -1.
int deck_parse(Deck *d, const char *path, const char *text, char *err, size_t errlen);
// Reads the file then parses; on error prints the message and exits non-zero (shear_die).
void deck_load(Deck *d, const char *path);
// The deck file's text (malloc'd), or NULL with the reason in err: missing, a directory, over DECK_MAX_BYTES
// (checked before reading), or binary.
char *deck_read_text(const char *path, char *err, size_t errlen);
// Applies "section.key=value" overrides from the command line (--set), same checks and messages.
int deck_set(Deck *d, const char *assignment, char *err, size_t errlen);
// What every command does with a deck: deck_load, the --set overrides in order, deck_validate; dies with the
// first error's message.
void deck_open(Deck *d, const char *path, const char **sets, int n);
// Cross-key checks (global_batch divisible by micro_batch, n_heads divisible by n_kv_heads, ...).
int deck_validate(const Deck *d, char *err, size_t errlen);
void deck_free(Deck *d);
// Markdown table of every key with its default, range and doc (for the README): `shear keys`.
void deck_print_keys(FILE *out);

#endif
