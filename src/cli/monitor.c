/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <signal.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "hostdevctl.h"

/*
 * Prints one line per signal of hostdevd. Values are printed as D-Bus
 * carries them, under their D-Bus property names, so that the monitor
 * shows exactly what a bus client sees.
 */

typedef union BasicValue {
        uint8_t y;
        int16_t n;
        uint16_t q;
        int32_t i;
        uint32_t u;
        int64_t x;
        uint64_t t;
        double d;
        int b;
        int h;
        const char *s;
} BasicValue;

static bool needs_quotes(const char *s) {
        if (!*s)
                return true;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p <= ' ' || *p == 0x7f || strchr("\"'\\=,()[]{}", *p))
                        return true;
        return false;
}

static void text_string(FILE *f, const char *s) {
        if (!needs_quotes(s)) {
                fputs(s, f);
                return;
        }

        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                switch (*p) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                default:
                        if (*p < ' ' || *p == 0x7f)
                                fprintf(f, "\\x%02x", *p);
                        else
                                fputc(*p, f);
                }
        fputc('"', f);
}

static int text_basic(FILE *f, char type, const BasicValue *v) {
        switch (type) {
        case 's': case 'o': case 'g':
                text_string(f, v->s);
                break;
        case 'b':
                fputs(v->b ? "true" : "false", f);
                break;
        case 'y':
                fprintf(f, "%" PRIu8, v->y);
                break;
        case 'n':
                fprintf(f, "%" PRIi16, v->n);
                break;
        case 'q':
                fprintf(f, "%" PRIu16, v->q);
                break;
        case 'i':
                fprintf(f, "%" PRIi32, v->i);
                break;
        case 'u':
                fprintf(f, "%" PRIu32, v->u);
                break;
        case 'x':
                fprintf(f, "%" PRIi64, v->x);
                break;
        case 't':
                fprintf(f, "%" PRIu64, v->t);
                break;
        case 'd':
                fprintf(f, "%g", v->d);
                break;
        case 'h':
                fprintf(f, "%d", v->h);
                break;
        default:
                return -EBADMSG;
        }
        return 0;
}

/*
 * Reads the next value into v when it is basic (returns 0), or enters it
 * when it is a container (returns 1); type and contents say what it is.
 */
static int read_or_enter(sd_bus_message *m, char *type, const char **contents, BasicValue *v) {
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

/* Arrays as [a,b], dictionaries as {k=v}, structs as (a,b); variants are transparent. */
static int text_value(sd_bus_message *m, FILE *f) {
        const char *contents;
        BasicValue v;
        char type;
        int r;

        r = read_or_enter(m, &type, &contents, &v);
        if (r <= 0)
                return r < 0 ? r : text_basic(f, type, &v);

        const char *open = "", *close = "", *separator = ",";
        if (type == 'a')
                open = contents[0] == '{' ? "{" : "[", close = contents[0] == '{' ? "}" : "]";
        else if (type == 'r')
                open = "(", close = ")";
        else if (type == 'e')
                separator = "=";

        fputs(open, f);
        for (bool first = true; (r = sd_bus_message_peek_type(m, NULL, NULL)) > 0; first = false) {
                if (!first)
                        fputs(separator, f);
                r = text_value(m, f);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        fputs(close, f);

        return sd_bus_message_exit_container(m);
}

static int json_basic(JsonWriter *w, char type, const BasicValue *v) {
        switch (type) {
        case 's': case 'o': case 'g':
                json_string(w, v->s);
                break;
        case 'b':
                json_bool(w, v->b);
                break;
        case 'y':
                json_uint(w, v->y);
                break;
        case 'n':
                json_int(w, v->n);
                break;
        case 'q':
                json_uint(w, v->q);
                break;
        case 'i':
                json_int(w, v->i);
                break;
        case 'u':
                json_uint(w, v->u);
                break;
        case 'x':
                json_int(w, v->x);
                break;
        case 't':
                json_uint(w, v->t);
                break;
        case 'd':
                json_double(w, v->d);
                break;
        case 'h':
                json_int(w, v->h);
                break;
        default:
                return -EBADMSG;
        }
        return 0;
}

/* Dictionaries become objects (keys as strings), arrays and structs arrays. */
static int json_value(sd_bus_message *m, JsonWriter *w) {
        const char *contents, *entry;
        BasicValue v;
        char type, key_type;
        int r;

        r = read_or_enter(m, &type, &contents, &v);
        if (r <= 0)
                return r < 0 ? r : json_basic(w, type, &v);

        if (type == 'v')
                r = json_value(m, w);
        else if (type == 'a' && contents[0] == '{') {
                json_begin_object(w);
                /* Peek first: entering with no signature fails at the end of the array. */
                while ((r = sd_bus_message_peek_type(m, NULL, &entry)) > 0) {
                        _cleanup_free_ char *key = NULL;
                        size_t size = 0;
                        FILE *k;

                        r = sd_bus_message_enter_container(m, 'e', entry);
                        if (r < 0)
                                return r;

                        /* JSON keys are strings: a numeric key is written in decimal. */
                        k = open_memstream(&key, &size);
                        if (!k)
                                return -ENOMEM;
                        r = sd_bus_message_peek_type(m, &key_type, NULL);
                        if (r > 0) {
                                r = sd_bus_message_read_basic(m, key_type, &v);
                                if (r >= 0) {
                                        if (strchr("sog", key_type))
                                                fputs(v.s, k);
                                        else
                                                r = text_basic(k, key_type, &v);
                                }
                        }
                        fclose(k);
                        if (r < 0)
                                return r;

                        json_key(w, key ? key : "");
                        r = json_value(m, w);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                }
                json_end_object(w);
        } else {
                json_begin_array(w);
                while ((r = sd_bus_message_peek_type(m, NULL, NULL)) > 0) {
                        r = json_value(m, w);
                        if (r < 0)
                                return r;
                }
                json_end_array(w);
        }
        if (r < 0)
                return r;

        return sd_bus_message_exit_container(m);
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

/* a{sv} as " Key=value" pairs or as a JSON object. */
static int print_properties(sd_bus_message *m, FILE *f, JsonWriter *w) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        if (w)
                json_begin_object(w);

        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name;

                r = sd_bus_message_read_basic(m, 's', &name);
                if (r < 0)
                        return r;
                if (w) {
                        json_key(w, name);
                        r = json_value(m, w);
                } else {
                        fprintf(f, " %s=", name);
                        r = text_value(m, f);
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        if (w)
                json_end_object(w);
        return sd_bus_message_exit_container(m);
}

static int print_strv(FILE *f, JsonWriter *w, const char *key, char **l) {
        if (w) {
                json_key(w, key);
                json_begin_array(w);
                for (char **i = l; i && *i; i++)
                        json_string(w, *i);
                json_end_array(w);
        } else if (!strv_isempty(l)) {
                _cleanup_free_ char *joined = strv_join(l, ",");

                if (!joined)
                        return -ENOMEM;
                fprintf(f, " %s=%s", key, joined);
        }
        return 0;
}

/*
 * sd-bus announces the interfaces every object has (Peer, Introspectable,
 * Properties) along with the real ones; the text form leaves them out.
 */
static bool is_standard_interface(const char *iface) {
        return strncmp(iface, "org.freedesktop.DBus.", 21) == 0;
}

static int format_event(sd_bus_message *m, FILE *f, JsonWriter *w, const char *timestamp) {
        const char *member = sd_bus_message_get_member(m), *object;
        int r;

        if (w) {
                json_begin_object(w);
                json_kv_string(w, "timestamp", timestamp);
        }

        if (streq(member, "InterfacesAdded")) {
                r = sd_bus_message_read_basic(m, 'o', &object);
                if (r < 0)
                        return r;
                if (w) {
                        json_kv_string(w, "event", "added");
                        json_kv_string(w, "object", object);
                        json_key(w, "interfaces");
                        json_begin_object(w);
                } else
                        fprintf(f, "%s added %s", timestamp, object);

                r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
                if (r < 0)
                        return r;
                while ((r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
                        const char *iface;

                        r = sd_bus_message_read_basic(m, 's', &iface);
                        if (r < 0)
                                return r;
                        if (w)
                                json_key(w, iface);
                        else if (is_standard_interface(iface)) {
                                r = sd_bus_message_skip(m, "a{sv}");
                                if (r < 0)
                                        return r;
                                r = sd_bus_message_exit_container(m);
                                if (r < 0)
                                        return r;
                                continue;
                        } else
                                fprintf(f, " [%s]", iface);
                        r = print_properties(m, f, w);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                if (w)
                        json_end_object(w);

        } else if (streq(member, "InterfacesRemoved")) {
                _cleanup_strv_free_ char **ifaces = NULL;

                r = sd_bus_message_read_basic(m, 'o', &object);
                if (r < 0)
                        return r;
                r = sd_bus_message_read_strv(m, &ifaces);
                if (r < 0)
                        return r;
                if (w) {
                        json_kv_string(w, "event", "removed");
                        json_kv_string(w, "object", object);
                } else
                        fprintf(f, "%s removed %s", timestamp, object);
                if (w)
                        r = print_strv(f, w, "interfaces", ifaces);
                else
                        for (char **i = ifaces; i && *i; i++)
                                if (!is_standard_interface(*i))
                                        fprintf(f, " [%s]", *i);
                if (r < 0)
                        return r;

        } else if (streq(member, "PropertiesChanged")) {
                _cleanup_strv_free_ char **invalidated = NULL;
                const char *iface;

                object = sd_bus_message_get_path(m);
                r = sd_bus_message_read_basic(m, 's', &iface);
                if (r < 0)
                        return r;
                if (w) {
                        json_kv_string(w, "event", "changed");
                        json_kv_string(w, "object", object);
                        json_kv_string(w, "interface", iface);
                        json_key(w, "properties");
                } else
                        fprintf(f, "%s changed %s", timestamp, object);
                r = print_properties(m, f, w);
                if (r < 0)
                        return r;
                r = sd_bus_message_read_strv(m, &invalidated);
                if (r < 0)
                        return r;
                r = print_strv(f, w, "invalidated", invalidated);
                if (r < 0)
                        return r;
        } else
                return 0;

        if (w)
                json_end_object(w);
        else
                fputc('\n', f);
        return 1;
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_free_ char *line = NULL;
        char timestamp[64];
        size_t size = 0;
        JsonWriter w;
        FILE *f;
        int r;

        format_timestamp(timestamp, sizeof(timestamp));

        /* Build the whole line first, so that a malformed signal prints nothing half-way. */
        f = open_memstream(&line, &size);
        if (!f) {
                log_oom();
                return 0;
        }
        if (arg_json)
                json_init(&w, f, false);
        r = format_event(m, f, arg_json ? &w : NULL, timestamp);
        if (r > 0 && arg_json)
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
