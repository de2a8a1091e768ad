// metrics.jsonl records (src/metrics.c): every record is one JSON line with "event" and "step" first, the step
// record's fields and their order for train and prune, the masks record's counts and 0/1 string, eval and
// epoch records, and metrics_open's cut of records past the resume step. The dbl record is tested in test_dbl.c.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shear/common.h"
#include "shear/metrics.h"

#include "expect.h"

// The lines of f as parsed JSON objects; checks each is one object with "event" then "step".
static int read_records(FILE *f, cJSON **out, int max) {
    rewind(f);
    char line[65536];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        EXPECT(len > 0 && line[len - 1] == '\n', "record %d does not end its line", n);
        out[n] = cJSON_Parse(line);
        EXPECT(out[n] != NULL, "record %d is not JSON: %s", n, line);
        if (!out[n]) continue;
        const cJSON *c = out[n]->child;
        EXPECT(c && strcmp(c->string, "event") == 0 && c->next && strcmp(c->next->string, "step") == 0,
               "record %d does not start with event, step: %s", n, line);
        n++;
    }
    return n;
}

static void expect_keys(const cJSON *o, const char *const *keys, int n, const char *what) {
    int i = 0;
    for (const cJSON *it = o->child; it; it = it->next, i++)
        EXPECT(i < n && strcmp(it->string, keys[i]) == 0, "%s: key %d is '%s', expected '%s'", what, i, it->string,
               i < n ? keys[i] : "(none)");
    EXPECT(i == n, "%s: %d keys, expected %d", what, i, n);
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void test_step_records(void) {
    FILE *f = tmpfile();
    MetricsStep r = {.step = 7, .loss = 2.0 / 3, .lr = 3e-4, .grad_norm = 1.25, .tokens = 1LL << 40, .tok_s = 1234.5,
                     .tok_s_rank = 617.25, .tflops = 0.5, .mfu = -1, .step_s = 0.125, .elapsed_s = 9.5};
    metrics_step(f, &r); // train, peak unknown: no mfu
    r.mfu = 0.25;
    metrics_step(f, &r);
    ModelConfig src = {.dim = 8, .n_layers = 2, .n_heads = 2, .n_kv_heads = 2, .head_dim = 4, .intermediate = 6,
                       .vocab = 16, .rope = {.theta = 10000}, .norm_eps = 1e-5f}, tgt = src;
    tgt.n_heads = tgt.n_kv_heads = 1;
    tgt.intermediate = 3;
    char names[2][32] = {"head", "intermediate"}, err[256];
    Masks mk;
    EXPECT(masks_create(&mk, ops_cpu(), &src, &tgt, names, 2, err, sizeof err) == 0, "masks_create: %s", err);
    mk.lambda[MASK_HEAD][0] = 0.5f;
    MaskStats st = {.lagrangian = -0.75, .expected_params = 1234.0};
    st.expected_sparsity[MASK_HEAD] = 0.25;
    st.target_sparsity[MASK_INTERMEDIATE] = 0.5;
    r.masks = &mk;
    r.stats = &st;
    metrics_step(f, &r); // prune
    // the deterministic-mask record: head row 0 keeps gate 1, row 1 none; intermediate all kept
    float z[2 * 6]; // [rows, cols] of the largest type
    for (int i = 0; i < 12; i++) z[i] = 1.0f;
    mk.ops->upload(mk.z + mk.offset[MASK_INTERMEDIATE], z, 12 * sizeof(float));
    float zh[4] = {0, 1, 0, 0}; // head [2 layers, 2 heads]
    mk.ops->upload(mk.z + mk.offset[MASK_HEAD], zh, sizeof zh);
    metrics_masks(f, &mk, 7);
    char dn[2][DBL_NAME_LEN] = {"github", "we\"ird"};
    double loss[2] = {1.5, NAN};
    metrics_eval(f, 9, 2, dn, loss, NULL, 1.5);
    metrics_epoch(f, 3, "we\"ird", 4);
    metrics_step(NULL, &r); // other ranks: nothing, no crash

    cJSON *o[8] = {0};
    int n = read_records(f, o, 8);
    fclose(f);
    EXPECT(n == 6, "%d records, expected 6", n);
    if (n != 6) return;
    const char *train[] = {"event", "step", "loss", "lr", "grad_norm", "tokens", "tok_s", "tok_s_rank", "tflops",
                           "step_s", "elapsed_s"};
    expect_keys(o[0], train, 11, "train step record");
    const char *train_mfu[] = {"event", "step", "loss", "lr", "grad_norm", "tokens", "tok_s", "tok_s_rank", "tflops",
                               "mfu", "step_s", "elapsed_s"};
    expect_keys(o[1], train_mfu, 12, "train step record with a peak");
    const char *prune[] = {"event", "step", "lm_loss", "lagrangian", "lr", "grad_norm", "expected_params", "tokens",
                           "tok_s", "tok_s_rank", "tflops", "mfu", "step_s", "elapsed_s", "head", "intermediate"};
    expect_keys(o[2], prune, 16, "prune step record");
    EXPECT(fabs(num(o[0], "loss") - 2.0 / 3) < 1e-9, "loss %.17g, expected 2/3 to 9 digits", num(o[0], "loss"));
    EXPECT(num(o[0], "tokens") == (double)(1LL << 40) && num(o[1], "mfu") == 0.25 && num(o[2], "lagrangian") == -0.75 &&
           num(o[2], "expected_params") == 1234.0, "step values");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o[2], "head");
    EXPECT(num(h, "expected_sparsity") == 0.25 && num(h, "lambda1") == 0.5, "head stats");
    const cJSON *mh = cJSON_GetObjectItemCaseSensitive(o[3], "head");
    const cJSON *mask = cJSON_GetObjectItemCaseSensitive(mh, "mask");
    const cJSON *kept = cJSON_GetObjectItemCaseSensitive(mh, "kept_per_row");
    EXPECT(cJSON_IsString(mask) && strcmp(mask->valuestring, "0100") == 0, "head mask '%s', expected 0100",
           cJSON_IsString(mask) ? mask->valuestring : "?");
    EXPECT(cJSON_GetArraySize(kept) == 2 && cJSON_GetArrayItem(kept, 0)->valueint == 1 &&
           cJSON_GetArrayItem(kept, 1)->valueint == 0, "head kept_per_row");
    const cJSON *mi = cJSON_GetObjectItemCaseSensitive(o[3], "intermediate");
    EXPECT(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(mi, "kept_per_row"), 1)->valueint == 6,
           "intermediate keeps all 6 of row 1");
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(o[4], "losses");
    EXPECT(num(ls, "github") == 1.5 && cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(ls, "we\"ird")) &&
           num(o[4], "average_loss") == 1.5, "eval record: values, NaN as null");
    EXPECT(strcmp(cJSON_GetObjectItemCaseSensitive(o[5], "domain")->valuestring, "we\"ird") == 0 &&
           num(o[5], "epoch") == 4 && num(o[5], "step") == 3, "epoch record");
    for (int i = 0; i < n; i++) cJSON_Delete(o[i]);
    masks_free(&mk);
}

// With distillation: the step records of train and prune carry the objective as "loss" plus "lm_loss" and
// "kd_loss"; the dbl and eval records carry "kd_losses" per domain.
static void test_distill_records(void) {
    FILE *f = tmpfile();
    MetricsStep r = {.step = 3, .loss = 2.5, .lr = 1e-3, .grad_norm = 0.5, .tokens = 64, .tok_s = 10, .tok_s_rank = 5,
                     .tflops = 0.1, .mfu = -1, .step_s = 0.1, .elapsed_s = 1, .distill = 1, .lm_loss = 3.0,
                     .kd_loss = 2.0};
    metrics_step(f, &r);
    ModelConfig src = {.dim = 8, .n_layers = 2, .n_heads = 2, .n_kv_heads = 2, .head_dim = 4, .intermediate = 6,
                       .vocab = 16, .rope = {.theta = 10000}, .norm_eps = 1e-5f}, tgt = src;
    tgt.intermediate = 3;
    char names[1][32] = {"intermediate"}, err[256];
    Masks mk;
    EXPECT(masks_create(&mk, ops_cpu(), &src, &tgt, names, 1, err, sizeof err) == 0, "masks_create: %s", err);
    MaskStats st = {.lagrangian = 0.25, .expected_params = 100.0};
    r.masks = &mk;
    r.stats = &st;
    metrics_step(f, &r);
    char dn[2][DBL_NAME_LEN] = {"cc", "wiki"};
    double loss[2] = {4.0, 5.0}, kd[2] = {0.5, 0.75}, ref[2] = {3.5, 4.5}, w[2] = {0.5, 0.5};
    metrics_dbl(f, 3, 2, dn, loss, kd, ref, w, w);
    metrics_eval(f, 4, 2, dn, loss, kd, 4.5);
    cJSON *o[4] = {0};
    int n = read_records(f, o, 4);
    fclose(f);
    EXPECT(n == 4, "%d distill records, expected 4", n);
    if (n != 4) return;
    const char *train[] = {"event", "step", "loss", "lm_loss", "kd_loss", "lr", "grad_norm", "tokens", "tok_s",
                           "tok_s_rank", "tflops", "step_s", "elapsed_s"};
    expect_keys(o[0], train, 13, "train step record with distillation");
    const char *prune[] = {"event", "step", "loss", "lm_loss", "kd_loss", "lagrangian", "lr", "grad_norm",
                           "expected_params", "tokens", "tok_s", "tok_s_rank", "tflops", "step_s", "elapsed_s",
                           "intermediate"};
    expect_keys(o[1], prune, 16, "prune step record with distillation");
    EXPECT(num(o[0], "loss") == 2.5 && num(o[0], "lm_loss") == 3.0 && num(o[0], "kd_loss") == 2.0 &&
           num(o[1], "lm_loss") == 3.0, "distill step values");
    const char *dbl[] = {"event", "step", "losses", "kd_losses", "reference", "weights_before", "weights_after"};
    expect_keys(o[2], dbl, 7, "dbl record with distillation");
    const cJSON *k2 = cJSON_GetObjectItemCaseSensitive(o[2], "kd_losses");
    EXPECT(num(k2, "cc") == 0.5 && num(k2, "wiki") == 0.75, "dbl kd_losses values");
    const char *ev[] = {"event", "step", "losses", "kd_losses", "average_loss"};
    expect_keys(o[3], ev, 5, "eval record with distillation");
    for (int i = 0; i < n; i++) cJSON_Delete(o[i]);
    masks_free(&mk);
}

// metrics_open after a resume from step 2 keeps the records of steps <= 2 only
static void test_open_resume(void) {
    char dir[] = "/tmp/shear_metrics_XXXXXX";
    EXPECT(mkdtemp(dir) != NULL, "mkdtemp");
    Deck *d = calloc(1, sizeof *d);
    snprintf(d->run_out_dir, sizeof d->run_out_dir, "%s", dir);
    Dist rank0 = {.rank = 0, .size = 2}, rank1 = {.rank = 1, .size = 2};
    EXPECT(metrics_open(&rank1, d, 0) == NULL, "rank 1 gets no metrics file");
    FILE *f = metrics_open(&rank0, d, 0);
    for (int s = 1; s <= 4; s++) metrics_epoch(f, s, "a", (unsigned long long)s);
    fclose(f);
    fclose(metrics_open(&rank0, d, 2));
    char path[2048];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    f = fopen(path, "r");
    cJSON *o[8] = {0};
    int n = f ? read_records(f, o, 8) : 0;
    EXPECT(n == 2 && num(o[0], "step") == 1 && num(o[1], "step") == 2, "resume from 2 kept %d records", n);
    for (int i = 0; i < n; i++) cJSON_Delete(o[i]);
    if (f) fclose(f);
    remove(path);
    rmdir(dir);
    free(d);
}

int main(void) {
    test_step_records();
    test_distill_records();
    test_open_resume();
    printf("test_metrics: %d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
