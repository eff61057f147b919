/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "shared/macro.h"

static const char *const kind_names[_DEVICE_KIND_MAX] = {
        [DEVICE_PCI] = "pci",
        [DEVICE_USB] = "usb",
};

const char *device_kind_to_string(DeviceKind k) {
        return k >= 0 && k < _DEVICE_KIND_MAX ? kind_names[k] : NULL;
}

/* Exactly n hex digits (n == 0: 1..8 of them) at *p; advances *p. */
static int parse_hex(const char **p, unsigned n, unsigned long *ret) {
        const char *s = *p;
        unsigned long v = 0;
        unsigned i;

        for (i = 0; isxdigit((unsigned char) s[i]); i++) {
                if (i >= 8)
                        return -EINVAL;
                v = v * 16 + (unsigned long) (isdigit((unsigned char) s[i]) ? s[i] - '0'
                                                                            : tolower((unsigned char) s[i]) - 'a' + 10);
        }
        if (i == 0 || (n > 0 && i != n))
                return -EINVAL;
        *p = s + i;
        *ret = v;
        return 0;
}

/* A decimal number 1..max without leading zeros; advances *p. */
static int parse_dec(const char **p, unsigned long max, unsigned long *ret) {
        const char *s = *p;
        unsigned long v = 0;
        unsigned i;

        for (i = 0; isdigit((unsigned char) s[i]); i++) {
                v = v * 10 + (unsigned long) (s[i] - '0');
                if (v > max)
                        return -EINVAL;
        }
        if (i == 0 || v == 0 || (s[0] == '0'))
                return -EINVAL;
        *p = s + i;
        *ret = v;
        return 0;
}

int pci_address_parse(const char *s, char **ret_address) {
        unsigned long domain = 0, bus, dev, fn;
        const char *p = s;
        int colons = 0;

        if (strnlen(s, ADDRESS_MAX + 1) > ADDRESS_MAX)
                return -EINVAL;
        for (const char *c = s; *c; c++)
                colons += *c == ':';
        if (colons == 2) {
                /* Domains are 16 bit, but VMD puts devices in 32-bit domains
                 * such as 10000: accept up to 8 digits, at least 4. */
                if (parse_hex(&p, 0, &domain) < 0 || p - s < 4 || *p++ != ':')
                        return -EINVAL;
        } else if (colons != 1)
                return -EINVAL;

        if (parse_hex(&p, 2, &bus) < 0 || *p++ != ':' ||
            parse_hex(&p, 2, &dev) < 0 || *p++ != '.' ||
            parse_hex(&p, 1, &fn) < 0 || *p != 0)
                return -EINVAL;
        if (dev > 0x1f || fn > 7)
                return -EINVAL;

        if (ret_address && asprintf(ret_address, "%04lx:%02lx:%02lx.%lx", domain, bus, dev, fn) < 0)
                return -ENOMEM;
        return 0;
}

int usb_address_parse(const char *s, char **ret_address) {
        char buf[ADDRESS_MAX + 1];
        const char *p = s;
        unsigned long v;
        size_t l = 0;
        int depth = 0;

        if (strnlen(s, ADDRESS_MAX + 1) > ADDRESS_MAX)
                return -EINVAL;
        if (parse_dec(&p, 999, &v) < 0 || *p++ != '-')
                return -EINVAL;
        l = (size_t) snprintf(buf, sizeof buf, "%lu-", v);
        for (;;) {
                /* USB allows five hub tiers below the root hub: at most seven ports. */
                if (++depth > 7 || parse_dec(&p, 255, &v) < 0)
                        return -EINVAL;
                l += (size_t) snprintf(buf + l, sizeof buf - l, "%lu", v);
                if (*p == 0)
                        break;
                if (*p++ != '.')
                        return -EINVAL;
                buf[l++] = '.';
                buf[l] = 0;
        }
        if (ret_address && !(*ret_address = strdup(buf)))
                return -ENOMEM;
        return 0;
}

int usb_interface_parse(const char *s, char **ret_device) {
        _cleanup_free_ char *device = NULL;
        const char *colon = strchr(s, ':'), *p;
        unsigned long v;
        int r;

        if (strnlen(s, ADDRESS_MAX + 1) > ADDRESS_MAX || !colon)
                return -EINVAL;
        device = strndup(s, (size_t) (colon - s));
        if (!device)
                return -ENOMEM;
        r = usb_address_parse(device, NULL);
        if (r < 0)
                return r;
        /* Configurations and interfaces count from 1 and 0. */
        p = colon + 1;
        if (parse_dec(&p, 255, &v) < 0 || *p++ != '.')
                return -EINVAL;
        if (streq(p, "0"))
                p++;
        else if (parse_dec(&p, 255, &v) < 0)
                return -EINVAL;
        if (*p != 0)
                return -EINVAL;
        if (ret_device)
                *ret_device = TAKE_PTR(device);
        return 0;
}

int pci_slot_parse(const char *s, char **ret_slot) {
        char buf[ADDRESS_MAX + 3];
        _cleanup_free_ char *address = NULL;
        size_t l = strnlen(s, ADDRESS_MAX + 1);
        int r;

        if (l > ADDRESS_MAX)
                return -EINVAL;
        /* The slot with function 0 is a function address; ".*" is the same slot. */
        memcpy(buf, s, l + 1);
        if (l >= 2 && streq(buf + l - 2, ".*"))
                buf[l - 2] = 0;
        if (strchr(buf, '.'))
                return -EINVAL;
        strcat(buf, ".0");
        r = pci_address_parse(buf, &address);
        if (r < 0)
                return r;
        address[strlen(address) - 2] = 0;
        if (ret_slot)
                *ret_slot = TAKE_PTR(address);
        return 0;
}

int address_parse(const char *s, DeviceKind *ret_kind, char **ret_address) {
        if (pci_address_parse(s, ret_address) == 0) {
                if (ret_kind)
                        *ret_kind = DEVICE_PCI;
                return 0;
        }
        if (usb_address_parse(s, ret_address) == 0) {
                if (ret_kind)
                        *ret_kind = DEVICE_USB;
                return 0;
        }
        return -EINVAL;
}

/* "DDDD:BB:DD.F": a PCI address of the usual width (no USB address has
 * a ':'). Each test stops at the end of a shorter string. */
static bool pci_usual_width(const char *s) {
        return s[0] && s[1] && s[2] && s[3] && s[4] == ':' && s[5] && s[6] && s[7] == ':' && s[8] && s[9] &&
               s[10] == '.' && s[11] && !s[12];
}

int address_compare(const char *a, const char *b) {
        /* The common case, in the sorts of large groups: what the general
         * path below returns for two of them, without scanning them thrice. */
        if (pci_usual_width(a) && pci_usual_width(b))
                return memcmp(a, b, 12);

        bool usb_a = strchr(a, '-'), usb_b = strchr(b, '-');
        size_t la = strlen(a), lb = strlen(b);

        if (usb_a != usb_b)
                return usb_a ? 1 : -1;
        if (!usb_a)
                /* Fixed-width hex: a longer domain is a larger one. */
                return la != lb ? (la < lb ? -1 : 1) : strcmp(a, b);

        /* Numbers separated by '-' and '.': compare them one by one. */
        while (*a && *b) {
                char *ea, *eb;
                unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);

                if (x != y)
                        return x < y ? -1 : 1;
                a = *ea ? ea + 1 : ea;
                b = *eb ? eb + 1 : eb;
        }
        return *a ? 1 : *b ? -1 : 0;
}

char *address_from_path_component(DeviceKind kind, const char *component) {
        char buf[ADDRESS_MAX + 1], *ret = NULL;
        size_t l = strnlen(component, ADDRESS_MAX + 1);
        int n = 0;

        if (l > ADDRESS_MAX)
                return NULL;
        memcpy(buf, component, l + 1);
        for (char *c = buf; *c; c++) {
                if (*c != '_')
                        continue;
                n++;
                if (kind == DEVICE_PCI)
                        *c = n == 3 ? '.' : ':';
                else
                        *c = n == 1 ? '-' : '.';
        }
        /* Only the canonical spelling names an object. */
        if (kind == DEVICE_PCI ? pci_address_parse(buf, &ret) < 0 : usb_address_parse(buf, &ret) < 0)
                return NULL;
        if (!streq(ret, buf)) {
                free(ret);
                return NULL;
        }
        return ret;
}

char *address_from_object_path(const char *path) {
        static const char prefix[] = "/org/hostdev1/";

        if (!path || strncmp(path, prefix, sizeof(prefix) - 1) != 0)
                return NULL;
        path += sizeof(prefix) - 1;
        for (DeviceKind k = 0; k < _DEVICE_KIND_MAX; k++) {
                const char *kind = device_kind_to_string(k);
                size_t l = strlen(kind);

                if (strncmp(path, kind, l) == 0 && path[l] == '/')
                        return address_from_path_component(k, path + l + 1);
        }
        return NULL;
}
