// metrics.jsonl records (see metrics.h).
#include "shear/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shear/common.h"

// "step":N of a metrics record, or -1
static long record_step(const char *line) {
    const char *p = strstr(line, "\"step\":");
    return p ? strtol(p + 7, NULL, 10) : -1;
}

FILE *metrics_open(const Dist *dist, const Deck *d, int resume_step) {
    if (dist->rank != 0) return NULL;
    char path[DECK_PATH_LEN + 64];
    snprintf(path, sizeof path, "%s/metrics.jsonl", d->run_out_dir);
    char *old = resume_step > 0 && shear_file_exists(path) ? shear_read_file(path, NULL) : NULL;
    FILE *m = fopen(path, "w");
    if (!m) SHEAR_DIE("cannot write '%s' (is run.out_dir writable?)", path);
    for (char *line = old, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (record_step(line) <= resume_step) fprintf(m, "%s\n", line);
        if (!next) break;
    }
    free(old);
    fflush(m);
    return m;
}

void metrics_step(FILE *f, const MetricsStep *r) {
    if (!f) return;
    const Masks *mk = r->masks;
    fprintf(f, "{\"event\":\"step\",\"step\":%d,\"%s\":%.9g", r->step, mk && !r->distill ? "lm_loss" : "loss",
            r->loss);
    if (r->distill) fprintf(f, ",\"lm_loss\":%.9g,\"kd_loss\":%.9g", r->lm_loss, r->kd_loss);
    if (mk) fprintf(f, ",\"lagrangian\":%.9g", r->stats->lagrangian);
    fprintf(f, ",\"lr\":%.9g,\"grad_norm\":%.9g", r->lr, r->grad_norm);
    if (mk) fprintf(f, ",\"expected_params\":%.1f", r->stats->expected_params);
    fprintf(f, ",\"tokens\":%lld,\"tok_s\":%.1f,\"tok_s_rank\":%.1f,\"tflops\":%.6g", r->tokens, r->tok_s,
            r->tok_s_rank, r->tflops);
    if (r->mfu >= 0) fprintf(f, ",\"mfu\":%.6g", r->mfu);
    fprintf(f, ",\"step_s\":%.6f,\"elapsed_s\":%.3f", r->step_s, r->elapsed_s);
    for (int t = 0; mk && t < MASK_TYPES; t++)
        if (mk->on[t])
            fprintf(f, ",\"%s\":{\"expected_sparsity\":%.9g,\"target_sparsity\":%.9g,\"lambda1\":%.9g,\"lambda2\":%.9g}",
                    MASK_NAMES[t], r->stats->expected_sparsity[t], r->stats->target_sparsity[t], mk->lambda[t][0],
                    mk->lambda[t][1]);
    fputs("}\n", f);
    fflush(f);
}

static void put_map(FILE *f, const char *key, int k, const char names[][DBL_NAME_LEN], const double *v, const char *fmt) {
    fprintf(f, ",\"%s\":{", key);
    for (int i = 0; i < k; i++) {
        if (i) fputc(',', f);
        shear_json_string(f, names[i]);
        fputc(':', f);
        if (v && isfinite(v[i])) fprintf(f, fmt, v[i]);
        else fputs("null", f);
    }
    fputc('}', f);
}

void metrics_dbl(FILE *f, int step, int k, const char names[][DBL_NAME_LEN], const double *loss, const double *kd,
                 const double *ref, const double *w_before, const double *w_after) {
    if (!f) return;
    fprintf(f, "{\"event\":\"dbl\",\"step\":%d", step);
    put_map(f, "losses", k, names, loss, "%.17g");
    if (kd) put_map(f, "kd_losses", k, names, kd, "%.17g");
    put_map(f, "reference", k, names, ref, "%.17g");
    put_map(f, "weights_before", k, names, w_before, "%.17g");
    put_map(f, "weights_after", k, names, w_after, "%.17g");
    fputs("}\n", f);
    fflush(f);
}

void metrics_masks(FILE *f, const Masks *mk, int step) {
    if (!f) return;
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
        fputs("],\"mask\":\"", f);
        for (size_t i = 0; i < n; i++) fputc(z[i] != 0.0f ? '1' : '0', f);
        fputs("\"}", f);
        free(z);
    }
    fputs("}\n", f);
    fflush(f);
}

void metrics_eval(FILE *f, int step, int k, const char names[][DBL_NAME_LEN], const double *loss, const double *kd,
                  double average) {
    if (!f) return;
    fprintf(f, "{\"event\":\"eval\",\"step\":%d", step);
    put_map(f, "losses", k, names, loss, "%.9g");
    if (kd) put_map(f, "kd_losses", k, names, kd, "%.9g");
    fprintf(f, ",\"average_loss\":%.9g}\n", average);
    fflush(f);
}

void metrics_epoch(FILE *f, int step, const char *domain, unsigned long long epoch) {
    if (!f) return;
    fprintf(f, "{\"event\":\"epoch\",\"step\":%d,\"domain\":", step);
    shear_json_string(f, domain);
    fprintf(f, ",\"epoch\":%llu}\n", epoch);
    fflush(f);
}
