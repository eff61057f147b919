/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stddef.h>

#include "client.h"
#include "decode.h"
#include "shared/log.h"

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

static int parse_u64(sd_bus_message *m, void *field) {
        return sd_bus_message_read_basic(m, 't', field);
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

static int parse_rule(sd_bus_message *m, void *item) {
        HdRule *rule = item;
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

/* An aa{sv} into *items, one element of size bytes per dictionary, each
 * zeroed and counted before parse_one reads it, so that a half-read one
 * is freed with the rest. */
static int parse_dict_array(sd_bus_message *m, void **items, size_t *n_items, size_t size,
                            int (*parse_one)(sd_bus_message *m, void *item)) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_at_end(m, false)) == 0) {
                uint8_t *n = realloc(*items, (*n_items + 1) * size);

                if (!n)
                        return -ENOMEM;
                *items = n;
                memset(n + *n_items * size, 0, size);
                r = parse_one(m, n + (*n_items)++ * size);
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

        hd_rules_free(g->rules, g->n_rules);
        g->rules = NULL;
        g->n_rules = 0;
        return parse_dict_array(m, (void **) &g->rules, &g->n_rules, sizeof(HdRule), parse_rule);
}

static int parse_blockers(sd_bus_message *m, void *field) {
        HdGroup *g = field;
        const char *path, *reason;
        int r;

        hd_group_free_blockers(g);

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

/* One a{sv} of Claim.Handles; keys the daemon may add later are skipped. */
static int parse_handle(sd_bus_message *m, void *item) {
        HdHandle *x = item;
        static const struct { const char *key; size_t offset; } keys[] = {
                { "device",     offsetof(HdHandle, device)     },
                { "address",    offsetof(HdHandle, address)    },
                { "sysfs",      offsetof(HdHandle, sysfs)      },
                { "vfio-group", offsetof(HdHandle, vfio_group) },
                { "qemu",       offsetof(HdHandle, qemu)       },
                { "libvirt",    offsetof(HdHandle, libvirt)    },
                { "libvirt-interface", offsetof(HdHandle, libvirt_interface) },
        };
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *contents;
                size_t i;

                r = sd_bus_message_read_basic(m, 's', &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
                for (i = 0; i < ELEMENTSOF(keys); i++)
                        if (streq(keys[i].key, key))
                                break;
                if (i < ELEMENTSOF(keys) && (streq(contents, "s") || streq(contents, "o"))) {
                        r = sd_bus_message_enter_container(m, 'v', contents);
                        if (r >= 0)
                                r = parse_string(m, (uint8_t *) x + keys[i].offset);
                        if (r >= 0)
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

/* Handles, aa{sv}: the field is the claim itself. */
static int parse_handles(sd_bus_message *m, void *field) {
        HdClaim *c = field;

        hd_claim_free_handles(c);
        return parse_dict_array(m, (void **) &c->handles, &c->n_handles, sizeof(HdHandle), parse_handle);
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
        { "Claim",       "o", FIELD(HdDevice, claim),        parse_string },
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
        { "Claimed",     "u",      FIELD(HdResourceGroup, claimed),     parse_u32    },
        { "Tenant",      "s",      FIELD(HdResourceGroup, tenant),      parse_string },
        { "Parent",      "o",      FIELD(HdResourceGroup, parent),      parse_string },
        {}
};

static const PropMap claim_map[] = {
        { "Id",            "s",      FIELD(HdClaim, id),             parse_string  },
        { "Consumer",      "s",      FIELD(HdClaim, consumer),       parse_string  },
        { "ResourceGroup", "o",      FIELD(HdClaim, resource_group), parse_string  },
        { "Devices",       "ao",     FIELD(HdClaim, devices),        parse_strv    },
        { "Handles",       "aa{sv}", 0,                              parse_handles },
        { "Since",         "t",      FIELD(HdClaim, since),          parse_u64     },
        { "Lease",         "s",      FIELD(HdClaim, lease),          parse_string  },
        { "Missing",       "ao",     FIELD(HdClaim, missing),        parse_strv    },
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

static int read_object(sd_bus_message *m, HdHost *h, const char *path) {
        HdDevice *d = NULL;
        HdGroup *g = NULL;
        HdResourceGroup *rg = NULL;
        HdClaim *c = NULL;
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
                                d = hd_device_new(path);
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
                                g = hd_group_new(path);
                                if (!g) {
                                        r = -ENOMEM;
                                        goto fail;
                                }
                        }
                        base = g;
                        map = group_map;
                } else if (streq(iface, HOSTDEV_RESOURCE_GROUP_INTERFACE)) {
                        if (!rg) {
                                rg = hd_resource_group_new(path);
                                if (!rg) {
                                        r = -ENOMEM;
                                        goto fail;
                                }
                        }
                        base = rg;
                        map = resource_group_map;
                } else if (streq(iface, HOSTDEV_CLAIM_INTERFACE)) {
                        if (!c) {
                                c = hd_claim_new(path);
                                if (!c) {
                                        r = -ENOMEM;
                                        goto fail;
                                }
                        }
                        base = c;
                        map = claim_map;
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
                r = hd_host_add_device(h, d);
                if (r < 0)
                        goto fail;
                d = NULL;
        }
        if (g) {
                r = hd_host_add_group(h, g);
                if (r < 0)
                        goto fail;
                g = NULL;
        }
        if (rg) {
                r = hd_host_add_resource_group(h, rg);
                if (r < 0)
                        goto fail;
                rg = NULL;
        }
        if (c) {
                r = hd_host_add_claim(h, c);
                if (r < 0)
                        goto fail;
                c = NULL;
        }

        return sd_bus_message_exit_container(m);

fail:
        hd_device_free(d);
        hd_group_free(g);
        hd_resource_group_free(rg);
        hd_claim_free(c);
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

int hd_decode_manager(sd_bus_message *m, HdHost *h) {
        return read_properties(m, HOSTDEV_MANAGER_PATH, manager_map, h);
}

int hd_decode_objects(sd_bus_message *m, HdHost *h) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{oa{sa{sv}}}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "oa{sa{sv}}")) > 0) {
                const char *path;

                r = sd_bus_message_read_basic(m, 'o', &path);
                if (r < 0)
                        return r;
                r = read_object(m, h, path);
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
