// Knowledge distillation from a teacher model in `shear train` and `shear prune` (deck section distill): the
// teacher (a model file, typically the unpruned source) runs forward only on the student's micro-batch, and the
// classifier's KD twin (ops.h classifier_kd) adds alpha T^2 KL(softmax(teacher / T) || softmax(student / T))
// to (1 - alpha) times the LM loss, chunk by chunk, so neither model's N x V logits exist at once.
// The teacher has no gradients and no optimizer state; its activations keep one block (model_set_recompute),
// its final-norm output is what the student's classifier reads. It is not checkpointed: its path and the hash
// of its weights are, and a resume with another teacher (or none) is refused (run_ckpt.c).
#ifndef SHEAR_DISTILL_H
#define SHEAR_DISTILL_H

#include <stdint.h>

#include "shear/deck.h"
#include "shear/model.h"
#include "shear/ops.h"

typedef struct {
    int on;                       // 0: distill.teacher is "" (every other member unused)
    Model teacher;                // weights, one block of activations, no gradients' use
    ShearKD kd;                   // alpha, temperature, topk; tx is the teacher's last forward
    char path[DECK_PATH_LEN];     // distill.teacher
    uint64_t hash;                // ckpt_sum_final of the teacher's weights, tensor by tensor in table order
} Distill;

// The teacher's shape: 1 and *tc when distill.teacher is set (dies when the file is missing or not a model
// file), 0 when it is "".
int distill_teacher_config(const Deck *d, ModelConfig *tc);
// Loads distill.teacher on ops for micro-batches of B x T tokens, when set; checks it against the student
// (the same vocabulary; topk <= V). Dies naming the file or the key. Off (k->on = 0) when the key is "".
void distill_open(Distill *k, const Deck *d, const ShearOps *ops, const ModelConfig *student, int B, int T);
// The teacher's forward on a micro-batch (host tokens/targets [B*T]); returns the KD target for the student's
// classifier of the same rows (valid until the next call).
const ShearKD *distill_teacher(Distill *k, int B, const int32_t *tokens, const int32_t *targets);
void distill_close(Distill *k);

#endif
