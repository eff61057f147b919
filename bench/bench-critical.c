/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-critical: the cost of finding the host-critical devices.
 *
 *   bench-critical [--json] [--reps N] [--only hits|compute] [--list]
 *
 * Reads the host below HOSTDEV_SYSFS_ROOT and HOSTDEV_PROC_ROOT (written
 * by `gen-host.py --critical`; run-critical does all of this) and times:
 *   hits     kernel_critical_hits(): mountinfo, swaps, the block stack down
 *            to the NVMe functions, the default routes over rtnetlink and
 *            the bond down to its NICs, fb0 (bus NULL: no NetworkManager);
 *            also its storage and network halves alone;
 *   compute  critical_compute() on the inventory kernel_enumerate() read
 *            from the same tree, and critical_apply() of its result (the
 *            first apply changes every critical device, later ones none).
 * --only runs one part and nothing else (for callgrind: see README.md).
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel/critical-internal.h"
#include "kernel/critical.h"
#include "kernel/kernel.h"
#include "model/critical.h"
#include "model/inventory.h"
#include "shared/hashmap.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/paths.h"

static bool arg_json;
static unsigned arg_reps = 200;
static const char *arg_only;
static bool arg_list;

static double now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

/* Nearest-rank percentile, as run-bench computes it. */
static double percentile(double *v, size_t n, unsigned p) {
        size_t k = (p * n + 99) / 100;

        qsort(v, n, sizeof(double), cmp_double);
        return v[k ? k - 1 : 0];
}

static bool first_figure = true;

static void figure(const char *name, double *v, size_t n, const char *extra) {
        double p50 = percentile(v, n, 50), p99 = percentile(v, n, 99), max = v[n - 1];

        if (arg_json)
                printf("%s\"%s\": {\"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f, \"runs\": %zu%s%s}",
                       first_figure ? "{" : ", ", name, p50, p99, max, n, extra ? ", " : "", strempty(extra));
        else
                printf("%-34s p50 %9.1f µs   p99 %9.1f µs   max %9.1f µs   (%zu runs)\n", name, p50, p99, max, n);
        first_figure = false;
}

typedef int (*HitsFn)(const Paths *p, CriticalHit **hits, size_t *n);

static int all_hits(const Paths *p, CriticalHit **hits, size_t *n) {
        return kernel_critical_hits(p, NULL, hits, n);
}

static int network_hits(const Paths *p, CriticalHit **hits, size_t *n) {
        return network_critical_hits(p, NULL, hits, n);
}

static int time_hits(const Paths *p, const char *name, HitsFn fn, size_t *ret_n) {
        _cleanup_free_ double *t = calloc(arg_reps, sizeof(double));
        size_t n = 0;
        char extra[64];

        if (!t)
                return -ENOMEM;
        for (unsigned i = 0; i < arg_reps; i++) {
                CriticalHit *hits = NULL;
                double t0 = now_us();
                int r;

                n = 0;
                r = fn(p, &hits, &n);
                t[i] = now_us() - t0;
                if (r < 0)
                        return log_error_errno(r, "%s: %m", name);
                if (arg_list && i == 0)
                        for (size_t j = 0; j < n; j++)
                                fprintf(stderr, "%s %s %s\n", hits[j].address, hits[j].code, hits[j].text);
                critical_hits_free(hits, n);
        }
        snprintf(extra, sizeof extra, "\"hits\": %zu", n);
        figure(name, t, arg_reps, extra);
        if (ret_n)
                *ret_n = n;
        return 0;
}

static void count_changed(Device *d, void *userdata) {
        (void) d;
        (*(size_t *) userdata)++;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "json", no_argument,       NULL, 'j' },
                { "reps", required_argument, NULL, 'r' },
                { "only", required_argument, NULL, 'o' },
                { "list", no_argument,       NULL, 'l' },
                { "help", no_argument,       NULL, 'h' },
                {}
        };
        _cleanup_(paths_done) Paths paths = {};
        _cleanup_free_ double *tc = NULL, *ta = NULL;
        CriticalHit *hits = NULL;
        Kernel *k = NULL;
        Inventory inv;
        size_t n_hits = 0, n_critical = 0, first_changed = 0, later_changed = 0;
        double t_enum;
        char extra[128];
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'j': arg_json = true; break;
                case 'r': arg_reps = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'o': arg_only = optarg; break;
                case 'l': arg_list = true; break;
                case 'h':
                        printf("%s [--json] [--reps N] [--only hits|compute] [--list]\n"
                               "Reads the host below HOSTDEV_SYSFS_ROOT and HOSTDEV_PROC_ROOT.\n",
                               "bench-critical");
                        return 0;
                default:
                        return 2;
                }
        if (arg_reps == 0 || (arg_only && !streq(arg_only, "hits") && !streq(arg_only, "compute")))
                return 2;
        log_set_max_level(LOG_WARNING);
        if (paths_init_from_env(&paths) < 0)
                return 1;

        if (!arg_only || streq(arg_only, "hits")) {
                if (time_hits(&paths, "kernel_critical_hits", all_hits, &n_hits) < 0)
                        return 1;
                if (!arg_only && (time_hits(&paths, "  storage_critical_hits", storage_critical_hits, NULL) < 0 ||
                                  time_hits(&paths, "  network_critical_hits", network_hits, NULL) < 0))
                        return 1;
        }
        if (arg_only && streq(arg_only, "hits"))
                goto done;

        r = all_hits(&paths, &hits, &n_hits);
        if (r < 0)
                return log_error_errno(r, "kernel_critical_hits: %m"), 1;
        if (inventory_init(&inv) < 0 || kernel_new(&paths, &k) < 0)
                return 1;
        t_enum = now_us();
        r = kernel_enumerate(k, &inv);
        t_enum = now_us() - t_enum;
        if (r < 0)
                return log_error_errno(r, "kernel_enumerate: %m"), 1;

        tc = calloc(arg_reps, sizeof(double));
        ta = calloc(arg_reps, sizeof(double));
        if (!tc || !ta)
                return 1;
        for (unsigned i = 0; i < arg_reps; i++) {
                Hashmap *map = NULL;
                size_t changed = 0;
                double t0 = now_us(), t1;

                r = critical_compute(&inv, hits, n_hits, &map);
                t1 = now_us();
                tc[i] = t1 - t0;
                if (r < 0)
                        return log_error_errno(r, "critical_compute: %m"), 1;
                n_critical = hashmap_size(map);
                critical_apply(&inv, map, count_changed, &changed);
                ta[i] = now_us() - t1;
                if (i == 0)
                        first_changed = changed;
                else
                        later_changed += changed;
        }
        snprintf(extra, sizeof extra, "\"devices\": %zu, \"hits\": %zu, \"critical\": %zu",
                 inventory_n_devices(&inv), n_hits, n_critical);
        figure("critical_compute", tc, arg_reps, extra);
        snprintf(extra, sizeof extra, "\"first_us\": %.1f, \"first_changed\": %zu, \"later_changed\": %zu",
                 ta[0], first_changed, later_changed);
        /* ta[0] is read before figure() sorts the array */
        {
                double first = ta[0];

                figure("critical_apply", ta, arg_reps, extra);
                if (!arg_json)
                        printf("  first apply %.1f µs, %zu devices changed; later applies changed %zu\n"
                               "  %zu devices, %zu hits, %zu critical; kernel_enumerate %.1f ms (once)\n",
                               first, first_changed, later_changed,
                               inventory_n_devices(&inv), n_hits, n_critical, t_enum / 1000);
        }
        critical_hits_free(hits, n_hits);
        kernel_free(k);
        inventory_done(&inv);
done:
        if (arg_json)
                printf("%s}\n", first_figure ? "{" : "");
        return 0;
}
