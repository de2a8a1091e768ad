// Option parsing for every subcommand (see cli.h).
#include "shear/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shear/common.h"

static void print_help(FILE *f, const char *usage, const char *summary, const CliOption *opts, int n) {
    fprintf(f, "usage: %s\n\n%s\n", usage, summary);
    if (n) fprintf(f, "\noptions:\n");
    for (int i = 0; i < n; i++) {
        char left[96];
        snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                 opts[i].metavar ? opts[i].metavar : "");
        fprintf(f, "  %-26s %s", left, opts[i].help);
        if (opts[i].metavar && opts[i].value && opts[i].value[0]) fprintf(f, " (default %s)", opts[i].value);
        fprintf(f, "\n");
    }
    fprintf(f, "  %-26s %s\n", "--help", "show this help");
}

int cli_parse(int argc, char **argv, CliOption *opts, int n_opts, const char *usage, const char *summary,
              const char **pos, int max_pos) {
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(stdout, usage, summary, opts, n_opts);
            exit(0);
        }
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            CliOption *o = NULL;
            for (int k = 0; k < n_opts; k++)
                if (strlen(opts[k].name) == len && strncmp(opts[k].name, name, len) == 0) o = &opts[k];
            if (!o) {
                if (shear_log_rank == 0) {
                    fprintf(stderr, "shear %s: unknown option '%s'\n", argv[0], a);
                    print_help(stderr, usage, summary, opts, n_opts);
                }
                shear_quiet_exit(SHEAR_EXIT_USAGE);
            }
            if (!o->metavar) {
                if (eq) {
                    shear_usage_error("shear %s: option --%s takes no value\n", argv[0], o->name);
                }
                o->value = "1";
            } else if (eq) {
                o->value = eq + 1;
            } else {
                if (i + 1 >= argc) {
                    shear_usage_error("shear %s: option --%s needs a value (%s)\n", argv[0], o->name, o->metavar);
                }
                o->value = argv[++i];
            }
            o->set = 1;
        } else if (a[0] == '-' && a[1] != 0) {
            shear_usage_error("shear %s: unknown option '%s' (options are --name VALUE)\n", argv[0], a);
        } else {
            if (npos >= max_pos) {
                shear_usage_error("shear %s: unexpected argument '%s'\nusage: %s\n", argv[0], a, usage);
            }
            pos[npos++] = a;
        }
    }
    return npos;
}

long cli_long(const CliOption *o, long min, long max) {
    char *end = NULL;
    errno = 0;
    long v = strtol(o->value ? o->value : "", &end, 10);
    if (errno || !o->value || end == o->value || *end || v < min || v > max) {
        shear_usage_error("shear: option --%s: expected an integer in [%ld, %ld], got '%s'\n", o->name, min, max,
                          o->value ? o->value : "");
    }
    return v;
}

int cli_collect_sets(int argc, char **argv, const char **sets, int max) {
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = strcmp(argv[i], "--set") == 0 && i + 1 < argc ? argv[i + 1]
                        : strncmp(argv[i], "--set=", 6) == 0          ? argv[i] + 6 : NULL;
        if (!v) continue;
        if (n == max) {
            shear_usage_error("shear %s: at most %d --set options\n", argv[0], max);
        }
        sets[n++] = v;
    }
    return n;
}
