/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-rules: the cost of resource-group rules on the synthetic host.
 *
 *   bench-rules [--json] [--reps N] [--order mixed|sriov-first|sriov-last]
 *               [--only recompute] [--groups] [--dump]
 *
 * Builds, in memory, the host gen-host.py writes at its default size
 * (4,096 PCI functions, 256 USB devices: same addresses, ids, names,
 * drivers, NUMA nodes, serials, slots and PF links) and 64 resource groups,
 * then times what the daemon does with them: every device's owner after a
 * group or rule change (daemon_update_memberships), one device's owner on
 * a hotplug event (membership_update), the conflict check of a new group,
 * and the member list of a group (ResourceGroup.Devices, Total, Available).
 * No bus, no sysfs: only src/model.
 *
 * --groups lists the groups with their rules and member counts; --dump lists
 * the devices, one a line, to compare with gen-host.py's model.
 * --only recompute times nothing else (for callgrind: see bench/README.md).
 */

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/inventory.h"
#include "model/resource.h"
#include "model/rules.h"
#include "shared/macro.h"

#define N_PCI 4096
#define N_USB 256

/* ------------------------------------------------------------------ names */

/* What libpci and usb.ids give for the ids on the host ("" when unknown,
 * as hostdevd reports it); USB products usb.ids lacks use the device's
 * own strings, as hostdevd does. */
static const struct {
        uint16_t id;
        const char *name;
} pci_vendors[] = {
        { 0x8086, "Intel Corporation" },
        { 0x10de, "NVIDIA Corporation" },
        { 0x144d, "Samsung Electronics Co Ltd" },
        { 0x1000, "Broadcom / LSI" },
        { 0x1912, "Renesas Technology Corp." },
        { 0x1a03, "ASPEED Technology, Inc." },
};

static const struct {
        uint16_t vendor, device;
        const char *name;
} pci_products[] = {
        { 0x8086, 0x09a2, "Ice Lake Memory Map/VT-d" },
        { 0x8086, 0x09a4, "Ice Lake Mesh 2 PCIe" },
        { 0x8086, 0x09a3, "Ice Lake RAS" },
        { 0x8086, 0x0998, "Ice Lake IEH" },
        { 0x8086, 0x0b00, "Ice Lake CBDMA [QuickData Technology]" },
        { 0x8086, 0xa1ec, "C620 Series Chipset Family MROM 0" },
        { 0x8086, 0xa1d2, "C620 Series Chipset Family SSATA Controller [AHCI mode]" },
        { 0x8086, 0xa1af, "C620 Series Chipset Family USB 3.0 xHCI Controller" },
        { 0x8086, 0xa1b1, "C620 Series Chipset Family Thermal Subsystem" },
        { 0x8086, 0xa1ba, "C620 Series Chipset Family MEI Controller #1" },
        { 0x8086, 0xa182, "C620 Series Chipset Family SATA Controller [AHCI mode]" },
        { 0x8086, 0xa1c3, "C624 Series Chipset LPC/eSPI Controller" },
        { 0x8086, 0xa1a1, "C620 Series Chipset Family Power Management Controller" },
        { 0x8086, 0xa1a3, "C620 Series Chipset Family SMBus" },
        { 0x8086, 0xa1a4, "C620 Series Chipset Family SPI Controller" },
        { 0x8086, 0xa190, "C620 Series Chipset Family PCI Express Root Port #1" },
        { 0x8086, 0x0b60, "NVMe DC SSD [3DNAND, Sentinel Rock Controller]" },
        { 0x8086, 0x1593, "Ethernet Controller E810-C for SFP" },
        { 0x8086, 0x159b, "Ethernet Controller E810-XXV for SFP" },
        { 0x8086, 0x1889, "Ethernet Adaptive Virtual Function" },
        { 0x8086, 0x3440, "Ice Lake UPI Misc" },
        { 0x8086, 0x3441, "Ice Lake UPI Link/Phy0" },
        { 0x8086, 0x3456, "Ice Lake NorthPeak" },
        { 0x8086, 0x09a6, "Ice Lake MSM" },
        { 0x8086, 0x09a7, "Ice Lake PMON MSM" },
        { 0x10de, 0x2230, "GA102GL [RTX A6000]" },
        { 0x10de, 0x1aef, "GA102 High Definition Audio Controller" },
        { 0x144d, 0xa824, "NVMe SSD Controller PM173X" },
        { 0x1000, 0xc010, "PEX880xx PCIe Gen 4 Switch" },
        { 0x1912, 0x0014, "uPD720201 USB 3.0 Host Controller" },
        { 0x1a03, 0x1150, "AST1150 PCI-to-PCI Bridge" },
        { 0x1a03, 0x2000, "ASPEED Graphics Family" },
};

static const char *pci_vendor_name(uint16_t v) {
        for (size_t i = 0; i < ELEMENTSOF(pci_vendors); i++)
                if (pci_vendors[i].id == v)
                        return pci_vendors[i].name;
        return "";
}

static const char *pci_product_name(uint16_t v, uint16_t d) {
        for (size_t i = 0; i < ELEMENTSOF(pci_products); i++)
                if (pci_products[i].vendor == v && pci_products[i].device == d)
                        return pci_products[i].name;
        return "";
}

/* USB models as gen-host.py's USB_LEAVES, USB_HUB and USB_SS_DISK. */
typedef enum SerialStyle {
        SERIAL_NONE, SERIAL_FTDI, SERIAL_CP210X, SERIAL_SANDISK, SERIAL_REALTEK,
        SERIAL_SEGGER, SERIAL_PM4, SERIAL_SCR,
} SerialStyle;

typedef struct UsbModel {
        uint16_t vid, pid;
        const char *vendor_name, *product_name;
        SerialStyle serial;
        const char *speed;
} UsbModel;

static const UsbModel usb_leaves[] = {
        { 0x0403, 0x6001, "Future Technology Devices International, Ltd", "FT232 Serial (UART) IC", SERIAL_FTDI, "12" },
        { 0x10c4, 0xea60, "Silicon Labs", "CP210x UART Bridge", SERIAL_CP210X, "12" },
        { 0x046d, 0xc52b, "Logitech, Inc.", "Unifying Receiver", SERIAL_NONE, "12" },
        { 0x413c, 0x2113, "Dell Computer Corp.", "KB216 Wired Keyboard", SERIAL_NONE, "1.5" },
        { 0x0781, 0x5583, "SanDisk Corp.", "Ultra Fit", SERIAL_SANDISK, "480" },
        { 0x1050, 0x0407, "Yubico.com", "Yubikey 4/5 OTP+U2F+CCID", SERIAL_NONE, "12" },
        { 0x067b, 0x2303, "Prolific Technology, Inc.", "PL2303 Serial Port / Mobile Phone Data Cable", SERIAL_NONE, "12" },
        { 0x0bda, 0x8153, "Realtek Semiconductor Corp.", "RTL8153 Gigabit Ethernet Adapter", SERIAL_REALTEK, "480" },
        { 0x1366, 0x1015, "SEGGER", "J-Link", SERIAL_SEGGER, "12" },
        { 0x16d0, 0x117e, "MCS", "Power Meter PM-4", SERIAL_PM4, "12" },
        { 0x04e6, 0x5116, "SCM Microsystems, Inc.", "SCR331-LC1 / SCR3310 SmartCard Reader", SERIAL_SCR, "12" },
};
static const UsbModel usb_hub = { 0x1a40, 0x0201, "Terminus Technology Inc.", "FE 2.1 7-port Hub", SERIAL_NONE, "480" };
static const UsbModel usb_ss_disk = { 0x0781, 0x5583, "SanDisk Corp.", "Ultra Fit", SERIAL_SANDISK, "5000" };

static char *usb_serial(SerialStyle s, unsigned n) {
        char *p = NULL;
        int r = 0;

        switch (s) {
        case SERIAL_NONE:
                return NULL;
        case SERIAL_FTDI:
                r = asprintf(&p, "A%07X", n);
                break;
        case SERIAL_CP210X:
                r = asprintf(&p, "%04x", n);
                break;
        case SERIAL_SANDISK:
                r = asprintf(&p, "4C53%016u", n);
                break;
        case SERIAL_REALTEK:
                r = asprintf(&p, "0000%08X", n);
                break;
        case SERIAL_SEGGER:
                r = asprintf(&p, "%012u", n);
                break;
        case SERIAL_PM4:
                r = asprintf(&p, "PM4-%05u", n);
                break;
        case SERIAL_SCR:
                r = asprintf(&p, "%08X", n);
                break;
        }
        return r < 0 ? NULL : p;
}

/* ------------------------------------------------------------------- host */

static _Noreturn void die(const char *what) {
        fprintf(stderr, "bench-rules: %s\n", what);
        exit(EXIT_FAILURE);
}

#define MAX_SLOTS 64

/* The host as gen-host.py plans it (Host._plan and friends, default size). */
typedef struct Host {
        Inventory inv;
        Device **all;           /* in creation order */
        size_t n_all, n_pci, n_usb;
        unsigned serial;        /* gen-host.py's _nextserial() */
        unsigned n_gpus;
        struct {
                char name[8];
                char key[16];   /* "0000:03:00" */
        } slots[MAX_SLOTS];
        size_t n_slots;
        Device *nic_pfs[16], *hotplug_pfs[4];
        size_t n_nic_pfs, n_hotplug_pfs;
} Host;

static Device *host_keep(Host *h, Device *d) {
        Device **t;

        if (!d)
                die("out of memory");
        t = realloc(h->all, (h->n_all + 1) * sizeof(Device *));
        if (!t)
                die("out of memory");
        h->all = t;
        h->all[h->n_all++] = d;
        return d;
}

static char *xstrdup(const char *s) {
        char *p = s ? strdup(s) : NULL;

        if (s && !p)
                die("out of memory");
        return p;
}

static Device *pci_new(Host *h, unsigned bus, unsigned dev, unsigned fn, uint16_t vendor, uint16_t device,
                       uint32_t class, uint16_t svid, uint16_t sdid, int numa, const char *driver) {
        char addr[16];
        Device *d;

        snprintf(addr, sizeof addr, "0000:%02x:%02x.%u", bus, dev, fn);
        d = host_keep(h, device_new(DEVICE_PCI, addr));
        h->n_pci++;
        d->vendor_id = vendor;
        d->product_id = device;
        d->vendor_name = pci_vendor_name(vendor);
        d->product_name = pci_product_name(vendor, device);
        d->pci.class = class;
        d->pci.subsystem_vendor_id = svid;
        d->pci.subsystem_id = sdid;
        d->numa_node = numa;
        d->driver = xstrdup(driver);
        return d;
}

static void slot_add(Host *h, unsigned number, unsigned bus) {
        if (h->n_slots >= MAX_SLOTS)
                die("too many slots");
        snprintf(h->slots[h->n_slots].name, sizeof h->slots[0].name, "%u", number);
        snprintf(h->slots[h->n_slots].key, sizeof h->slots[0].key, "0000:%02x:00", bus);
        h->n_slots++;
}

/* The Device Serial Number as hostdevd prints it: most significant byte first. */
static char *dsn_string(uint64_t dsn) {
        char *p = NULL;

        if (asprintf(&p, "%02x-%02x-%02x-%02x-%02x-%02x-%02x-%02x", (unsigned) (dsn >> 56) & 0xff,
                     (unsigned) (dsn >> 48) & 0xff, (unsigned) (dsn >> 40) & 0xff, (unsigned) (dsn >> 32) & 0xff,
                     (unsigned) (dsn >> 24) & 0xff, (unsigned) (dsn >> 16) & 0xff, (unsigned) (dsn >> 8) & 0xff,
                     (unsigned) dsn & 0xff) < 0)
                die("out of memory");
        return p;
}

/* An E810 PF and its VFs; returns the next free bus. */
static unsigned pf_new(Host *h, unsigned bus, int numa, uint16_t did, uint16_t sdid, unsigned nvfs,
                       unsigned offset, bool hotplug) {
        unsigned n = ++h->serial;
        Device *pf = pci_new(h, bus, 0, 0, 0x8086, did, 0x020000, 0x8086, sdid, numa, "ice");
        const char *vf_driver;

        /* The DSN wins over the VPD serial; the hotplug PFs have only VPD. */
        if (hotplug) {
                if (asprintf(&pf->serial, "HP%06u", n) < 0)
                        die("out of memory");
                h->hotplug_pfs[h->n_hotplug_pfs++] = pf;
        } else {
                pf->serial = dsn_string(0xb49691ffff000000ull | ((uint64_t) n << 8));
                h->nic_pfs[h->n_nic_pfs++] = pf;
        }
        pf->pci.sriov_capable = true;
        pf->pci.total_vfs = 256;
        pf->pci.num_vfs = nvfs;
        /* The first half of the PFs leave their VFs to the host driver. */
        vf_driver = h->n_nic_pfs > 8 ? "vfio-pci" : "iavf";
        for (unsigned i = 0; i < nvfs; i++) {
                unsigned rid = (bus << 8) + offset + i;
                Device *vf = pci_new(h, rid >> 8, (rid >> 3) & 0x1f, rid & 7, 0x8086, 0x1889, 0x020000, 0x8086, 0,
                                     numa, hotplug ? NULL : vf_driver);

                vf->pci.physfn = xstrdup(pf->address);
                vf->pci.vf_index = (int) i;
        }
        return (((bus << 8) + offset + 255) >> 8) + 1;
}

typedef enum Kind { GPU, XHCI, NVME, NIC, SWITCH, HOTPLUG } Kind;

/* What sits behind a root port (gen-host.py's Host._behind). */
static unsigned behind(Host *h, Kind kind, unsigned bus, int sock, unsigned slotno) {
        slot_add(h, slotno, bus);
        switch (kind) {
        case GPU: {
                const char *video = h->n_gpus >= 2 ? "vfio-pci" : "nouveau";
                const char *audio = h->n_gpus >= 2 ? "vfio-pci" : "snd_hda_intel";

                pci_new(h, bus, 0, 0, 0x10de, 0x2230, 0x030000, 0x10de, 0x1459, sock, video);
                pci_new(h, bus, 0, 1, 0x10de, 0x1aef, 0x040300, 0x10de, 0x1459, sock, audio);
                h->n_gpus++;
                return bus + 1;
        }
        case XHCI:
                pci_new(h, bus, 0, 0, 0x1912, 0x0014, 0x0c0330, 0x1912, 0x0014, sock, "xhci_hcd");
                return bus + 1;
        case NVME: {
                Device *d = pci_new(h, bus, 0, 0, 0x8086, 0x0b60, 0x010802, 0x8086, 0x8008, sock, "nvme");

                if (asprintf(&d->serial, "PHAB%06u7P6DGN", ++h->serial) < 0)
                        die("out of memory");
                return bus + 1;
        }
        case NIC:
                return pf_new(h, bus, sock, 0x1593, 0x0005, 240, 16, false);
        case HOTPLUG:
                return pf_new(h, bus, sock, 0x159b, 0x0003, 0, 8, true);
        case SWITCH: {
                unsigned next = bus + 2;

                pci_new(h, bus, 0, 0, 0x1000, 0xc010, 0x060400, 0x1000, 0xa064, sock, "pcieport");
                h->n_slots--;   /* the bays below carry the slot numbers */
                for (unsigned d = 0; d < 8; d++, next++) {
                        Device *drive;

                        pci_new(h, bus + 1, d, 0, 0x1000, 0xc010, 0x060400, 0x1000, 0xa064, sock, "pcieport");
                        slot_add(h, 100 + 8 * (unsigned) sock + d, next);
                        drive = pci_new(h, next, 0, 0, 0x144d, 0xa824, 0x010802, 0x144d, 0xa812, sock,
                                        d >= 6 ? "vfio-pci" : "nvme");
                        drive->serial = dsn_string(0x382500ffff000000ull | ++h->serial);
                }
                return next;
        }
        }
        return bus;
}

/* The C620 chipset and the BMC behind its root port (Host._pch). */
static unsigned pch(Host *h, unsigned bus) {
        static const struct {
                unsigned dev, fn;
                uint16_t id;
                uint32_t class;
                const char *driver;
        } fns[] = {
                { 0x11, 0, 0xa1ec, 0xff0000, NULL },
                { 0x11, 5, 0xa1d2, 0x010601, "ahci" },
                { 0x14, 0, 0xa1af, 0x0c0330, "xhci_hcd" },
                { 0x14, 2, 0xa1b1, 0x118000, "intel_pch_thermal" },
                { 0x16, 0, 0xa1ba, 0x078000, "mei_me" },
                { 0x17, 0, 0xa182, 0x010601, "ahci" },
                { 0x1f, 0, 0xa1c3, 0x060100, NULL },
                { 0x1f, 2, 0xa1a1, 0x058000, NULL },
                { 0x1f, 4, 0xa1a3, 0x0c0500, "i801_smbus" },
                { 0x1f, 5, 0xa1a4, 0x0c8000, "intel-spi" },
        };

        for (size_t i = 0; i < ELEMENTSOF(fns); i++)
                pci_new(h, 0, fns[i].dev, fns[i].fn, 0x8086, fns[i].id, fns[i].class, 0x15d9, 0x1c48, 0,
                        fns[i].driver);
        pci_new(h, 0, 0x1c, 0, 0x8086, 0xa190, 0x060400, 0, 0, 0, "pcieport");
        pci_new(h, bus, 0, 0, 0x1a03, 0x1150, 0x060400, 0x15d9, 0x1c48, 0, NULL);
        pci_new(h, bus + 1, 0, 0, 0x1a03, 0x2000, 0x030000, 0x15d9, 0x1c48, 0, "ast");
        return bus + 2;
}

/* Uncore functions on the last two buses of each socket, to make N_PCI. */
static void uncore(Host *h) {
        static const struct {
                uint16_t id;
                uint32_t class;
                unsigned n;
        } kinds[] = {
                { 0x3450, 0x088000, 4 }, { 0x3451, 0x088000, 2 }, { 0x3452, 0x088000, 1 },
                { 0x3440, 0x088000, 1 }, { 0x3441, 0x088000, 3 }, { 0x3456, 0x088000, 1 },
                { 0x09a6, 0x088000, 1 }, { 0x09a7, 0x110100, 1 }, { 0x344f, 0x088000, 8 },
                { 0x3459, 0x088000, 8 }, { 0x345c, 0x088000, 4 },
        };
        static const unsigned buses[] = { 0x7e, 0x7f, 0xfe, 0xff };
        size_t left = N_PCI - h->n_pci;

        for (unsigned i = 0; left > 0; i++) {
                unsigned b = buses[i % ELEMENTSOF(buses)], n = kinds[i % ELEMENTSOF(kinds)].n;

                if (n > left)
                        n = (unsigned) left;
                for (unsigned fn = 0; fn < n; fn++)
                        pci_new(h, b, i / ELEMENTSOF(buses), fn, 0x8086, kinds[i % ELEMENTSOF(kinds)].id,
                                kinds[i % ELEMENTSOF(kinds)].class, 0, 0, b < 0x80 ? 0 : 1, NULL);
                left -= n;
        }
}

static void build_pci(Host *h) {
        /* Socket 0: 2 GPUs, an xHCI card, 2 NVMe, 8 NICs, the switch, 2
         * hotplug PFs; socket 1 the same without the switch: each kind is
         * split in halves, four root ports to a PCIe stack. */
        static const Kind sockets[2][16] = {
                { GPU, GPU, XHCI, NVME, NVME, NIC, NIC, NIC, NIC, NIC, NIC, NIC, NIC, SWITCH, HOTPLUG, HOTPLUG },
                { GPU, GPU, XHCI, NVME, NVME, NIC, NIC, NIC, NIC, NIC, NIC, NIC, NIC, HOTPLUG, HOTPLUG },
        };
        static const size_t n_kinds[2] = { 16, 15 };
        unsigned slotno = 0;

        for (int sock = 0; sock < 2; sock++)
                for (size_t st = 0; st * 4 < n_kinds[sock]; st++) {
                        static const uint16_t rc[4] = { 0x09a2, 0x09a4, 0x09a3, 0x0998 };
                        static const unsigned rc_fn[4] = { 0, 1, 2, 4 };
                        unsigned base = (sock ? 0x80 : 0) + 0x12 * (unsigned) st, next = base + 1;

                        for (size_t i = 0; i < 4; i++)
                                pci_new(h, base, 0, rc_fn[i], 0x8086, rc[i], 0x088000, 0, 0, sock, NULL);
                        for (unsigned fn = 0; fn < 8; fn++)
                                pci_new(h, base, 1, fn, 0x8086, 0x0b00, 0x088000, 0, 0, sock, "ioatdma");
                        if (sock == 0 && st == 0)
                                next = pch(h, next);
                        for (size_t i = 0; i < 4 && st * 4 + i < n_kinds[sock]; i++) {
                                pci_new(h, base, 2 + (unsigned) i, 0, 0x8086, (uint16_t) (0x347a + i), 0x060400, 0, 0,
                                        sock, "pcieport");
                                next = behind(h, sockets[sock][st * 4 + i], next, sock, ++slotno);
                        }
                }
        uncore(h);

        /* Slots are named by "domain:bus:device"; every function of the
         * device is in the slot. */
        for (size_t i = 0; i < h->n_all; i++) {
                Device *d = h->all[i];

                for (size_t j = 0; j < h->n_slots; j++)
                        if (strncmp(d->address, h->slots[j].key, strlen(h->slots[j].key)) == 0)
                                d->pci.slot = xstrdup(h->slots[j].name);
        }
}

typedef struct Ports {
        uint8_t n;
        uint8_t p[6];
} Ports;

static void usb_new(Host *h, unsigned busnum, unsigned *devnum, const Ports *ports, const UsbModel *m) {
        char addr[32], path[24];
        size_t l = 0;
        Device *d;

        for (unsigned i = 0; i < ports->n; i++)
                l += (size_t) snprintf(path + l, sizeof path - l, "%s%u", i ? "." : "", ports->p[i]);
        snprintf(addr, sizeof addr, "%u-%s", busnum, path);
        d = host_keep(h, device_new(DEVICE_USB, addr));
        h->n_usb++;
        d->vendor_id = m->vid;
        d->product_id = m->pid;
        d->vendor_name = m->vendor_name;
        d->product_name = m->product_name;
        d->serial = m->serial != SERIAL_NONE ? usb_serial(m->serial, ++h->serial) : NULL;
        if (m->serial != SERIAL_NONE && !d->serial)
                die("out of memory");
        d->driver = xstrdup("usb");
        d->usb.busnum = busnum;
        d->usb.devnum = ++*devnum;
        d->usb.port_path = xstrdup(path);
        d->usb.speed = xstrdup(m->speed);
}

/* Breadth first: a free port becomes a hub while the free ports cannot
 * hold what is left, then leaves fill the ports (Host._usb_tree). */
static void usb_tree(Host *h, unsigned busnum, unsigned nports, unsigned count) {
        size_t cap = nports + 7 * (size_t) count + 1, head = 0, tail = 0;
        _cleanup_free_ Ports *free_ports = calloc(cap, sizeof(Ports));
        unsigned devnum = 1, leaf = 0;

        if (!free_ports)
                die("out of memory");
        for (unsigned p = 1; p <= nports; p++)
                free_ports[tail++] = (Ports) { .n = 1, .p = { (uint8_t) p } };
        for (unsigned left = count; left > 0; left--) {
                Ports ports;

                if (head == tail)
                        die("USB bus full");
                ports = free_ports[head++];
                if ((tail - head) + 1 < left && ports.n < 5) {
                        usb_new(h, busnum, &devnum, &ports, &usb_hub);
                        for (unsigned p = 1; p <= 7; p++) {
                                Ports child = ports;

                                child.p[child.n++] = (uint8_t) p;
                                free_ports[tail++] = child;
                        }
                } else
                        usb_new(h, busnum, &devnum, &ports,
                                &usb_leaves[(busnum * 7 + leaf++) % ELEMENTSOF(usb_leaves)]);
        }
}

/* Three xHCI controllers: USB 2.0 bus 2c+1 with 100, 100 and the rest of
 * the devices, SuperSpeed bus 2c+2 with two drives each (Host._plan_usb). */
static void build_usb(Host *h) {
        unsigned left = N_USB - 3 * 2;

        for (unsigned c = 0; c < 3; c++) {
                unsigned hs = c < 2 ? (left < 100 ? left : 100) : left, devnum = 1;

                left -= hs;
                usb_tree(h, 2 * c + 1, c == 0 ? 14 : 4, hs);
                for (unsigned p = 1; p <= 2; p++)
                        usb_new(h, 2 * c + 2, &devnum, &(Ports) { .n = 1, .p = { (uint8_t) p } }, &usb_ss_disk);
        }
}

static void host_build(Host *h) {
        build_pci(h);
        build_usb(h);
        if (h->n_pci != N_PCI || h->n_usb != N_USB)
                die("the host does not have the planned size");
        if (inventory_init(&h->inv) < 0)
                die("out of memory");
        for (size_t i = 0; i < h->n_all; i++)
                if (inventory_add(&h->inv, h->all[i], NULL) < 0)
                        die("duplicate address");
}

static void host_done(Host *h) {
        inventory_done(&h->inv);        /* frees the devices */
        free(h->all);
}

static const Device *host_get(const Host *h, const char *address) {
        const Device *d = inventory_get(&h->inv, address);

        if (!d)
                die("no such device on the host");
        return d;
}

/* ----------------------------------------------------------------- groups */

typedef enum GroupKind { KIND_SRIOV, KIND_GPU, KIND_NVME, KIND_USB, KIND_PCI, _KIND_MAX } GroupKind;

static const char *const kind_names[_KIND_MAX] = { "sriov-nic", "gpu", "nvme", "usb", "pci" };

typedef struct GroupList {
        ResourceGroup *groups[16];
        size_t n;
} GroupList;

static ResourceGroup *group_new(GroupList *l, const char *name, ResourceType type) {
        static unsigned id;
        char buf[16];
        ResourceGroup *g;

        snprintf(buf, sizeof buf, "rg%u", ++id);
        g = resource_group_new(buf, name, type);
        if (!g || l->n >= ELEMENTSOF(l->groups))
                die("cannot make a group");
        l->groups[l->n++] = g;
        return g;
}

static void group_take_rules(ResourceGroup *g, Rule *rules, size_t n) {
        Rule *t = realloc(g->rules, (g->n_rules + n) * sizeof(Rule));

        if (!t)
                die("out of memory");
        memcpy(t + g->n_rules, rules, n * sizeof(Rule));
        g->rules = t;
        g->n_rules += n;
        free(rules);
}

/* One rule from "key=value|key=value", through rule_set() as the bus layer
 * would set it from a{sv}. */
static void group_rule(ResourceGroup *g, const char *spec) {
        char buf[512], *save = NULL, *error = NULL;
        Rule *r = calloc(1, sizeof(Rule));

        if (!r || strlen(spec) >= sizeof buf)
                die("bad rule");
        strcpy(buf, spec);
        for (char *tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
                char *value = strchr(tok, '=');
                RuleValue v = {};

                if (!value)
                        die("bad rule");
                *value++ = 0;
                v.type = rule_field_type(rule_field_from_string(tok));
                if (v.type == 's')
                        v.s = value;
                else if (v.type == 'i')
                        v.i = (int32_t) strtol(value, NULL, 0);
                else
                        v.u = (uint32_t) strtoul(value, NULL, 0);
                if (rule_set(r, g->type, tok, &v, &error) < 0) {
                        fprintf(stderr, "bench-rules: %s: %s\n", spec, error ?: "invalid");
                        exit(EXIT_FAILURE);
                }
        }
        if (rule_validate(r, &error) < 0)
                die(error ?: "invalid rule");
        group_take_rules(g, r, 1);
}

/* The rules "make resource" would give for these devices. */
static void group_make(GroupList *l, const char *name, const Device *const *devices, size_t n) {
        ResourceType type;
        Rule *rules;
        size_t n_rules;
        char *error = NULL;

        if (resource_make_rules(devices, n, &type, &rules, &n_rules, &error) < 0)
                die(error ?: "make resource failed");
        group_take_rules(group_new(l, name, type), rules, n_rules);
}

static void group_spec(GroupList *l, const char *name, ResourceType type, const char *const *specs) {
        ResourceGroup *g = group_new(l, name, type);

        for (; *specs; specs++)
                group_rule(g, *specs);
}

static size_t select_usb(const Host *h, uint16_t vid, uint16_t pid, unsigned busnum, const char *speed,
                         const Device **out, size_t max) {
        size_t n = 0;

        for (size_t i = 0; i < h->n_all; i++) {
                const Device *d = h->all[i];

                if (d->kind == DEVICE_USB && d->vendor_id == vid && d->product_id == pid &&
                    (busnum == 0 || d->usb.busnum == busnum) && (!speed || streq(d->usb.speed, speed)) && n < max)
                        out[n++] = d;
        }
        if (n == 0)
                die("no such USB devices");
        return n;
}

#define SPECS(...) ((const char *const[]) { __VA_ARGS__, NULL })

static void make_groups(const Host *h, GroupList lists[_KIND_MAX]) {
        const Device *sel[32];
        char name[64], spec[128];
        size_t n;

        /* sriov-nic: the VFs of one PF each; half of the rules also name the VF model. */
        for (size_t i = 0; i < h->n_nic_pfs; i++) {
                snprintf(name, sizeof name, "vf-pool-%zu", i + 1);
                snprintf(spec, sizeof spec, i % 2 ? "vendor-id=0x8086|product-id=0x1889|physical-function=%s" :
                         "physical-function=%s", h->nic_pfs[i]->address);
                group_spec(&lists[KIND_SRIOV], name, RESOURCE_SRIOV_NIC, SPECS(spec));
        }

        /* GPUs: each card with its audio function, as make-resource with
         * include-companions gives them (slot rules: these cards report no
         * serial); and four cards that are out of the host, with the serial
         * rules their make-resource gave. */
        for (unsigned i = 0; i < 4; i++) {
                static const char *const buses[] = { "03", "04", "81", "82" };
                char a[16], b[16];

                snprintf(a, sizeof a, "0000:%s:00.0", buses[i]);
                snprintf(b, sizeof b, "0000:%s:00.1", buses[i]);
                sel[0] = host_get(h, a);
                sel[1] = host_get(h, b);
                snprintf(name, sizeof name, "a6000-%u", i + 1);
                group_make(&lists[KIND_GPU], name, sel, 2);
        }
        for (unsigned i = 0; i < 4; i++) {
                char a[16], b[16];
                Device *video, *audio;

                snprintf(a, sizeof a, "0000:%02x:00.0", 0xc1 + i);
                snprintf(b, sizeof b, "0000:%02x:00.1", 0xc1 + i);
                video = device_new(DEVICE_PCI, a);
                audio = device_new(DEVICE_PCI, b);
                if (!video || !audio)
                        die("out of memory");
                video->vendor_id = audio->vendor_id = 0x10de;
                video->product_id = 0x2230;
                audio->product_id = 0x1aef;
                video->pci.class = 0x030000;
                audio->pci.class = 0x040300;
                video->serial = dsn_string(0x48b02dffff000000ull | (0x100u + i));
                audio->serial = xstrdup(video->serial);
                sel[0] = video;
                sel[1] = audio;
                snprintf(name, sizeof name, "a6000-spare-%u", i + 1);
                group_make(&lists[KIND_GPU], name, sel, 2);
                device_free(video);
                device_free(audio);
        }

        /* NVMe: each direct-attached drive alone, the switch's drives in
         * pairs; serial rules (VPD and DSN serials). */
        {
                static const char *const direct[] = { "0000:06:00.0", "0000:13:00.0", "0000:84:00.0", "0000:93:00.0" };

                for (unsigned i = 0; i < 4; i++) {
                        sel[0] = host_get(h, direct[i]);
                        snprintf(name, sizeof name, "nvme-%u", i + 1);
                        group_make(&lists[KIND_NVME], name, sel, 1);
                }
                for (unsigned i = 0; i < 4; i++) {
                        char a[16], b[16];

                        snprintf(a, sizeof a, "0000:%02x:00.0", 0x3b + 2 * i);
                        snprintf(b, sizeof b, "0000:%02x:00.0", 0x3c + 2 * i);
                        sel[0] = host_get(h, a);
                        sel[1] = host_get(h, b);
                        snprintf(name, sizeof name, "pm173x-%u", i + 1);
                        group_make(&lists[KIND_NVME], name, sel, 2);
                }
        }

        /* USB: make-resource on a selection (serial rules, or vendor +
         * product + port path for devices without a serial), id pools,
         * name globs, port-path globs. */
        n = select_usb(h, 0x0403, 0x6001, 1, NULL, sel, ELEMENTSOF(sel));
        group_make(&lists[KIND_USB], "ftdi-bench-1", sel, n);
        group_spec(&lists[KIND_USB], "ftdi-bench-3", RESOURCE_USB,
                   SPECS("vendor-id=0x0403|product-id=0x6001|port-path=3-*"));
        group_spec(&lists[KIND_USB], "ftdi-bench-5", RESOURCE_USB,
                   SPECS("vendor-name=Future Technology*|port-path=5-*"));
        group_spec(&lists[KIND_USB], "cp210x", RESOURCE_USB, SPECS("vendor-id=0x10c4|product-id=0xea60"));
        group_spec(&lists[KIND_USB], "receivers", RESOURCE_USB, SPECS("product-name=*Receiver*"));
        n = select_usb(h, 0x413c, 0x2113, 1, NULL, sel, ELEMENTSOF(sel));
        group_make(&lists[KIND_USB], "keyboards-1", sel, n);
        group_spec(&lists[KIND_USB], "keyboards-3-5", RESOURCE_USB,
                   SPECS("vendor-id=0x413c|product-id=0x2113|port-path=[35]-*"));
        n = select_usb(h, 0x0781, 0x5583, 0, "5000", sel, ELEMENTSOF(sel));
        group_make(&lists[KIND_USB], "flash-superspeed", sel, n);
        group_spec(&lists[KIND_USB], "flash-1-3", RESOURCE_USB,
                   SPECS("vendor-id=0x0781|product-id=0x5583|port-path=1-*",
                         "vendor-id=0x0781|product-id=0x5583|port-path=3-*"));
        group_spec(&lists[KIND_USB], "yubikeys", RESOURCE_USB, SPECS("vendor-id=0x1050|product-id=0x0407"));
        group_spec(&lists[KIND_USB], "pl2303", RESOURCE_USB, SPECS("vendor-name=Prolific*"));
        n = select_usb(h, 0x0bda, 0x8153, 3, NULL, sel, ELEMENTSOF(sel));
        group_make(&lists[KIND_USB], "usb-nics-3", sel, n);
        n = select_usb(h, 0x1366, 0x1015, 0, NULL, sel, ELEMENTSOF(sel));
        group_make(&lists[KIND_USB], "j-link", sel, n);
        group_spec(&lists[KIND_USB], "power-meters", RESOURCE_USB, SPECS("product-name=Power Meter*"));
        group_spec(&lists[KIND_USB], "smartcard", RESOURCE_USB, SPECS("product-name=*smartcard*"));
        group_spec(&lists[KIND_USB], "usb-nics-1-5", RESOURCE_USB,
                   SPECS("vendor-id=0x0bda|product-id=0x8153|port-path=[15]-*.*"));

        /* Other PCI: ids, classes with masks, names, address globs, driver
         * and slot; five name hardware this host does not have, which every
         * device is still checked against. */
        group_spec(&lists[KIND_PCI], "cbdma-0", RESOURCE_PCI, SPECS("vendor-id=0x8086|product-id=0x0b00|numa-node=0"));
        group_spec(&lists[KIND_PCI], "cbdma-1", RESOURCE_PCI, SPECS("vendor-id=0x8086|product-id=0x0b00|numa-node=1"));
        group_spec(&lists[KIND_PCI], "xhci", RESOURCE_PCI, SPECS("class=0x0c0330"));
        group_spec(&lists[KIND_PCI], "sata", RESOURCE_PCI, SPECS("class=0x010600|class-mask=0xffff00"));
        group_spec(&lists[KIND_PCI], "e810-xxv", RESOURCE_PCI, SPECS("vendor-name=intel*|product-name=*E810-XXV*"));
        group_spec(&lists[KIND_PCI], "bmc-vga", RESOURCE_PCI, SPECS("vendor-id=0x1a03|product-id=0x2000"));
        group_spec(&lists[KIND_PCI], "mei", RESOURCE_PCI, SPECS("address=0000:00:16.*"));
        group_spec(&lists[KIND_PCI], "pch-smbus-spi", RESOURCE_PCI, SPECS("address=0000:00:1f.[45]"));
        group_spec(&lists[KIND_PCI], "pch-thermal", RESOURCE_PCI, SPECS("class=0x118000"));
        group_spec(&lists[KIND_PCI], "pmon", RESOURCE_PCI, SPECS("vendor-id=0x8086|product-id=0x09a7"));
        group_spec(&lists[KIND_PCI], "uncore-e", RESOURCE_PCI, SPECS("address=0000:?e:0?.*|class=0x088000"));
        group_spec(&lists[KIND_PCI], "fpga", RESOURCE_PCI, SPECS("vendor-id=0x10ee"));
        group_spec(&lists[KIND_PCI], "accelerators", RESOURCE_PCI, SPECS("class=0x120000|class-mask=0xff0000"));
        group_spec(&lists[KIND_PCI], "connectx", RESOURCE_PCI, SPECS("vendor-name=Mellanox*", "vendor-id=0x15b3"));
        group_spec(&lists[KIND_PCI], "qat", RESOURCE_PCI, SPECS("vendor-id=0x8086|product-id=0x4940|numa-node=1"));
        group_spec(&lists[KIND_PCI], "stub", RESOURCE_PCI, SPECS("driver=pci-stub", "slot=32|address=*.0"));
}

typedef enum Order { ORDER_MIXED, ORDER_SRIOV_FIRST, ORDER_SRIOV_LAST } Order;

/* Creates the groups in the given order as CreateResourceGroup does: each
 * one checked against those before it. A conflict is a mistake here. */
static void set_build(ResourceSet *s, const Inventory *inv, GroupList lists[_KIND_MAX], Order order) {
        static const GroupKind first[] = { KIND_SRIOV, KIND_GPU, KIND_NVME, KIND_USB, KIND_PCI };
        static const GroupKind last[] = { KIND_GPU, KIND_NVME, KIND_USB, KIND_PCI, KIND_SRIOV };
        size_t taken[_KIND_MAX] = {};

        for (size_t round = 0; round < 16; round++)
                for (size_t k = 0; k < _KIND_MAX; k++) {
                        GroupKind kind = first[k];
                        size_t n = 1;
                        const Device *dev = NULL;
                        const ResourceGroup *owner = NULL;

                        if (order == ORDER_SRIOV_LAST)
                                kind = last[k];
                        if (order != ORDER_MIXED)
                                n = 16;     /* one kind after the other */
                        for (; n > 0 && taken[kind] < lists[kind].n; n--) {
                                ResourceGroup *g = lists[kind].groups[taken[kind]++];

                                if (resource_set_check_conflicts(s, inv, NULL, g->type, g->rules, g->n_rules,
                                                                 &dev, &owner) < 0) {
                                        fprintf(stderr, "bench-rules: group %s would take %s from %s\n", g->name,
                                                dev ? dev->address : "?", owner ? owner->name : "?");
                                        exit(EXIT_FAILURE);
                                }
                                if (resource_set_add(s, g) < 0)
                                        die("cannot add a group");
                        }
                }
}

/* ---------------------------------------------------------------- timing */

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

typedef struct Stats {
        double min, median, mean, p99, max;
} Stats;

static Stats stats(uint64_t *v, size_t n, double divisor) {
        double sum = 0;

        qsort(v, n, sizeof *v, cmp_u64);
        for (size_t i = 0; i < n; i++)
                sum += (double) v[i];
        return (Stats) {
                .min = (double) v[0] / divisor,
                .median = (double) v[n / 2] / divisor,
                .mean = sum / (double) n / divisor,
                .p99 = (double) v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / divisor,
                .max = (double) v[n - 1] / divisor,
        };
}

/* Keeps results alive so that no call is optimised away. */
static volatile uintptr_t sink;

/* What daemon_update_memberships() computes: every device's owner. A
 * function of its own so that callgrind can count it alone. */
__attribute__((noinline)) static size_t recompute_all(const ResourceSet *s, const Inventory *inv) {
        size_t i = 0, n = 0;
        Device *d;

        while (hashmap_iterate(inv->devices, &i, (void **) &d, NULL)) {
                d->resource_group = resource_set_owner(s, d);
                n += d->resource_group != NULL;
        }
        return n;
}

static Stats time_recompute(const ResourceSet *s, const Inventory *inv, size_t reps) {
        _cleanup_free_ uint64_t *t = calloc(reps, sizeof(uint64_t));

        if (!t)
                die("out of memory");
        (void) recompute_all(s, inv);   /* warm up */
        for (size_t r = 0; r < reps; r++) {
                uint64_t t0 = now_ns();

                sink += recompute_all(s, inv);
                t[r] = now_ns() - t0;
        }
        return stats(t, reps, 1e6);     /* ms */
}

/* The owner of one device, as a hotplug event computes it: per device the
 * mean of a batch of calls (cache-warm), the minimum over a few sweeps of
 * all devices so that an interrupt does not count as a slow device. */
#define OWNER_BATCH 16
#define OWNER_SWEEPS 5

typedef struct PerDevice {
        Stats all, vf, pci, usb;
        const Device *slowest;
} PerDevice;

static PerDevice time_per_device(const ResourceSet *s, const Host *h) {
        _cleanup_free_ uint64_t *best = calloc(h->n_all, sizeof(uint64_t));
        _cleanup_free_ uint64_t *vf = calloc(h->n_all, sizeof(uint64_t));
        _cleanup_free_ uint64_t *pci = calloc(h->n_all, sizeof(uint64_t));
        _cleanup_free_ uint64_t *usb = calloc(h->n_all, sizeof(uint64_t));
        size_t n_vf = 0, n_pci = 0, n_usb = 0, slowest = 0;
        PerDevice p = {};

        if (!best || !vf || !pci || !usb)
                die("out of memory");
        for (size_t i = 0; i < h->n_all; i++)
                best[i] = UINT64_MAX;
        for (size_t sweep = 0; sweep < OWNER_SWEEPS; sweep++)
                for (size_t i = 0; i < h->n_all; i++) {
                        const Device *d = h->all[i];
                        uint64_t t0 = now_ns(), t;

                        for (size_t k = 0; k < OWNER_BATCH; k++)
                                sink += (uintptr_t) resource_set_owner(s, d);
                        t = now_ns() - t0;
                        if (t < best[i])
                                best[i] = t;
                }
        for (size_t i = 0; i < h->n_all; i++) {
                const Device *d = h->all[i];

                if (best[i] > best[slowest])
                        slowest = i;
                if (d->kind == DEVICE_USB)
                        usb[n_usb++] = best[i];
                else if (d->pci.physfn)
                        vf[n_vf++] = best[i];
                else
                        pci[n_pci++] = best[i];
        }
        p.slowest = h->all[slowest];
        p.all = stats(best, h->n_all, OWNER_BATCH);     /* ns */
        p.vf = stats(vf, n_vf, OWNER_BATCH);
        p.pci = stats(pci, n_pci, OWNER_BATCH);
        p.usb = stats(usb, n_usb, OWNER_BATCH);
        return p;
}

/* A VF as run-bench's hotplug run adds it: on an E810-XXV PF no group claims. */
static double time_new_vf(const ResourceSet *s, size_t reps) {
        _cleanup_free_ uint64_t *t = calloc(reps, sizeof(uint64_t));
        _cleanup_(device_freep) Device *vf = device_new(DEVICE_PCI, "0000:43:01.0");

        if (!t || !vf)
                die("out of memory");
        vf->vendor_id = 0x8086;
        vf->product_id = 0x1889;
        vf->vendor_name = pci_vendor_name(0x8086);
        vf->product_name = pci_product_name(0x8086, 0x1889);
        vf->pci.class = 0x020000;
        vf->pci.subsystem_vendor_id = 0x8086;
        vf->numa_node = 0;
        vf->pci.physfn = xstrdup("0000:43:00.0");
        vf->pci.vf_index = 0;
        if (resource_set_owner(s, vf))
                die("a group claims the hot-added VF");
        for (size_t r = 0; r < reps; r++) {
                uint64_t t0 = now_ns();

                for (size_t k = 0; k < OWNER_BATCH; k++)
                        sink += (uintptr_t) resource_set_owner(s, vf);
                t[r] = now_ns() - t0;
        }
        return stats(t, reps, OWNER_BATCH).min;        /* ns */
}

typedef struct Conflict {
        const char *what;
        ResourceType type;
        const char *spec;
        int expect;
        double ms;
        const char *device, *owner;
} Conflict;

static void time_conflicts(const ResourceSet *s, const Inventory *inv, Conflict *c, size_t reps) {
        GroupList scratch = {};
        ResourceGroup *g = group_new(&scratch, "new", c->type);
        _cleanup_free_ uint64_t *t = calloc(reps, sizeof(uint64_t));
        const Device *dev = NULL;
        const ResourceGroup *owner = NULL;
        int r = 0;

        if (!t)
                die("out of memory");
        group_rule(g, c->spec);
        for (size_t i = 0; i < reps; i++) {
                uint64_t t0 = now_ns();

                r = resource_set_check_conflicts(s, inv, NULL, g->type, g->rules, g->n_rules, &dev, &owner);
                t[i] = now_ns() - t0;
        }
        if (r != c->expect)
                die("a conflict check gave an unexpected answer");
        c->device = r < 0 ? dev->address : NULL;
        c->owner = r < 0 ? owner->name : NULL;
        c->ms = stats(t, reps, 1e6).median;
        resource_group_free(g);
}

static double time_devices(const ResourceSet *s, const Inventory *inv, const ResourceGroup *g, size_t reps,
                           size_t *ret_n) {
        _cleanup_free_ uint64_t *t = calloc(reps, sizeof(uint64_t));

        if (!t)
                die("out of memory");
        for (size_t i = 0; i < reps; i++) {
                const Device **l = NULL;
                uint64_t t0 = now_ns();

                if (resource_group_devices(s, inv, g, &l, ret_n) < 0)
                        die("out of memory");
                t[i] = now_ns() - t0;
                free(l);
        }
        return stats(t, reps, 1e3).median;      /* µs */
}

static double time_all_devices(const ResourceSet *s, const Inventory *inv, size_t reps) {
        _cleanup_free_ uint64_t *t = calloc(reps, sizeof(uint64_t));

        if (!t)
                die("out of memory");
        for (size_t i = 0; i < reps; i++) {
                uint64_t t0 = now_ns();

                for (size_t j = 0; j < s->n_groups; j++) {
                        const Device **l = NULL;
                        size_t n;

                        if (resource_group_devices(s, inv, s->groups[j], &l, &n) < 0)
                                die("out of memory");
                        free(l);
                }
                t[i] = now_ns() - t0;
        }
        return stats(t, reps, 1e6).median;      /* ms */
}

/* ---------------------------------------------------------------- report */

static const char *order_names[] = { "mixed", "sriov-first", "sriov-last" };

static GroupKind kind_of(const GroupList lists[_KIND_MAX], const ResourceGroup *g) {
        for (GroupKind k = 0; k < _KIND_MAX; k++)
                for (size_t i = 0; i < lists[k].n; i++)
                        if (lists[k].groups[i] == g)
                                return k;
        return KIND_PCI;
}

static void print_rule(const Rule *r) {
        bool first = true;

        for (RuleField f = 0; f < _RULE_FIELD_MAX; f++) {
                RuleValue v;

                if (!rule_has(r, f))
                        continue;
                v = rule_get(r, f);
                printf("%s%s=", first ? "" : " ", rule_field_to_string(f));
                if (v.type == 's')
                        printf("%s", v.s);
                else if (v.type == 'i')
                        printf("%d", v.i);
                else
                        printf(v.type == 'u' ? "0x%06x" : "0x%04x", v.u);
                first = false;
        }
}

static size_t members_of(const Host *h, const ResourceGroup *g) {
        size_t n = 0;

        for (size_t i = 0; i < h->n_all; i++)
                n += h->all[i]->resource_group == g;
        return n;
}

static void list_groups(const Host *h, const ResourceSet *s, const GroupList lists[_KIND_MAX]) {
        for (size_t i = 0; i < s->n_groups; i++) {
                const ResourceGroup *g = s->groups[i];

                printf("%2zu %-18s %-9s %-5s %4zu members, %zu rule%s\n", i + 1, g->name, resource_type_to_string(g->type),
                       kind_names[kind_of(lists, g)], members_of(h, g), g->n_rules, g->n_rules == 1 ? "" : "s");
                for (size_t j = 0; j < g->n_rules; j++) {
                        printf("       ");
                        print_rule(g->rules + j);
                        printf("\n");
                }
        }
}

static void dump_devices(const Host *h) {
        for (size_t i = 0; i < h->n_all; i++) {
                const Device *d = h->all[i];

                if (d->kind == DEVICE_PCI)
                        printf("%s %04x:%04x %04x:%04x %06x %s %d %s %s %s\n", d->address, d->vendor_id,
                               d->product_id, d->pci.subsystem_vendor_id, d->pci.subsystem_id, d->pci.class,
                               d->driver ?: "-", d->numa_node, d->serial ?: "-", d->pci.slot ?: "-",
                               d->pci.physfn ?: "-");
                else
                        printf("%s %04x:%04x %s %s %s\n", d->address, d->vendor_id, d->product_id,
                               d->serial ?: "-", d->usb.speed, d->product_name);
        }
}

static void help(void) {
        printf("bench-rules [OPTIONS]\n\n"
               "Times resource-group rule evaluation on the synthetic host (4,096 PCI\n"
               "functions, 256 USB devices, 64 groups).\n\n"
               "  --json              print the figures as JSON\n"
               "  --reps N            repetitions of each measurement (default 200)\n"
               "  --order ORDER       group creation order: mixed (default), sriov-first, sriov-last\n"
               "  --only recompute    time only the recompute of all memberships\n"
               "  --groups            list the groups, their rules and member counts\n"
               "  --dump              list the devices of the host\n");
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "reps", required_argument, NULL, 'r' },
                { "order", required_argument, NULL, 'o' },
                { "only", required_argument, NULL, 'O' },
                { "groups", no_argument, NULL, 'g' },
                { "dump", no_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        bool json = false, only_recompute = false, groups = false, dump = false;
        size_t reps = 200, n_rules = 0, n_owned = 0, n_kind[_KIND_MAX] = {}, owned_kind[_KIND_MAX] = {};
        Order order = ORDER_MIXED;
        Host h = {};
        GroupList lists[_KIND_MAX] = {};
        ResourceSet s = {};
        const ResourceGroup *big = NULL, *gpu = NULL;
        Conflict conflicts[] = {
                { "new sriov-nic group for 0000:43:00.0 (no conflict)", RESOURCE_SRIOV_NIC,
                  "physical-function=0000:43:00.0", 0 },
                { "new pci group of the RTX A6000s (Busy: 4 owned)", RESOURCE_PCI,
                  "vendor-id=0x10de|product-id=0x2230", -EBUSY },
                { "new sriov-nic group of all E810 VFs (Busy: 3,840 owned)", RESOURCE_SRIOV_NIC,
                  "vendor-id=0x8086|product-id=0x1889", -EBUSY },
        };
        size_t n_big = 0, n_gpu = 0;
        double big_us, gpu_us, all_ms, new_vf_ns;
        Stats recompute;
        PerDevice per;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'r':
                        reps = strtoul(optarg, NULL, 10);
                        if (reps == 0)
                                die("--reps must be at least 1");
                        break;
                case 'o': {
                        size_t i = 0;

                        while (i < ELEMENTSOF(order_names) && !streq(order_names[i], optarg))
                                i++;
                        if (i == ELEMENTSOF(order_names))
                                die("--order is mixed, sriov-first or sriov-last");
                        order = (Order) i;
                        break;
                }
                case 'O':
                        if (!streq(optarg, "recompute"))
                                die("--only takes 'recompute'");
                        only_recompute = true;
                        break;
                case 'g':
                        groups = true;
                        break;
                case 'd':
                        dump = true;
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                default:
                        return EXIT_FAILURE;
                }

        host_build(&h);
        if (dump) {
                dump_devices(&h);
                return EXIT_SUCCESS;
        }
        make_groups(&h, lists);
        set_build(&s, &h.inv, lists, order);

        if (only_recompute) {
                /* Exactly reps calls, so that callgrind's count divides evenly. */
                for (size_t r = 0; r < reps; r++)
                        sink += recompute_all(&s, &h.inv);
                printf("%zu recomputes, %zu devices in groups\n", reps, (size_t) sink / reps);
                return EXIT_SUCCESS;
        }

        /* Memberships as the daemon keeps them, before anything is timed. */
        for (size_t i = 0; i < h.n_all; i++)
                h.all[i]->resource_group = resource_set_owner(&s, h.all[i]);
        for (size_t i = 0; i < s.n_groups; i++) {
                const ResourceGroup *g = s.groups[i];
                GroupKind k = kind_of(lists, g);
                size_t m = members_of(&h, g);

                n_rules += g->n_rules;
                n_kind[k]++;
                owned_kind[k] += m;
                n_owned += m;
                if (k == KIND_SRIOV)
                        big = g;        /* the last one: its VFs pass every group before it */
                if (k == KIND_GPU && !gpu)
                        gpu = g;
        }
        if (groups) {
                list_groups(&h, &s, lists);
                return EXIT_SUCCESS;
        }

        recompute = time_recompute(&s, &h.inv, reps);
        per = time_per_device(&s, &h);
        new_vf_ns = time_new_vf(&s, reps);
        for (size_t i = 0; i < ELEMENTSOF(conflicts); i++)
                time_conflicts(&s, &h.inv, conflicts + i, reps);
        big_us = time_devices(&s, &h.inv, big, reps, &n_big);
        gpu_us = time_devices(&s, &h.inv, gpu, reps, &n_gpu);
        all_ms = time_all_devices(&s, &h.inv, reps < 50 ? reps : 50);

        if (json) {
                printf("{\"pci\": %zu, \"usb\": %zu, \"groups\": %zu, \"rules\": %zu, \"order\": \"%s\", "
                       "\"devices_in_groups\": %zu, \"reps\": %zu,\n", h.n_pci, h.n_usb, s.n_groups, n_rules,
                       order_names[order], n_owned, reps);
                printf(" \"recompute_ms\": {\"median\": %.4f, \"min\": %.4f, \"max\": %.4f},\n", recompute.median,
                       recompute.min, recompute.max);
                printf(" \"owner_ns\": {\"mean\": %.1f, \"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f, "
                       "\"slowest\": \"%s\",\n  \"vf_mean\": %.1f, \"vf_p99\": %.1f, \"pci_mean\": %.1f, "
                       "\"pci_p99\": %.1f, \"usb_mean\": %.1f, \"usb_p99\": %.1f, \"new_vf\": %.1f},\n",
                       per.all.mean, per.all.median, per.all.p99, per.all.max, per.slowest->address, per.vf.mean,
                       per.vf.p99, per.pci.mean, per.pci.p99, per.usb.mean, per.usb.p99, new_vf_ns);
                printf(" \"check_conflicts_ms\": {\"no_conflict\": %.4f, \"busy_4\": %.4f, \"busy_3840\": %.4f},\n",
                       conflicts[0].ms, conflicts[1].ms, conflicts[2].ms);
                printf(" \"group_devices_us\": {\"sriov_%zu\": %.1f, \"gpu_%zu\": %.1f}, "
                       "\"all_groups_devices_ms\": %.3f}\n", n_big, big_us, n_gpu, gpu_us, all_ms);
                resource_set_done(&s);
                host_done(&h);
                return EXIT_SUCCESS;
        }

        printf("rule evaluation: %zu PCI functions, %zu USB devices, %zu groups (", h.n_pci, h.n_usb, s.n_groups);
        for (GroupKind k = 0; k < _KIND_MAX; k++)
                printf("%s%zu %s", k ? ", " : "", n_kind[k], kind_names[k]);
        printf("), %zu rules\n", n_rules);
        printf("creation order %s; devices in a group %zu of %zu (", order_names[order], n_owned, h.n_all);
        for (GroupKind k = 0; k < _KIND_MAX; k++)
                printf("%s%s %zu", k ? ", " : "", kind_names[k], owned_kind[k]);
        printf(")\n\n");
        printf("%-44s median %.3f ms, min %.3f ms (%zu runs)\n", "(a) recompute all memberships", recompute.median,
               recompute.min, reps);
        printf("%-44s %.0f ns a device\n", "", recompute.median * 1e6 / (double) h.n_all);
        printf("%-44s mean %.0f ns, p50 %.0f ns, p99 %.0f ns, max %.0f ns (%s)\n",
               "(b) owner of one device (hotplug event)", per.all.mean, per.all.median, per.all.p99, per.all.max,
               per.slowest->address);
        printf("%-44s VFs mean %.0f / p99 %.0f ns, other PCI %.0f / %.0f ns, USB %.0f / %.0f ns\n", "",
               per.vf.mean, per.vf.p99, per.pci.mean, per.pci.p99, per.usb.mean, per.usb.p99);
        printf("%-44s %.0f ns\n", "    a hot-added VF no group claims", new_vf_ns);
        printf("(c) resource_set_check_conflicts\n");
        for (size_t i = 0; i < ELEMENTSOF(conflicts); i++) {
                printf("    %-62s %.3f ms", conflicts[i].what, conflicts[i].ms);
                if (conflicts[i].device)
                        printf(" (%s in %s)", conflicts[i].device, conflicts[i].owner);
                printf("\n");
        }
        printf("(d) resource_group_devices\n");
        printf("    %-62s %.1f µs\n", big->name, big_us);
        printf("    %-62s %.1f µs\n", gpu->name, gpu_us);
        printf("    %-62s %.2f ms\n", "every group once (GetManagedObjects makes 3 calls a group)", all_ms);
        printf("    (%s: %zu members, created %s; %s: %zu members)\n", big->name, n_big,
               order == ORDER_SRIOV_FIRST ? "early" : "late among the sriov-nic groups", gpu->name, n_gpu);
        resource_set_done(&s);
        host_done(&h);
        return EXIT_SUCCESS;
}
