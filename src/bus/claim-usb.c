/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "claim-usb.h"
#include "claim.h"
#include "emit.h"
#include "model/usb-member.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"

int bus_claim_plan(Bus *b, const Device *const *devs, size_t n, bool prepare, Plan *ret, bool *ret_usb,
                   bool *ret_records, char **ret_error) {
        Daemon *d = b->daemon;
        bool usb = n > 0 && devs[0]->kind == DEVICE_USB;

        *ret_usb = usb;
        *ret_records = false;
        if (usb)
                return daemon_usb_plan(d, devs, n, prepare, ret, ret_records, ret_error);
        return prepare ? plan_prepare(&d->inventory, devs, n, ret, ret_error)
                       : plan_release(&d->inventory, &d->prepared, devs, n, ret, ret_error);
}

int bus_claim_change_start(Bus *b, const Device *const *devs, size_t n, bool usb, bool prepare, Plan *plan,
                           const char *requester, ChangeDone done, void *userdata, char **ret_error) {
        if (usb)
                return daemon_usb_change_start(b->daemon, devs, n, prepare, plan, requester, done, userdata,
                                               ret_error);
        return daemon_change_start(b->daemon, prepare ? CHANGE_PREPARE : CHANGE_RELEASE, plan, requester, done,
                                   userdata, ret_error);
}

void bus_claim_usb_forget_missing(Bus *b, const Claim *c) {
        _cleanup_free_ const ClaimMember **missing = NULL;
        size_t n = 0;

        if (claim_missing(c, &b->daemon->inventory, &missing, &n) < 0)
                return (void) log_oom();
        for (size_t i = 0; i < n; i++)
                if (missing[i]->identity && daemon_usb_forget(b->daemon, missing[i]->addresses[0]) < 0)
                        log_warning("Claim %s: cannot drop the record of %s.", c->id, missing[i]->addresses[0]);
}

/* The object path a member's device has, or had before it went away. */
static char *member_path(const ClaimMember *m) {
        _cleanup_free_ char *canonical = NULL;
        DeviceKind kind;

        if (!m->addresses || !m->addresses[0] || address_parse(m->addresses[0], &kind, &canonical) < 0)
                return NULL;
        return bus_device_path_of(kind, canonical);
}

int bus_claim_get_missing(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const Claim *c = bus_claim_from_path(b, path);
        _cleanup_free_ const ClaimMember **missing = NULL;
        size_t n = 0;
        int r;

        if (!c)
                return -ENOENT;
        r = claim_missing(c, &b->daemon->inventory, &missing, &n);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "o");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                _cleanup_free_ char *p = member_path(missing[i]);

                r = p ? sd_bus_message_append(reply, "o", p) : -ENOMEM;
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* ClaimDegraded(o claim, as missing): how people know the missing devices. */
static int emit_degraded(Bus *b, const Claim *c, const char *path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ const ClaimMember **missing = NULL;
        _cleanup_strv_free_ char **names = calloc(1, sizeof(char *));
        size_t n = 0;
        int r;

        if (!names)
                return -ENOMEM;
        r = claim_missing(c, &b->daemon->inventory, &missing, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *s = usb_identity_display(missing[i]->identity, missing[i]->addresses[0]);

                if (!s || strv_extend(&names, s) < 0)
                        return -ENOMEM;
        }
        log_warning("Claim %s of '%s' is missing %zu device(s): %s.", c->id, c->consumer, n,
                    names[0] ? names[0] : "-");
        r = sd_bus_message_new_signal(b->bus, &m, path, "org.hostdev1.Claim", "ClaimDegraded");
        if (r >= 0)
                r = sd_bus_message_append(m, "o", path);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, names);
        if (r >= 0)
                r = sd_bus_send(b->bus, m, NULL);
        return r;
}

/* Available and Claimed of the claim's group, and the device's State. */
static void emit_counts(Bus *b, const Claim *c, const Device *dev) {
        const ResourceGroup *g = resource_set_find_id(&b->daemon->resources, c->resource_group);
        _cleanup_free_ char *gpath = g ? bus_resource_group_path(g) : NULL;
        char buf[BUS_DEVICE_PATH_MAX];

        if (gpath)
                (void) emitter_changed(b->emitter, gpath, OBJECT_RESOURCE_GROUP, RG_FIELD_DEVICES);
        if (dev)
                (void) emitter_changed(b->emitter, bus_device_path(dev, buf), OBJECT_DEVICE, DEVICE_FIELD_STATE);
        daemon_schedule_flush(b->daemon);
}

static const ClaimMember *member_at(const Claim *c, const char *address) {
        for (size_t i = 0; i < c->n_members; i++)
                for (char **a = c->members[i].addresses; a && *a; a++)
                        if (streq(*a, address))
                                return c->members + i;
        return NULL;
}

void bus_claim_usb_removed(Bus *b, const Device *dev) {
        const Claim *c = claim_set_find_device(&b->daemon->claims, dev->address);
        const ClaimMember *m = c ? member_at(c, dev->address) : NULL;
        _cleanup_free_ char *path = NULL;

        if (!m || dev->kind != DEVICE_USB)
                return;
        /* Another device at the member's port went; the member was missing already. */
        if (m->identity && !usb_identity_matches(m->identity, dev->address, dev))
                return;
        path = bus_claim_path(c);
        if (!path)
                return;
        (void) sd_bus_emit_properties_changed(b->bus, path, "org.hostdev1.Claim", "Missing", "Handles", NULL);
        if (emit_degraded(b, c, path) < 0)
                log_debug("Cannot send ClaimDegraded for %s.", c->id);
        emit_counts(b, c, NULL);
}

/* DeviceMoved(o claim, o old, o new). */
static void emit_moved(Bus *b, const char *path, const char *old_path, const char *new_path) {
        (void) sd_bus_emit_properties_changed(b->bus, path, "org.hostdev1.Claim", "Devices", "Missing", "Handles",
                                              NULL);
        (void) sd_bus_emit_signal(b->bus, path, "org.hostdev1.Claim", "DeviceMoved", "ooo", path, old_path,
                                  new_path);
}

/* Member i of c is at dev's address now. Returns 1 when it moved. */
static int move_member(Bus *b, Claim *c, size_t i, const Device *dev) {
        Daemon *d = b->daemon;
        _cleanup_free_ char *old = strdup(c->members[i].addresses[0]), *old_path = member_path(c->members + i),
                            *path = bus_claim_path(c);
        char buf[BUS_DEVICE_PATH_MAX];
        int r;

        if (!old || !old_path || !path)
                return -ENOMEM;
        r = claim_set_move(&d->claims, c, i, dev->address);
        if (r == -EBUSY) {
                log_warning("Claim %s: %s came back at %s, which another claim holds; it stays missing.", c->id,
                            old, dev->address);
                return 0;
        }
        if (r < 0)
                return r;
        r = daemon_save(d);
        if (r < 0)
                /* Kept in memory; the next save writes it, and a restart finds it again. */
                log_warning_errno(r, "Claim %s: cannot save the move of %s: %m", c->id, old);
        log_info("Claim %s: %s (serial %s) came back at %s, device number %u.", c->id, old, strempty(dev->serial),
                 dev->address, dev->usb.devnum);
        emit_moved(b, path, old_path, bus_device_path(dev, buf));
        emit_counts(b, c, dev);
        return 1;
}

void bus_claim_usb_added(Bus *b, const Device *dev) {
        Daemon *d = b->daemon;
        Claim *c;
        size_t i = 0;
        _cleanup_free_ char *path = NULL;

        if (dev->kind != DEVICE_USB)
                return;
        c = claim_set_find_device(&d->claims, dev->address);
        if (c) {
                const ClaimMember *m = member_at(c, dev->address);

                /* Back at its port (a new device number): new handles. */
                if (!m || (m->identity && !usb_identity_matches(m->identity, dev->address, dev)))
                        return;
                path = bus_claim_path(c);
                if (path)
                        (void) sd_bus_emit_properties_changed(b->bus, path, "org.hostdev1.Claim", "Missing",
                                                              "Handles", NULL);
                log_info("Claim %s: %s is back, device number %u.", c->id, dev->address, dev->usb.devnum);
                emit_counts(b, c, dev);
                return;
        }
        c = claim_set_find_moved(&d->claims, &d->inventory, dev, &i);
        if (c && move_member(b, c, i, dev) < 0)
                log_warning("Claim %s: cannot follow %s to %s.", c->id, c->members[i].addresses[0], dev->address);
}

/* A device of the inventory that is a missing member of some claim. */
static void reconcile_device(Bus *b, const Device *dev) {
        Daemon *d = b->daemon;
        size_t i = 0;
        Claim *c = claim_set_find_moved(&d->claims, &d->inventory, dev, &i);

        if (c && move_member(b, c, i, dev) < 0)
                log_warning("Claim %s: cannot follow %s to %s.", c->id, c->members[i].addresses[0], dev->address);
}

void bus_claim_usb_reconcile(Bus *b) {
        Daemon *d = b->daemon;
        Device *dev;
        size_t state = 0;

        while (hashmap_iterate(d->inventory.devices, &state, (void **) &dev, NULL))
                if (dev->kind == DEVICE_USB && dev->serial)
                        reconcile_device(b, dev);
        for (size_t i = 0; i < d->claims.n_claims; i++) {
                const Claim *c = d->claims.claims[i];
                _cleanup_free_ const ClaimMember **missing = NULL;
                _cleanup_free_ char *path = NULL;
                size_t n = 0;

                if (claim_missing(c, &d->inventory, &missing, &n) < 0 || n == 0 || !missing[0]->identity)
                        continue;
                path = bus_claim_path(c);
                if (path && emit_degraded(b, c, path) < 0)
                        log_debug("Cannot send ClaimDegraded for %s.", c->id);
        }
}
