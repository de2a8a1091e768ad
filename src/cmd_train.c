// shear train DECK: (continued) pre-training, MPI data parallel. Reads like the stage it runs:
// deck -> model (random init or --init file) -> token store + sampler -> steps -> final model.
#include <stdio.h>
#include <string.h>

#include "shear/cli.h"
#include "shear/common.h"
#include "shear/deck.h"
#include "shear/dist.h"
#include "shear/model.h"
#include "shear/modelfile.h"
#include "shear/run.h"
#include "shear/run_trainer.h"
#include "shear/watchdog.h"

static void config_from_deck(const Deck *d, ModelConfig *c) {
    c->dim = d->model_dim;
    c->n_layers = d->model_n_layers;
    c->n_heads = d->model_n_heads;
    c->n_kv_heads = d->model_n_kv_heads;
    c->head_dim = d->model_head_dim ? d->model_head_dim : d->model_dim / d->model_n_heads;
    c->intermediate = d->model_intermediate;
    c->vocab = d->model_vocab;
    c->rope = (ShearRope){.theta = (float)d->model_rope_theta};
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
        shear_usage_error("shear train: expected one input deck (usage: shear train DECK)\n");
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
    // the memory estimate fails a run that cannot fit before anything is allocated
    Trainer tr = {.stage = "train", .dist = &dist, .deck = &deck, .ops = ops, .weights_from = deck.train_init,
                  .plan = run_plan(&dist, &deck, ops, &cfg, 0, deck.train_init)};
    Model model;
    model_create(&model, ops, &cfg);
    if (deck.train_init[0]) modelfile_load_weights(deck.train_init, &model);
    else model_init_weights(&model, (uint64_t)deck.train_seed, (float)deck.model_init_std);
    tr.model = &model;
    trainer_open(&tr); // activations, optimizer state, token store and sampler

    shear_log("shear train: %d ranks x %d threads | model d=%d L=%d H=%d kv=%d hd=%d I=%d V=%d (%.2fM params) | "
              "%d steps x %d seqs x %d tokens | %d domains\n", dist.size, threads, cfg.dim, cfg.n_layers, cfg.n_heads,
              cfg.n_kv_heads, cfg.head_dim, cfg.intermediate, cfg.vocab, model_param_count(&cfg) / 1e6,
              deck.train_steps, deck.train_global_batch, deck.train_seq_len, tr.data.n_domains);
    run_log_flops(&tr.plan, "");

    // ---- resume from the latest committed checkpoint, if any; the steps ----
    char path[DECK_PATH_LEN + 64];
    snprintf(path, sizeof path, "%s/model.h5", deck.run_out_dir);
    int complete = trainer_resume(&tr, model_param_count(&cfg), path);
    int rc = complete ? 0 : trainer_run(&tr);

    // ---- final evaluation and model ----
    if (!complete && rc == 0) {
        trainer_final_eval(&tr);
        watchdog_io_begin(); // the other ranks wait for rank 0's write: file-system time, not a hang
        if (dist.rank == 0) {
            watchdog_test_slow_save(dist.rank);
            modelfile_save_from(path, &model, deck.text, deck.train_init, deck.run_precision);
            shear_log("shear train: done in %.1f s; model written to %s\n", shear_now() - tr.t_start, path);
        }
        dist_barrier(&dist, "barrier(final model written)");
        watchdog_io_end();
    }
    trainer_close(&tr);
    model_free(&model);
    deck_free(&deck);
    dist_finalize(&dist);
    return rc;
}
