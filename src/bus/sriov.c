/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus.h"
#include "options.h"
#include "polkit.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"

/* org.hostdev1.SriovPhysicalFunction, on every PF. Its objects' userdata
 * is the Device (device.c's find callback); the Bus is the userdata of
 * the fallback vtable's slot. */

#define BUS_ERROR_CRITICAL_DEVICE "org.hostdev1.Error.CriticalDevice"

static int get_total_vfs(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Device *d = userdata;
        const uint32_t v = d->pci.total_vfs;

        return sd_bus_message_append_basic(reply, 'u', &v);
}

static int get_num_vfs(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Device *d = userdata;
        const uint32_t v = d->pci.num_vfs;

        return sd_bus_message_append_basic(reply, 'u', &v);
}

static int get_drivers_autoprobe(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Device *d = userdata;
        const int v = d->pci.drivers_autoprobe;

        return sd_bus_message_append_basic(reply, 'b', &v);
}

static int append_vf_paths(sd_bus_message *reply, const Device *pf) {
        int r = sd_bus_message_open_container(reply, 'a', "o");

        for (size_t i = 0; r >= 0 && pf && pf->pci.vfs && pf->pci.vfs[i]; i++) {
                _cleanup_free_ char *p = bus_device_path_of(DEVICE_PCI, pf->pci.vfs[i]);

                r = p ? sd_bus_message_append_basic(reply, 'o', p) : -ENOMEM;
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int get_virtual_functions(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return append_vf_paths(reply, userdata);
}

/* A SetNumVfs in flight: answered when the VFs exist or are gone. */
typedef struct SriovPending {
        Bus *bus;
        sd_bus_message *call;
        int autoprobe;          /* as asked; < 0 not given */
        struct SriovPending *next, *prev;
} SriovPending;

static void sriov_pending_free(SriovPending *p) {
        if (p->prev)
                p->prev->next = p->next;
        else
                p->bus->sriov_pending = p->next;
        if (p->next)
                p->next->prev = p->prev;
        sd_bus_message_unref(p->call);
        free(p);
}

void bus_sriov_free_all(Bus *b) {
        while (b->sriov_pending)
                sriov_pending_free(b->sriov_pending);
}

static int reply_vfs(sd_bus_message *m, const Device *pf) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = append_vf_paths(reply, pf);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static void on_num_vfs_done(void *userdata, const Plan *plan, int r, const char *error) {
        SriovPending *p = userdata;
        const Device *pf = inventory_get(&p->bus->daemon->inventory, plan->steps[0].address);

        if (r < 0)
                r = sd_bus_reply_method_errorf(p->call, BUS_ERROR_FAILED, "%s",
                                               error ?: "Setting the number of VFs failed.");
        else {
                log_info("%s: %s VFs (was %s).", plan->steps[0].address, plan->steps[0].to, plan->steps[0].from);
                /* Reapplied at start-up from now on. */
                if (pf && daemon_sriov_record(p->bus->daemon, pf, pf->pci.num_vfs, p->autoprobe) < 0)
                        log_warning("%s: cannot store the VF count; it will not be reapplied at start-up.",
                                    pf->address);
                r = reply_vfs(p->call, pf);
        }
        if (r < 0)
                log_debug_errno(r, "Cannot answer SetNumVfs: %m");
        sriov_pending_free(p);
}

/* Why the VF may not go away now, NULL when it may. Claims will hold VFs
 * too: their check belongs here. */
static const char *vf_in_use(Daemon *d, const char *vf) {
        if (prepared_find(&d->prepared, vf))
                return "is prepared for passthrough; release it first";
        return NULL;
}

static int check_vfs_free(Daemon *d, const Device *pf, unsigned count, sd_bus_error *error) {
        _cleanup_free_ const Device **devs = NULL;
        _cleanup_free_ char *msg = NULL;
        size_t n = 0;
        int r;

        /* Any change of a non-zero count goes through 0: every VF goes. */
        if (pf->pci.num_vfs == 0 || count == pf->pci.num_vfs)
                return 0;
        devs = calloc(strv_length(pf->pci.vfs) + 1, sizeof(Device *));
        if (!devs)
                return -ENOMEM;
        devs[n++] = pf;
        for (size_t i = 0; pf->pci.vfs && pf->pci.vfs[i]; i++) {
                const Device *vf = inventory_get(&d->inventory, pf->pci.vfs[i]);
                const char *why = vf_in_use(d, pf->pci.vfs[i]);

                if (why)
                        return sd_bus_error_setf(error, BUS_ERROR_BUSY,
                                                 "VF %zu of %s (%s) would go away, but it %s.", i, pf->address,
                                                 pf->pci.vfs[i], why);
                if (vf)
                        devs[n++] = vf;
        }
        r = daemon_change_check_busy(d, NULL, devs, n, &msg);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY, "%s", strempty(msg));
        return 0;
}

static int checks_for_num_vfs(PolkitChecks *c, const Device *pf, unsigned count, bool critical) {
        _cleanup_strv_free_ char **details = NULL;
        _cleanup_free_ char *msg = NULL;
        char num[16];
        int r;

        snprintf(num, sizeof num, "%u", count);
        if (asprintf(&msg, "Authentication is required to set the number of SR-IOV virtual functions of %s "
                     "to %u.", pf->address, count) < 0 ||
            polkit_details_for_device(&details, pf) < 0 || polkit_details_add(&details, "num-vfs", num) < 0 ||
            polkit_details_add(&details, "polkit.message", msg) < 0)
                return -ENOMEM;
        r = polkit_checks_add(c, NULL, TAKE_PTR(details));
        if (r < 0 || !critical)
                return r;
        free(msg);
        if (asprintf(&msg, "Authentication is required to change the VFs of %s, which the host itself needs; "
                     "this may make the host unusable.", pf->address) < 0 ||
            polkit_details_for_device(&details, pf) < 0 || polkit_details_add(&details, "num-vfs", num) < 0 ||
            polkit_details_add(&details, "polkit.message", msg) < 0)
                return -ENOMEM;
        return polkit_checks_add(c, ACTION_OVERRIDE_CRITICAL, TAKE_PTR(details));
}

static int method_set_num_vfs(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = sd_bus_slot_get_userdata(sd_bus_get_current_slot(sd_bus_message_get_bus(m)));
        const Device *pf = userdata;
        Daemon *d = b->daemon;
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        _cleanup_free_ char *msg = NULL;
        bool autoprobe = true, autoprobe_set = false, override = false, no_interaction = false;
        const OptionSpec spec[] = {
                { "autoprobe", OPTION_BOOLEAN, &autoprobe, &autoprobe_set },
                { "override-critical", OPTION_BOOLEAN, &override },
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
        };
        SriovPending *p;
        uint32_t count;
        int r;

        r = sd_bus_message_read(m, "u", &count);
        if (r < 0)
                return r;
        r = bus_read_options(m, spec, ELEMENTSOF(spec), RESOURCE_PCI, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        if (count > pf->pci.total_vfs)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "%s supports at most %u VFs (TotalVfs); %u asked.", pf->address,
                                         pf->pci.total_vfs, count);
        r = check_vfs_free(d, pf, count, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        r = daemon_change_check_busy(d, NULL, &pf, 1, &msg);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY, "%s", strempty(msg));
        if (pf->critical && !override)
                return sd_bus_error_setf(error, BUS_ERROR_CRITICAL_DEVICE,
                                         "The host needs %s (%s). Pass override-critical to change its VFs "
                                         "anyway.", pf->address, strempty(pf->critical[1]));
        /* Nothing to do: no polkit. */
        if (count == pf->pci.num_vfs && strv_length(pf->pci.vfs) == count &&
            (!autoprobe_set || autoprobe == pf->pci.drivers_autoprobe))
                return reply_vfs(m, pf);

        r = checks_for_num_vfs(&checks, pf, count, !!pf->critical);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        p = calloc(1, sizeof(SriovPending));
        if (!p)
                return -ENOMEM;
        *p = (SriovPending) { .bus = b, .call = sd_bus_message_ref(m), .autoprobe = autoprobe_set ? autoprobe : -1,
                              .next = b->sriov_pending };
        if (p->next)
                p->next->prev = p;
        b->sriov_pending = p;
        free(msg);
        msg = NULL;
        r = daemon_sriov_set_num_vfs(d, pf, count, autoprobe_set ? autoprobe : -1, sd_bus_message_get_sender(m),
                                     on_num_vfs_done, p, &msg);
        if (r < 0) {
                sriov_pending_free(p);
                if (r == -ENOMEM)
                        return r;
                return sd_bus_error_setf(error, r == -EBUSY ? BUS_ERROR_BUSY : BUS_ERROR_FAILED, "%s",
                                         msg ?: "Cannot start the change.");
        }
        return 1;
}

/* VfConfig: one a{sv} per VF, the kernel's values completed with the
 * stored ones. */
static int append_vf(sd_bus_message *reply, const VfSettings *s) {
        char mac[18];
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "index", "u", (uint32_t) s->index);
        if (r >= 0 && s->has_mac)
                r = sd_bus_message_append(reply, "{sv}", "mac", "s", vf_mac_format(s->mac, mac));
        if (r >= 0 && s->vlan >= 0)
                r = sd_bus_message_append(reply, "{sv}", "vlan", "u", (uint32_t) s->vlan);
        if (r >= 0 && s->qos >= 0)
                r = sd_bus_message_append(reply, "{sv}", "qos", "u", (uint32_t) s->qos);
        if (r >= 0 && s->trust >= 0)
                r = sd_bus_message_append(reply, "{sv}", "trust", "b", s->trust);
        if (r >= 0 && s->spoofchk >= 0)
                r = sd_bus_message_append(reply, "{sv}", "spoofchk", "b", s->spoofchk);
        if (r >= 0 && s->link_state != VF_LINK_UNSET)
                r = sd_bus_message_append(reply, "{sv}", "link-state", "s", vf_link_state_to_string(s->link_state));
        if (r >= 0 && s->max_tx_rate >= 0)
                r = sd_bus_message_append(reply, "{sv}", "max-tx-rate", "u", (uint32_t) s->max_tx_rate);
        if (r >= 0 && s->min_tx_rate >= 0)
                r = sd_bus_message_append(reply, "{sv}", "min-tx-rate", "u", (uint32_t) s->min_tx_rate);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int get_vf_config(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        sd_bus_slot *slot = sd_bus_get_current_slot(bus);
        Bus *b = slot ? sd_bus_slot_get_userdata(slot) : NULL;
        const Device *pf = userdata;
        _cleanup_free_ VfSettings *vfs = NULL;
        size_t n = 0;
        int r;

        if (b)
                r = daemon_sriov_vf_config(b->daemon, pf, &vfs, &n);
        else {
                /* Outside a call (InterfacesAdded of a PF that just
                 * appeared, which has no VFs yet): the indexes only. */
                n = pf->pci.num_vfs;
                vfs = calloc(n ?: 1, sizeof(VfSettings));
                r = vfs ? 0 : -ENOMEM;
                for (size_t i = 0; r >= 0 && i < n; i++)
                        vf_settings_init(&vfs[i], (unsigned) i);
        }
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = append_vf(reply, &vfs[i]);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* SetVfConfig's options: the settings, persist and no_interaction. */
static int read_vf_options(sd_bus_message *m, VfSettings *s, bool *persist, bool *no_interaction,
                           sd_bus_error *error) {
        char ebuf[48];
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                _cleanup_free_ char *err = NULL;
                const char *key, *contents, *str;
                uint32_t u;
                int bv;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
#define WANT(sig)                                                                                              \
        if (!streq(contents, sig))                                                                             \
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,                                    \
                                         "Option '%s' must be of type '%s', not '%s'.", key, sig, contents);
                if ((streq(key, "mac") || streq(key, "link-state"))) {
                        WANT("s");
                        r = sd_bus_message_read(m, "v", "s", &str);
                        if (r < 0)
                                return r;
                        if (streq(key, "mac") && vf_mac_parse(str, s->mac, &err) < 0)
                                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "%s", strempty(err));
                        if (streq(key, "mac"))
                                s->has_mac = true;
                        else if ((s->link_state = vf_link_state_from_string(str)) == VF_LINK_UNSET)
                                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                                         "link-state '%s' is not auto, enable or disable.",
                                                         bus_excerpt(str, ebuf));
                } else if ((streq(key, "vlan") || streq(key, "qos") || streq(key, "max-tx-rate") ||
                           streq(key, "min-tx-rate"))) {
                        WANT("u");
                        r = sd_bus_message_read(m, "v", "u", &u);
                        if (r < 0)
                                return r;
                        if (streq(key, "vlan"))
                                s->vlan = u > VF_VLAN_MAX ? VF_VLAN_MAX + 1 : (int) u;
                        else if (streq(key, "qos"))
                                s->qos = u > VF_QOS_MAX ? VF_QOS_MAX + 1 : (int) u;
                        else if (streq(key, "max-tx-rate"))
                                s->max_tx_rate = u;
                        else
                                s->min_tx_rate = u;
                } else if ((streq(key, "trust") || streq(key, "spoofchk") || streq(key, "persist") ||
                           streq(key, "auth.no_user_interaction"))) {
                        WANT("b");
                        r = sd_bus_message_read(m, "v", "b", &bv);
                        if (r < 0)
                                return r;
                        if (streq(key, "trust"))
                                s->trust = !!bv;
                        else if (streq(key, "spoofchk"))
                                s->spoofchk = !!bv;
                        else if (streq(key, "persist"))
                                *persist = bv;
                        else
                                *no_interaction = bv;
                } else
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Unknown option '%s'.",
                                                 bus_excerpt(key, ebuf));
#undef WANT
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int checks_for_vf(PolkitChecks *c, const Device *pf, unsigned index) {
        _cleanup_strv_free_ char **details = NULL;
        _cleanup_free_ char *msg = NULL;
        char num[16];

        snprintf(num, sizeof num, "%u", index);
        if (asprintf(&msg, "Authentication is required to change the settings of SR-IOV virtual function %u "
                     "of %s.", index, pf->address) < 0 ||
            polkit_details_for_device(&details, pf) < 0 || polkit_details_add(&details, "vf", num) < 0 ||
            polkit_details_add(&details, "polkit.message", msg) < 0)
                return -ENOMEM;
        return polkit_checks_add(c, NULL, TAKE_PTR(details));
}

static const char *vf_error_name(int r) {
        switch (r) {
        case -EINVAL:
                return BUS_ERROR_INVALID_ARGUMENT;
        case -EOPNOTSUPP:
                return BUS_ERROR_NOT_SUPPORTED;
        case -EBUSY:
                return BUS_ERROR_BUSY;
        default:
                return BUS_ERROR_FAILED;
        }
}

static int method_set_vf_config(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = sd_bus_slot_get_userdata(sd_bus_get_current_slot(sd_bus_message_get_bus(m)));
        const Device *pf = userdata;
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        _cleanup_free_ char *msg = NULL;
        bool persist = true, no_interaction = false;
        VfSettings s;
        uint32_t index;
        int r;

        r = sd_bus_message_read(m, "u", &index);
        if (r < 0)
                return r;
        vf_settings_init(&s, index);
        r = read_vf_options(m, &s, &persist, &no_interaction, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        /* Checked before polkit: bad input is refused the same for everyone. */
        if (vf_settings_empty(&s))
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "Nothing to set: give mac, vlan, qos, trust, spoofchk, link-state, "
                                         "max-tx-rate or min-tx-rate.");
        if (vf_settings_validate(&s, pf->pci.num_vfs, &msg) < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "%s", strempty(msg));

        r = checks_for_vf(&checks, pf, index);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        free(msg);
        msg = NULL;
        r = daemon_sriov_set_vf_config(b->daemon, pf, &s, persist, &msg);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, vf_error_name(r), "%s", msg ?: "Cannot set the VF.");
        return sd_bus_reply_method_return(m, NULL);
}

#define CONST SD_BUS_VTABLE_PROPERTY_CONST
#define CHANGE SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE

const sd_bus_vtable sriov_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("TotalVfs", "u", get_total_vfs, 0, CONST),
        SD_BUS_PROPERTY("NumVfs", "u", get_num_vfs, 0, CHANGE),
        SD_BUS_PROPERTY("VirtualFunctions", "ao", get_virtual_functions, 0, CHANGE),
        SD_BUS_PROPERTY("DriversAutoprobe", "b", get_drivers_autoprobe, 0, CHANGE),
        SD_BUS_PROPERTY("VfConfig", "aa{sv}", get_vf_config, 0, CHANGE),
        SD_BUS_METHOD_WITH_ARGS("SetNumVfs", SD_BUS_ARGS("u", count, "a{sv}", options),
                                SD_BUS_RESULT("ao", virtual_functions), method_set_num_vfs,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetVfConfig", SD_BUS_ARGS("u", index, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_set_vf_config, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
