// shear prune DECK: targeted structured pruning (spec sections 2-3). Reads like the stage it runs:
// deck -> source model + target shape -> masks -> token store + sampler -> steps (weights, log-alphas and
// Lagrange multipliers trained jointly) -> masked model with exact-target deterministic masks (pruned.h5),
// which `shear finalize` cuts to the dense target.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shear/cli.h"
#include "shear/common.h"
#include "shear/run_dbl.h"
#include "shear/deck.h"
#include "shear/dist.h"
#include "shear/finalize.h"
#include "shear/flops.h"
#include "shear/masks.h"
#include "shear/memest.h"
#include "shear/model.h"
#include "shear/modelfile.h"
#include "shear/optim.h"
#include "shear/run.h"
#include "shear/run_ckpt.h"
#include "shear/sampler.h"
#include "shear/store.h"
#include "shear/watchdog.h"
#include "shear/zero.h"


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

// One JSONL record with the deterministic (expected-zeros) masks: per type a '0'/'1' string, row-major.
static void log_masks(FILE *f, Masks *mk, int step) {
    fprintf(f, "{\"event\":\"masks\",\"step\":%d", step);
    for (int t = 0; t < MASK_TYPES; t++) {
        if (!mk->on[t]) continue;
        size_t n = (size_t)mk->rows[t] * mk->cols[t];
        float *z = shear_malloc(n * sizeof(float)); // [rows, cols]
        masks_download(mk, (MaskType)t, mk->z, z);
        fprintf(f, ",\"%s\":{\"kept_per_row\":[", MASK_NAMES[t]);
        for (int r = 0; r < mk->rows[t]; r++) {
            int kept = 0;
            for (int c = 0; c < mk->cols[t]; c++) kept += z[(size_t)r * mk->cols[t] + c] != 0.0f;
            fprintf(f, "%s%d", r ? "," : "", kept);
        }
        fprintf(f, "],\"mask\":\"");
        for (size_t i = 0; i < n; i++) fputc(z[i] != 0.0f ? '1' : '0', f);
        fprintf(f, "\"}");
        free(z);
    }
    fprintf(f, "}\n");
    fflush(f);
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
        fprintf(stderr, "shear prune: expected one input deck (usage: shear prune DECK)\n");
        return SHEAR_EXIT_USAGE;
    }
    Dist dist;
    Deck deck;
    run_begin(&dist, &deck, &argc, &argv, pos[0], sets, n_sets); // MPI, deck, watchdog
    char err[1024];
    if (!deck.prune_source[0]) SHEAR_DIE("%s: prune.source is required: the model file to prune", deck.path);
    int threads = dist_threads(&dist, deck.run_threads);
    const ShearOps *ops = run_backend(&dist, &deck, threads); // run.device

    // ---- source model, target shape, masks ----
    ModelConfig src, tgt;
    modelfile_read_config(deck.prune_source, &src);
    target_from_deck(&deck, &src, &tgt);
    // ---- memory: the masked SOURCE model is trained; the estimate fails a run that cannot fit before allocating ----
    // every source weight is computed under the gates: the source shape's FLOPs (gate multiplies ignored)
    const RunPlan plan = run_plan(&dist, &deck, ops, &src, memest_mask_gates(&src, deck.prune_masks,
                                                                             deck.prune_n_masks));
    const double flops_tok = plan.flops_tok, peak = plan.peak;
    Masks mk;
    if (masks_create(&mk, ops, &src, &tgt, deck.prune_masks, deck.prune_n_masks, err, sizeof err))
        SHEAR_DIE("%s: infeasible target: %s", deck.path, err);
    mk.uniform = deck.prune_uniform;
    Model model;
    model_create(&model, ops, &src);
    modelfile_load_weights(deck.prune_source, &model);
    masks_init_log_alpha(&mk, (uint64_t)deck.train_seed, deck.prune_log_alpha_init, deck.prune_log_alpha_init_std);
    int T = deck.train_seq_len, G = deck.train_global_batch, mb = deck.train_micro_batch;
    model_set_recompute(&model, deck.run_recompute);
    model_alloc_acts(&model, mb, T);
    Zero zero; // run.zero: 1 shards the Adam state over the ranks (ZeRO-1), 0 replicates it
    zero_init(&zero, &dist, ops, model.table.total, deck.run_zero, (size_t)deck.run_zero_bucket);
    AdamW opt;
    zero_adamw_create(&zero, &opt);
    ModelGates gates;
    memset(&gates, 0, sizeof gates);
    masks_gates(&mk, &gates);

    // ---- data ----
    TokenStore store;
    int dom[SAMPLER_MAX_DOMAINS];
    double w[SAMPLER_MAX_DOMAINS];
    Sampler sampler;
    int nd = run_open_data(&deck, src.vocab, &store, dom, w, &sampler);

    shear_log("shear prune: %d ranks x %d threads | source d=%d L=%d H=%d kv=%d I=%d (%.2fM params) -> target "
              "d=%d L=%d H=%d kv=%d I=%d (%.2fM)%s | %d steps x %d seqs x %d tokens\n", dist.size, threads, src.dim,
              src.n_layers, src.n_heads, src.n_kv_heads, src.intermediate, model_param_count(&src) / 1e6, tgt.dim,
              tgt.n_layers, tgt.n_heads, tgt.n_kv_heads, tgt.intermediate, model_param_count(&tgt) / 1e6,
              deck.prune_uniform ? "" : " non-uniform: per-type totals", deck.train_steps, G, T);
    run_log_flops(&plan, " of the masked source");

    zero_log_memory(&zero, "shear prune");
    DblRun dbl;
    dbl_run_init(&dbl, &deck, &dist, &store, dom, nd, w, model_param_count(&tgt), T);

    // ---- resume from the latest committed checkpoint, if any ----
    RunCkpt rc;
    run_ckpt_init(&rc, "prune", &deck, &model, &opt, &sampler, &dbl, &mk);
    long long tokens_seen = 0;
    int start = run_ckpt_resume(&rc, &dist, ops, &deck, &tokens_seen);
    char final_path[DECK_PATH_LEN + 64];
    snprintf(final_path, sizeof final_path, "%s/pruned.h5", deck.run_out_dir);
    if (start >= deck.train_steps && shear_file_exists(final_path)) {
        shear_log("shear prune: the run is complete (%d steps, %s): nothing to do\n", deck.train_steps, final_path);
        run_ckpt_free(&rc);
        dist_finalize(&dist);
        return 0;
    }
    FILE *metrics = run_open_outputs(&dist, &deck, start);

    // ---- steps ----
    SampleRef *batch = shear_malloc((size_t)G * sizeof *batch);            // [G]
    int32_t *seq = shear_malloc((size_t)store.seq_len * sizeof(int32_t));  // [store seq_len]
    int32_t *tok = shear_malloc((size_t)mb * T * sizeof(int32_t));          // [mb, T]
    int32_t *tgt_ids = shear_malloc((size_t)mb * T * sizeof(int32_t));      // [mb, T]
    const float dscale = 1.0f / (float)((double)G * (T - 1));
    int mlo, mhi;
    run_micro_slice(&dist, G / mb, &mlo, &mhi);
    AdamWHyper hyper = {0, (float)deck.optim_beta1, (float)deck.optim_beta2, (float)deck.optim_eps,
                        (float)deck.optim_weight_decay, (float)deck.optim_grad_clip};
    int cosine = strcmp(deck.optim_schedule, "cosine") == 0;
    const uint64_t seed = (uint64_t)deck.train_seed;
    double t_start = shear_now();
    for (int step = start + 1; step <= deck.train_steps; step++) {
        double t0 = shear_now();
        watchdog_step(step);
        if (dbl_run_due(&dbl, &deck, step)) {
            masks_deterministic(&mk, 0); // evaluation during pruning uses the expected-zeros masks
            dbl_run_update(&dbl, &deck, &dist, &model, &store, dom, &gates, T, step, metrics);
        }
        int new_epoch[SAMPLER_MAX_DOMAINS] = {0};
        if (sampler_next_batch(&sampler, dbl.w, (size_t)G, batch, new_epoch))
            run_log_epochs(&sampler, &store, dom, new_epoch, step);
        ops->zero(model.g, model.table.total * sizeof(float));
        masks_zero_grad(&mk);
        masks_clamp(&mk);
        double loss_sum = 0;
        for (int j = mlo; j < mhi; j++) {
            // the mask sample is keyed by the global micro-batch index: any rank count draws the same z
            masks_sample(&mk, seed, (uint64_t)step, (uint64_t)j);
            run_fill_batch(&store, dom, batch + (size_t)j * mb, mb, T, tok, tgt_ids, seq);
            loss_sum += model_forward_backward(&model, mb, tok, tgt_ids, &gates, dscale);
            masks_backward_sample(&mk, seed, (uint64_t)step, (uint64_t)j);
        }
        watchdog_test_point(dist.rank, step);
        watchdog_enter(deck.run_zero ? "reduce_scatter(grads)" : "allreduce(grads)", step);
        zero_reduce_grads(&zero, &dist, model.g);
        watchdog_leave();
        watchdog_enter("allreduce(mask grads)", step);
        dist_allreduce_sum(&dist, ops, mk.grad, mk.total);
        watchdog_leave();
        dist_sum_doubles(&dist, &loss_sum, 1);
        double lm = loss_sum / ((double)G * (T - 1));
        if (!isfinite(lm))
            SHEAR_DIE("LM loss is %f at step %d, expected a finite loss: lower optim.lr or prune.lr_log_alpha", lm, step);
        // the Lagrangian is computed after the reduction, identically on every rank
        MaskStats st;
        double lag = masks_lagrangian(&mk, step, deck.train_steps, deck.prune_target_warmup_frac, &st);

        double lr = lr_at(cosine, deck.optim_lr, deck.optim_warmup, deck.train_steps, deck.optim_min_lr_ratio, step);
        double f = lr / deck.optim_lr; // one schedule scales every group
        hyper.lr = (float)lr;
        double mnorm = zero_grad_norm(&zero, &dist, &model.table, model.g);
        double gnorm = sqrt(mnorm * mnorm + masks_grad_sumsq(&mk));
        if (!isfinite(gnorm)) SHEAR_DIE("gradient norm is %f at step %d: lower the learning rates", gnorm, step);
        float gscale = grad_clip_scale(gnorm, hyper.grad_clip);
        zero_step(&zero, &dist, &opt, &model.table, model.w, model.g, &hyper, gscale);
        masks_step(&mk, (float)(deck.prune_lr_log_alpha * f), (float)(deck.prune_lr_lambda * f), hyper.beta1,
                   hyper.beta2, hyper.eps, gscale);

        tokens_seen += (long long)G * T;
        double dt = shear_now() - t0, elapsed = shear_now() - t_start;
        double tps = (double)G * T / dt;
        double tflops = flops_tok * tps / dist.size / 1e12; // per rank
        if (dist.rank == 0) {
            if (step % deck.run_log_every == 0 || step == 1 || step == deck.train_steps) {
                char eta[32], sp[1024] = "", fl[64];
                size_t o = 0;
                for (int t = 0; t < MASK_TYPES; t++)
                    if (mk.on[t])
                        o += (size_t)snprintf(sp + o, sizeof sp - o, " %s %.3f/%.3f (lambda %+.2f %+.2f)",
                                              MASK_NAMES[t], st.expected_sparsity[t], st.target_sparsity[t],
                                              mk.lambda[t][0], mk.lambda[t][1]);
                run_fmt_eta(eta, sizeof eta, elapsed / (step - start) * (deck.train_steps - step));
                flops_fmt_progress(fl, sizeof fl, tflops, peak);
                shear_log("step %5d/%d | lm %.4f | lag %+.4f | sparsity%s | E[params] %.3fM | %.0f tok/s (%.0f/rank) | "
                          "%s | ETA %s\n", step, deck.train_steps, lm, lag, sp, st.expected_params / 1e6, tps,
                          tps / dist.size, fl, eta);
            }
            fprintf(metrics, "{\"event\":\"step\",\"step\":%d,\"lm_loss\":%.9g,\"lagrangian\":%.9g,\"lr\":%.9g,"
                    "\"grad_norm\":%.9g,\"expected_params\":%.1f,\"tok_s\":%.1f,\"tok_s_rank\":%.1f,\"tflops\":%.6g,"
                    "\"step_s\":%.6f", step, lm, lag, lr, gnorm, st.expected_params, tps, tps / dist.size, tflops, dt);
            if (peak > 0) fprintf(metrics, ",\"mfu\":%.6g", tflops / peak);
            for (int t = 0; t < MASK_TYPES; t++)
                if (mk.on[t])
                    fprintf(metrics, ",\"%s\":{\"expected_sparsity\":%.9g,\"target_sparsity\":%.9g,\"lambda1\":%.9g,"
                            "\"lambda2\":%.9g}", MASK_NAMES[t], st.expected_sparsity[t], st.target_sparsity[t],
                            mk.lambda[t][0], mk.lambda[t][1]);
            fprintf(metrics, "}\n");
            fflush(metrics);
        }
        if (step % deck.dbl_interval == 0 || step == deck.train_steps) {
            masks_deterministic(&mk, 0);
            if (dist.rank == 0) log_masks(metrics, &mk, step);
        }
        if (run_ckpt_step_end(&rc, &dist, ops, &deck, step, tokens_seen, dt)) {
            if (metrics) fclose(metrics);
            dist_finalize(&dist);
            return SHEAR_EXIT_CHECKPOINTED;
        }
    }

    // ---- masked model with exact-target masks, for `shear finalize` ----
    masks_deterministic(&mk, 1);
    // what the finalized model will score: the masked model under the exact-target masks
    dbl_run_final_eval(&dbl, &deck, &dist, &model, &store, dom, &gates, T, deck.train_steps, metrics);
    if (dist.rank == 0) {
        log_masks(metrics, &mk, deck.train_steps);
        float *hz[MASK_TYPES] = {0};
        for (int t = 0; t < MASK_TYPES; t++) {
            if (!mk.on[t]) continue;
            hz[t] = shear_malloc((size_t)mk.rows[t] * mk.cols[t] * sizeof(float));
            masks_download(&mk, (MaskType)t, mk.z, hz[t]);
        }
        FinalizeGates fg = {hz[MASK_LAYER], hz[MASK_HEAD_LAYER], hz[MASK_MLP], hz[MASK_HEAD], hz[MASK_INTERMEDIATE],
                            hz[MASK_HIDDEN]};
        char path[DECK_PATH_LEN + 64], part[DECK_PATH_LEN + 80];
        snprintf(path, sizeof path, "%s/pruned.h5", deck.run_out_dir);
        snprintf(part, sizeof part, "%s.part", path);
        // written whole under another name, then renamed: never a half-written pruned.h5
        modelfile_save(part, &model, deck.text);
        maskfile_write(part, &fg, &src);
        if (rename(part, path) != 0) SHEAR_DIE("cannot rename '%s' to '%s'", part, path);
        finalize_summary(&model, &fg, stdout);
        for (int t = 0; t < MASK_TYPES; t++) free(hz[t]);
        fclose(metrics);
        shear_log("shear prune: done in %.1f s; masked model and masks written to %s\n", shear_now() - t_start, path);
    }
    dist_barrier(&dist, "barrier(pruned model written)");
    free(batch); free(seq); free(tok); free(tgt_ids);
    store_close(&store);
    adamw_free(&opt);
    zero_free(&zero);
    masks_free(&mk);
    model_free(&model);
    run_ckpt_free(&rc);
    dbl_run_free(&dbl);
    deck_free(&deck);
    dist_finalize(&dist);
    return 0;
}
