// Dynamic batch loading (shearing.md section 5): the update of the domain proportions from per-domain eval
// losses and the scaling-law fit that gives reference losses (its metrics record: metrics.h).
// Everything here is float64 and pure (no MPI, no files); the CSV reader of dbl.scaling_file is in dbl_csv.c.
#ifndef SHEAR_DBL_H
#define SHEAR_DBL_H

#include <stddef.h>
#include <stdio.h>

#define DBL_MAX_DOMAINS 16
#define DBL_NAME_LEN 32

// dbl.rule: paper = Algorithm 1 (delta clamped at 0), code = the authors' code (no clamp), constant = no update.
enum { DBL_RULE_PAPER = 0, DBL_RULE_CODE = 1, DBL_RULE_CONSTANT = 2 };
// "paper" | "code" | "constant" -> DBL_RULE_*, or -1.
int dbl_rule_parse(const char *name);

// One update of k proportions:
//   delta_i = loss_i - ref_i (paper: max(delta_i, 0));  w'_i = softmax_i(log w_i + eta * delta_i);
//   w''_i = ((1-c) w'_i + c/k) / sum_j ((1-c) w'_j + c/k).
// The softmax is taken with log-sum-exp, so a huge delta gives all the weight to its domain (never inf/NaN);
// a w_before of 0 stays 0 before the smoothing. The constant rule copies w_before and reads neither loss nor
// ref (they may be NULL). Returns 0, or -1 with one message in err naming the domain index and the bad value
// (non-finite loss or ref, negative or non-finite weight, all weights 0, eta or c out of range).
int dbl_update(int rule, const double *w_before, const double *loss, const double *ref, int k, double eta,
               double c, double *w_after, char *err, size_t errlen);

// Scaling law L(N) = a / N^b + c fitted to n_points (N_i, L_i), n_points >= 3, N_i > 0 distinct.
// Three points: the exact solution. With x_i = ln N_i sorted ascending, h = x1 - x0, g = x2 - x1, the ratio
// (L0 - L1) / (L1 - L2) = (e^{bh} - 1) / (1 - e^{-bg}) is strictly increasing in b > 0 from h/g to infinity,
// so b is found by bisection (to the last bit) and a, c follow linearly. It exists iff the losses fall with N
// and flatten: (L0 - L1) / (L1 - L2) > h / g.
// More points: least squares over (a, b, c) by variable projection: for a fixed b the best (a, c) is a
// 2-parameter linear least-squares solution, so the residual is a function of b alone; it is scanned on a
// log grid of b in [1e-4, 4] and refined by golden-section search around the best grid point.
// Both require a > 0 and b > 0 (loss falls with N). Returns 0, or -1 with a message in err.
int dbl_scaling_fit(const double *N, const double *L, int n_points, double *a, double *b, double *c, char *err,
                    size_t errlen);
double dbl_scaling_eval(double a, double b, double c, double N);

// A dbl.scaling_file: per model its parameter count and one loss per domain.
typedef struct {
    char path[1024];                         // for messages
    int n_models;
    int n_domains;
    char names[DBL_MAX_DOMAINS][DBL_NAME_LEN];
    double *params; // [n_models]
    double *loss;   // [n_models, n_domains]
} DblScalingTable;

// Parses CSV text: header `params,<domain>,...`, then one row per model `N,loss,...`. Fields are trimmed of
// spaces; blank lines and lines starting with '#' are skipped. At least 3 rows, distinct params > 0, finite
// losses. Errors name the file, the line and the column: "f.csv:3: column 2 (github): expected a finite
// number, got 'x'". Returns 0 or -1.
int dbl_scaling_parse(DblScalingTable *t, const char *path, const char *text, char *err, size_t errlen);
// Reads and parses a file (dbl_csv.c); a missing file is an error naming it.
int dbl_scaling_read(DblScalingTable *t, const char *path, char *err, size_t errlen);
void dbl_scaling_free(DblScalingTable *t);
// Reference losses for k named domains: fits each domain's column and evaluates it at N (the target's total
// parameter count). A domain missing from the table is an error listing the table's columns.
int dbl_scaling_refs(const DblScalingTable *t, char names[][DBL_NAME_LEN], int k, double N, double *ref, char *err,
                     size_t errlen);

#endif
