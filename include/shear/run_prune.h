// The pruning work of a step, as the trainer's hooks (run_trainer.h): a hard-concrete mask sample per global
// micro-batch and its backward, the mask gradients summed over the ranks, the Lagrangian toward the target
// sparsity, the AdamW step of the log-alphas and the Lagrange multipliers, the progress line's sparsity part,
// and the masks record every dbl.interval steps.
#ifndef SHEAR_RUN_PRUNE_H
#define SHEAR_RUN_PRUNE_H

#include "shear/deck.h"
#include "shear/dist.h"
#include "shear/masks.h"
#include "shear/run_trainer.h"

typedef struct {
    Masks *mk;
    const Deck *deck;
    const Dist *dist;
    MaskStats stats;     // of the current step, after the Lagrangian
    double lagrangian;
    TrainerHooks hooks;  // ctx points back here
} PruneHooks;

// Sets up h for masks mk: pass &h->hooks to the trainer. h must outlive the trainer's steps.
void prune_hooks_init(PruneHooks *h, Masks *mk, const Deck *d, const Dist *dist);

#endif
