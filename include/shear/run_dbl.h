// Dynamic batch loading inside a run (train, prune): reference losses, per-domain evaluation every
// dbl.interval steps, the update on rank 0 in float64 (src/dbl.c), MPI_Bcast of the new proportions, and the
// metrics record. The pure update rule lives in dbl.h; this file wires it to MPI, the model and the store.
#ifndef SHEAR_RUN_DBL_H
#define SHEAR_RUN_DBL_H

#include <stdio.h>

#include "shear/dbl.h"
#include "shear/deck.h"
#include "shear/dist.h"
#include "shear/distill.h"
#include "shear/model.h"
#include "shear/ops.h"
#include "shear/run.h"

typedef struct {
    int rule;                         // DBL_RULE_*
    int k;                            // domains
    char names[DBL_MAX_DOMAINS][DBL_NAME_LEN];
    double w[DBL_MAX_DOMAINS];        // current proportions (identical on every rank)
    double ref[DBL_MAX_DOMAINS];      // reference losses (rule != constant)
    int have_ref;
    int ref_on_run_model;             // dbl.reference: source, measured by dbl_run_measure_ref on the run's model
    int updates;                      // updates done
    int hist_cap;                     // rows of history: the most updates a run of train.steps can make
    double *history;                  // [hist_cap, k] proportions after each update, in order
    Distill *distill;                 // the run's teacher (set by the trainer), or NULL: with one on, the dbl and
                                      // eval records also carry each domain's KD loss; the update still reads
                                      // the LM losses against the references
} DblRun;

// Sets the initial proportions w0 and the reference losses (dbl.reference: deck, scaling = the dbl.scaling_file
// fit at target_params, source = per-domain eval loss of the model file prune.source). For source, a run whose
// model is not prune.source's weights (weights_from, see run_ref_source_copy) loads a frozen copy of it on the
// run's backend `ops` now; otherwise the losses wait for dbl_run_measure_ref. Starts from the data's initial
// proportions. Dies naming the key on a bad setting. eval_T: tokens scored per eval sequence.
void dbl_run_init(DblRun *r, const Deck *d, const Dist *dist, const ShearOps *ops, const RunData *data,
                  size_t target_params, int eval_T, const char *weights_from);
// dbl.reference: source on the run's own model m (prune.source's weights, before any step): its ungated
// per-domain eval losses (the same bits as a frozen copy's). resumed = 1: the checkpoint restored them instead.
// Nothing to do for the other references.
void dbl_run_measure_ref(DblRun *r, const Deck *d, const Dist *dist, Model *m, const RunData *data, int eval_T,
                         int resumed);
// 1 when an update is due before `step` (1-based): before step 1 if dbl.at_start, then after every
// dbl.interval steps. Never for the constant rule.
int dbl_run_due(const DblRun *r, const Deck *d, int step);
// Per-domain eval of m (with gates: the deterministic masks during pruning), update on rank 0, broadcast,
// one {"event":"dbl"} record on rank 0's metrics file and a log line.
void dbl_run_update(DblRun *r, const Deck *d, const Dist *dist, Model *m, const RunData *data,
                    const ModelGates *gates, int eval_T, int step, FILE *metrics);
void dbl_run_free(DblRun *r);
// Per-domain eval at the end of a run: a table on rank 0 and one {"event":"eval"} record.
void dbl_run_final_eval(const DblRun *r, const Deck *d, const Dist *dist, Model *m, const RunData *data,
                        const ModelGates *gates, int eval_T, int step, FILE *metrics);

#endif
