/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "shared/text.h"
#include "usb-prepared.h"


static void usb_prepared_done(UsbPrepared *p) {
        free(p->address);
        free(p->serial);
        strv_free(p->interfaces);
        *p = (UsbPrepared) {};
}

void usb_prepared_set_done(UsbPreparedSet *s) {
        for (size_t i = 0; i < s->n_items; i++)
                usb_prepared_done(&s->items[i]);
        free(s->items);
        *s = (UsbPreparedSet) {};
}

UsbPrepared *usb_prepared_find(const UsbPreparedSet *s, const char *address) {
        for (size_t i = 0; i < s->n_items; i++)
                if (streq(s->items[i].address, address))
                        return &s->items[i];
        return NULL;
}

UsbPrepared *usb_prepared_find_interface(const UsbPreparedSet *s, const char *interface) {
        _cleanup_free_ char *device = NULL;

        if (usb_interface_parse(interface, &device) < 0)
                return NULL;
        return usb_prepared_find(s, device);
}

static char **copy_pairs(char **l) {
        char **c = calloc(strv_length(l) + 1, sizeof(char *));

        for (size_t i = 0; c && l && l[i]; i++)
                if (!(c[i] = strdup(l[i])))
                        return strv_free(c);
        return c;
}

int usb_prepared_add_record(UsbPreparedSet *s, const UsbPrepared *src) {
        UsbPrepared *t, p = {};

        if (usb_prepared_find(s, src->address))
                return -EEXIST;
        t = realloc(s->items, (s->n_items + 1) * sizeof(UsbPrepared));
        if (!t)
                return -ENOMEM;
        s->items = t;
        p.address = strdup(src->address);
        p.serial = src->serial ? strdup(src->serial) : NULL;
        p.vendor_id = src->vendor_id;
        p.product_id = src->product_id;
        p.interfaces = copy_pairs(src->interfaces);
        if (!p.address || (src->serial && !p.serial) || !p.interfaces) {
                usb_prepared_done(&p);
                return -ENOMEM;
        }
        s->items[s->n_items++] = p;
        return 0;
}

int usb_prepared_add(UsbPreparedSet *s, const Device *d) {
        _cleanup_strv_free_ char **interfaces = NULL;
        UsbPrepared p = {
                .address = d->address,
                .serial = d->serial,
                .vendor_id = d->vendor_id,
                .product_id = d->product_id,
        };

        for (char **i = d->usb.interfaces; i && i[0] && i[1] && i[2]; i += 3)
                if (strv_extend(&interfaces, i[0]) < 0 || strv_extend(&interfaces, i[2]) < 0)
                        return -ENOMEM;
        p.interfaces = interfaces;
        return usb_prepared_add_record(s, &p);
}

int usb_prepared_remove(UsbPreparedSet *s, const char *address) {
        UsbPrepared *p = usb_prepared_find(s, address);

        if (!p)
                return -ENOENT;
        usb_prepared_done(p);
        memmove(p, p + 1, (size_t) (s->items + s->n_items - p - 1) * sizeof(UsbPrepared));
        s->n_items--;
        return 0;
}

const char *usb_prepared_driver(const UsbPrepared *p, const char *interface) {
        for (char **i = p->interfaces; i && i[0] && i[1]; i += 2)
                if (streq(i[0], interface))
                        return i[1];
        return NULL;
}

int usb_prepared_note_interface(UsbPrepared *p, const char *interface, const char *driver) {
        size_t n;

        if (usb_prepared_driver(p, interface))
                return 0;
        if (strv_extend(&p->interfaces, interface) < 0)
                return -ENOMEM;
        if (strv_extend(&p->interfaces, strempty(driver)) < 0) {
                /* Keep pairs whole. */
                n = strv_length(p->interfaces);
                free(p->interfaces[n - 1]);
                p->interfaces[n - 1] = NULL;
                return -ENOMEM;
        }
        return 1;
}

Device *usb_prepared_locate(const UsbPrepared *p, const Inventory *inv) {
        Device *d;
        size_t i = 0;

        if (p->serial) {
                while (hashmap_iterate(inv->devices, &i, (void **) &d, NULL))
                        if (d->kind == DEVICE_USB && streq_ptr(d->serial, p->serial) &&
                            d->vendor_id == p->vendor_id && d->product_id == p->product_id)
                                return d;
                return NULL;
        }
        d = inventory_get(inv, p->address);
        if (d && d->kind == DEVICE_USB && d->vendor_id == p->vendor_id && d->product_id == p->product_id)
                return d;
        return NULL;
}

static int add_step(Plan *p, const char *address, const char *from, const char *to, const char *reason) {
        PlanStep *t = realloc(p->steps, (p->n_steps + 1) * sizeof(PlanStep)), *s;

        if (!t)
                return -ENOMEM;
        p->steps = t;
        s = &p->steps[p->n_steps++];
        *s = (PlanStep) { strdup(address), strdup(from), strdup(to), strdup(reason) };
        if (!s->address || !s->from || !s->to || !s->reason)
                return -ENOMEM;
        return 0;
}

static int detach_steps(const Device *d, const char *only, Plan *p) {
        _cleanup_free_ char *reason = NULL;
        int r;

        if (asprintf(&reason, "interface of %s, detached from the host", d->address) < 0)
                return -ENOMEM;
        for (char **i = d->usb.interfaces; i && i[0] && i[1] && i[2]; i += 3) {
                if (isempty(i[2]) || (only && !streq(i[0], only)))
                        continue;
                r = add_step(p, i[0], i[2], "", reason);
                if (r < 0)
                        return r;
        }
        return 0;
}

int usb_plan_detach(const Device *d, Plan *ret, char **ret_error) {
        Plan p = {};
        int r;

        if (d->kind != DEVICE_USB)
                return error_setf(ret_error, "%s is not a USB device.", d->address);
        if (device_is_usb_hub(d))
                return error_setf(ret_error, "%s is a USB hub: hubs stay with the host, pass the devices "
                                  "behind it instead.", d->address);
        r = detach_steps(d, NULL, &p);
        if (r < 0) {
                plan_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

int usb_plan_detach_interface(const Device *d, const char *interface, Plan *ret) {
        Plan p = {};
        int r = detach_steps(d, interface, &p);

        if (r < 0) {
                plan_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

int usb_plan_attach(const Device *d, const UsbPrepared *rec, Plan *ret) {
        _cleanup_free_ char *reason = NULL;
        Plan p = {};
        int r = 0;

        if (asprintf(&reason, "interface of %s, given back to the host", d->address) < 0)
                return -ENOMEM;
        for (char **i = d->usb.interfaces; r >= 0 && i && i[0] && i[1] && i[2]; i += 3) {
                const char *had = usb_prepared_driver(rec, i[0]);

                /* Interfaces that had no driver, or have theirs again, stay. */
                if (isempty(had) || streq(i[2], had))
                        continue;
                r = add_step(&p, i[0], i[2], had, reason);
        }
        if (r < 0) {
                plan_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}
