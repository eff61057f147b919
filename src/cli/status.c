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

/* "holds /; shares IOMMU group 9 with 0000:07:00.0 (holds /)": the texts of a device's reasons. */
static char *reason_texts(const HdDevice *d) {
        _cleanup_strv_free_ char **texts = NULL;
        size_t n = 0;

        texts = calloc(strv_length(d ? d->critical_reasons : NULL) / 2 + 1, sizeof(char *));
        if (!texts)
                return NULL;
        for (char **r = d ? d->critical_reasons : NULL; r && r[0] && r[1]; r += 2)
                if (!(texts[n++] = strdup(r[1])))
                        return NULL;
        return strv_join(texts, "; ");
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

        if (!h->has_critical)
                r = kv_add(kv, "Critical Devices", NO_CRITICAL_DETECTION);
        else if (strv_isempty(h->critical))
                r = kv_add(kv, "Critical Devices", "none");
        for (char **p = h->critical; h->has_critical && p && *p; p++) {
                const HdDevice *d = hd_host_find_device(h, *p);
                _cleanup_free_ char *texts = reason_texts(d);

                if (!texts)
                        return -ENOMEM;
                if (isempty(texts))
                        r = p == h->critical ? kv_add(kv, "Critical Devices", "%s", hd_host_path_to_address(h, *p))
                                             : kv_add_more(kv, "%s", hd_host_path_to_address(h, *p));
                else
                        r = p == h->critical
                                ? kv_add(kv, "Critical Devices", "%s: %s", hd_host_path_to_address(h, *p), texts)
                                : kv_add_more(kv, "%s: %s", hd_host_path_to_address(h, *p), texts);
                if (r < 0)
                        return r;
        }
        if (r < 0)
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
                for (char **p = h->critical; p && *p; p++) {
                        const HdDevice *d = hd_host_find_device(h, *p);

                        json_begin_object(&w);
                        json_kv_string(&w, "address", hd_host_path_to_address(h, *p));
                        json_kv_string(&w, "object_path", *p);
                        json_key(&w, "reasons");
                        json_begin_array(&w);
                        for (char **r = d ? d->critical_reasons : NULL; r && r[0] && r[1]; r += 2) {
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
