/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bus.h"
#include "shared/macro.h"

static int get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", VERSION);
}

static int get_iommu_enabled(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;

        return sd_bus_message_append(reply, "b", (int) d->iommu_enabled);
}

static int get_iommu_message(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;

        return sd_bus_message_append(reply, "s", strempty(d->iommu_message));
}

/* Printable excerpt of user input for error messages: a 1 MiB string or
 * control characters must not end up verbatim in a reply or the log. */
static const char *excerpt(const char *s, char buf[static 48]) {
        size_t i;

        for (i = 0; s[i] && i < 40; i++)
                buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
        strcpy(buf + i, s[i] ? "…" : "");
        return buf;
}

static int method_get_device(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;
        _cleanup_free_ char *address = NULL;
        const char *s;
        char buf[48];
        Device *dev;
        int r;

        r = sd_bus_message_read(m, "s", &s);
        if (r < 0)
                return r;

        if (strlen(s) > ADDRESS_MAX)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "Address is too long (%zu bytes): a device address has at most %d.",
                                         strlen(s), ADDRESS_MAX);
        r = address_parse(s, NULL, &address);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "'%s' is not a device address: expected a PCI address "
                                         "such as 0000:01:00.0 or 01:00.0, or a USB port path such as 3-1.2.",
                                         excerpt(s, buf));

        dev = inventory_get(&d->inventory, address);
        if (!dev)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "No device at %s.", address);

        return sd_bus_reply_method_return(m, "o", dev->object_path);
}

const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("IommuEnabled", "b", get_iommu_enabled, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("IommuMessage", "s", get_iommu_message, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("GetDevice",
                                SD_BUS_ARGS("s", address),
                                SD_BUS_RESULT("o", device),
                                method_get_device,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
