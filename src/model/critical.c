/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "critical.h"
#include "shared/macro.h"
#include "shared/strv.h"

void critical_hits_free(CriticalHit *hits, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(hits[i].address);
                free(hits[i].code);
                free(hits[i].text);
        }
        free(hits);
}

int critical_hits_add(CriticalHit **hits, size_t *n, const char *address, const char *code, const char *text) {
        CriticalHit *t, h;

        for (size_t i = 0; i < *n; i++)
                if (streq((*hits)[i].address, address) && streq((*hits)[i].code, code) &&
                    streq((*hits)[i].text, text))
                        return 0;

        h = (CriticalHit) {
                .address = strdup(address),
                .code = strdup(code),
                .text = strdup(text),
        };
        t = realloc(*hits, (*n + 1) * sizeof(CriticalHit));
        if (!h.address || !h.code || !h.text || !t) {
                free(h.address);
                free(h.code);
                free(h.text);
                if (t)
                        *hits = t;
                return -ENOMEM;
        }
        t[(*n)++] = h;
        *hits = t;
        return 0;
}

void critical_map_free(Hashmap *m) {
        const char *key;
        char **reasons;
        size_t i = 0;

        /* Keys are owned too; the map never looks at them again once we
         * only free. */
        while (hashmap_iterate(m, &i, (void **) &reasons, &key)) {
                strv_free(reasons);
                free((char *) key);
        }
        hashmap_free(m);
}

/* Reasons of one device while they are collected; the key of the working
 * map points at address. */
typedef struct Acc {
        char *address;
        char **reasons;
} Acc;

static void acc_map_free(Hashmap *m) {
        Acc *a;
        size_t i = 0;

        while (hashmap_iterate(m, &i, (void **) &a, NULL)) {
                free(a->address);
                strv_free(a->reasons);
                free(a);
        }
        hashmap_free(m);
}

static Acc *acc_get(Hashmap *m, const char *address) {
        Acc *a = hashmap_get(m, address);

        if (a)
                return a;
        a = calloc(1, sizeof(Acc));
        if (!a)
                return NULL;
        a->address = strdup(address);
        if (!a->address || hashmap_put(m, a->address, a) < 0) {
                free(a->address);
                free(a);
                return NULL;
        }
        return a;
}

/* Appends the pair unless this device already has it. */
static int add_reason(Hashmap *m, const char *address, const char *code, const char *text) {
        Acc *a = acc_get(m, address);
        size_t n;

        if (!a)
                return -ENOMEM;
        n = strv_length(a->reasons);
        for (size_t i = 0; i + 1 < n; i += 2)
                if (streq(a->reasons[i], code) && streq(a->reasons[i + 1], text))
                        return 0;
        if (strv_extend(&a->reasons, code) < 0)
                return -ENOMEM;
        if (strv_extend(&a->reasons, text) < 0) {
                /* Keep pairs whole. */
                free(a->reasons[n]);
                a->reasons[n] = NULL;
                return -ENOMEM;
        }
        return 0;
}

static const char *bridge_text(uint32_t class) {
        switch ((class >> 8) & 0xff) {
        case 0x00: return "is a host bridge";
        case 0x01: return "is an ISA bridge";
        case 0x02: return "is an EISA bridge";
        case 0x03: return "is a MicroChannel bridge";
        case 0x04: return "is a PCI bridge";
        case 0x05: return "is a PCMCIA bridge";
        case 0x06: return "is a NuBus bridge";
        case 0x07: return "is a CardBus bridge";
        case 0x08: return "is a RACEway bridge";
        case 0x09: return "is a semi-transparent PCI bridge";
        case 0x0a: return "is an InfiniBand to PCI host bridge";
        default:   return "is a bridge";
        }
}

static bool is_bridge_class(uint32_t class) {
        return (class >> 16) == 0x06;
}

/* A bridge the kernel lets stay with the host while the rest of its group
 * goes to VFIO (pcieport is on VFIO's list of allowed drivers). */
static bool is_pci_to_pci_bridge(uint32_t class) {
        return (class >> 8) == 0x0604 || (class >> 8) == 0x0609;
}

/* The first reason that makes the device's group critical, or NULL. */
static const char *group_reason(const Device *d, const Acc *a) {
        if (!a)
                return NULL;
        for (size_t i = 0; a->reasons && a->reasons[i] && a->reasons[i + 1]; i += 2) {
                if (streq(a->reasons[i], CRITICAL_BRIDGE) && is_pci_to_pci_bridge(d->pci.class))
                        continue;
                return a->reasons[i + 1];
        }
        return NULL;
}

/* A USB device with a boot-protocol keyboard interface (HID class 03,
 * subclass 01 boot, protocol 01 keyboard): what the firmware and every
 * USB keyboard offer, whether a driver holds it now or not. */
static bool usb_is_keyboard(const Device *d) {
        for (char **i = d->usb.interfaces; i && i[0] && i[1] && i[2]; i += 3)
                if (streq(i[1], "03/01/01"))
                        return true;
        return false;
}

/* The only keyboard: without it nobody types at the console. */
static int add_usb_keyboard(const Inventory *inv, Hashmap *acc) {
        const Device *d, *keyboard = NULL;
        size_t i = 0, n = 0;

        while (hashmap_iterate(inv->devices, &i, (void **) &d, NULL))
                if (d->kind == DEVICE_USB && usb_is_keyboard(d)) {
                        keyboard = d;
                        n++;
                }
        if (n != 1)
                return 0;
        return add_reason(acc, keyboard->address, CRITICAL_ONLY_KEYBOARD, "is the host's only keyboard");
}

static int add_peers(const Inventory *inv, Hashmap *acc, Hashmap *peers) {
        for (size_t g = 0; g < inv->n_groups_alloc; g++) {
                const IommuGroup *group = inv->groups[g];

                if (!group)
                        continue;
                for (size_t i = 0; i < group->n_members; i++) {
                        const Device *c = group->members[i];
                        const char *why = group_reason(c, hashmap_get(acc, c->address));

                        if (!why)
                                continue;
                        for (size_t j = 0; j < group->n_members; j++) {
                                _cleanup_free_ char *text = NULL;

                                if (j == i)
                                        continue;
                                if (asprintf(&text, "shares IOMMU group %u with %s (%s)",
                                             group->number, c->address, why) < 0)
                                        return -ENOMEM;
                                /* Collected apart, so that a reason added here
                                 * never makes a further peer critical. */
                                if (add_reason(peers, group->members[j]->address, CRITICAL_IOMMU_PEER, text) < 0)
                                        return -ENOMEM;
                        }
                }
        }
        return 0;
}

int critical_compute(const Inventory *inv, const CriticalHit *hits, size_t n, Hashmap **ret) {
        Hashmap *acc = hashmap_new(), *peers = hashmap_new(), *result = NULL;
        const Device *d;
        Acc *a;
        size_t i;
        int r = -ENOMEM;

        if (!acc || !peers)
                goto finish;

        for (i = 0; i < n; i++) {
                if (!inventory_get(inv, hits[i].address))
                        continue;
                if (add_reason(acc, hits[i].address, hits[i].code, hits[i].text) < 0)
                        goto finish;
        }

        i = 0;
        while (hashmap_iterate(inv->devices, &i, (void **) &d, NULL)) {
                if (d->kind != DEVICE_PCI)
                        continue;
                if (d->pci.boot_vga &&
                    add_reason(acc, d->address, CRITICAL_BOOT_VGA, "is the boot VGA device") < 0)
                        goto finish;
                if (is_bridge_class(d->pci.class) &&
                    add_reason(acc, d->address, CRITICAL_BRIDGE, bridge_text(d->pci.class)) < 0)
                        goto finish;
        }

        if (add_usb_keyboard(inv, acc) < 0)
                goto finish;
        if (add_peers(inv, acc, peers) < 0)
                goto finish;
        i = 0;
        while (hashmap_iterate(peers, &i, (void **) &a, NULL))
                for (size_t j = 0; a->reasons && a->reasons[j] && a->reasons[j + 1]; j += 2)
                        if (add_reason(acc, a->address, a->reasons[j], a->reasons[j + 1]) < 0)
                                goto finish;

        /* Hand the collected strvs and keys over to the result. */
        result = hashmap_new();
        if (!result)
                goto finish;
        i = 0;
        while (hashmap_iterate(acc, &i, (void **) &a, NULL)) {
                if (hashmap_put(result, a->address, a->reasons) < 0)
                        goto finish;
                a->address = NULL;
                a->reasons = NULL;
        }
        *ret = TAKE_PTR(result);
        r = 0;
finish:
        critical_map_free(result);
        acc_map_free(acc);
        acc_map_free(peers);
        return r;
}

size_t critical_apply(Inventory *inv, Hashmap *map, void (*changed)(Device *d, void *userdata), void *userdata) {
        const char *key;
        char **reasons;
        Device *d;
        size_t i = 0, n = 0;

        /* Devices that are no longer critical. */
        while (hashmap_iterate(inv->devices, &i, (void **) &d, NULL))
                if (d->critical && !hashmap_get(map, d->address)) {
                        d->critical = strv_free(d->critical);
                        n++;
                        if (changed)
                                changed(d, userdata);
                }

        /* The map's reasons move into the devices; the map goes. */
        i = 0;
        while (hashmap_iterate(map, &i, (void **) &reasons, &key)) {
                d = inventory_get(inv, key);
                if (d && !strv_equal(d->critical, reasons)) {
                        strv_free(d->critical);
                        d->critical = reasons;
                        n++;
                        if (changed)
                                changed(d, userdata);
                } else
                        strv_free(reasons);
                free((char *) key);
        }
        hashmap_free(map);
        return n;
}
