// Pieces every long command shares (train, prune): the training mix, the global batch as a fixed list of
// micro-batches, filling a micro-batch from the token store, run outputs and the progress line's ETA.
#ifndef SHEAR_RUN_H
#define SHEAR_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "shear/deck.h"
#include "shear/dist.h"
#include "shear/model.h"
#include "shear/ops.h"
#include "shear/sampler.h"
#include "shear/store.h"

// What every long command does first: MPI (dist_init), the deck with its --set overrides (deck_open), the hang
// watchdog (run.watchdog); dies when data.store is missing.
void run_begin(Dist *dist, Deck *deck, int *argc, char ***argv, const char *deck_path, const char **sets, int n_sets);
// The up-front plan of a run of shape `cfg` (the masked source while pruning; mask_gates = its gate count, 0 for
// train) whose weights come from the model file `weights_from` ("" = random init): the memory estimate, which
// dies before anything is allocated when the run cannot fit, the training FLOPs per token (3 x forward, full
// T x T attention) and the peak behind the MFU (0 = unknown).
typedef struct {
    double flops_tok;   // FLOPs per token of one training step
    double peak;        // TFLOP/s per rank; 0 = unknown (no MFU)
    char peak_what[64]; // where the peak comes from
} RunPlan;
RunPlan run_plan(const Dist *dist, const Deck *d, const ShearOps *ops, const ModelConfig *cfg, size_t mask_gates,
                 const char *weights_from);
// 1 when DBL's reference losses (dbl.reference: source, a rule that updates) need a second, frozen copy of
// prune.source: the run's own model starts from another file (train from the pruned model). 0 when they need no
// model, or when the run's model is prune.source's weights (prune; train.init = prune.source): then they are
// measured on the run's model, ungated, before its first step (dbl_run_measure_ref).
int run_ref_source_copy(const Deck *d, const char *weights_from);
// The "flops:" line of the start banner; `what` names the model ("" or " of the masked source").
void run_log_flops(const RunPlan *p, const char *what);
// The ops backend of run.device, ready to use: "cpu" sets `threads` OpenMP/BLAS threads; "cuda" selects this
// rank's GPU and sets up NCCL (dist_nccl_init) first. Dies with what is missing: a build without CUDA, or no
// visible device. Call right after the deck is read, before anything is allocated.
const ShearOps *run_backend(Dist *dist, const Deck *d, int threads);
// The training data of a run: the token store, the sampler's domains (data.domains, or all of the store's) as
// store domains, their initial proportions and the sampler. One struct, so the commands, DBL and the trainer
// pass the data as one thing.
typedef struct {
    TokenStore store;
    int n_domains;                  // sampler domains
    int dom[SAMPLER_MAX_DOMAINS];   // [n_domains] store domain of each sampler domain
    double w0[SAMPLER_MAX_DOMAINS]; // [n_domains] initial proportions (deck, else by train sequences), sum 1
    Sampler sampler;                // started at train.seed
} RunData;
// The deck's domains (or all of the store's) as store indices, and the initial proportions (deck or by train
// sequences), normalised. Dies naming a domain that the store lacks. Returns the number of domains.
int run_domains(const Deck *d, const TokenStore *s, int *store_idx, double *w);
// Opens data.store, checks it against train.seq_len and the model's vocabulary, resolves the domains
// (run_domains) and starts the sampler at train.seed.
void run_data_open(RunData *r, const Deck *d, int vocab);
void run_data_close(RunData *r);
// Global micro-batch j holds sequences [j*mb, (j+1)*mb) of the global batch; this rank owns micro-batches
// [*lo, *hi). Dies when there are more ranks than micro-batches.
void run_micro_slice(const Dist *dist, int n_micro, int *lo, int *hi);
// Fills tokens/targets [B, T] of B samples: the first T tokens of each stored sequence, targets shifted by
// one, the last position not scored (-1). seq is scratch of the store's seq_len.
void run_fill_batch(const RunData *r, const SampleRef *refs, int B, int T, int32_t *tokens, int32_t *targets,
                    int32_t *seq);
// Rank 0: creates run.out_dir, writes deck.yaml (the deck, verbatim) and opens metrics.jsonl (metrics_open).
// Other ranks: NULL.
FILE *run_open_outputs(const Dist *dist, const Deck *d, int resume_step);
// "hh:mm:ss"
void run_fmt_eta(char *buf, size_t len, double seconds);
// Logs the domains that started a new sampler epoch at this step and writes their epoch records.
void run_log_epochs(const RunData *r, const int *new_epoch, int step, FILE *metrics);

#endif
