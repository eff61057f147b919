/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "agent.h"
#include "client.h"
#include "output.h"

/*
 * Properties are read through small tables mapping a D-Bus name and
 * signature to a field of the target struct.
 */
typedef int (*prop_parse_t)(sd_bus_message *m, void *field);

typedef struct PropMap {
        const char *name;
        const char *signature;
        size_t offset;
        prop_parse_t parse;
} PropMap;

static int parse_string(sd_bus_message *m, void *field) {
        const char *s;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_read_basic(m, type, &s);
        if (r < 0)
                return r;
        return free_and_strdup(field, s);
}

static int parse_u16(sd_bus_message *m, void *field) {
        return sd_bus_message_read_basic(m, 'q', field);
}

static int parse_u32(sd_bus_message *m, void *field) {
        return sd_bus_message_read_basic(m, 'u', field);
}

static int parse_i32(sd_bus_message *m, void *field) {
        return sd_bus_message_read_basic(m, 'i', field);
}

static int parse_bool(sd_bus_message *m, void *field) {
        int b, r;

        r = sd_bus_message_read_basic(m, 'b', &b);
        if (r < 0)
                return r;
        *(bool *) field = b;
        return 0;
}

static int parse_strv(sd_bus_message *m, void *field) {
        char **l = NULL;
        int r;

        r = sd_bus_message_read_strv(m, &l);
        if (r < 0)
                return r;
        strv_free(*(char ***) field);
        *(char ***) field = l;
        return 0;
}

/* Appends copies of n strings to a strv of *len entries; on failure nothing is added. */
static int strv_append_n(char ***l, size_t *len, const char * const *v, size_t n) {
        char **t = realloc(*l, (*len + n + 1) * sizeof(char *));

        if (!t)
                return -ENOMEM;
        *l = t;
        for (size_t i = 0; i < n; i++) {
                t[*len + i] = strdup(v[i]);
                if (!t[*len + i]) {
                        while (i > 0)
                                free(t[*len + --i]);
                        t[*len] = NULL;
                        return -ENOMEM;
                }
        }
        *len += n;
        t[*len] = NULL;
        return 0;
}

/* a(ss) as a strv of pairs: first, second, first, second, ... */
static int parse_pairs(sd_bus_message *m, void *field) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        const char *v[2];
        int r;

        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, 'a', "(ss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(ss)", &v[0], &v[1])) > 0) {
                r = strv_append_n(&l, &n, v, 2);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        strv_free(*(char ***) field);
        *(char ***) field = l;
        l = NULL;
        return sd_bus_message_exit_container(m);
}

/* Properties that newer daemons have: the field is the struct itself, so that presence is recorded. */
static int parse_device_critical(sd_bus_message *m, void *field) {
        HdDevice *d = field;

        d->has_critical = true;
        return parse_bool(m, &d->critical);
}

static int parse_device_critical_reasons(sd_bus_message *m, void *field) {
        HdDevice *d = field;

        d->has_critical = true;
        return parse_pairs(m, &d->critical_reasons);
}

static int parse_manager_critical(sd_bus_message *m, void *field) {
        HdHost *h = field;

        h->has_critical = true;
        return parse_strv(m, &h->critical);
}

static void rule_field_done(HdRuleField *f) {
        free(f->name);
        free(f->string);
}

static void rules_free(HdRule *rules, size_t n) {
        for (size_t i = 0; i < n; i++) {
                for (size_t j = 0; j < rules[i].n_fields; j++)
                        rule_field_done(rules[i].fields + j);
                free(rules[i].fields);
        }
        free(rules);
}

/* One a{sv} rule; values of types the contract does not use are kept as '?'. */
static int parse_rule(sd_bus_message *m, HdRule *rule) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                HdRuleField *n, *f;
                const char *name, *contents;

                n = realloc(rule->fields, (rule->n_fields + 1) * sizeof(HdRuleField));
                if (!n)
                        return -ENOMEM;
                rule->fields = n;
                f = n + rule->n_fields++;
                *f = (HdRuleField) { .type = '?' };

                r = sd_bus_message_read_basic(m, 's', &name);
                if (r < 0)
                        return r;
                f->name = strdup(name);
                if (!f->name)
                        return -ENOMEM;
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
                if (strlen(contents) == 1 && strchr("qnuis", contents[0])) {
                        union { uint16_t q; int16_t n; uint32_t u; int32_t i; const char *s; } v;

                        r = sd_bus_message_enter_container(m, 'v', contents);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_read_basic(m, contents[0], &v);
                        if (r < 0)
                                return r;
                        f->type = contents[0] == 'n' ? 'i' : contents[0];
                        switch (contents[0]) {
                        case 'q': f->number = v.q; break;
                        case 'n': f->number = v.n; break;
                        case 'u': f->number = v.u; break;
                        case 'i': f->number = v.i; break;
                        default:
                                f->string = strdup(v.s);
                                if (!f->string)
                                        return -ENOMEM;
                        }
                        r = sd_bus_message_exit_container(m);
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* Rules, aa{sv}: the field is the resource group itself. */
static int parse_rules(sd_bus_message *m, void *field) {
        HdResourceGroup *g = field;
        int r;

        rules_free(g->rules, g->n_rules);
        g->rules = NULL;
        g->n_rules = 0;

        r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_at_end(m, false)) == 0) {
                HdRule *n = realloc(g->rules, (g->n_rules + 1) * sizeof(HdRule));

                if (!n)
                        return -ENOMEM;
                g->rules = n;
                n[g->n_rules] = (HdRule) {};
                /* Counted before parsing, so that a half-read rule is freed too. */
                r = parse_rule(m, n + g->n_rules++);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static void group_free_blockers(HdGroup *g) {
        for (size_t i = 0; i < g->n_blockers; i++) {
                free(g->blockers[i].device);
                free(g->blockers[i].reason);
        }
        free(g->blockers);
        g->blockers = NULL;
        g->n_blockers = 0;
}

/* Blockers, a(os): the field is the group itself (offset 0). */
static int parse_blockers(sd_bus_message *m, void *field) {
        HdGroup *g = field;
        const char *path, *reason;
        int r;

        group_free_blockers(g);

        r = sd_bus_message_enter_container(m, 'a', "(os)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(os)", &path, &reason)) > 0) {
                HdBlocker *n = realloc(g->blockers, (g->n_blockers + 1) * sizeof(HdBlocker));

                if (!n)
                        return -ENOMEM;
                g->blockers = n;
                n[g->n_blockers] = (HdBlocker) { .device = strdup(path), .reason = strdup(reason) };
                if (!n[g->n_blockers].device || !n[g->n_blockers].reason) {
                        g->n_blockers++;
                        return -ENOMEM;
                }
                g->n_blockers++;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

#define FIELD(type, f) offsetof(type, f)

static const PropMap manager_map[] = {
        { "Version",      "s", FIELD(HdHost, version),       parse_string },
        { "IommuEnabled", "b", FIELD(HdHost, iommu_enabled), parse_bool   },
        { "IommuMessage", "s", FIELD(HdHost, iommu_message), parse_string },
        { "RebootRequired",   "b",     FIELD(HdHost, reboot_required),   parse_bool  },
        { "RebootReasons",    "a(ss)", FIELD(HdHost, reboot_reasons),    parse_pairs },
        { "Converged",        "b",     FIELD(HdHost, converged),         parse_bool  },
        { "ConvergeProblems", "a(ss)", FIELD(HdHost, converge_problems), parse_pairs },
        { "Critical",         "ao",    0,                                parse_manager_critical },
        {}
};

static const PropMap device_map[] = {
        { "Kind",        "s", FIELD(HdDevice, kind),         parse_string },
        { "Address",     "s", FIELD(HdDevice, address),      parse_string },
        { "SysfsPath",   "s", FIELD(HdDevice, sysfs_path),   parse_string },
        { "VendorId",    "q", FIELD(HdDevice, vendor_id),    parse_u16    },
        { "ProductId",   "q", FIELD(HdDevice, product_id),   parse_u16    },
        { "VendorName",  "s", FIELD(HdDevice, vendor_name),  parse_string },
        { "ProductName", "s", FIELD(HdDevice, product_name), parse_string },
        { "Serial",      "s", FIELD(HdDevice, serial),       parse_string },
        { "Driver",      "s", FIELD(HdDevice, driver),       parse_string },
        { "NumaNode",    "i", FIELD(HdDevice, numa_node),    parse_i32    },
        { "IommuGroup",  "o", FIELD(HdDevice, iommu_group),  parse_string },
        { "ResourceGroup", "o", FIELD(HdDevice, resource_group), parse_string },
        { "State",       "s", FIELD(HdDevice, state),        parse_string },
        { "Critical",        "b",     0, parse_device_critical         },
        { "CriticalReasons", "a(ss)", 0, parse_device_critical_reasons },
        {}
};

static const PropMap pci_map[] = {
        { "Class",                "u",  FIELD(HdDevice, class),                  parse_u32    },
        { "ClassName",            "s",  FIELD(HdDevice, class_name),             parse_string },
        { "SubsystemVendorId",    "q",  FIELD(HdDevice, subsystem_vendor_id),    parse_u16    },
        { "SubsystemId",          "q",  FIELD(HdDevice, subsystem_id),           parse_u16    },
        { "Slot",                 "s",  FIELD(HdDevice, slot),                   parse_string },
        { "LinkSpeed",            "s",  FIELD(HdDevice, link_speed),             parse_string },
        { "LinkWidth",            "u",  FIELD(HdDevice, link_width),             parse_u32    },
        { "ResetMethods",         "as", FIELD(HdDevice, reset_methods),          parse_strv   },
        { "BootVga",              "b",  FIELD(HdDevice, boot_vga),               parse_bool   },
        { "PhysicalFunction",     "o",  FIELD(HdDevice, physical_function),      parse_string },
        { "VirtualFunctionIndex", "i",  FIELD(HdDevice, virtual_function_index), parse_i32    },
        {}
};

static const PropMap sriov_map[] = {
        { "TotalVfs",         "u",  FIELD(HdDevice, total_vfs),         parse_u32  },
        { "NumVfs",           "u",  FIELD(HdDevice, num_vfs),           parse_u32  },
        { "VirtualFunctions", "ao", FIELD(HdDevice, virtual_functions), parse_strv },
        {}
};

static const PropMap usb_map[] = {
        { "BusNumber",    "u", FIELD(HdDevice, bus_number),    parse_u32    },
        { "DeviceNumber", "u", FIELD(HdDevice, device_number), parse_u32    },
        { "PortPath",     "s", FIELD(HdDevice, port_path),     parse_string },
        { "Speed",        "s", FIELD(HdDevice, speed),         parse_string },
        { "DevNode",      "s", FIELD(HdDevice, dev_node),      parse_string },
        { "Authorized",   "b", FIELD(HdDevice, authorized),    parse_bool   },
        {}
};

static const PropMap resource_group_map[] = {
        { "Id",          "s",      FIELD(HdResourceGroup, id),          parse_string },
        { "Name",        "s",      FIELD(HdResourceGroup, name),        parse_string },
        { "Description", "s",      FIELD(HdResourceGroup, description), parse_string },
        { "Type",        "s",      FIELD(HdResourceGroup, type),        parse_string },
        { "Class",       "s",      FIELD(HdResourceGroup, class_hint),  parse_string },
        { "Rules",       "aa{sv}", 0,                                   parse_rules  },
        { "Devices",     "ao",     FIELD(HdResourceGroup, devices),     parse_strv   },
        { "Total",       "u",      FIELD(HdResourceGroup, total),       parse_u32    },
        { "Available",   "u",      FIELD(HdResourceGroup, available),   parse_u32    },
        {}
};

static const PropMap group_map[] = {
        { "Number",   "u",     FIELD(HdGroup, number),  parse_u32      },
        { "Devices",  "ao",    FIELD(HdGroup, devices), parse_strv     },
        { "Viable",   "b",     FIELD(HdGroup, viable),  parse_bool     },
        { "Blockers", "a(os)", 0,                       parse_blockers },
        {}
};

/* Reads an a{sv} of one interface; unknown properties are skipped, so the daemon may grow. */
static int read_properties(sd_bus_message *m, const char *path, const PropMap *map, void *base) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const PropMap *p;
                const char *name, *contents;

                r = sd_bus_message_read_basic(m, 's', &name);
                if (r < 0)
                        return r;

                for (p = map; p->name; p++)
                        if (streq(p->name, name))
                                break;

                if (!p->name)
                        r = sd_bus_message_skip(m, "v");
                else {
                        r = sd_bus_message_peek_type(m, NULL, &contents);
                        if (r < 0)
                                return r;
                        if (!streq(contents, p->signature)) {
                                log_error("%s: property %s has type '%s', expected '%s'.",
                                          path, name, contents, p->signature);
                                return -EBADMSG;
                        }
                        r = sd_bus_message_enter_container(m, 'v', contents);
                        if (r < 0)
                                return r;
                        r = p->parse(m, (uint8_t *) base + p->offset);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                }
                if (r < 0)
                        return r;

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        return sd_bus_message_exit_container(m);
}

static HdDevice *device_free(HdDevice *d) {
        if (!d)
                return NULL;
        free(d->path);
        free(d->kind);
        free(d->address);
        free(d->sysfs_path);
        free(d->vendor_name);
        free(d->product_name);
        free(d->serial);
        free(d->driver);
        free(d->iommu_group);
        free(d->resource_group);
        free(d->state);
        strv_free(d->critical_reasons);
        free(d->class_name);
        free(d->slot);
        free(d->link_speed);
        strv_free(d->reset_methods);
        free(d->physical_function);
        strv_free(d->virtual_functions);
        free(d->port_path);
        free(d->speed);
        free(d->dev_node);
        free(d);
        return NULL;
}

static HdGroup *group_free(HdGroup *g) {
        if (!g)
                return NULL;
        free(g->path);
        strv_free(g->devices);
        group_free_blockers(g);
        free(g);
        return NULL;
}

static HdResourceGroup *resource_group_free(HdResourceGroup *g) {
        if (!g)
                return NULL;
        free(g->path);
        free(g->id);
        free(g->name);
        free(g->description);
        free(g->type);
        free(g->class_hint);
        rules_free(g->rules, g->n_rules);
        strv_free(g->devices);
        free(g);
        return NULL;
}

HdHost *hd_host_free(HdHost *h) {
        if (!h)
                return NULL;
        for (size_t i = 0; i < h->n_devices; i++)
                device_free(h->devices[i]);
        for (size_t i = 0; i < h->n_groups; i++)
                group_free(h->groups[i]);
        for (size_t i = 0; i < h->n_resource_groups; i++)
                resource_group_free(h->resource_groups[i]);
        free(h->devices);
        free(h->groups);
        free(h->resource_groups);
        free(h->version);
        free(h->iommu_message);
        strv_free(h->reboot_reasons);
        strv_free(h->converge_problems);
        strv_free(h->critical);
        free(h);
        return NULL;
}

static HdDevice *device_new(const char *path) {
        HdDevice *d = calloc(1, sizeof(HdDevice));

        if (!d)
                return NULL;
        d->numa_node = -1;
        d->virtual_function_index = -1;
        d->path = strdup(path);
        if (!d->path)
                return device_free(d);
        return d;
}

static HdGroup *group_new(const char *path) {
        HdGroup *g = calloc(1, sizeof(HdGroup));

        if (!g)
                return NULL;
        g->path = strdup(path);
        if (!g->path)
                return group_free(g);
        return g;
}

static HdResourceGroup *resource_group_new(const char *path) {
        HdResourceGroup *g = calloc(1, sizeof(HdResourceGroup));

        if (!g)
                return NULL;
        g->path = strdup(path);
        if (!g->path)
                return resource_group_free(g);
        return g;
}

static int append(void *array, size_t *n, void *item) {
        void ***a = array;
        void **x = realloc(*a, (*n + 1) * sizeof(void *));

        if (!x)
                return -ENOMEM;
        x[(*n)++] = item;
        *a = x;
        return 0;
}

/* One object's a{sa{sv}}: which struct it fills depends on its interfaces. */
static int read_object(sd_bus_message *m, HdHost *h, const char *path) {
        HdDevice *d = NULL;
        HdGroup *g = NULL;
        HdResourceGroup *rg = NULL;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
                const char *iface;
                const PropMap *map = NULL;
                void *base = NULL;

                r = sd_bus_message_read_basic(m, 's', &iface);
                if (r < 0)
                        goto fail;

                if (streq(iface, HOSTDEV_DEVICE_INTERFACE) || streq(iface, HOSTDEV_PCI_INTERFACE) ||
                    streq(iface, HOSTDEV_SRIOV_PF_INTERFACE) || streq(iface, HOSTDEV_USB_INTERFACE)) {
                        if (!d) {
                                d = device_new(path);
                                if (!d) {
                                        r = -ENOMEM;
                                        goto fail;
                                }
                        }
                        base = d;
                        if (streq(iface, HOSTDEV_DEVICE_INTERFACE))
                                map = device_map;
                        else if (streq(iface, HOSTDEV_PCI_INTERFACE)) {
                                map = pci_map;
                                d->is_pci = true;
                        } else if (streq(iface, HOSTDEV_SRIOV_PF_INTERFACE)) {
                                map = sriov_map;
                                d->is_sriov_pf = true;
                        } else {
                                map = usb_map;
                                d->is_usb = true;
                        }
                } else if (streq(iface, HOSTDEV_GROUP_INTERFACE)) {
                        if (!g) {
                                g = group_new(path);
                                if (!g) {
                                        r = -ENOMEM;
                                        goto fail;
                                }
                        }
                        base = g;
                        map = group_map;
                } else if (streq(iface, HOSTDEV_RESOURCE_GROUP_INTERFACE)) {
                        if (!rg) {
                                rg = resource_group_new(path);
                                if (!rg) {
                                        r = -ENOMEM;
                                        goto fail;
                                }
                        }
                        base = rg;
                        map = resource_group_map;
                } else if (streq(iface, HOSTDEV_MANAGER_INTERFACE)) {
                        base = h;
                        map = manager_map;
                }

                if (map)
                        r = read_properties(m, path, map, base);
                else
                        r = sd_bus_message_skip(m, "a{sv}");
                if (r < 0)
                        goto fail;

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        goto fail;
        }
        if (r < 0)
                goto fail;

        if (d) {
                r = append(&h->devices, &h->n_devices, d);
                if (r < 0)
                        goto fail;
                d = NULL;
        }
        if (g) {
                r = append(&h->groups, &h->n_groups, g);
                if (r < 0)
                        goto fail;
                g = NULL;
        }
        if (rg) {
                r = append(&h->resource_groups, &h->n_resource_groups, rg);
                if (r < 0)
                        goto fail;
                rg = NULL;
        }

        return sd_bus_message_exit_container(m);

fail:
        device_free(d);
        group_free(g);
        resource_group_free(rg);
        return r;
}

static int kind_rank(const HdDevice *d) {
        if (streq_ptr(d->kind, "pci"))
                return 0;
        if (streq_ptr(d->kind, "usb"))
                return 1;
        return 2;
}

/* "dddd:bb:dd.f", or "bb:dd.f" in domain 0. */
static bool parse_pci_address(const char *s, unsigned v[4]) {
        int n = -1;

        if (sscanf(s, "%x:%x:%x.%x%n", &v[0], &v[1], &v[2], &v[3], &n) == 4 && n >= 0 && s[n] == '\0')
                return true;
        v[0] = 0;
        n = -1;
        return sscanf(s, "%x:%x.%x%n", &v[1], &v[2], &v[3], &n) == 3 && n >= 0 && s[n] == '\0';
}

/* "3-1.2" as the number sequence 3, 1, 2. Returns how many numbers were read. */
static size_t parse_usb_address(const char *s, unsigned *v, size_t max) {
        size_t n = 0;

        while (*s && n < max) {
                char *end;
                unsigned long x;

                if (*s < '0' || *s > '9')
                        return 0;
                x = strtoul(s, &end, 10);
                v[n++] = (unsigned) x;
                if (*end == '\0')
                        break;
                if ((n == 1 && *end != '-') || (n > 1 && *end != '.'))
                        return 0;
                s = end + 1;
        }
        return n;
}

static int compare_unsigned(unsigned a, unsigned b) {
        return a < b ? -1 : a > b;
}

static int device_compare(const void *a, const void *b) {
        const HdDevice *x = *(HdDevice * const *) a, *y = *(HdDevice * const *) b;
        const char *ax = x->address ? x->address : x->path, *ay = y->address ? y->address : y->path;
        int c;

        c = compare_unsigned(kind_rank(x), kind_rank(y));
        if (c != 0)
                return c;

        if (kind_rank(x) == 0) {
                unsigned px[4], py[4];

                if (parse_pci_address(ax, px) && parse_pci_address(ay, py))
                        for (size_t i = 0; i < 4; i++) {
                                c = compare_unsigned(px[i], py[i]);
                                if (c != 0)
                                        return c;
                        }
        } else if (kind_rank(x) == 1) {
                unsigned ux[16], uy[16];
                size_t nx = parse_usb_address(ax, ux, ELEMENTSOF(ux));
                size_t ny = parse_usb_address(ay, uy, ELEMENTSOF(uy));

                if (nx > 0 && ny > 0) {
                        for (size_t i = 0; i < nx && i < ny; i++) {
                                c = compare_unsigned(ux[i], uy[i]);
                                if (c != 0)
                                        return c;
                        }
                        /* A hub comes before the devices behind it. */
                        c = compare_unsigned(nx, ny);
                        if (c != 0)
                                return c;
                }
        }

        return strcmp(ax, ay);
}

static int group_compare(const void *a, const void *b) {
        const HdGroup *x = *(HdGroup * const *) a, *y = *(HdGroup * const *) b;

        return compare_unsigned(x->number, y->number);
}

static int resource_group_compare(const void *a, const void *b) {
        const HdResourceGroup *x = *(HdResourceGroup * const *) a, *y = *(HdResourceGroup * const *) b;
        int c = strcmp(x->name ? x->name : "", y->name ? y->name : "");

        return c != 0 ? c : strcmp(x->path, y->path);
}

int hd_bus_open(sd_bus **ret) {
        int r;

        r = sd_bus_open_system(ret);
        if (r < 0) {
                log_error("Failed to connect to the system bus: %s", strerror(-r));
                return r;
        }
        return 0;
}

void log_bus_error(const sd_bus_error *error, int r, const char *what) {
        if (sd_bus_error_has_name(error, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
            sd_bus_error_has_name(error, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                log_error("%s: hostdevd is not running: %s", what, error->message);
        else if (sd_bus_error_is_set(error))
                log_error("%s: %s", what, error->message ? error->message : error->name);
        else
                log_error("%s: %s", what, strerror(-r));
}

int hd_host_fetch(sd_bus *bus, HdHost **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        int r;

        h = calloc(1, sizeof(HdHost));
        if (!h) {
                log_oom();
                return -ENOMEM;
        }

        r = sd_bus_call_method(bus, HOSTDEV_SERVICE, HOSTDEV_MANAGER_PATH,
                               "org.freedesktop.DBus.Properties", "GetAll",
                               &error, &reply, "s", HOSTDEV_MANAGER_INTERFACE);
        if (r < 0) {
                log_bus_error(&error, r, "Failed to query hostdevd");
                return r;
        }
        r = read_properties(reply, HOSTDEV_MANAGER_PATH, manager_map, h);
        if (r < 0)
                goto parse_fail;
        reply = sd_bus_message_unref(reply);

        r = sd_bus_call_method(bus, HOSTDEV_SERVICE, HOSTDEV_MANAGER_PATH,
                               "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                               &error, &reply, NULL);
        if (r < 0) {
                log_bus_error(&error, r, "Failed to list objects of hostdevd");
                return r;
        }

        r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
        if (r < 0)
                goto parse_fail;
        while ((r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
                const char *path;

                r = sd_bus_message_read_basic(reply, 'o', &path);
                if (r < 0)
                        goto parse_fail;
                r = read_object(reply, h, path);
                if (r < 0)
                        goto parse_fail;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        goto parse_fail;
        }
        if (r < 0)
                goto parse_fail;
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                goto parse_fail;

        if (h->n_devices > 0)
                qsort(h->devices, h->n_devices, sizeof(HdDevice *), device_compare);
        if (h->n_groups > 0)
                qsort(h->groups, h->n_groups, sizeof(HdGroup *), group_compare);
        if (h->n_resource_groups > 0)
                qsort(h->resource_groups, h->n_resource_groups, sizeof(HdResourceGroup *),
                      resource_group_compare);

        *ret = h;
        h = NULL;
        return 0;

parse_fail:
        if (r == -ENOMEM)
                log_oom();
        else
                log_error("Failed to parse the reply of hostdevd: %s", strerror(-r));
        return r;
}

int hd_get_device(sd_bus *bus, const char *address, char **ret_path) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        int r;

        r = sd_bus_call_method(bus, HOSTDEV_SERVICE, HOSTDEV_MANAGER_PATH,
                               HOSTDEV_MANAGER_INTERFACE, "GetDevice",
                               &error, &reply, "s", address);
        if (r < 0) {
                /* The daemon's own errors say what is wrong with the address: pass them on as they are. */
                if (error.name && strncmp(error.name, "org.hostdev1.Error.", 19) == 0 && error.message)
                        log_error("%s", error.message);
                else
                        log_bus_error(&error, r, "Failed to look up device");
                return r;
        }

        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0) {
                log_error("Failed to parse the reply of hostdevd: %s", strerror(-r));
                return r;
        }

        *ret_path = strdup(path);
        if (!*ret_path) {
                log_oom();
                return -ENOMEM;
        }
        return 0;
}

HdDevice *hd_host_find_device(const HdHost *h, const char *path) {
        if (!path)
                return NULL;
        for (size_t i = 0; i < h->n_devices; i++)
                if (streq(h->devices[i]->path, path))
                        return h->devices[i];
        return NULL;
}

HdGroup *hd_host_find_group(const HdHost *h, const char *path) {
        if (!path)
                return NULL;
        for (size_t i = 0; i < h->n_groups; i++)
                if (streq(h->groups[i]->path, path))
                        return h->groups[i];
        return NULL;
}

HdResourceGroup *hd_host_find_resource_group(const HdHost *h, const char *path) {
        if (!path)
                return NULL;
        for (size_t i = 0; i < h->n_resource_groups; i++)
                if (streq(h->resource_groups[i]->path, path))
                        return h->resource_groups[i];
        return NULL;
}

HdResourceGroup *hd_host_lookup_resource_group(const HdHost *h, const char *what) {
        for (size_t i = 0; i < h->n_resource_groups; i++)
                if (streq_ptr(h->resource_groups[i]->name, what))
                        return h->resource_groups[i];
        for (size_t i = 0; i < h->n_resource_groups; i++)
                if (streq_ptr(h->resource_groups[i]->id, what))
                        return h->resource_groups[i];
        return what[0] == '/' ? hd_host_find_resource_group(h, what) : NULL;
}

const char *hd_device_resource_group_name(const HdHost *h, const HdDevice *d) {
        const HdResourceGroup *g = hd_host_find_resource_group(h, d->resource_group);

        return g && !isempty(g->name) ? g->name : NULL;
}

int64_t hd_device_group_number(const HdHost *h, const HdDevice *d) {
        const HdGroup *g;
        const char *slash;
        char *end;
        unsigned long n;

        if (isempty(d->iommu_group) || streq(d->iommu_group, "/"))
                return -1;

        g = hd_host_find_group(h, d->iommu_group);
        if (g)
                return g->number;

        /* The group object vanished between signals: its path still names the number. */
        slash = strrchr(d->iommu_group, '/');
        if (!slash || !slash[1])
                return -1;
        errno = 0;
        n = strtoul(slash + 1, &end, 10);
        if (errno != 0 || *end != '\0')
                return -1;
        return (int64_t) n;
}

const char *hd_host_path_to_address(const HdHost *h, const char *path) {
        const HdDevice *d = hd_host_find_device(h, path);

        return d && d->address ? d->address : path;
}

int log_message_error(int r) {
        if (r == -ENOMEM)
                log_oom();
        else
                log_error("Failed to build or parse a message: %s", strerror(-r));
        return r;
}

int hd_new_call(sd_bus *bus, sd_bus_message **ret, const char *path, const char *interface, const char *member,
                bool interactive) {
        int r;

        r = sd_bus_message_new_method_call(bus, ret, HOSTDEV_SERVICE, path, interface, member);
        if (r >= 0)
                r = sd_bus_message_set_allow_interactive_authorization(*ret, interactive);
        if (r < 0)
                return log_message_error(r);
        return 0;
}

int hd_close_options(sd_bus_message *m, bool interactive) {
        int r;

        r = sd_bus_message_append(m, "{sv}", "auth.no_user_interaction", "b", (int) !interactive);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

int hd_call(sd_bus *bus, sd_bus_message *m, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (sd_bus_message_get_allow_interactive_authorization(m) > 0)
                polkit_agent_open();
        r = sd_bus_call(bus, m, HD_MUTATING_TIMEOUT_USEC, &error, ret_reply);
        polkit_agent_close();
        if (r < 0) {
                if (sd_bus_error_has_name(&error, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
                    sd_bus_error_has_name(&error, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                        log_error("hostdevd is not running: %s", error.message);
                else if (sd_bus_error_is_set(&error) && !isempty(error.message))
                        /* The daemon's messages say what is wrong and what to do: as they are. */
                        log_error("%s", error.message);
                else if (sd_bus_error_is_set(&error))
                        log_error("%s", error.name);
                else
                        log_error("Failed to call %s: %s", sd_bus_message_get_member(m), strerror(-r));
        }
        return r;
}

int hd_read_plan(sd_bus_message *m, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        const char *v[4];
        int r;

        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, 'a', "(ssss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(ssss)", &v[0], &v[1], &v[2], &v[3])) > 0) {
                r = strv_append_n(&l, &n, v, 4);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = l;
        l = NULL;
        return 0;
}

int hd_append_object_paths(sd_bus_message *m, char **paths) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "o");
        for (char **p = paths; r >= 0 && p && *p; p++)
                r = sd_bus_message_append_basic(m, 'o', *p);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}
