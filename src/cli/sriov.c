/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* "sriov show [PF]", "sriov set-vfs PF N" and "sriov set-vf PF INDEX
 * KEY=VALUE…": SR-IOV physical functions, their VF counts and the
 * settings of their VFs. */

#include <errno.h>
#include <inttypes.h>

#include "hostdevctl.h"

bool arg_no_autoprobe = false;

static int print_pf_text(const HdDevice *d, bool autoprobe, Table *t) {
        char total[16], num[16];

        snprintf(total, sizeof total, "%" PRIu32, d->total_vfs);
        snprintf(num, sizeof num, "%" PRIu32, d->num_vfs);
        return table_add_row(t, (const char * const[]) { d->address, num, total, autoprobe ? "yes" : "no" });
}

static int read_autoprobe(sd_bus *bus, const char *path, bool *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int v = 1, r;

        r = sd_bus_get_property_trivial(bus, HOSTDEV_SERVICE, path, HOSTDEV_SRIOV_PF_INTERFACE, "DriversAutoprobe",
                                        &error, 'b', &v);
        /* An older hostdevd without the property: the kernel's default. */
        *ret = r < 0 || v;
        return 0;
}

/* One VF of VfConfig; -1 and "" for what hostdevd did not tell. */
typedef struct VfRow {
        uint32_t index;
        char mac[18];
        char link_state[16];
        int64_t vlan, qos, max_tx_rate, min_tx_rate;
        int trust, spoofchk;
} VfRow;

static int read_vf_row(sd_bus_message *m, VfRow *v) {
        const char *key, *str;
        uint32_t u;
        int b, r;

        *v = (VfRow) { .vlan = -1, .qos = -1, .max_tx_rate = -1, .min_tx_rate = -1, .trust = -1, .spoofchk = -1 };
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                if (streq(key, "mac") || streq(key, "link-state")) {
                        r = sd_bus_message_read(m, "v", "s", &str);
                        if (r >= 0)
                                snprintf(streq(key, "mac") ? v->mac : v->link_state,
                                         streq(key, "mac") ? sizeof v->mac : sizeof v->link_state, "%s", str);
                } else if (streq(key, "trust") || streq(key, "spoofchk")) {
                        r = sd_bus_message_read(m, "v", "b", &b);
                        if (r >= 0)
                                *(streq(key, "trust") ? &v->trust : &v->spoofchk) = b;
                } else if (streq(key, "index") || streq(key, "vlan") || streq(key, "qos") ||
                           streq(key, "max-tx-rate") || streq(key, "min-tx-rate")) {
                        r = sd_bus_message_read(m, "v", "u", &u);
                        if (r >= 0 && streq(key, "index"))
                                v->index = u;
                        else if (r >= 0)
                                *(streq(key, "vlan") ? &v->vlan : streq(key, "qos") ? &v->qos
                                  : streq(key, "max-tx-rate") ? &v->max_tx_rate : &v->min_tx_rate) = u;
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* VfConfig of the PF; none from an older hostdevd without it. */
static int read_vf_config(sd_bus *bus, const char *path, VfRow **ret, size_t *ret_n) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ VfRow *rows = NULL;
        size_t n = 0;
        int r;

        *ret = NULL;
        *ret_n = 0;
        if (sd_bus_get_property(bus, HOSTDEV_SERVICE, path, HOSTDEV_SRIOV_PF_INTERFACE, "VfConfig", &error, &reply,
                                "aa{sv}") < 0)
                return 0;
        r = sd_bus_message_enter_container(reply, 'a', "a{sv}");
        while (r >= 0 && (r = sd_bus_message_at_end(reply, false)) == 0) {
                VfRow *t = realloc(rows, (n + 1) * sizeof(VfRow));

                if (!t)
                        return -ENOMEM;
                rows = t;
                r = read_vf_row(reply, &rows[n++]);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(rows);
        *ret_n = n;
        return 0;
}

static const char *num_or_dash(int64_t v, char buf[static 24]) {
        if (v < 0)
                return "-";
        snprintf(buf, 24, "%" PRId64, v);
        return buf;
}

static const char *switch_or_dash(int v) {
        return v < 0 ? "-" : v ? "on" : "off";
}

static int print_vfs_text(const VfRow *rows, size_t n) {
        static const char * const headers[] = { "VF", "MAC", "VLAN", "QOS", "TRUST", "SPOOFCHK", "LINK", "MAX-TX",
                                                 "MIN-TX" };
        _cleanup_table_free_ Table *t = table_new(ELEMENTSOF(headers), headers);
        char index[16], vlan[24], qos[24], max[24], min[24];
        int r;

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const VfRow *v = &rows[i];

                snprintf(index, sizeof index, "%" PRIu32, v->index);
                r = table_add_row(t, (const char * const[]) {
                        index, v->mac[0] ? v->mac : "-", num_or_dash(v->vlan, vlan), num_or_dash(v->qos, qos),
                        switch_or_dash(v->trust), switch_or_dash(v->spoofchk), v->link_state[0] ? v->link_state : "-",
                        num_or_dash(v->max_tx_rate, max), num_or_dash(v->min_tx_rate, min) });
                if (r < 0)
                        return r;
        }
        printf("\n");
        return table_print(t, stdout, arg_legend, on_tty() ? terminal_columns() : 0);
}

static void print_vfs_json(JsonWriter *w, const VfRow *rows, size_t n) {
        json_key(w, "vf_config");
        json_begin_array(w);
        for (size_t i = 0; i < n; i++) {
                const VfRow *v = &rows[i];

                json_begin_object(w);
                json_kv_uint(w, "index", v->index);
                if (v->mac[0])
                        json_kv_string(w, "mac", v->mac);
                if (v->vlan >= 0)
                        json_kv_uint(w, "vlan", (uint64_t) v->vlan);
                if (v->qos >= 0)
                        json_kv_uint(w, "qos", (uint64_t) v->qos);
                if (v->trust >= 0)
                        json_kv_bool(w, "trust", v->trust);
                if (v->spoofchk >= 0)
                        json_kv_bool(w, "spoofchk", v->spoofchk);
                if (v->link_state[0])
                        json_kv_string(w, "link_state", v->link_state);
                if (v->max_tx_rate >= 0)
                        json_kv_uint(w, "max_tx_rate", (uint64_t) v->max_tx_rate);
                if (v->min_tx_rate >= 0)
                        json_kv_uint(w, "min_tx_rate", (uint64_t) v->min_tx_rate);
                json_end_object(w);
        }
        json_end_array(w);
}

static int show(sd_bus *bus, const HdHost *h, const char *only) {
        static const char * const headers[] = { "PF", "VFS", "TOTAL", "AUTOPROBE" };
        _cleanup_table_free_ Table *t = table_new(ELEMENTSOF(headers), headers);
        JsonWriter w;
        bool any = false;
        int r;

        if (!t)
                return -ENOMEM;
        if (arg_json) {
                json_init(&w, stdout, true);
                json_begin_array(&w);
        }
        for (size_t i = 0; i < h->n_devices; i++) {
                const HdDevice *d = h->devices[i];
                _cleanup_free_ VfRow *vfs = NULL;
                size_t n_vfs = 0;
                bool autoprobe;

                if (!d->is_sriov_pf || (only && !streq(d->path, only)))
                        continue;
                any = true;
                (void) read_autoprobe(bus, d->path, &autoprobe);
                if (arg_json) {
                        json_begin_object(&w);
                        json_kv_string(&w, "address", d->address);
                        json_kv_uint(&w, "num_vfs", d->num_vfs);
                        json_kv_uint(&w, "total_vfs", d->total_vfs);
                        json_kv_bool(&w, "drivers_autoprobe", autoprobe);
                        json_key(&w, "virtual_functions");
                        json_begin_array(&w);
                        for (char **vf = d->virtual_functions; vf && *vf; vf++) {
                                const HdDevice *v = hd_host_find_device(h, *vf);

                                json_string(&w, v ? v->address : *vf);
                        }
                        json_end_array(&w);
                        r = read_vf_config(bus, d->path, &vfs, &n_vfs);
                        if (r < 0)
                                return r;
                        print_vfs_json(&w, vfs, n_vfs);
                        json_end_object(&w);
                        continue;
                }
                r = print_pf_text(d, autoprobe, t);
                if (r < 0)
                        return r;
        }
        if (only && !any) {
                log_error("%s is not an SR-IOV physical function.", only);
                return -ENOENT;
        }
        if (arg_json) {
                json_end_array(&w);
                return json_finish(&w);
        }
        if (!any)
                printf("No SR-IOV physical functions.\n");
        else {
                r = table_print(t, stdout, arg_legend, on_tty() ? terminal_columns() : 0);
                if (r < 0)
                        return r;
        }
        /* One PF asked for: its VFs' settings too. */
        if (only && any && !arg_json) {
                _cleanup_free_ VfRow *vfs = NULL;
                size_t n_vfs = 0;

                r = read_vf_config(bus, only, &vfs, &n_vfs);
                if (r >= 0 && n_vfs > 0)
                        r = print_vfs_text(vfs, n_vfs);
                if (r < 0)
                        return r;
        }
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -EIO;
}

static int verb_sriov_show(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        _cleanup_free_ char *path = NULL;

        if (hd_bus_open(&bus) < 0)
                return EXIT_FAILURE;
        if (argc > 1 && resolve_device(bus, argv[1], &path) < 0)
                return EXIT_FAILURE;
        if (hd_host_fetch(bus, &h) < 0)
                return EXIT_FAILURE;
        return output_result(show(bus, h, path));
}

static int parse_u32(const char *s, uint32_t *ret) {
        unsigned long v;
        char *end;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (!*s || *end || errno || v > UINT32_MAX || s[0] == '-' || s[0] == '+')
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

static int parse_count(const char *s, uint32_t *ret) {
        if (parse_u32(s, ret) < 0) {
                log_error("'%s' is not a number of VFs.", s);
                return -EINVAL;
        }
        return 0;
}

static int verb_sriov_set_vfs(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *path = NULL;
        uint32_t count;
        int r;

        if (parse_count(argv[2], &count) < 0)
                return EXIT_USAGE;
        if (hd_bus_open(&bus) < 0 || resolve_device(bus, argv[1], &path) < 0)
                return EXIT_FAILURE;
        if (hd_new_call(bus, &m, path, HOSTDEV_SRIOV_PF_INTERFACE, "SetNumVfs", arg_ask_password) < 0)
                return EXIT_FAILURE;
        r = sd_bus_message_append(m, "u", count);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && arg_no_autoprobe)
                r = sd_bus_message_append(m, "{sv}", "autoprobe", "b", 0);
        if (r >= 0 && arg_override_critical)
                r = sd_bus_message_append(m, "{sv}", "override-critical", "b", 1);
        if (r >= 0)
                r = hd_close_options(m, arg_ask_password);
        if (r < 0)
                return exit_message_error(r);
        if (hd_call(bus, m, &reply) < 0)
                return EXIT_FAILURE;
        if (!arg_json)
                printf("%s now has %" PRIu32 " VF%s.\n", argv[1], count, count == 1 ? "" : "s");
        return EXIT_SUCCESS;
}

/* The keys of set-vf and the D-Bus type of each. */
static const struct {
        const char *key;
        char type;
} vf_keys[] = {
        { "mac", 's' },       { "vlan", 'u' },        { "qos", 'u' },         { "trust", 'b' },
        { "spoofchk", 'b' },  { "link-state", 's' },  { "max-tx-rate", 'u' }, { "min-tx-rate", 'u' },
        { "persist", 'b' },
};

static int parse_switch(const char *s) {
        if (streq(s, "on") || streq(s, "yes") || streq(s, "true") || streq(s, "1"))
                return 1;
        if (streq(s, "off") || streq(s, "no") || streq(s, "false") || streq(s, "0"))
                return 0;
        return -EINVAL;
}

/* KEY=VALUE → one option of SetVfConfig. Values are checked by hostdevd;
 * here only their form. */
static int append_vf_setting(sd_bus_message *m, const char *arg) {
        _cleanup_free_ char *key = NULL;
        const char *eq = strchr(arg, '='), *value;
        uint32_t u;
        int b;

        if (!eq || eq == arg) {
                log_error("'%s' is not KEY=VALUE (mac=, vlan=, qos=, trust=, spoofchk=, link-state=, "
                          "max-tx-rate=, min-tx-rate=, persist=).", arg);
                return -EINVAL;
        }
        key = strndup(arg, (size_t) (eq - arg));
        if (!key)
                return -ENOMEM;
        value = eq + 1;
        for (size_t i = 0; i < ELEMENTSOF(vf_keys); i++) {
                if (!streq(key, vf_keys[i].key))
                        continue;
                switch (vf_keys[i].type) {
                case 's':
                        return sd_bus_message_append(m, "{sv}", key, "s", value);
                case 'u':
                        if (parse_u32(value, &u) < 0) {
                                log_error("%s: '%s' is not a number.", key, value);
                                return -EINVAL;
                        }
                        return sd_bus_message_append(m, "{sv}", key, "u", u);
                default:
                        b = parse_switch(value);
                        if (b < 0) {
                                log_error("%s: '%s' is not on or off.", key, value);
                                return -EINVAL;
                        }
                        return sd_bus_message_append(m, "{sv}", key, "b", b);
                }
        }
        log_error("Unknown VF setting '%s': use mac, vlan, qos, trust, spoofchk, link-state, max-tx-rate, "
                  "min-tx-rate or persist.", key);
        return -EINVAL;
}

static int verb_sriov_set_vf(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *path = NULL;
        uint32_t index;
        int r;

        if (parse_u32(argv[2], &index) < 0) {
                log_error("'%s' is not a VF index.", argv[2]);
                return EXIT_USAGE;
        }
        if (hd_bus_open(&bus) < 0 || resolve_device(bus, argv[1], &path) < 0)
                return EXIT_FAILURE;
        if (hd_new_call(bus, &m, path, HOSTDEV_SRIOV_PF_INTERFACE, "SetVfConfig", arg_ask_password) < 0)
                return EXIT_FAILURE;
        r = sd_bus_message_append(m, "u", index);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (int i = 3; r >= 0 && i < argc; i++) {
                r = append_vf_setting(m, argv[i]);
                if (r == -EINVAL)
                        return EXIT_USAGE;
        }
        if (r >= 0)
                r = hd_close_options(m, arg_ask_password);
        if (r < 0)
                return exit_message_error(r);
        if (hd_call(bus, m, &reply) < 0)
                return EXIT_FAILURE;
        if (!arg_json)
                printf("VF %" PRIu32 " of %s set.\n", index, argv[1]);
        return EXIT_SUCCESS;
}

const Verb sriov_verbs[] = {
        { "show",    "[PF]",   0, 1, 0, verb_sriov_show,
          "Show SR-IOV physical functions and their VF counts" },
        { "set-vfs", "PF N",   2, 2, OPT_NO_AUTOPROBE | OPT_OVERRIDE_CRITICAL, verb_sriov_set_vfs,
          "Set the number of VFs of a PF (through 0); --no-autoprobe keeps new VFs without a driver" },
        { "set-vf",  "PF INDEX KEY=VALUE", 3, ARGS_MAX, 0, verb_sriov_set_vf,
          "Set a VF's mac=, vlan=, qos=, trust=, spoofchk=, link-state=, max-tx-rate=, min-tx-rate=" },
};
const size_t n_sriov_verbs = ELEMENTSOF(sriov_verbs);

int verb_sriov(int argc, char *argv[]) {
        if (argc < 2) {
                char *list_argv[] = { (char *) "show", NULL };
                return dispatch_verb(sriov_verbs, n_sriov_verbs, "sriov ", 1, list_argv);
        }
        return dispatch_verb(sriov_verbs, n_sriov_verbs, "sriov ", argc - 1, argv + 1);
}
