/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The monitor's JSON: one object per line, {"timestamp", "event", "object", ...}. */

#include <inttypes.h>

#include "monitor.h"
#include "output.h"

/* A basic value as a dictionary key. */
static int json_key_text(char type, const BasicValue *v, char *buf, size_t size) {
        switch (type) {
        case 's': case 'o': case 'g':
                return snprintf(buf, size, "%s", v->s) < 0 ? -EINVAL : 0;
        case 'b':
                snprintf(buf, size, "%s", v->b ? "true" : "false");
                return 0;
        case 'y': snprintf(buf, size, "%" PRIu8, v->y); return 0;
        case 'n': snprintf(buf, size, "%" PRIi16, v->n); return 0;
        case 'q': snprintf(buf, size, "%" PRIu16, v->q); return 0;
        case 'i': snprintf(buf, size, "%" PRIi32, v->i); return 0;
        case 'u': snprintf(buf, size, "%" PRIu32, v->u); return 0;
        case 'x': snprintf(buf, size, "%" PRIi64, v->x); return 0;
        case 't': snprintf(buf, size, "%" PRIu64, v->t); return 0;
        case 'd': snprintf(buf, size, "%g", v->d); return 0;
        case 'h': snprintf(buf, size, "%d", v->h); return 0;
        default:
                return -EBADMSG;
        }
}

static int json_basic(JsonWriter *w, char type, const BasicValue *v) {
        switch (type) {
        case 's': case 'o': case 'g':
                json_string(w, v->s);
                break;
        case 'b':
                json_boolean(w, v->b);
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

        r = monitor_read_or_enter(m, &type, &contents, &v);
        if (r <= 0)
                return r < 0 ? r : json_basic(w, type, &v);

        if (type == 'v')
                r = json_value(m, w);
        else if (type == 'a' && contents[0] == '{') {
                json_begin_object(w);
                /* Peek first: entering with no signature fails at the end of the array. */
                while ((r = sd_bus_message_peek_type(m, NULL, &entry)) > 0) {
                        char key[64];

                        r = sd_bus_message_enter_container(m, 'e', entry);
                        if (r < 0)
                                return r;

                        /* JSON keys are strings: a numeric key is written in decimal. */
                        r = sd_bus_message_peek_type(m, &key_type, NULL);
                        if (r <= 0)
                                return r < 0 ? r : -EBADMSG;
                        r = sd_bus_message_read_basic(m, key_type, &v);
                        if (r < 0)
                                return r;
                        r = json_key_text(key_type, &v, key, sizeof(key));
                        if (r < 0)
                                return r;

                        json_key(w, key);
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

/* a{sv} as an object. */
static int json_properties(sd_bus_message *m, JsonWriter *w) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        json_begin_object(w);
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name;

                r = sd_bus_message_read_basic(m, 's', &name);
                if (r < 0)
                        return r;
                json_key(w, name);
                r = json_value(m, w);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        json_end_object(w);
        return sd_bus_message_exit_container(m);
}

static void json_strv(JsonWriter *w, const char *key, char **l) {
        json_key(w, key);
        json_begin_array(w);
        for (char **i = l; i && *i; i++)
                json_string(w, *i);
        json_end_array(w);
}

static int json_added(sd_bus_message *m, JsonWriter *w) {
        const char *object, *iface;
        int r;

        r = sd_bus_message_read_basic(m, 'o', &object);
        if (r < 0)
                return r;
        json_kv_string(w, "event", "added");
        json_kv_string(w, "object", object);
        json_key(w, "interfaces");
        json_begin_object(w);
        r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
                r = sd_bus_message_read_basic(m, 's', &iface);
                if (r < 0)
                        return r;
                json_key(w, iface);
                r = json_properties(m, w);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        json_end_object(w);
        return sd_bus_message_exit_container(m);
}

static int json_removed(sd_bus_message *m, JsonWriter *w) {
        _cleanup_strv_free_ char **ifaces = NULL;
        const char *object;
        int r;

        r = sd_bus_message_read_basic(m, 'o', &object);
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(m, &ifaces);
        if (r < 0)
                return r;
        json_kv_string(w, "event", "removed");
        json_kv_string(w, "object", object);
        json_strv(w, "interfaces", ifaces);
        return 0;
}

static int json_changed(sd_bus_message *m, JsonWriter *w) {
        _cleanup_strv_free_ char **invalidated = NULL;
        const char *iface;
        int r;

        r = sd_bus_message_read_basic(m, 's', &iface);
        if (r < 0)
                return r;
        json_kv_string(w, "event", "changed");
        json_kv_string(w, "object", sd_bus_message_get_path(m));
        json_kv_string(w, "interface", iface);
        json_key(w, "properties");
        r = json_properties(m, w);
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(m, &invalidated);
        if (r < 0)
                return r;
        json_strv(w, "invalidated", invalidated);
        return 0;
}

int monitor_format_json(sd_bus_message *m, FILE *f, const char *timestamp) {
        const char *member = sd_bus_message_get_member(m);
        JsonWriter w;
        int r;

        json_init(&w, f, false);
        json_begin_object(&w);
        json_kv_string(&w, "timestamp", timestamp);
        if (streq(member, "InterfacesAdded"))
                r = json_added(m, &w);
        else if (streq(member, "InterfacesRemoved"))
                r = json_removed(m, &w);
        else if (streq(member, "PropertiesChanged"))
                r = json_changed(m, &w);
        else
                r = 0, member = NULL;
        json_end_object(&w);
        if (r < 0 || !member) {
                json_done(&w);
                return r;
        }
        r = json_finish(&w);
        return r < 0 ? r : 1;
}
