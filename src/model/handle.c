/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "handle.h"
#include "usb-member.h"
#include "shared/macro.h"
#include "shared/strv.h"

typedef struct PciAddress {
        unsigned domain, bus, slot, function;
} PciAddress;

/* The kernel's form only: "0000:01:00.0". */
static int pci_address_split(const char *s, PciAddress *ret) {
        PciAddress a;
        int end = -1;

        if (!s || strlen(s) != 12 || s[strspn(s, "0123456789abcdef:.")] != 0)
                return -EINVAL;
        if (sscanf(s, "%4x:%2x:%2x.%1x%n", &a.domain, &a.bus, &a.slot, &a.function, &end) != 4 || end != 12 ||
            a.slot > 0x1f || a.function > 7)
                return -EINVAL;
        *ret = a;
        return 0;
}

static char *path_join(const char *root, const char *rest) {
        char *s;
        size_t n = strlen(root);

        /* "/" and "/sys/" as a root: no doubled slash. */
        while (n > 0 && root[n - 1] == '/')
                n--;
        return asprintf(&s, "%.*s%s", (int) n, root, rest) < 0 ? NULL : s;
}

char *handle_sysfs_path(const char *sysfs_root, const Device *d) {
        char *rest, *s;

        if (asprintf(&rest, "/bus/%s/devices/%s", d->kind == DEVICE_PCI ? "pci" : "usb", d->address) < 0)
                return NULL;
        s = path_join(sysfs_root, rest);
        free(rest);
        return s;
}

char *handle_vfio_group_path(const char *dev_root, int iommu_group) {
        char rest[32];

        if (iommu_group < 0)
                return strdup("");
        snprintf(rest, sizeof rest, "/vfio/%d", iommu_group);
        return path_join(dev_root, rest);
}

char *handle_qemu_pci(const char *address, const HandleGuestAddress *guest) {
        PciAddress a;
        char *s;
        int r;

        if (pci_address_split(address, &a) < 0)
                return NULL;
        if (!guest)
                r = asprintf(&s, "vfio-pci,host=%s", address);
        else
                r = asprintf(&s, "vfio-pci,host=%s%s%s,addr=%02x.%x%s", address, guest->qemu_bus ? ",bus=" : "",
                             strempty(guest->qemu_bus), guest->slot, guest->function,
                             guest->multifunction ? ",multifunction=on" : "");
        return r < 0 ? NULL : s;
}

char *handle_libvirt_pci(const char *address, const HandleGuestAddress *guest) {
        _cleanup_free_ char *target = NULL;
        PciAddress a;
        char *s;

        if (pci_address_split(address, &a) < 0)
                return NULL;
        if (guest && asprintf(&target,
                              "<address type='pci' domain='0x0000' bus='0x%02x' slot='0x%02x' function='0x%x'%s/>",
                              guest->bus, guest->slot, guest->function,
                              guest->multifunction ? " multifunction='on'" : "") < 0)
                return NULL;
        if (asprintf(&s,
                     "<hostdev mode='subsystem' type='pci' managed='no'><source>"
                     "<address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>"
                     "</source>%s</hostdev>",
                     a.domain, a.bus, a.slot, a.function, strempty(target)) < 0)
                return NULL;
        return s;
}

char *handle_usb_node_path(const char *dev_root, const Device *d) {
        char rest[32];

        snprintf(rest, sizeof rest, "/bus/usb/%03u/%03u", d->usb.busnum, d->usb.devnum);
        return path_join(dev_root, rest);
}

char *handle_qemu_usb(const char *dev_root, const Device *d) {
        _cleanup_free_ char *node = handle_usb_node_path(dev_root, d);
        char *s;

        if (!node)
                return NULL;
        return asprintf(&s, "usb-host,hostbus=%u,hostaddr=%u,hostdevice=%s", d->usb.busnum, d->usb.devnum,
                        node) < 0 ? NULL : s;
}

char *handle_libvirt_usb(const Device *d) {
        char *s;

        if (asprintf(&s,
                     "<hostdev mode='subsystem' type='usb' managed='no'><source>"
                     "<vendor id='0x%04x'/><product id='0x%04x'/><address bus='%u' device='%u'/>"
                     "</source></hostdev>",
                     d->vendor_id, d->product_id, d->usb.busnum, d->usb.devnum) < 0)
                return NULL;
        return s;
}

static void handle_done(Handle *h) {
        free(h->address);
        free(h->sysfs);
        free(h->vfio_group);
        free(h->qemu);
        free(h->libvirt);
}

void handle_list_done(HandleList *l) {
        for (size_t i = 0; i < l->n_handles; i++)
                handle_done(l->handles + i);
        free(l->handles);
        *l = (HandleList) {};
}

static int handle_append(HandleList *l, const Device *d, const HandleOptions *o, const HandleGuestAddress *guest) {
        Handle *t = realloc(l->handles, (l->n_handles + 1) * sizeof(Handle)), h;

        if (!t)
                return -ENOMEM;
        l->handles = t;
        h = (Handle) {
                .address = strdup(d->address),
                .sysfs = handle_sysfs_path(o->sysfs_root, d),
                .vfio_group = handle_vfio_group_path(o->dev_root, d->kind == DEVICE_PCI ? d->iommu_group : -1),
                .qemu = d->kind == DEVICE_PCI ? handle_qemu_pci(d->address, guest) : handle_qemu_usb(o->dev_root, d),
                .libvirt = d->kind == DEVICE_PCI ? handle_libvirt_pci(d->address, guest) : handle_libvirt_usb(d),
        };
        if (!h.address || !h.sysfs || !h.vfio_group || !h.qemu || !h.libvirt) {
                handle_done(&h);
                return -ENOMEM;
        }
        l->handles[l->n_handles++] = h;
        return 0;
}

/* Same domain, bus and device: functions of one host slot. */
static bool same_host_slot(const Device *a, const Device *b) {
        const char *da = strrchr(a->address, '.'), *db = strrchr(b->address, '.');

        return a->kind == DEVICE_PCI && b->kind == DEVICE_PCI && da && db && da - a->address == db - b->address &&
               strncmp(a->address, b->address, (size_t) (da - a->address)) == 0;
}

/* The devices from i on that share devs[i]'s host slot (sorted input). */
static size_t host_slot_run(const Device *const *devs, size_t n, size_t i) {
        size_t k = 1;

        while (i + k < n && same_host_slot(devs[i], devs[i + k]))
                k++;
        return k;
}

int handle_list_add_member(HandleList *l, const Device *const *devices, size_t n, const HandleOptions *o) {
        _cleanup_free_ const Device **devs = calloc(n + 1, sizeof(Device *));
        size_t n_before = l->n_handles;
        unsigned slot_before = l->next_slot;
        PciAddress a;
        int r = 0;

        if (!devs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (devices[i]->kind == DEVICE_PCI && pci_address_split(devices[i]->address, &a) < 0)
                        return -EINVAL;
        memcpy(devs, devices, n * sizeof(Device *));
        qsort(devs, n, sizeof(Device *), device_address_compare);
        if (l->next_slot == 0)
                l->next_slot = o->guest_slot ?: HANDLE_GUEST_SLOT_FIRST;

        for (size_t i = 0; r >= 0 && i < n;) {
                size_t k = host_slot_run(devs, n, i);
                bool together = k > 1 && l->next_slot <= HANDLE_GUEST_SLOT_LAST;

                for (size_t f = 0; r >= 0 && f < k; f++) {
                        HandleGuestAddress guest = {
                                .qemu_bus = o->qemu_bus,
                                .bus = o->guest_bus,
                                .slot = l->next_slot,
                                .function = (unsigned) f,
                                .multifunction = f == 0,
                        };

                        r = handle_append(l, devs[i + f], o, together ? &guest : NULL);
                }
                if (together)
                        l->next_slot++;
                i += k;
        }
        if (r < 0) {
                /* All of the member or nothing. */
                for (size_t i = n_before; i < l->n_handles; i++)
                        handle_done(l->handles + i);
                l->n_handles = n_before;
                l->next_slot = slot_before;
        }
        return r;
}

int handle_list_add_claim(HandleList *l, const Claim *c, const Inventory *inv, const HandleOptions *o) {
        for (size_t i = 0; i < c->n_members; i++) {
                char **a = c->members[i].addresses;
                _cleanup_free_ const Device **devs = calloc(strv_length(a) + 1, sizeof(Device *));
                size_t n = 0;
                int r;

                if (!devs)
                        return -ENOMEM;
                for (; a && *a; a++) {
                        const Device *d = inventory_get(inv, *a);
                        if (d)
                                devs[n++] = d;
                }
                /* A USB member that is gone, or another device at its port. */
                if (c->members[i].identity && !claim_member_device(c->members + i, inv))
                        n = 0;
                r = handle_list_add_member(l, devs, n, o);
                if (r < 0)
                        return r;
        }
        return 0;
}
