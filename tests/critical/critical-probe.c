/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prints what kernel_critical_hits() finds under the HOSTDEV_* roots, one
 * "address<TAB>code<TAB>text" line per hit and "--" after each set; with
 * --watch, again each time the critical watch reports a change. Lets the
 * tests check the kernel's view (real rtnetlink, libnm against a mock
 * NetworkManager, the watch) apart from the daemon. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "kernel/critical.h"
#include "shared/log.h"

typedef struct Probe {
        Paths paths;
        sd_bus *bus;
} Probe;

static int print_hits(Probe *p) {
        CriticalHit *hits = NULL;
        size_t n = 0;
        int r;

        r = kernel_critical_hits(&p->paths, p->bus, &hits, &n);
        if (r < 0) {
                fprintf(stderr, "kernel_critical_hits: %s\n", strerror(-r));
                return r;
        }
        for (size_t i = 0; i < n; i++)
                printf("%s\t%s\t%s\n", hits[i].address, hits[i].code, hits[i].text);
        printf("--\n");
        fflush(stdout);
        critical_hits_free(hits, n);
        return 0;
}

static void on_changed(void *userdata) {
        (void) print_hits(userdata);
}

int main(int argc, char *argv[]) {
        Probe p = {};
        sd_event *event = NULL;
        CriticalWatch *w = NULL;
        bool watch = argc > 1 && strcmp(argv[1], "--watch") == 0;
        sigset_t mask;
        int r;

        log_setup("critical-probe");
        log_set_max_level(LOG_DEBUG);
        if (paths_init_from_env(&p.paths) < 0)
                return 1;
        /* Without a system bus there is no NetworkManager to ask. */
        if (getenv("DBUS_SYSTEM_BUS_ADDRESS") && sd_bus_open_system(&p.bus) < 0)
                p.bus = NULL;

        if (!watch) {
                r = print_hits(&p);
                goto finish;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        r = sd_event_default(&event);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r >= 0 && p.bus)
                r = sd_bus_attach_event(p.bus, event, 0);
        if (r >= 0)
                r = critical_watch_new(event, p.bus, &p.paths, on_changed, &p, &w);
        if (r >= 0)
                r = print_hits(&p);
        if (r >= 0)
                r = sd_event_loop(event);

finish:
        critical_watch_free(w);
        sd_bus_flush_close_unref(p.bus);
        sd_event_unref(event);
        paths_done(&p.paths);
        return r < 0 ? 1 : 0;
}
