/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <getopt.h>
#include <malloc.h>
#include <signal.h>

#include "bus/bus.h"
#include "daemon/daemon.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/paths.h"
#include "store/store.h"

/* --verify-state / --salvage-state: work on the state file and exit. */
static enum { ACTION_RUN, ACTION_VERIFY_STATE, ACTION_SALVAGE_STATE } arg_action = ACTION_RUN;

static void help(void) {
        printf("Usage: hostdevd [OPTIONS]\n\n"
               "Publishes the host's PCI and USB devices and IOMMU groups on the\n"
               "system bus as org.hostdev1, for passing them through to VMs.\n\n"
               "  -h --help              Show this help and exit\n"
               "     --version           Show the version and exit\n"
               "     --log-level=LEVEL   debug, info, notice, warning or err (default: info)\n"
               "     --verify-state      Load the state file, print its records and exit:\n"
               "                         0 when it loads completely, 1 when not\n"
               "     --salvage-state     Keep what can be read of a damaged state file in a\n"
               "                         new one, the damaged file beside it (hostdevd stopped)\n\n"
               "File system roots come from HOSTDEV_SYSFS_ROOT, HOSTDEV_DEV_ROOT,\n"
               "HOSTDEV_PROC_ROOT, HOSTDEV_RUN_ROOT, HOSTDEV_STATE_DIRECTORY,\n"
               "HOSTDEV_PCI_IDS and HOSTDEV_USB_IDS; see hostdevd(8).\n");
}

/* 0: run, 1: exit successfully, <0: usage error. */
static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_LOG_LEVEL, ARG_VERIFY_STATE, ARG_SALVAGE_STATE };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "verify-state", no_argument, NULL, ARG_VERIFY_STATE },
                { "salvage-state", no_argument, NULL, ARG_SALVAGE_STATE },
                {}
        };
        int c, l;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 1;
                case ARG_VERSION:
                        printf("hostdevd %s\n", VERSION);
                        return 1;
                case ARG_LOG_LEVEL:
                        l = log_parse_level(optarg);
                        if (l < 0)
                                return log_error_errno(EINVAL, "Unknown log level '%s'.", optarg);
                        log_set_max_level(l);
                        break;
                case ARG_VERIFY_STATE:
                        arg_action = ACTION_VERIFY_STATE;
                        break;
                case ARG_SALVAGE_STATE:
                        arg_action = ACTION_SALVAGE_STATE;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument '%s'; see --help.", argv[optind]);
        return 0;
}

static int run_state_action(void) {
        _cleanup_free_ char *out = NULL, *summary = NULL, *error = NULL;
        Paths paths;
        int r;

        r = paths_init_from_env(&paths);
        if (r < 0)
                return log_oom(), EXIT_FAILURE;
        if (arg_action == ACTION_VERIFY_STATE)
                r = store_verify(paths.state_dir, &out, &summary, &error);
        else
                r = store_salvage(paths.state_dir, &out, &error);
        paths_done(&paths);
        if (r < 0) {
                if (error)
                        log_error("%s", error);
                else
                        log_error_errno(r, "Cannot work on the state file: %m");
                return EXIT_FAILURE;
        }
        fputs(out, stdout);
        if (summary)
                log_info("%s", summary);
        return EXIT_SUCCESS;
}

typedef struct Wiring {
        Daemon *daemon;
        sd_bus *bus;
        Bus *front;
} Wiring;

/* The core converged: publish it. */
static void on_core_ready(void *userdata) {
        Wiring *w = userdata;

        if (bus_new(w->daemon, w->bus, &w->front) < 0)
                (void) sd_event_exit(w->daemon->event, EXIT_FAILURE);
}

/* The core (kernel → model) and its D-Bus front end, on one loop. */
int main(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(daemon_freep) Daemon *d = NULL;
        Wiring w = {};
        sigset_t mask;
        int r;

        /* GetManagedObjects on a large host builds a reply of several MiB.
         * glibc would raise its mmap threshold after freeing the first one
         * and keep the next ones on the heap for good; a fixed threshold
         * gives that memory back after each call. */
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);

        log_setup("hostdevd");
        r = parse_argv(argc, argv);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;
        if (arg_action != ACTION_RUN)
                return run_state_action();

        /* sd-event receives these through a signalfd. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = daemon_new(&d);
        if (r < 0) {
                log_error_errno(r, "Cannot start: %m");
                return EXIT_FAILURE;
        }
        r = sd_bus_open_system(&bus);
        if (r < 0) {
                log_error_errno(r, "Cannot connect to the system bus: %m");
                return EXIT_FAILURE;
        }
        r = sd_bus_attach_event(bus, d->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                log_error_errno(r, "Cannot attach to the event loop: %m");
                return EXIT_FAILURE;
        }
        w = (Wiring) { d, bus, NULL };
        r = daemon_start(d, bus, on_core_ready, &w);
        if (r < 0)
                return EXIT_FAILURE;
        r = daemon_run(d);
        w.front = bus_free(w.front);
        if (r < 0)
                return EXIT_FAILURE;
        log_debug("Exiting.");
        return r;
}
