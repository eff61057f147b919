/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>

#include "hostdevctl.h"

const char *device_vendor(const HdDevice *d, char buf[static 8]) {
        if (!isempty(d->vendor_name))
                return d->vendor_name;
        snprintf(buf, 8, "%04x", d->vendor_id);
        return buf;
}

const char *device_product(const HdDevice *d, char buf[static 8]) {
        if (!isempty(d->product_name))
                return d->product_name;
        snprintf(buf, 8, "%04x", d->product_id);
        return buf;
}

void note_iommu(const HdHost *h) {
        if (h->iommu_enabled)
                return;
        if (isempty(h->iommu_message))
                log_note("The IOMMU is not enabled; no PCI device can be passed through.");
        else
                log_note("%s", h->iommu_message);
}

static void json_hex(JsonWriter *w, const char *key, unsigned v, int digits) {
        char buf[16];

        snprintf(buf, sizeof(buf), "%0*x", digits, v);
        json_kv_string(w, key, buf);
}

/* Object paths of devices are given as addresses: that is what users type. */
static void json_address_or_null(JsonWriter *w, const HdHost *h, const char *key, const char *path) {
        json_key(w, key);
        if (isempty(path) || streq(path, "/"))
                json_null(w);
        else
                json_string(w, hd_host_path_to_address(h, path));
}

void json_write_device(JsonWriter *w, const HdHost *h, const HdDevice *d, bool with_group) {
        int64_t group = hd_device_group_number(h, d);

        json_begin_object(w);
        json_kv_string(w, "object_path", d->path);
        json_kv_string(w, "kind", d->kind);
        json_kv_string(w, "address", d->address);
        json_kv_string(w, "sysfs_path", d->sysfs_path);
        json_hex(w, "vendor_id", d->vendor_id, 4);
        json_hex(w, "product_id", d->product_id, 4);
        json_kv_string_or_null(w, "vendor_name", d->vendor_name);
        json_kv_string_or_null(w, "product_name", d->product_name);
        json_kv_string_or_null(w, "serial", d->serial);
        json_kv_string_or_null(w, "driver", d->driver);
        json_key(w, "numa_node");
        if (d->numa_node >= 0)
                json_int(w, d->numa_node);
        else
                json_null(w);
        json_key(w, "iommu_group");
        if (group >= 0)
                json_int(w, group);
        else
                json_null(w);
        json_kv_string(w, "state", d->state);
        json_kv_string_or_null(w, "resource_group", hd_device_resource_group_name(h, d));
        /* null when the daemon does not tell (an older hostdevd). */
        json_key(w, "critical");
        if (d->has_critical)
                json_boolean(w, d->critical);
        else
                json_null(w);
        json_key(w, "critical_reasons");
        if (d->has_critical) {
                json_begin_array(w);
                for (char **r = d->critical_reasons; r && r[0] && r[1]; r += 2) {
                        json_begin_object(w);
                        json_kv_string(w, "code", r[0]);
                        json_kv_string(w, "text", r[1]);
                        json_end_object(w);
                }
                json_end_array(w);
        } else
                json_null(w);

        if (d->is_pci) {
                json_hex(w, "class", d->class, 6);
                json_kv_string_or_null(w, "class_name", d->class_name);
                json_hex(w, "subsystem_vendor_id", d->subsystem_vendor_id, 4);
                json_hex(w, "subsystem_id", d->subsystem_id, 4);
                json_kv_string_or_null(w, "slot", d->slot);
                json_kv_string_or_null(w, "link_speed", d->link_speed);
                json_key(w, "link_width");
                if (d->link_width > 0)
                        json_uint(w, d->link_width);
                else
                        json_null(w);
                json_key(w, "reset_methods");
                json_begin_array(w);
                for (char **m = d->reset_methods; m && *m; m++)
                        json_string(w, *m);
                json_end_array(w);
                json_kv_bool(w, "boot_vga", d->boot_vga);
                json_address_or_null(w, h, "physical_function", d->physical_function);
                json_key(w, "virtual_function_index");
                if (d->virtual_function_index >= 0)
                        json_int(w, d->virtual_function_index);
                else
                        json_null(w);
                json_key(w, "sriov");
                if (d->is_sriov_pf) {
                        json_begin_object(w);
                        json_kv_uint(w, "total_vfs", d->total_vfs);
                        json_kv_uint(w, "num_vfs", d->num_vfs);
                        json_key(w, "virtual_functions");
                        json_begin_array(w);
                        for (char **v = d->virtual_functions; v && *v; v++)
                                json_string(w, hd_host_path_to_address(h, *v));
                        json_end_array(w);
                        json_end_object(w);
                } else
                        json_null(w);
        }

        if (d->is_usb) {
                json_kv_uint(w, "bus_number", d->bus_number);
                json_kv_uint(w, "device_number", d->device_number);
                json_kv_string(w, "port_path", hd_device_port_path(d));
                json_kv_string_or_null(w, "speed", d->speed);
                json_kv_string_or_null(w, "dev_node", d->dev_node);
                json_kv_bool(w, "authorized", d->authorized);
        }

        if (with_group) {
                const HdGroup *g = hd_host_find_group(h, d->iommu_group);

                json_key(w, "group");
                if (g)
                        json_write_group(w, h, g);
                else
                        json_null(w);
        }

        json_end_object(w);
}

static int list_json(const HdHost *h) {
        JsonWriter w;

        json_init(&w, stdout, true);
        json_begin_array(&w);
        for (size_t i = 0; i < h->n_devices; i++)
                json_write_device(&w, h, h->devices[i], false);
        json_end_array(&w);
        return json_finish(&w);
}

static int list_table(const HdHost *h) {
        static const char * const headers[] = {
                "ADDRESS", "KIND", "VENDOR", "PRODUCT", "DRIVER", "GROUP", "STATE",
        };
        enum { COL_VENDOR = 2, COL_PRODUCT = 3 };
        _cleanup_table_free_ Table *t = NULL;
        int r;

        t = table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return -ENOMEM;
        table_set_shrinkable(t, COL_VENDOR, true);
        table_set_shrinkable(t, COL_PRODUCT, true);

        for (size_t i = 0; i < h->n_devices; i++) {
                const HdDevice *d = h->devices[i];
                char vbuf[8], pbuf[8], gbuf[24] = "-";
                int64_t group = hd_device_group_number(h, d);

                if (group >= 0)
                        snprintf(gbuf, sizeof(gbuf), "%" PRIi64, group);

                r = table_add_row(t, (const char * const[]) {
                        d->address, d->kind,
                        device_vendor(d, vbuf), device_product(d, pbuf),
                        strdash(d->driver), gbuf, strdash(d->state),
                });
                if (r < 0)
                        return r;
        }

        return table_print(t, stdout, arg_legend, on_tty() ? terminal_columns() : 0);
}

int verb_list(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_host_free_ HdHost *h = NULL;

        if (hd_bus_open(&bus) < 0 || hd_host_fetch(bus, &h) < 0)
                return EXIT_FAILURE;

        note_iommu(h);

        return output_result(arg_json ? list_json(h) : list_table(h));
}
