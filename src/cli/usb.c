/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* "usb": the USB devices as a tree by port, bus by bus (the root hubs are
 * not published: a bus is its ports), with ids, names, serial, interface
 * drivers, prepared state and the consumer of the claim holding each. */

#include <errno.h>
#include <inttypes.h>

#include "common/address.h"
#include "hostdevctl.h"

#define HOSTDEV_CLAIM_INTERFACE "org.hostdev1.Claim"

typedef struct UsbRow {
        const HdDevice *d;
        char **interfaces;      /* name, class, driver, … */
        char *claim;            /* object path, NULL when none */
        char *consumer;
} UsbRow;

static void rows_free(UsbRow *rows, size_t n) {
        for (size_t i = 0; i < n; i++) {
                strv_free(rows[i].interfaces);
                free(rows[i].claim);
                free(rows[i].consumer);
        }
        free(rows);
}

static int read_interfaces(sd_bus *bus, const char *path, char ***ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **l = NULL;
        const char *name, *cls, *driver;
        int r;

        r = sd_bus_get_property(bus, HOSTDEV_SERVICE, path, HOSTDEV_USB_INTERFACE, "Interfaces", &error, &reply,
                                "a(sss)");
        /* An older hostdevd without the property: no interfaces to show. */
        if (r < 0)
                return 0;
        r = sd_bus_message_enter_container(reply, 'a', "(sss)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(sss)", &name, &cls, &driver)) > 0)
                if (strv_extend(&l, name) < 0 || strv_extend(&l, cls) < 0 || strv_extend(&l, driver) < 0)
                        return -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

/* Device.Claim and that claim's Consumer; none when "/" or unknown. */
static int read_claim(sd_bus *bus, const char *path, char **ret_claim, char **ret_consumer) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *claim = NULL;
        int r;

        r = sd_bus_get_property_string(bus, HOSTDEV_SERVICE, path, HOSTDEV_DEVICE_INTERFACE, "Claim", &error, &claim);
        if (r < 0 || streq(claim, "/"))
                return 0;
        sd_bus_error_free(&error);
        (void) sd_bus_get_property_string(bus, HOSTDEV_SERVICE, claim, HOSTDEV_CLAIM_INTERFACE, "Consumer", &error,
                                          ret_consumer);
        *ret_claim = TAKE_PTR(claim);
        return 0;
}

static int cmp_rows(const void *a, const void *b) {
        return address_compare(((const UsbRow *) a)->d->address, ((const UsbRow *) b)->d->address);
}

static int collect(sd_bus *bus, const HdHost *h, UsbRow **ret, size_t *ret_n) {
        UsbRow *rows = calloc(h->n_devices + 1, sizeof(UsbRow));
        size_t n = 0;
        int r;

        if (!rows)
                return -ENOMEM;
        for (size_t i = 0; i < h->n_devices; i++) {
                const HdDevice *d = h->devices[i];
                UsbRow *row = &rows[n];

                if (!d->is_usb || !d->address)
                        continue;
                row->d = d;
                n++;
                r = read_interfaces(bus, d->path, &row->interfaces);
                if (r >= 0)
                        r = read_claim(bus, d->path, &row->claim, &row->consumer);
                if (r < 0) {
                        rows_free(rows, n);
                        return r;
                }
        }
        qsort(rows, n, sizeof(UsbRow), cmp_rows);
        *ret = rows;
        *ret_n = n;
        return 0;
}

/* Hubs between the root hub and the device: "1-3.2" → 1. */
static unsigned depth_of(const char *port_path) {
        unsigned depth = 0;

        for (const char *c = port_path; *c; c++)
                depth += *c == '.';
        return depth;
}

/* "1-3.2" → "1-3"; NULL for a port of the root hub ("1-3"). */
static char *parent_of(const char *port_path) {
        const char *dot = strrchr(port_path, '.');

        return dot ? strndup(port_path, (size_t) (dot - port_path)) : NULL;
}

static char *drivers_text(char **interfaces) {
        _cleanup_strv_free_ char **l = NULL;

        for (char **i = interfaces; i && i[0] && i[1] && i[2]; i += 3)
                if (strv_extend(&l, isempty(i[2]) ? "(none)" : i[2]) < 0)
                        return NULL;
        return l ? strv_join(l, ", ") : strdup("-");
}

static bool row_is_hub(const UsbRow *row) {
        for (char **i = row->interfaces; i && i[0] && i[1] && i[2]; i += 3)
                if (startswith(i[1], "09/"))
                        return true;
        return false;
}

static int print_text(const UsbRow *rows, size_t n) {
        static const char * const headers[] = { "PORT", "ID", "NAME", "SERIAL", "DRIVERS", "STATE", "CLAIM" };
        _cleanup_table_free_ Table *t = table_new(ELEMENTSOF(headers), headers);
        unsigned bus = 0;
        int r;

        if (!t)
                return -ENOMEM;
        table_set_shrinkable(t, 2, true);
        for (size_t i = 0; i < n; i++) {
                const HdDevice *d = rows[i].d;
                _cleanup_free_ char *port = NULL, *id = NULL, *name = NULL, *drivers = drivers_text(rows[i].interfaces);
                char head[32];

                if (d->bus_number != bus) {
                        bus = d->bus_number;
                        snprintf(head, sizeof head, "bus %u", bus);
                        r = table_add_row(t, (const char * const[]) { head, "", "", "", "", "", "" });
                        if (r < 0)
                                return r;
                }
                if (!drivers || asprintf(&port, "%*s%s", 2 * (int) depth_of(d->address) + 2, "", d->address) < 0 ||
                    asprintf(&id, "%04x:%04x", d->vendor_id, d->product_id) < 0 ||
                    asprintf(&name, "%s%s%s%s", strempty(d->vendor_name), d->vendor_name && d->product_name ? " " : "",
                             strempty(d->product_name), row_is_hub(&rows[i]) ? " (hub)" : "") < 0)
                        return -ENOMEM;
                r = table_add_row(t, (const char * const[]) { port, id, name, strdash(d->serial), drivers,
                                                              strdash(d->state),
                                                              strdash(rows[i].consumer ?: rows[i].claim) });
                if (r < 0)
                        return r;
        }
        if (n == 0)
                printf("No USB devices.\n");
        else {
                r = table_print(t, stdout, arg_legend, on_tty() ? terminal_columns() : 0);
                if (r < 0)
                        return r;
        }
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -EIO;
}

static int print_json(const UsbRow *rows, size_t n) {
        JsonWriter w;
        char id[8];

        json_init(&w, stdout, true);
        json_begin_array(&w);
        for (size_t i = 0; i < n; i++) {
                const HdDevice *d = rows[i].d;
                _cleanup_free_ char *parent = parent_of(d->address);

                json_begin_object(&w);
                json_kv_string(&w, "port_path", d->address);
                json_kv_uint(&w, "bus", d->bus_number);
                json_kv_uint(&w, "device_number", d->device_number);
                json_kv_string_or_null(&w, "parent", parent);
                snprintf(id, sizeof id, "%04x", d->vendor_id);
                json_kv_string(&w, "vendor_id", id);
                snprintf(id, sizeof id, "%04x", d->product_id);
                json_kv_string(&w, "product_id", id);
                json_kv_string_or_null(&w, "vendor_name", d->vendor_name);
                json_kv_string_or_null(&w, "product_name", d->product_name);
                json_kv_string_or_null(&w, "serial", d->serial);
                json_kv_bool(&w, "hub", row_is_hub(&rows[i]));
                json_key(&w, "interfaces");
                json_begin_array(&w);
                for (char **it = rows[i].interfaces; it && it[0] && it[1] && it[2]; it += 3) {
                        json_begin_object(&w);
                        json_kv_string(&w, "name", it[0]);
                        json_kv_string(&w, "class", it[1]);
                        json_kv_string_or_null(&w, "driver", it[2]);
                        json_end_object(&w);
                }
                json_end_array(&w);
                json_kv_string_or_null(&w, "state", d->state);
                json_key(&w, "claim");
                if (rows[i].claim) {
                        json_begin_object(&w);
                        json_kv_string(&w, "path", rows[i].claim);
                        json_kv_string_or_null(&w, "consumer", rows[i].consumer);
                        json_end_object(&w);
                } else
                        json_null(&w);
                json_end_object(&w);
        }
        json_end_array(&w);
        return json_finish(&w);
}

int verb_usb(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        UsbRow *rows = NULL;
        size_t n = 0;
        int r;

        if (hd_bus_open(&bus) < 0 || hd_host_fetch(bus, &h) < 0)
                return EXIT_FAILURE;
        r = collect(bus, h, &rows, &n);
        if (r >= 0)
                r = arg_json ? print_json(rows, n) : print_text(rows, n);
        rows_free(rows, n);
        return output_result(r);
}
