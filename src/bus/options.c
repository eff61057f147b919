/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus.h"
#include "claim-vf.h"
#include "options.h"
#include "shared/macro.h"
#include "shared/strv.h"

const char *bus_excerpt(const char *s, char buf[static 48]) {
        size_t i;

        for (i = 0; s[i] && i < 40; i++)
                buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
        strcpy(buf + i, s[i] ? "…" : "");
        return buf;
}

void rule_list_done(RuleList *l) {
        rules_free(l->rules, l->n_rules);
        *l = (RuleList) {};
}

static int read_rule(sd_bus_message *m, ResourceType type, Rule *rule, sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                _cleanup_free_ char *msg = NULL;
                const char *key, *contents;
                RuleValue v = {};
                char buf[48];
                char t;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
                t = strlen(contents) == 1 ? contents[0] : 0;
                if (!t || !strchr("qusi", t))
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                                 "Rule field '%s' has type '%s'; rule fields are of type "
                                                 "'q', 'u', 'i' or 's'.", bus_excerpt(key, buf), contents);
                v.type = t;
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r >= 0) {
                        uint16_t q;
                        if (t == 'q' && (r = sd_bus_message_read(m, "q", &q)) >= 0)
                                v.u = q;
                        else if (t == 'u')
                                r = sd_bus_message_read(m, "u", &v.u);
                        else if (t == 'i')
                                r = sd_bus_message_read(m, "i", &v.i);
                        else if (t == 's')
                                r = sd_bus_message_read(m, "s", &v.s);
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                if (rule_set(rule, type, key, &v, &msg) < 0)
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "%s",
                                                 msg ?: "Invalid rule field.");
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int bus_read_rules(sd_bus_message *m, ResourceType type, RuleList *ret, sd_bus_error *error) {
        _cleanup_(rule_list_done) RuleList l = {};
        int r;

        r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_at_end(m, false)) == 0) {
                _cleanup_free_ char *msg = NULL;
                Rule *t;

                if (l.n_rules >= RULES_MAX)
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                                 "Too many rules: a group has at most %d.", RULES_MAX);
                t = realloc(l.rules, (l.n_rules + 1) * sizeof(Rule));
                if (!t)
                        return -ENOMEM;
                l.rules = t;
                l.rules[l.n_rules++] = (Rule) {};
                r = read_rule(m, type, &l.rules[l.n_rules - 1], error);
                if (r < 0 || sd_bus_error_is_set(error))
                        return r < 0 ? r : -EINVAL;
                if (rule_validate(&l.rules[l.n_rules - 1], &msg) < 0)
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Rule %zu: %s", l.n_rules,
                                                 msg ?: "invalid.");
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        l.set = true;
        *ret = l;
        l = (RuleList) {};
        return 0;
}

int bus_append_rules(sd_bus_message *reply, const Rule *rules, size_t n) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
                for (RuleField f = 0; r >= 0 && f < _RULE_FIELD_MAX; f++) {
                        RuleValue v;
                        char sig[2];

                        if (!rule_has(&rules[i], f))
                                continue;
                        v = rule_get(&rules[i], f);
                        sig[0] = v.type, sig[1] = 0;
                        r = sd_bus_message_open_container(reply, 'e', "sv");
                        if (r >= 0)
                                r = sd_bus_message_append(reply, "s", rule_field_to_string(f));
                        if (r >= 0)
                                r = sd_bus_message_open_container(reply, 'v', sig);
                        if (r >= 0) {
                                if (v.type == 'q')
                                        r = sd_bus_message_append(reply, "q", (uint16_t) v.u);
                                else if (v.type == 'u')
                                        r = sd_bus_message_append(reply, "u", v.u);
                                else if (v.type == 'i')
                                        r = sd_bus_message_append(reply, "i", v.i);
                                else
                                        r = sd_bus_message_append(reply, "s", v.s);
                        }
                        if (r >= 0)
                                r = sd_bus_message_close_container(reply);
                        if (r >= 0)
                                r = sd_bus_message_close_container(reply);
                }
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static const OptionSpec *find_spec(const OptionSpec *spec, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (streq(spec[i].key, key))
                        return &spec[i];
        return NULL;
}

static const char *option_signature(OptionType t) {
        return t == OPTION_STRING ? "s" : t == OPTION_BOOLEAN ? "b" : t == OPTION_INT32 ? "i" :
               t == OPTION_OBJECTS ? "ao" : t == OPTION_UINT32 ? "u" : "aa{sv}";
}

int bus_read_options(sd_bus_message *m, const OptionSpec *spec, size_t n_spec, ResourceType type,
                     sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *contents;
                const OptionSpec *s;
                char buf[48];

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                s = find_spec(spec, n_spec, key);
                if (!s)
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Unknown option '%s'.",
                                                 bus_excerpt(key, buf));
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
                if (!streq(contents, option_signature(s->type)))
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                                 "Option '%s' must be of type '%s', not '%s'.", key,
                                                 option_signature(s->type), contents);
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r < 0)
                        return r;
                if (s->type == OPTION_STRING) {
                        const char *v;
                        r = sd_bus_message_read(m, "s", &v);
                        if (r >= 0)
                                r = free_and_strdup(s->ret, v);
                } else if (s->type == OPTION_BOOLEAN) {
                        int b;
                        r = sd_bus_message_read(m, "b", &b);
                        if (r >= 0)
                                *(bool *) s->ret = b;
                } else if (s->type == OPTION_INT32) {
                        r = sd_bus_message_read(m, "i", s->ret);
                } else if (s->type == OPTION_OBJECTS) {
                        char **l = NULL;
                        r = sd_bus_message_read_strv(m, &l);
                        if (r >= 0) {
                                strv_free(*(char ***) s->ret);
                                *(char ***) s->ret = l;
                        }
                } else if (s->type == OPTION_UINT32) {
                        r = sd_bus_message_read(m, "u", s->ret);
                } else if (s->type == OPTION_VF_SETTINGS) {
                        claim_vf_requests_done(s->ret);
                        r = bus_read_vf_settings(m, s->ret, error);
                } else {
                        rule_list_done(s->ret);
                        r = bus_read_rules(m, type, s->ret, error);
                }
                if (r < 0 || sd_bus_error_is_set(error))
                        return r < 0 ? r : -EINVAL;
                if (s->ret_set)
                        *s->ret_set = true;
                r = sd_bus_message_exit_container(m);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* The devices named by object paths; NotFound for one that is not there. */
int bus_read_devices(Daemon *d, sd_bus_message *m, const Device ***ret, size_t *ret_n, sd_bus_error *error) {
        _cleanup_free_ const Device **devs = NULL;
        size_t n = 0;
        const char *path;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "o");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "o", &path)) > 0) {
                const Device *dev = NULL, **t;

                dev = bus_device_from_path(d, path, "org.hostdev1.Device");
                if (!dev)
                        return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "No device at %s.", path);
                for (size_t i = 0; i < n; i++)
                        if (devs[i] == dev)
                                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                                         "%s is selected twice.", dev->address);
                t = realloc(devs, (n + 1) * sizeof(Device *));
                if (!t)
                        return -ENOMEM;
                devs = t;
                devs[n++] = dev;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        if (n == 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Select at least one device.");
        *ret = TAKE_PTR(devs);
        *ret_n = n;
        return 0;
}

char *bus_join_addresses(const Device *const *devs, size_t n) {
        char *s = strdup(""), *t;

        for (size_t i = 0; s && i < n; i++) {
                if (asprintf(&t, "%s%s%s", s, i ? "," : "", devs[i]->address) < 0)
                        t = NULL;
                free(s);
                s = t;
        }
        return s;
}

