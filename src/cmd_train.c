// shear train DECK: (continued) pre-training, MPI data parallel. Reads like the stage it runs:
// deck -> model (random init or --init file) -> token store + sampler -> steps -> final model.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shear/cli.h"
#include "shear/common.h"
#include "shear/run_dbl.h"
#include "shear/deck.h"
#include "shear/dist.h"
#include "shear/flops.h"
#include "shear/model.h"
#include "shear/modelfile.h"
#include "shear/optim.h"
#include "shear/run.h"
#include "shear/run_ckpt.h"
#include "shear/sampler.h"
#include "shear/store.h"
#include "shear/watchdog.h"
#include "shear/zero.h"


static void config_from_deck(const Deck *d, ModelConfig *c) {
    c->dim = d->model_dim;
    c->n_layers = d->model_n_layers;
    c->n_heads = d->model_n_heads;
    c->n_kv_heads = d->model_n_kv_heads;
    c->head_dim = d->model_head_dim ? d->model_head_dim : d->model_dim / d->model_n_heads;
    c->intermediate = d->model_intermediate;
    c->vocab = d->model_vocab;
    c->rope_theta = (float)d->model_rope_theta;
    c->norm_eps = (float)d->model_norm_eps;
}

int cmd_train(int argc, char **argv) {
    CliOption opts[] = {
        {"set", "SECTION.KEY=VALUE", "override a deck key (repeatable: last one wins per key)", NULL, 0},
        {"init", "MODEL.h5", "continue pre-training from this model file (same as train.init)", "", 0},
    };
    const char *sets[CLI_MAX_SETS];
    int n_sets = cli_collect_sets(argc, argv, sets, CLI_MAX_SETS);
    const char *pos[1];
    int npos = cli_parse(argc, argv, opts, 2, "shear train DECK [--set section.key=value]... [--init MODEL.h5]",
                         "Trains a LLaMA model on a token store with AdamW, MPI data parallel. From random init this is\n"
                         "pre-training; with --init (or train.init) it continues pre-training a model file.\n"
                         "Writes run.out_dir/model.h5, metrics.jsonl and deck.yaml.", pos, 1);
    if (npos != 1) {
        fprintf(stderr, "shear train: expected one input deck (usage: shear train DECK)\n");
        return SHEAR_EXIT_USAGE;
    }

    Dist dist;
    Deck deck;
    run_begin(&dist, &deck, &argc, &argv, pos[0], sets, n_sets); // MPI, deck, watchdog
    if (opts[1].set) snprintf(deck.train_init, sizeof deck.train_init, "%s", opts[1].value);
    int threads = dist_threads(&dist, deck.run_threads);
    const ShearOps *ops = run_backend(&dist, &deck, threads); // run.device

    // ---- model ----
    ModelConfig cfg;
    if (deck.train_init[0]) modelfile_read_config(deck.train_init, &cfg);
    else config_from_deck(&deck, &cfg);
    // ---- memory: the estimate fails a run that cannot fit before anything is allocated ----
    const RunPlan plan = run_plan(&dist, &deck, ops, &cfg, 0);
    const double flops_tok = plan.flops_tok, peak = plan.peak;
    Model model;
    model_create(&model, ops, &cfg);
    if (deck.train_init[0]) modelfile_load_weights(deck.train_init, &model);
    else model_init_weights(&model, (uint64_t)deck.train_seed, (float)deck.model_init_std);
    int T = deck.train_seq_len, G = deck.train_global_batch, mb = deck.train_micro_batch;
    model_set_recompute(&model, deck.run_recompute);
    model_alloc_acts(&model, mb, T);
    Zero zero; // run.zero: 1 shards the Adam state over the ranks (ZeRO-1), 0 replicates it
    zero_init(&zero, &dist, ops, model.table.total, deck.run_zero, (size_t)deck.run_zero_bucket);
    AdamW opt;
    zero_adamw_create(&zero, &opt);

    // ---- data ----
    TokenStore store;
    int dom[SAMPLER_MAX_DOMAINS];
    double w[SAMPLER_MAX_DOMAINS];
    Sampler sampler;
    int nd = run_open_data(&deck, cfg.vocab, &store, dom, w, &sampler);

    char path[DECK_PATH_LEN + 64];
    shear_log("shear train: %d ranks x %d threads | model d=%d L=%d H=%d kv=%d hd=%d I=%d V=%d (%.2fM params) | "
              "%d steps x %d seqs x %d tokens | %d domains\n", dist.size, threads, cfg.dim, cfg.n_layers, cfg.n_heads,
              cfg.n_kv_heads, cfg.head_dim, cfg.intermediate, cfg.vocab, model_param_count(&cfg) / 1e6,
              deck.train_steps, G, T, nd);
    run_log_flops(&plan, "");

    zero_log_memory(&zero, "shear train");
    DblRun dbl;
    dbl_run_init(&dbl, &deck, &dist, &store, dom, nd, w, model_param_count(&cfg), T);

    // ---- resume from the latest committed checkpoint, if any ----
    RunCkpt rc;
    run_ckpt_init(&rc, "train", &deck, &model, &opt, &sampler, &dbl, NULL);
    long long tokens_seen = 0;
    int start = run_ckpt_resume(&rc, &dist, ops, &deck, &tokens_seen);
    char final_path[DECK_PATH_LEN + 64];
    snprintf(final_path, sizeof final_path, "%s/model.h5", deck.run_out_dir);
    if (start >= deck.train_steps && shear_file_exists(final_path)) {
        shear_log("shear train: the run is complete (%d steps, %s): nothing to do\n", deck.train_steps, final_path);
        run_ckpt_free(&rc);
        dist_finalize(&dist);
        return 0;
    }
    FILE *metrics = run_open_outputs(&dist, &deck, start);

    // ---- steps ----
    SampleRef *batch = shear_malloc((size_t)G * sizeof *batch);       // [G] the global batch
    int32_t *seq = shear_malloc((size_t)store.seq_len * sizeof(int32_t)); // [store seq_len]
    int32_t *tok = shear_malloc((size_t)mb * T * sizeof(int32_t));      // [mb, T]
    int32_t *tgt = shear_malloc((size_t)mb * T * sizeof(int32_t));      // [mb, T]
    const float dscale = 1.0f / (float)((double)G * (T - 1));          // mean over the global batch's predictions
    int mlo, mhi;                                                        // this rank's micro-batches
    run_micro_slice(&dist, G / mb, &mlo, &mhi);
    AdamWHyper hyper = {0, (float)deck.optim_beta1, (float)deck.optim_beta2, (float)deck.optim_eps,
                        (float)deck.optim_weight_decay, (float)deck.optim_grad_clip};
    int cosine = strcmp(deck.optim_schedule, "cosine") == 0;
    double t_start = shear_now();
    for (int step = start + 1; step <= deck.train_steps; step++) {
        double t0 = shear_now();
        watchdog_step(step);
        if (dbl_run_due(&dbl, &deck, step))
            dbl_run_update(&dbl, &deck, &dist, &model, &store, dom, NULL, T, step, metrics);
        int new_epoch[SAMPLER_MAX_DOMAINS] = {0};
        if (sampler_next_batch(&sampler, dbl.w, (size_t)G, batch, new_epoch))
            run_log_epochs(&sampler, &store, dom, new_epoch, step);
        ops->zero(model.g, model.table.total * sizeof(float));
        double loss_sum = 0;
        for (int j = mlo; j < mhi; j++) {
            run_fill_batch(&store, dom, batch + (size_t)j * mb, mb, T, tok, tgt, seq);
            loss_sum += model_forward_backward(&model, mb, tok, tgt, NULL, dscale);
        }
        watchdog_test_point(dist.rank, step);
        watchdog_enter(deck.run_zero ? "reduce_scatter(grads)" : "allreduce(grads)", step);
        zero_reduce_grads(&zero, &dist, model.g);
        watchdog_leave();
        dist_sum_doubles(&dist, &loss_sum, 1);
        double loss = loss_sum / ((double)G * (T - 1));
        if (!isfinite(loss))
            SHEAR_DIE("loss is %f at step %d, expected a finite loss: training diverged (lower optim.lr or raise "
                      "optim.warmup) or the initial model overflows", loss, step);
        hyper.lr = (float)lr_at(cosine, deck.optim_lr, deck.optim_warmup, deck.train_steps, deck.optim_min_lr_ratio, step);
        double gnorm = zero_grad_norm(&zero, &dist, &model.table, model.g);
        if (!isfinite(gnorm)) SHEAR_DIE("gradient norm is %f at step %d: training diverged; lower optim.lr", gnorm, step);
        zero_step(&zero, &dist, &opt, &model.table, model.w, model.g, &hyper, grad_clip_scale(gnorm, hyper.grad_clip));
        tokens_seen += (long long)G * T;
        double dt = shear_now() - t0, elapsed = shear_now() - t_start;
        double tps = (double)G * T / dt;
        double tflops = flops_tok * tps / dist.size / 1e12; // per rank
        if (dist.rank == 0) {
            if (step % deck.run_log_every == 0 || step == deck.train_steps || step == 1) {
                char eta[32], fl[64];
                run_fmt_eta(eta, sizeof eta, elapsed / (step - start) * (deck.train_steps - step));
                flops_fmt_progress(fl, sizeof fl, tflops, peak);
                shear_log("step %5d/%d | loss %.4f | lr %.3e | gnorm %.3f | %.0f tok/s (%.0f/rank) | %s | %.3f s | "
                          "ETA %s\n", step, deck.train_steps, loss, hyper.lr, gnorm, tps, tps / dist.size, fl, dt, eta);
            }
            fprintf(metrics, "{\"event\":\"step\",\"step\":%d,\"loss\":%.9g,\"lr\":%.9g,\"grad_norm\":%.9g,"
                    "\"tokens\":%lld,\"tok_s\":%.1f,\"tok_s_rank\":%.1f,\"tflops\":%.6g", step, loss, hyper.lr,
                    gnorm, tokens_seen, tps, tps / dist.size, tflops);
            if (peak > 0) fprintf(metrics, ",\"mfu\":%.6g", tflops / peak);
            fprintf(metrics, ",\"step_s\":%.6f,\"elapsed_s\":%.3f}\n", dt, elapsed);
            fflush(metrics);
        }
        if (run_ckpt_step_end(&rc, &dist, ops, &deck, step, tokens_seen, dt)) {
            if (metrics) fclose(metrics);
            dist_finalize(&dist);
            return SHEAR_EXIT_CHECKPOINTED;
        }
    }

    dbl_run_final_eval(&dbl, &deck, &dist, &model, &store, dom, NULL, T, deck.train_steps, metrics);

    // ---- final model ----
    if (dist.rank == 0) {
        snprintf(path, sizeof path, "%s/model.h5", deck.run_out_dir);
        modelfile_save(path, &model, deck.text);
        fclose(metrics);
        shear_log("shear train: done in %.1f s; model written to %s\n", shear_now() - t_start, path);
    }
    dist_barrier(&dist, "barrier(final model written)");
    free(batch); free(seq); free(tok); free(tgt);
    store_close(&store);
    adamw_free(&opt);
    zero_free(&zero);
    model_free(&model);
    run_ckpt_free(&rc);
    dbl_run_free(&dbl);
    deck_free(&deck);
    dist_finalize(&dist);
    return 0;
}
