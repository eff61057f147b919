/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* "status": whether the host can pass devices through now, and what stands in the way. */

#include "hostdevctl.h"

#define NO_CRITICAL_DETECTION "critical-device detection not available"

static void count_devices(const HdHost *h, size_t *pci, size_t *usb) {
        *pci = *usb = 0;
        for (size_t i = 0; i < h->n_devices; i++) {
                if (streq_ptr(h->devices[i]->kind, "pci"))
                        (*pci)++;
                else if (streq_ptr(h->devices[i]->kind, "usb"))
                        (*usb)++;
        }
}

/* Reason codes in the order status prints them: what the host runs on
 * first, then what the model adds. Codes not listed follow, by name. */
static const char * const reason_order[] = {
        "root-filesystem", "boot-filesystem", "usr-filesystem", "var-filesystem", "swap",
        "default-route", "nm-connection", "console", "boot-vga", "bridge", "iommu-peer",
};

static bool is_critical(const HdHost *h, const HdDevice *d) {
        for (char **p = h->critical; p && *p; p++)
                if (streq(*p, d->path))
                        return true;
        return false;
}

/* A device the host needs only because it is a bridge: hidden unless --all. */
static bool is_plain_bridge(const HdDevice *d) {
        if (strv_isempty(d->critical_reasons))
                return false;
        for (char **r = d->critical_reasons; r[0] && r[1]; r += 2)
                if (!streq(r[0], "bridge"))
                        return false;
        return true;
}

static bool strv_has(char **l, const char *s) {
        for (char **i = l; i && *i; i++)
                if (streq(*i, s))
                        return true;
        return false;
}

/* The reason codes of the shown critical devices, in printing order. */
static int reason_codes(const HdHost *h, bool all, char ***ret) {
        _cleanup_strv_free_ char **seen = NULL, **codes = NULL;

        for (size_t i = 0; i < h->n_devices; i++) {
                const HdDevice *d = h->devices[i];

                if (!is_critical(h, d) || (!all && is_plain_bridge(d)))
                        continue;
                for (char **r = d->critical_reasons; r && r[0] && r[1]; r += 2)
                        if (!strv_has(seen, r[0]) && strv_extend(&seen, r[0]) < 0)
                                return -ENOMEM;
        }
        for (size_t i = 0; i < ELEMENTSOF(reason_order); i++)
                if (strv_has(seen, reason_order[i]) && strv_extend(&codes, reason_order[i]) < 0)
                        return -ENOMEM;
        for (char **c = seen; c && *c; c++)
                if (!strv_has(codes, *c) && strv_extend(&codes, *c) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(codes);
        return 0;
}

/* "Critical Devices: 8 (10 bridges not shown; --all shows them)", then
 * per reason code the devices in address order, "code: address  text". */
static int add_critical(KeyValue *kv, const HdHost *h) {
        _cleanup_strv_free_ char **codes = NULL;
        size_t shown = 0, hidden = 0, width = 0;
        int r;

        if (!h->has_critical)
                return kv_add(kv, "Critical Devices", NO_CRITICAL_DETECTION);
        for (size_t i = 0; i < h->n_devices; i++) {
                if (!is_critical(h, h->devices[i]))
                        continue;
                if (!arg_all && is_plain_bridge(h->devices[i]))
                        hidden++;
                else
                        shown++;
        }
        if (shown + hidden == 0)
                return kv_add(kv, "Critical Devices", "none");
        if (hidden > 0)
                r = kv_add(kv, "Critical Devices", "%zu (%zu bridge%s not shown; --all shows %s)", shown, hidden,
                           hidden == 1 ? "" : "s", hidden == 1 ? "it" : "them");
        else
                r = kv_add(kv, "Critical Devices", "%zu", shown);
        if (r < 0)
                return r;

        r = reason_codes(h, arg_all, &codes);
        if (r < 0)
                return r;
        for (char **c = codes; c && *c; c++)
                if (strlen(*c) > width)
                        width = strlen(*c);
        for (char **c = codes; c && *c; c++) {
                bool first = true;

                for (size_t i = 0; i < h->n_devices; i++) {
                        const HdDevice *d = h->devices[i];

                        if (!is_critical(h, d) || (!arg_all && is_plain_bridge(d)))
                                continue;
                        for (char **p = d->critical_reasons; p && p[0] && p[1]; p += 2) {
                                if (!streq(p[0], *c))
                                        continue;
                                r = kv_add_more(kv, "%s%s%*s %s  %s", first ? *c : "", first ? ":" : " ",
                                                (int) (width - (first ? strlen(*c) : 0)), "", d->address, p[1]);
                                if (r < 0)
                                        return r;
                                first = false;
                        }
                }
        }
        /* Critical devices the daemon gives no reason for, or that vanished: still named. */
        for (char **p = h->critical; p && *p; p++) {
                const HdDevice *d = hd_host_find_device(h, *p);

                if ((!d || strv_isempty(d->critical_reasons)) &&
                    (r = kv_add_more(kv, "%s", hd_host_path_to_address(h, *p))) < 0)
                        return r;
        }
        return 0;
}

/* Adds one line per pair, "first: second", with first turned into an address when it is a device. */
static int add_pairs(KeyValue *kv, const HdHost *h, char **pairs) {
        int r;

        for (char **p = pairs; p && p[0] && p[1]; p += 2)
                if ((r = kv_add_more(kv, "%s: %s", hd_host_path_to_address(h, p[0]), p[1])) < 0)
                        return r;
        return 0;
}

static int status_text(const HdHost *h) {
        _cleanup_kv_free_ KeyValue *kv = kv_new();
        size_t pci, usb;
        int r;

        if (!kv)
                return -ENOMEM;

        if ((r = kv_add(kv, "Version", "%s", strdash(h->version))) < 0)
                return r;
        if ((r = kv_add(kv, "IOMMU", "%s", h->iommu_enabled ? "enabled" : "disabled")) < 0)
                return r;
        if (!h->iommu_enabled && !isempty(h->iommu_message) && (r = kv_add_more(kv, "%s", h->iommu_message)) < 0)
                return r;

        if ((r = kv_add(kv, "Reboot Required", "%s", yes_no(h->reboot_required))) < 0 ||
            (r = add_pairs(kv, h, h->reboot_reasons)) < 0)
                return r;
        if ((r = kv_add(kv, "Converged", "%s", yes_no(h->converged))) < 0 ||
            (r = add_pairs(kv, h, h->converge_problems)) < 0)
                return r;

        if ((r = add_critical(kv, h)) < 0)
                return r;

        count_devices(h, &pci, &usb);
        if ((r = kv_add(kv, "Devices", "%zu (%zu PCI, %zu USB)", h->n_devices, pci, usb)) < 0 ||
            (r = kv_add(kv, "IOMMU Groups", "%zu", h->n_groups)) < 0 ||
            (r = kv_add(kv, "Resource Groups", "%zu", h->n_resource_groups)) < 0)
                return r;

        kv_print(kv, stdout);
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -EIO;
}

static void json_pairs(JsonWriter *w, const HdHost *h, char **pairs, const char *first, const char *second,
                       bool with_address) {
        json_begin_array(w);
        for (char **p = pairs; p && p[0] && p[1]; p += 2) {
                const HdDevice *d = hd_host_find_device(h, p[0]);

                json_begin_object(w);
                json_kv_string(w, first, p[0]);
                if (with_address)
                        json_kv_string_or_null(w, "address", d ? d->address : NULL);
                json_kv_string(w, second, p[1]);
                json_end_object(w);
        }
        json_end_array(w);
}

static int status_json(const HdHost *h) {
        JsonWriter w;
        size_t pci, usb;

        json_init(&w, stdout, true);
        json_begin_object(&w);
        json_kv_string_or_null(&w, "version", h->version);
        json_kv_bool(&w, "iommu_enabled", h->iommu_enabled);
        json_kv_string_or_null(&w, "iommu_message", h->iommu_message);
        json_kv_bool(&w, "reboot_required", h->reboot_required);
        json_key(&w, "reboot_reasons");
        json_pairs(&w, h, h->reboot_reasons, "object", "reason", true);
        json_kv_bool(&w, "converged", h->converged);
        json_key(&w, "converge_problems");
        json_pairs(&w, h, h->converge_problems, "device", "problem", false);

        json_key(&w, "critical_devices");
        if (!h->has_critical)
                json_null(&w);
        else {
                json_begin_array(&w);
                /* In address order, every one: --all is for the text. */
                for (size_t i = 0; i < h->n_devices; i++) {
                        const HdDevice *d = h->devices[i];

                        if (!is_critical(h, d))
                                continue;
                        json_begin_object(&w);
                        json_kv_string(&w, "address", d->address);
                        json_kv_string(&w, "object_path", d->path);
                        json_key(&w, "reasons");
                        json_begin_array(&w);
                        for (char **r = d->critical_reasons; r && r[0] && r[1]; r += 2) {
                                json_begin_object(&w);
                                json_kv_string(&w, "code", r[0]);
                                json_kv_string(&w, "text", r[1]);
                                json_end_object(&w);
                        }
                        json_end_array(&w);
                        json_end_object(&w);
                }
                json_end_array(&w);
        }

        count_devices(h, &pci, &usb);
        json_kv_uint(&w, "devices", h->n_devices);
        json_kv_uint(&w, "pci_devices", pci);
        json_kv_uint(&w, "usb_devices", usb);
        json_kv_uint(&w, "iommu_groups", h->n_groups);
        json_kv_uint(&w, "resource_groups", h->n_resource_groups);
        json_end_object(&w);
        return json_finish(&w);
}

int verb_status(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_host_free_ HdHost *h = NULL;

        if (hd_bus_open(&bus) < 0 || hd_host_fetch(bus, &h) < 0)
                return EXIT_FAILURE;

        return output_result(arg_json ? status_json(h) : status_text(h));
}
