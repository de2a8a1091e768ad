// shear prune DECK: targeted structured pruning (spec sections 2-3). Reads like the stage it runs:
// deck -> source model + target shape -> masks -> token store + sampler -> steps (weights, log-alphas and
// Lagrange multipliers trained jointly) -> masked model with exact-target deterministic masks (pruned.h5),
// which `shear finalize` cuts to the dense target.
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shear/cli.h"
#include "shear/common.h"
#include "shear/deck.h"
#include "shear/dist.h"
#include "shear/finalize.h"
#include "shear/masks.h"
#include "shear/memest.h"
#include "shear/metrics.h"
#include "shear/model.h"
#include "shear/modelfile.h"
#include "shear/run.h"
#include "shear/run_prune.h"
#include "shear/run_trainer.h"
#include "shear/watchdog.h"


// The target shape: prune.target_* with 0 meaning "keep the source's"; GQA keeps the group size.
static void target_from_deck(const Deck *d, const ModelConfig *src, ModelConfig *tgt) {
    *tgt = *src;
    if (d->prune_target_dim) tgt->dim = d->prune_target_dim;
    if (d->prune_target_n_layers) tgt->n_layers = d->prune_target_n_layers;
    if (d->prune_target_intermediate) tgt->intermediate = d->prune_target_intermediate;
    if (d->prune_target_n_heads) {
        int group = src->n_heads / src->n_kv_heads;
        if (d->prune_target_n_heads % group != 0)
            SHEAR_DIE("%s: prune.target_n_heads = %d is not a multiple of the source's GQA group size %d "
                      "(%d query heads per KV head): the target keeps the group size", d->path,
                      d->prune_target_n_heads, group, group);
        tgt->n_heads = d->prune_target_n_heads;
        tgt->n_kv_heads = d->prune_target_n_heads / group;
    }
}

// Rank 0: the masked model and its exact-target masks, for `shear finalize`; written whole under another name,
// then renamed: never a half-written pruned.h5.
static void write_pruned(const char *path, Model *model, const Masks *mk, const Deck *d) {
    float *hz[MASK_TYPES] = {0}; // per learned type [rows, cols] host copies of the deterministic masks
    for (int t = 0; t < MASK_TYPES; t++) {
        if (!mk->on[t]) continue;
        hz[t] = shear_malloc((size_t)mk->rows[t] * mk->cols[t] * sizeof(float));
        masks_download(mk, (MaskType)t, mk->z, hz[t]);
    }
    FinalizeGates fg = {hz[MASK_LAYER], hz[MASK_HEAD_LAYER], hz[MASK_MLP], hz[MASK_HEAD], hz[MASK_INTERMEDIATE],
                        hz[MASK_HIDDEN]};
    char part[DECK_PATH_LEN + 80];
    snprintf(part, sizeof part, "%s.part", path);
    shear_tmp_begin(part); // a failed mask write must not leave a model without masks behind
    modelfile_save_from(part, model, d->text, d->prune_source, d->run_precision);
    maskfile_write(part, &fg, &mk->src);
    if (rename(part, path) != 0) SHEAR_DIE("cannot rename '%s' to '%s': %s", part, path, strerror(errno));
    shear_tmp_done(part);
    finalize_summary(model, &fg, stdout);
    for (int t = 0; t < MASK_TYPES; t++) free(hz[t]);
}

int cmd_prune(int argc, char **argv) {
    CliOption opts[] = {
        {"set", "SECTION.KEY=VALUE", "override a deck key (repeatable)", NULL, 0},
    };
    const char *sets[CLI_MAX_SETS];
    int n_sets = cli_collect_sets(argc, argv, sets, CLI_MAX_SETS);
    const char *pos[1];
    int npos = cli_parse(argc, argv, opts, 1, "shear prune DECK [--set section.key=value]...",
                         "Targeted structured pruning of prune.source toward the prune.target_* shape: trains the\n"
                         "weights, hard-concrete masks and Lagrange multipliers on the token store, MPI data parallel.\n"
                         "Writes run.out_dir/pruned.h5 (masked source model + exact-target masks for `shear finalize`),\n"
                         "metrics.jsonl and deck.yaml.", pos, 1);
    if (npos != 1) {
        shear_usage_error("shear prune: expected one input deck (usage: shear prune DECK)\n");
    }
    Dist dist;
    Deck deck;
    run_begin(&dist, &deck, &argc, &argv, pos[0], sets, n_sets); // MPI, deck, watchdog
    if (!deck.prune_source[0]) SHEAR_DIE("%s: prune.source is required: the model file to prune", deck.path);
    int threads = dist_threads(&dist, deck.run_threads);
    const ShearOps *ops = run_backend(&dist, &deck, threads); // run.device

    // ---- source model, target shape, masks ----
    ModelConfig src, tgt;
    modelfile_read_config(deck.prune_source, &src);
    target_from_deck(&deck, &src, &tgt);
    // the masked SOURCE model is trained: every source weight is computed under the gates (the source shape's
    // FLOPs, gate multiplies ignored); the memory estimate fails a run that cannot fit before allocating
    Trainer tr = {.stage = "prune", .dist = &dist, .deck = &deck, .ops = ops, .weights_from = deck.prune_source,
                  .plan = run_plan(&dist, &deck, ops, &src, memest_mask_gates(&src, deck.prune_masks, deck.prune_n_masks),
                                   deck.prune_source)};
    Masks mk;
    char err[1024];
    if (masks_create(&mk, ops, &src, &tgt, deck.prune_masks, deck.prune_n_masks, err, sizeof err))
        SHEAR_DIE("%s: infeasible target: %s", deck.path, err);
    mk.uniform = deck.prune_uniform;
    Model model;
    model_create(&model, ops, &src);
    modelfile_load_weights(deck.prune_source, &model);
    masks_init_log_alpha(&mk, (uint64_t)deck.train_seed, deck.prune_log_alpha_init, deck.prune_log_alpha_init_std);
    ModelGates gates = {0};
    masks_gates(&mk, &gates);
    PruneHooks hooks;
    prune_hooks_init(&hooks, &mk, &deck, &dist);
    tr.model = &model;
    tr.masks = &mk;
    tr.gates = &gates;
    tr.hooks = &hooks.hooks;
    trainer_open(&tr); // activations, optimizer state, token store and sampler

    shear_log("shear prune: %d ranks x %d threads | source d=%d L=%d H=%d kv=%d I=%d (%.2fM params) -> target "
              "d=%d L=%d H=%d kv=%d I=%d (%.2fM)%s | %d steps x %d seqs x %d tokens\n", dist.size, threads, src.dim,
              src.n_layers, src.n_heads, src.n_kv_heads, src.intermediate, model_param_count(&src) / 1e6, tgt.dim,
              tgt.n_layers, tgt.n_heads, tgt.n_kv_heads, tgt.intermediate, model_param_count(&tgt) / 1e6,
              deck.prune_uniform ? "" : " non-uniform: per-type totals", deck.train_steps, deck.train_global_batch,
              deck.train_seq_len);
    run_log_flops(&tr.plan, " of the masked source");

    // ---- resume from the latest committed checkpoint, if any; the steps ----
    char path[DECK_PATH_LEN + 64];
    snprintf(path, sizeof path, "%s/pruned.h5", deck.run_out_dir);
    int complete = trainer_resume(&tr, model_param_count(&tgt), path);
    int rc = complete ? 0 : trainer_run(&tr);

    // ---- masked model with exact-target masks, for `shear finalize` ----
    if (!complete && rc == 0) {
        masks_deterministic(&mk, 1);
        trainer_final_eval(&tr); // what the finalized model will score: the masked model under these masks
        metrics_masks(tr.metrics, &mk, deck.train_steps);
        watchdog_io_begin(); // the other ranks wait for rank 0's write: file-system time, not a hang
        if (dist.rank == 0) {
            write_pruned(path, &model, &mk, &deck);
            shear_log("shear prune: done in %.1f s; masked model and masks written to %s\n", shear_now() - tr.t_start,
                      path);
        }
        dist_barrier(&dist, "barrier(pruned model written)");
        watchdog_io_end();
    }
    trainer_close(&tr);
    masks_free(&mk);
    model_free(&model);
    deck_free(&deck);
    dist_finalize(&dist);
    return rc;
}
