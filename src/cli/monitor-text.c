/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The monitor's text: "TIME added|removed|changed OBJECT [Interface] Key=value ...". */

#include <inttypes.h>

#include "monitor.h"
#include "output.h"

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

/* Arrays as [a,b], dictionaries as {k=v}, structs as (a,b); variants are transparent. */
static int text_value(sd_bus_message *m, FILE *f) {
        const char *contents;
        BasicValue v;
        char type;
        int r;

        r = monitor_read_or_enter(m, &type, &contents, &v);
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

/*
 * sd-bus announces the interfaces every object has (Peer, Introspectable,
 * Properties) along with the real ones; the text form leaves them out.
 */
static bool is_standard_interface(const char *iface) {
        return strncmp(iface, "org.freedesktop.DBus.", 21) == 0;
}

/* a{sv} as " Key=value" pairs. */
static int text_properties(sd_bus_message *m, FILE *f) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name;

                r = sd_bus_message_read_basic(m, 's', &name);
                if (r < 0)
                        return r;
                fprintf(f, " %s=", name);
                r = text_value(m, f);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int text_added(sd_bus_message *m, FILE *f, const char *timestamp) {
        const char *object, *iface;
        int r;

        r = sd_bus_message_read_basic(m, 'o', &object);
        if (r < 0)
                return r;
        fprintf(f, "%s added %s", timestamp, object);

        r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
                r = sd_bus_message_read_basic(m, 's', &iface);
                if (r < 0)
                        return r;
                if (is_standard_interface(iface))
                        r = sd_bus_message_skip(m, "a{sv}");
                else {
                        fprintf(f, " [%s]", iface);
                        r = text_properties(m, f);
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int text_removed(sd_bus_message *m, FILE *f, const char *timestamp) {
        _cleanup_strv_free_ char **ifaces = NULL;
        const char *object;
        int r;

        r = sd_bus_message_read_basic(m, 'o', &object);
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(m, &ifaces);
        if (r < 0)
                return r;
        fprintf(f, "%s removed %s", timestamp, object);
        for (char **i = ifaces; i && *i; i++)
                if (!is_standard_interface(*i))
                        fprintf(f, " [%s]", *i);
        return 0;
}

static int text_changed(sd_bus_message *m, FILE *f, const char *timestamp) {
        _cleanup_strv_free_ char **invalidated = NULL;
        const char *iface;
        int r;

        r = sd_bus_message_read_basic(m, 's', &iface);
        if (r < 0)
                return r;
        fprintf(f, "%s changed %s", timestamp, sd_bus_message_get_path(m));
        r = text_properties(m, f);
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(m, &invalidated);
        if (r < 0)
                return r;
        if (!strv_isempty(invalidated)) {
                _cleanup_free_ char *joined = strv_join(invalidated, ",");

                if (!joined)
                        return -ENOMEM;
                fprintf(f, " invalidated=%s", joined);
        }
        return 0;
}

int monitor_format_text(sd_bus_message *m, FILE *f, const char *timestamp) {
        const char *member = sd_bus_message_get_member(m);
        int r;

        if (streq(member, "InterfacesAdded"))
                r = text_added(m, f, timestamp);
        else if (streq(member, "InterfacesRemoved"))
                r = text_removed(m, f, timestamp);
        else if (streq(member, "PropertiesChanged"))
                r = text_changed(m, f, timestamp);
        else
                return 0;
        return r < 0 ? r : 1;
}
