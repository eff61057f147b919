/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>

#include "common/address.h"
#include "hostdevctl.h"

static int show_group(KeyValue *kv, const HdHost *h, const HdDevice *d) {
        const HdGroup *g = hd_host_find_group(h, d->iommu_group);
        int r;

        if (!g)
                return kv_add(kv, "IOMMU Group", "none");

        r = kv_add(kv, "IOMMU Group", "%" PRIu32 " (%s)", g->number, g->viable ? "viable" : "not viable");
        if (r < 0)
                return r;

        for (char **p = g->devices; p && *p; p++) {
                _cleanup_free_ char *line = group_member_line(h, *p);

                if (!line)
                        return -ENOMEM;
                r = p == g->devices ? kv_add(kv, "Group Members", "%s", line) : kv_add_more(kv, "%s", line);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < g->n_blockers; i++) {
                r = i == 0 ? kv_add(kv, "Blockers", "%s", g->blockers[i].reason)
                           : kv_add_more(kv, "%s", g->blockers[i].reason);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int show_pci(KeyValue *kv, const HdHost *h, const HdDevice *d) {
        int r = 0;

        if (!isempty(d->class_name))
                r = kv_add(kv, "Class", "%s (%06" PRIx32 ")", d->class_name, d->class);
        else
                r = kv_add(kv, "Class", "%06" PRIx32, d->class);
        if (r < 0)
                return r;
        r = kv_add(kv, "Subsystem", "%04x:%04x", d->subsystem_vendor_id, d->subsystem_id);
        if (r < 0)
                return r;
        if (!isempty(d->slot) && (r = kv_add(kv, "Slot", "%s", d->slot)) < 0)
                return r;
        if (!isempty(d->link_speed) && (r = kv_add(kv, "Link Speed", "%s", d->link_speed)) < 0)
                return r;
        if (d->link_width > 0 && (r = kv_add(kv, "Link Width", "x%" PRIu32, d->link_width)) < 0)
                return r;

        if (strv_length(d->reset_methods) == 0)
                r = kv_add(kv, "Reset Methods", "none");
        else {
                _cleanup_free_ char *methods = strv_join(d->reset_methods, " ");

                if (!methods)
                        return -ENOMEM;
                r = kv_add(kv, "Reset Methods", "%s", methods);
        }
        if (r < 0)
                return r;

        if ((r = kv_add(kv, "Boot VGA", "%s", yes_no(d->boot_vga))) < 0)
                return r;

        if (!isempty(d->physical_function) && !streq(d->physical_function, "/")) {
                r = kv_add(kv, "Physical Function", "%s (VF %" PRIi32 ")",
                           hd_host_path_to_address(h, d->physical_function), d->virtual_function_index);
                if (r < 0)
                        return r;
        }

        if (d->is_sriov_pf) {
                r = kv_add(kv, "Virtual Functions", "%" PRIu32 " of %" PRIu32 " enabled", d->num_vfs, d->total_vfs);
                if (r < 0)
                        return r;
                for (char **v = d->virtual_functions; v && *v; v++)
                        if ((r = kv_add_more(kv, "%s", hd_host_path_to_address(h, *v))) < 0)
                                return r;
        }
        return 0;
}

static int show_usb(KeyValue *kv, const HdDevice *d) {
        int r;

        if ((r = kv_add(kv, "Bus Number", "%" PRIu32, d->bus_number)) < 0 ||
            (r = kv_add(kv, "Device Number", "%" PRIu32, d->device_number)) < 0 ||
            (r = kv_add(kv, "Port Path", "%s", strdash(hd_device_port_path(d)))) < 0)
                return r;
        if (!isempty(d->speed) && (r = kv_add(kv, "Speed", "%s Mbit/s", d->speed)) < 0)
                return r;
        if (!isempty(d->dev_node) && (r = kv_add(kv, "Device Node", "%s", d->dev_node)) < 0)
                return r;
        return kv_add(kv, "Authorized", "%s", yes_no(d->authorized));
}

/* "yes (holds /)": left out when the daemon does not tell. */
static int show_critical(KeyValue *kv, const HdDevice *d) {
        _cleanup_strv_free_ char **texts = NULL;
        _cleanup_free_ char *joined = NULL;
        size_t n = 0;

        if (!d->has_critical)
                return 0;
        if (!d->critical)
                return kv_add(kv, "Critical", "no");

        texts = calloc(strv_length(d->critical_reasons) / 2 + 1, sizeof(char *));
        if (!texts)
                return -ENOMEM;
        for (char **r = d->critical_reasons; r && r[0] && r[1]; r += 2)
                if (!(texts[n++] = strdup(r[1])))
                        return -ENOMEM;
        if (n == 0)
                return kv_add(kv, "Critical", "yes");
        joined = strv_join(texts, "; ");
        if (!joined)
                return -ENOMEM;
        return kv_add(kv, "Critical", "yes (%s)", joined);
}

/* "Claim: ID (for CONSUMER)" of a claimed device; nothing when the device is in no claim. */
static int show_claim(KeyValue *kv, const HdHost *h, const HdDevice *d) {
        const HdClaim *c = isempty(d->claim) || streq(d->claim, "/") ? NULL : hd_host_find_claim(h, d->claim);

        if (!c)
                return 0;
        return kv_add(kv, "Claim", "%s (for %s)", strdash(c->id), strdash(c->consumer));
}

static int show_text(const HdHost *h, const HdDevice *d) {
        _cleanup_kv_free_ KeyValue *kv = kv_new();
        char vbuf[8], pbuf[8];
        int r;

        if (!kv)
                return -ENOMEM;

        if ((r = kv_add(kv, "Address", "%s", d->address)) < 0 ||
            (r = kv_add(kv, "Kind", "%s", d->kind)) < 0 ||
            (r = kv_add(kv, "Object", "%s", d->path)) < 0)
                return r;

        r = isempty(d->vendor_name) ? kv_add(kv, "Vendor", "%04x", d->vendor_id)
                                    : kv_add(kv, "Vendor", "%s (%04x)", device_vendor(d, vbuf), d->vendor_id);
        if (r < 0)
                return r;
        r = isempty(d->product_name) ? kv_add(kv, "Product", "%04x", d->product_id)
                                     : kv_add(kv, "Product", "%s (%04x)", device_product(d, pbuf), d->product_id);
        if (r < 0)
                return r;

        if (!isempty(d->serial) && (r = kv_add(kv, "Serial", "%s", d->serial)) < 0)
                return r;
        if ((r = kv_add(kv, "Driver", "%s", isempty(d->driver) ? "none" : d->driver)) < 0 ||
            (r = kv_add(kv, "State", "%s", strdash(d->state))) < 0)
                return r;
        if ((r = show_critical(kv, d)) < 0)
                return r;
        if ((r = kv_add(kv, "Resource Group", "%s", hd_device_resource_group_name(h, d) ?: "none")) < 0)
                return r;
        if ((r = show_claim(kv, h, d)) < 0)
                return r;
        if (d->numa_node >= 0 && (r = kv_add(kv, "NUMA Node", "%" PRIi32, d->numa_node)) < 0)
                return r;

        if (d->is_pci && (r = show_pci(kv, h, d)) < 0)
                return r;
        if (d->is_usb && (r = show_usb(kv, d)) < 0)
                return r;

        if ((r = show_group(kv, h, d)) < 0)
                return r;
        if ((r = kv_add(kv, "Sysfs Path", "%s", strdash(d->sysfs_path))) < 0)
                return r;

        kv_print(kv, stdout);
        if (fflush(stdout) != 0 || ferror(stdout))
                return -EIO;
        return 0;
}

/* Whether the arguments name one function: then --json prints one object, else an array. */
static bool names_one_device(int argc, char *argv[]) {
        return argc == 2 && pci_slot_parse(argv[1], NULL) < 0;
}

int verb_show(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        _cleanup_strv_free_ char **paths = NULL;
        JsonWriter w;
        int r = 0;

        for (int i = 1; i < argc; i++)
                if (isempty(argv[i])) {
                        log_error("show: the address must not be empty.");
                        return EXIT_USAGE;
                }

        if (resolve_devices(argv + 1, (size_t) argc - 1, &bus, &paths) < 0)
                return EXIT_FAILURE;
        if (hd_host_fetch(bus, &h) < 0)
                return EXIT_FAILURE;

        json_init(&w, stdout, true);
        if (arg_json && !names_one_device(argc, argv))
                json_begin_array(&w);
        for (char **p = paths; p && *p; p++) {
                const HdDevice *d = hd_host_find_device(h, *p);

                if (!d) {
                        log_error("No device object %s.", *p);
                        json_done(&w);
                        return EXIT_FAILURE;
                }
                if (arg_json)
                        json_write_device(&w, h, d, true);
                else {
                        if (p != paths)
                                putchar('\n');
                        r = show_text(h, d);
                        if (r < 0)
                                break;
                }
        }
        if (arg_json && !names_one_device(argc, argv))
                json_end_array(&w);
        if (arg_json)
                r = json_finish(&w);

        return output_result(r);
}
