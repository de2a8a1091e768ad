// The dbl.scaling_file reader (see dbl.h): `params,<domain>,...` then one row of numbers per model.
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shear/common.h"
#include "shear/dbl.h"

#define CSV_MAX_FIELDS (DBL_MAX_DOMAINS + 1)

// Splits one line (NUL-terminated, modified in place) at commas into trimmed fields; returns the count (only
// the first CSV_MAX_FIELDS are stored).
static int split_fields(char *line, char **field) {
    int n = 0;
    char *p = line;
    for (;;) {
        char *end = strchr(p, ',');
        if (end) *end = 0;
        while (isspace((unsigned char)*p)) p++;
        size_t len = strlen(p);
        while (len && isspace((unsigned char)p[len - 1])) p[--len] = 0;
        if (n < CSV_MAX_FIELDS) field[n] = p;
        n++;
        if (!end) return n;
        p = end + 1;
    }
}

static int parse_number(const char *s, double *v) {
    if (!*s) return -1;
    char *end = NULL;
    errno = 0;
    *v = strtod(s, &end);
    return (errno == 0 && *end == 0 && isfinite(*v)) ? 0 : -1;
}

int dbl_scaling_parse(DblScalingTable *t, const char *path, const char *text, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    char *buf = shear_strdup(text);
    size_t cap = 8;
    t->params = shear_malloc(cap * sizeof(double));
    t->loss = shear_malloc(cap * DBL_MAX_DOMAINS * sizeof(double));
    int rc = 0, lineno = 0, header = 0;
    char *save = buf;
    while (rc == 0 && save) {
        char *line = save;
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        save = nl ? nl + 1 : NULL;
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r') line[--len] = 0;
        const char *q = line;
        while (isspace((unsigned char)*q)) q++;
        if (!*q || *q == '#') continue;
        char *f[CSV_MAX_FIELDS];
        int nf = split_fields(line, f);
        if (!header) {
            if (strcmp(f[0], "params") != 0) {
                snprintf(err, errlen, "%s:%d: column 1: expected the header 'params,<domain>,...', got '%s'", path,
                         lineno, f[0]);
                rc = -1;
            } else if (nf < 2 || nf > CSV_MAX_FIELDS) {
                snprintf(err, errlen, "%s:%d: expected 1 to %d domain columns after 'params', got %d", path, lineno,
                         DBL_MAX_DOMAINS, nf - 1);
                rc = -1;
            }
            for (int i = 1; i < nf && rc == 0; i++) {
                if (!*f[i] || strlen(f[i]) >= DBL_NAME_LEN) {
                    snprintf(err, errlen, "%s:%d: column %d: expected a domain name of 1 to %d characters, got '%s'",
                             path, lineno, i + 1, DBL_NAME_LEN - 1, f[i]);
                    rc = -1;
                }
                for (int j = 1; j < i && rc == 0; j++)
                    if (strcmp(f[i], f[j]) == 0) {
                        snprintf(err, errlen, "%s:%d: column %d: domain '%s' repeats column %d", path, lineno, i + 1,
                                 f[i], j + 1);
                        rc = -1;
                    }
                if (rc == 0) snprintf(t->names[i - 1], DBL_NAME_LEN, "%s", f[i]);
            }
            t->n_domains = nf - 1;
            header = 1;
            continue;
        }
        if (nf != t->n_domains + 1) {
            snprintf(err, errlen, "%s:%d: expected %d fields (params and %d domains, as in the header), got %d",
                     path, lineno, t->n_domains + 1, t->n_domains, nf);
            rc = -1;
            break;
        }
        if ((size_t)t->n_models == cap) {
            cap *= 2;
            t->params = realloc(t->params, cap * sizeof(double));
            t->loss = realloc(t->loss, cap * DBL_MAX_DOMAINS * sizeof(double));
            SHEAR_CHECK(t->params && t->loss, "out of memory reading '%s'", path);
        }
        double *row = t->loss + (size_t)t->n_models * t->n_domains;
        double N;
        if (parse_number(f[0], &N) || !(N > 0)) {
            snprintf(err, errlen, "%s:%d: column 1 (params): expected a parameter count > 0, got '%s'", path, lineno,
                     f[0]);
            rc = -1;
            break;
        }
        for (int m = 0; m < t->n_models && rc == 0; m++)
            if (t->params[m] == N) {
                snprintf(err, errlen, "%s:%d: column 1 (params): %s repeats an earlier row, expected one row per "
                         "model size", path, lineno, f[0]);
                rc = -1;
            }
        for (int i = 1; i < nf && rc == 0; i++)
            if (parse_number(f[i], &row[i - 1])) {
                snprintf(err, errlen, "%s:%d: column %d (%s): expected a finite number, got '%s'", path, lineno,
                         i + 1, t->names[i - 1], f[i]);
                rc = -1;
            }
        if (rc == 0) t->params[t->n_models++] = N;
    }
    if (rc == 0 && !header) {
        snprintf(err, errlen, "%s: empty, expected the header 'params,<domain>,...' and one row per model", path);
        rc = -1;
    }
    if (rc == 0 && t->n_models < 3) {
        snprintf(err, errlen, "%s: %d model rows, the scaling-law fit needs at least 3", path, t->n_models);
        rc = -1;
    }
    free(buf);
    if (rc) dbl_scaling_free(t);
    return rc;
}

int dbl_scaling_read(DblScalingTable *t, const char *path, char *err, size_t errlen) {
    if (!shear_file_exists(path)) {
        memset(t, 0, sizeof *t);
        snprintf(err, errlen, "dbl.scaling_file '%s' does not exist: expected a CSV with the header "
                 "params,<domain>,...", path);
        return -1;
    }
    size_t len;
    char *text = shear_read_file(path, &len);
    if (strlen(text) != len) {
        free(text);
        memset(t, 0, sizeof *t);
        snprintf(err, errlen, "%s: contains a NUL byte, expected a text CSV file", path);
        return -1;
    }
    int rc = dbl_scaling_parse(t, path, text, err, errlen);
    free(text);
    return rc;
}

void dbl_scaling_free(DblScalingTable *t) {
    free(t->params);
    free(t->loss);
    t->params = NULL;
    t->loss = NULL;
    t->n_models = 0;
}
