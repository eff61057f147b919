/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <signal.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "hostdevctl.h"
#include "monitor.h"

int monitor_read_or_enter(sd_bus_message *m, char *type, const char **contents, BasicValue *v) {
        int r;

        r = sd_bus_message_peek_type(m, type, contents);
        if (r <= 0)
                return r < 0 ? r : -EBADMSG;

        if (!strchr("avre", *type)) {
                r = sd_bus_message_read_basic(m, *type, v);
                return r < 0 ? r : 0;
        }

        r = sd_bus_message_enter_container(m, *type, *contents);
        return r < 0 ? r : 1;
}

/* ISO 8601 local time with microseconds, e.g. 2024-05-01T12:00:00.123456+02:00. */
static void format_timestamp(char *buf, size_t size) {
        struct timespec ts;
        struct tm tm;
        char date[32], zone[8];

        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
        strftime(zone, sizeof(zone), "%z", &tm);
        /* %z gives +0200; RFC 3339 wants +02:00. */
        snprintf(buf, size, "%s.%06ld%.3s:%.2s", date, ts.tv_nsec / 1000, zone, zone + 3);
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_free_ char *line = NULL;
        char timestamp[64];
        size_t size = 0;
        FILE *f;
        int r;

        format_timestamp(timestamp, sizeof(timestamp));

        /* Build the whole line first, so that a malformed signal prints nothing half-way. */
        f = open_memstream(&line, &size);
        if (!f) {
                log_oom();
                return 0;
        }
        r = arg_json ? monitor_format_json(m, f, timestamp) : monitor_format_text(m, f, timestamp);
        if (r > 0 && !arg_json)
                fputc('\n', f);
        fclose(f);

        if (r < 0) {
                log_error("Ignoring malformed %s signal from %s: %s",
                          strna(sd_bus_message_get_member(m)), strna(sd_bus_message_get_path(m)), strerror(-r));
                return 0;
        }
        if (r == 0)
                return 0;

        fputs(line, stdout);
        /* One line at a time: readers sit on the other end of a pipe. */
        if (fflush(stdout) != 0 || ferror(stdout)) {
                log_error("Failed to write output: %s", strerror(errno));
                sd_event_exit(sd_bus_get_event(sd_bus_message_get_bus(m)), EXIT_FAILURE);
        }
        return 0;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), EXIT_SUCCESS);
}

int verb_monitor(int argc, char *argv[]) {
        static const char * const matches[] = {
                "type='signal',sender='" HOSTDEV_SERVICE "',"
                "interface='org.freedesktop.DBus.ObjectManager',member='InterfacesAdded',"
                "path_namespace='" HOSTDEV_MANAGER_PATH "'",
                "type='signal',sender='" HOSTDEV_SERVICE "',"
                "interface='org.freedesktop.DBus.ObjectManager',member='InterfacesRemoved',"
                "path_namespace='" HOSTDEV_MANAGER_PATH "'",
                "type='signal',sender='" HOSTDEV_SERVICE "',"
                "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                "path_namespace='" HOSTDEV_MANAGER_PATH "'",
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        sigset_t mask;
        int r;

        if (hd_bus_open(&bus) < 0)
                return EXIT_FAILURE;

        r = sd_event_default(&event);
        if (r < 0) {
                log_error("Failed to allocate event loop: %s", strerror(-r));
                return EXIT_FAILURE;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        if ((r = sd_event_add_signal(event, NULL, SIGINT, on_exit_signal, NULL)) < 0 ||
            (r = sd_event_add_signal(event, NULL, SIGTERM, on_exit_signal, NULL)) < 0) {
                log_error("Failed to watch signals: %s", strerror(-r));
                return EXIT_FAILURE;
        }

        /* Synchronous: once this returns the bus daemon routes the signals to us. */
        for (size_t i = 0; i < ELEMENTSOF(matches); i++) {
                r = sd_bus_add_match(bus, NULL, matches[i], on_signal, NULL);
                if (r < 0) {
                        log_error("Failed to subscribe to hostdevd signals: %s", strerror(-r));
                        return EXIT_FAILURE;
                }
        }

        r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                log_error("Failed to attach bus to event loop: %s", strerror(-r));
                return EXIT_FAILURE;
        }
        /* Leaves the loop with EXIT_FAILURE when the bus goes away. */
        (void) sd_bus_set_exit_on_disconnect(bus, true);

        fputs("Monitoring hostdevd events, press Ctrl+C to stop.\n", stderr);
        fflush(stderr);

        r = sd_event_loop(event);
        if (r < 0) {
                log_error("Event loop failed: %s", strerror(-r));
                return EXIT_FAILURE;
        }
        if (r != EXIT_SUCCESS) {
                if (!sd_bus_is_open(bus))
                        log_error("Lost the connection to the system bus.");
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
