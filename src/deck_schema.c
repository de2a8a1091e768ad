// The input-deck schema: one row per Deck field, in the order of deck.h. Section and key names come from the
// field name itself (model_dim -> model.dim) through the KEY_* macros, so the table cannot drift from the
// struct. Defaults are YAML text and go through the same parser as a deck, so a default that does not parse
// or lies outside its own range is caught by tests/test_deck.c.
#include <limits.h>
#include <stddef.h>

#include "shear/deck.h"

#define FIELD_SIZE(field) sizeof(((Deck *)0)->field)

#define KEY_INT(sec, name, def, lo, hi, doc) \
    {#sec, #name, DECK_INT, offsetof(Deck, sec##_##name), 0, def, lo, hi, NULL, doc}
#define KEY_NUM(sec, name, def, lo, hi, doc) \
    {#sec, #name, DECK_DOUBLE, offsetof(Deck, sec##_##name), 0, def, lo, hi, NULL, doc}
// Strings: the range is the length in bytes, bounded by the field's capacity (one byte for the NUL).
#define KEY_STR(sec, name, def, doc)                                                                   \
    {#sec, #name, DECK_STRING, offsetof(Deck, sec##_##name), 0, def, 0, (double)(FIELD_SIZE(sec##_##name) - 1), \
     NULL, doc}
#define KEY_ENUM(sec, name, def, choices, doc) \
    {#sec, #name, DECK_ENUM, offsetof(Deck, sec##_##name), 0, def, 0, 0, choices, doc}
// Lists: the count lives in sec_n_name; the range applies to each element (names: length in bytes).
#define KEY_NAMES(sec, name, def, doc)                                                                  \
    {#sec, #name, DECK_STRING_LIST, offsetof(Deck, sec##_##name), offsetof(Deck, sec##_n_##name), def, 1, \
     (double)(FIELD_SIZE(sec##_##name[0]) - 1), NULL, doc}
#define KEY_NUMS(sec, name, def, lo, hi, doc)                                                              \
    {#sec, #name, DECK_DOUBLE_LIST, offsetof(Deck, sec##_##name), offsetof(Deck, sec##_n_##name), def, lo, hi, \
     NULL, doc}

const DeckKey DECK_SCHEMA[] = {
    KEY_INT(model, dim, "64", 1, 65536, "hidden size d"),
    KEY_INT(model, n_layers, "2", 1, 1024, "number of transformer layers"),
    KEY_INT(model, n_heads, "4", 1, 1024, "query heads per layer"),
    KEY_INT(model, n_kv_heads, "4", 1, 1024, "key/value heads per layer (= n_heads for MHA, fewer for GQA)"),
    KEY_INT(model, head_dim, "0", 0, 4096, "size of one head; 0 = dim / n_heads"),
    KEY_INT(model, intermediate, "176", 1, 1048576, "SwiGLU MLP width"),
    KEY_INT(model, vocab, "32000", 1, 10000000, "vocabulary size (must match the tokenizer and the store)"),
    KEY_NUM(model, rope_theta, "10000", 1, 1e9, "RoPE base frequency"),
    KEY_NUM(model, norm_eps, "1e-5", 1e-12, 1, "RMSNorm epsilon"),
    KEY_NUM(model, init_std, "0.02", 0, 1, "std of the normal init of every 2-D weight (norms start at 1)"),

    KEY_STR(data, store, "", "HDF5 token store written by `shear prep`"),
    KEY_NAMES(data, domains, "", "domains to train on; [] = every domain of the store, in store order"),
    KEY_NUMS(data, proportions, "", 0, 1,
             "initial domain proportions, same order as data.domains, summing to 1; [] = by train sequences"),

    KEY_STR(prep, input_dir, "", "folder with one sub-folder per domain of *.txt / *.jsonl files"),
    KEY_STR(prep, tokenizer, "", "Hugging Face tokenizer.json"),
    KEY_STR(prep, out, "", "token store to write"),
    KEY_INT(prep, seq_len, "256", 1, 1048576, "tokens per stored sequence"),
    KEY_INT(prep, eval_seqs, "16", 0, INT_MAX, "held-out eval sequences per domain"),
    KEY_INT(prep, max_train_seqs, "0", 0, INT_MAX, "cap on train sequences per domain; 0 = no cap"),
    KEY_INT(prep, seed, "1234", 0, INT_MAX, "seeds the document shuffle that splits train from eval"),

    KEY_INT(train, steps, "100", 1, INT_MAX, "optimizer steps"),
    KEY_INT(train, seq_len, "128", 1, 1048576, "tokens per training sequence (at most the store's seq_len)"),
    KEY_INT(train, global_batch, "8", 1, 1048576, "sequences per optimizer step, over all ranks"),
    KEY_INT(train, micro_batch, "2", 1, 65536, "sequences per forward/backward on one rank"),
    KEY_INT(train, seed, "1234", 0, INT_MAX, "seeds init, sampler and masks"),
    KEY_STR(train, init, "", "start from this model file instead of random init; \"\" = random init"),

    KEY_NUM(optim, lr, "1e-3", 1e-10, 10, "peak learning rate"),
    KEY_ENUM(optim, schedule, "cosine", "cosine|constant", "learning-rate schedule after warm-up"),
    KEY_INT(optim, warmup, "10", 0, INT_MAX, "linear warm-up steps (at most train.steps)"),
    KEY_NUM(optim, min_lr_ratio, "0.1", 0, 1, "cosine floor as a fraction of optim.lr"),
    KEY_NUM(optim, beta1, "0.9", 0, 0.99999, "AdamW first-moment decay"),
    KEY_NUM(optim, beta2, "0.95", 0, 0.99999, "AdamW second-moment decay"),
    KEY_NUM(optim, eps, "1e-8", 0, 1, "AdamW epsilon"),
    KEY_NUM(optim, weight_decay, "0.0", 0, 10, "AdamW decoupled weight decay, on 2-D weights only"),
    KEY_NUM(optim, grad_clip, "1.0", 0, 1e9, "global gradient-norm clip; 0 = off"),

    KEY_STR(prune, source, "", "source model file (HDF5) to prune"),
    KEY_INT(prune, target_dim, "0", 0, 65536, "target hidden size d_T; 0 = keep the source's"),
    KEY_INT(prune, target_n_layers, "0", 0, 1024, "target layer count L_T; 0 = keep"),
    KEY_INT(prune, target_n_heads, "0", 0, 1024, "target query heads H_T (GQA: the group size is kept); 0 = keep"),
    KEY_INT(prune, target_intermediate, "0", 0, 1048576, "target MLP width I_T; 0 = keep"),
    KEY_NAMES(prune, masks, "[head, intermediate, layer, hidden]",
              "mask types to learn: layer, head, intermediate, hidden, head_layer, mlp"),
    KEY_NUM(prune, target_warmup_frac, "0.2", 0, 1, "target sparsity warms up linearly over this fraction of steps"),
    KEY_NUM(prune, lr_log_alpha, "1.0", 0, 1000, "learning rate of the mask log-alphas (same schedule)"),
    KEY_NUM(prune, lr_lambda, "-1.0", -1000, 0, "learning rate of the Lagrange multipliers; negative = ascent"),
    KEY_NUM(prune, log_alpha_init, "5.0", -100, 100, "mean of the log-alpha init (clamped to 4.6052 in use)"),
    KEY_NUM(prune, log_alpha_init_std, "0.01", 0, 10, "std of the log-alpha init"),
    KEY_INT(prune, uniform, "1", 0, 1,
            "1 = targeted: every layer keeps the target's heads and channels (Sheared LLaMA); 0 = non-uniform "
            "(CoFi-style): only each mask type's total is constrained, layers may differ"),

    KEY_ENUM(dbl, rule, "paper", "paper|code|constant",
             "domain re-weighting: paper (clamp at 0), code (no clamp), constant (fixed mix)"),
    KEY_INT(dbl, interval, "50", 1, INT_MAX, "steps between updates of the proportions"),
    KEY_INT(dbl, at_start, "1", 0, 1, "1 = also update before the first step"),
    KEY_NUM(dbl, eta, "1.0", 0, 1000, "step size eta of the update"),
    KEY_NUM(dbl, smoothing, "1e-4", 0, 1, "c in w <- (1-c) w + c/k (keeps every domain alive)"),
    KEY_ENUM(dbl, reference, "deck", "deck|source|scaling",
             "reference losses: dbl.ref_losses, the source model's eval loss, or a scaling-law fit"),
    KEY_NUMS(dbl, ref_losses, "", 0, 1000, "reference loss per domain, order of data.domains"),
    KEY_STR(dbl, scaling_file, "", "CSV for the scaling-law fit: header params,<domains>; one row per model"),
    KEY_INT(dbl, eval_seqs, "0", 0, INT_MAX, "eval sequences scored per domain at each update; 0 = all"),

    KEY_STR(distill, teacher, "",
            "teacher model file (shear train / prune): its logits guide the student; \"\" = no distillation"),
    KEY_NUM(distill, alpha, "0.5", 0, 1, "loss = alpha KD + (1 - alpha) LM; 0 = plain training (the teacher still "
            "runs, kd_loss is logged)"),
    KEY_NUM(distill, temperature, "1", 1e-3, 1e3,
            "temperature T of the KD term: T^2 times the KL divergence of softmax(student / T) from "
            "softmax(teacher / T)"),
    KEY_INT(distill, topk, "0", 0, INT_MAX,
            "0 = KD over the full vocabulary; k = over the teacher's k largest logits per position, renormalised"),

    KEY_STR(run, out_dir, "runs/out", "folder for metrics, checkpoints and the final model"),
    KEY_INT(run, log_every, "1", 1, INT_MAX, "progress line every N steps"),
    KEY_INT(run, threads, "0", 0, 1024, "OpenMP threads per rank; 0 = OMP_NUM_THREADS or cores / local ranks"),
    KEY_NUM(run, peak_tflops, "0", 0, 1e6,
            "peak TFLOP/s per rank behind the progress line's MFU; 0 = auto "
            "(CUDA: the device's fp32 peak, its bf16 one with run.precision: bf16; CPU: no MFU)"),
    KEY_INT(run, ckpt_every, "1000", 0, INT_MAX, "checkpoint every N steps; 0 = only when stopping and at the end"),
    KEY_INT(run, keep_last, "2", 0, INT_MAX, "committed checkpoints kept; 0 = all"),
    KEY_INT(run, major_every, "0", 0, INT_MAX, "checkpoints at multiples of N steps are never deleted; 0 = none"),
    KEY_NUM(run, walltime, "0", 0, 1e7,
            "seconds this process may run before it checkpoints and exits 75 (PBS); 0 = no budget"),
    KEY_INT(run, fallback, "0", 0, 1, "1 = resume from an older checkpoint when the newest is corrupt"),
    KEY_INT(run, verify, "1", 0, 1, "1 = verify checkpoint checksums when resuming"),
    KEY_INT(run, zero, "0", 0, 1,
            "1 = ZeRO-1: shard the Adam state over the ranks (reduce-scatter grads, all-gather weights); 0 = replicate"),
    KEY_INT(run, zero_bucket, "16777216", 64, INT_MAX,
            "ZeRO-1 bucket: floats per reduce-scatter / all-gather over all ranks (64 MiB)"),
    KEY_INT(run, watchdog, "600", 0, INT_MAX,
            "seconds one collective may wait before the watchdog aborts the job (a dead or hung rank); 0 = off"),
    KEY_ENUM(run, device, "cpu", "cpu|cuda",
             "backend: cpu (OpenMP + BLAS) or cuda (one GPU per rank, NCCL; needs a CUDA build and a GPU)"),
    KEY_ENUM(run, precision, "fp32", "fp32|bf16",
             "GEMM arithmetic: fp32, or bf16 (every matrix product's inputs rounded to bf16, fp32 accumulation; "
             "weights, activations, gradients and optimizer state stay fp32)"),
    KEY_INT(run, recompute, "0", 0, 1,
            "1 = keep only each block's input and recompute its activations in the backward pass (less memory, "
            "one more forward); 0 = keep every activation"),
};

const size_t DECK_SCHEMA_LEN = sizeof DECK_SCHEMA / sizeof DECK_SCHEMA[0];
