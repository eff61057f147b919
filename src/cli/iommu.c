/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>

#include "hostdevctl.h"

char *group_member_line(const HdHost *h, const char *path) {
        const HdDevice *d = hd_host_find_device(h, path);
        char vbuf[8], pbuf[8], *s = NULL;
        int r;

        /* A member whose object is gone (hot-unplug in between) is still named. */
        if (!d)
                return strdup(path);

        if (isempty(d->driver))
                r = asprintf(&s, "%s  %s %s  (no driver)", d->address,
                             device_vendor(d, vbuf), device_product(d, pbuf));
        else
                r = asprintf(&s, "%s  %s %s  (%s)", d->address,
                             device_vendor(d, vbuf), device_product(d, pbuf), d->driver);
        if (r < 0)
                return NULL;

        char *p = printable(s);
        free(s);
        return p;
}

void json_write_members(JsonWriter *w, const HdHost *h, char **paths) {
        json_begin_array(w);
        for (char **p = paths; p && *p; p++) {
                const HdDevice *d = hd_host_find_device(h, *p);

                json_begin_object(w);
                json_kv_string(w, "address", hd_host_path_to_address(h, *p));
                json_kv_string(w, "object_path", *p);
                json_kv_string_or_null(w, "vendor_name", d ? d->vendor_name : NULL);
                json_kv_string_or_null(w, "product_name", d ? d->product_name : NULL);
                json_kv_string_or_null(w, "driver", d ? d->driver : NULL);
                json_kv_string_or_null(w, "state", d ? d->state : NULL);
                json_end_object(w);
        }
        json_end_array(w);
}

void json_write_group(JsonWriter *w, const HdHost *h, const HdGroup *g) {
        json_begin_object(w);
        json_kv_uint(w, "number", g->number);
        json_kv_string(w, "object_path", g->path);
        json_kv_bool(w, "viable", g->viable);

        json_key(w, "devices");
        json_write_members(w, h, g->devices);

        json_key(w, "blockers");
        json_begin_array(w);
        for (size_t i = 0; i < g->n_blockers; i++) {
                json_begin_object(w);
                json_kv_string(w, "address", hd_host_path_to_address(h, g->blockers[i].device));
                json_kv_string(w, "object_path", g->blockers[i].device);
                json_kv_string(w, "reason", g->blockers[i].reason);
                json_end_object(w);
        }
        json_end_array(w);

        json_end_object(w);
}

static int groups_json(const HdHost *h) {
        JsonWriter w;

        json_init(&w, stdout, true);
        json_begin_array(&w);
        for (size_t i = 0; i < h->n_groups; i++)
                json_write_group(&w, h, h->groups[i]);
        json_end_array(&w);
        return json_finish(&w);
}

static int group_text(const HdHost *h, const HdGroup *g) {
        printf("IOMMU group %" PRIu32 ": %s\n", g->number, g->viable ? "viable" : "not viable");
        for (char **p = g->devices; p && *p; p++) {
                _cleanup_free_ char *line = group_member_line(h, *p);

                if (!line)
                        return -ENOMEM;
                printf("  %s\n", line);
        }
        for (size_t j = 0; j < g->n_blockers; j++) {
                _cleanup_free_ char *reason = printable(g->blockers[j].reason);

                if (!reason)
                        return -ENOMEM;
                printf("  Blocker: %s\n", reason);
        }
        return 0;
}

static int groups_text(const HdHost *h) {
        for (size_t i = 0; i < h->n_groups; i++) {
                int r;

                if (i > 0)
                        putchar('\n');
                r = group_text(h, h->groups[i]);
                if (r < 0)
                        return r;
        }
        if (fflush(stdout) != 0 || ferror(stdout))
                return -EIO;
        return 0;
}

int verb_iommu_list(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_host_free_ HdHost *h = NULL;

        if (hd_bus_open(&bus) < 0 || hd_host_fetch(bus, &h) < 0)
                return EXIT_FAILURE;

        note_iommu(h);

        return output_result(arg_json ? groups_json(h) : groups_text(h));
}

/* A group number, or a device whose group it is. */
static const HdGroup *find_group(const HdHost *h, const char *what) {
        const HdDevice *d;
        char *end;
        unsigned long n;

        errno = 0;
        n = strtoul(what, &end, 10);
        if (errno == 0 && end != what && *end == '\0' && what[0] >= '0' && what[0] <= '9') {
                for (size_t i = 0; i < h->n_groups; i++)
                        if (h->groups[i]->number == n)
                                return h->groups[i];
                log_error("No IOMMU group %s. 'hostdevctl iommu list' shows them.", what);
                return NULL;
        }
        d = hd_host_find_device_by_address(h, what);
        if (!d) {
                log_error("No device at %s. 'hostdevctl list' shows the addresses.", what);
                return NULL;
        }
        if (!hd_host_find_group(h, d->iommu_group)) {
                log_error("%s is in no IOMMU group.", d->address);
                return NULL;
        }
        return hd_host_find_group(h, d->iommu_group);
}

int verb_iommu_show(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        const HdGroup *g;
        int r;

        if (isempty(argv[1])) {
                log_error("iommu show: the group number must not be empty.");
                return EXIT_USAGE;
        }
        if (hd_bus_open(&bus) < 0 || hd_host_fetch(bus, &h) < 0)
                return EXIT_FAILURE;
        g = find_group(h, argv[1]);
        if (!g)
                return EXIT_FAILURE;

        if (arg_json) {
                JsonWriter w;

                json_init(&w, stdout, true);
                json_write_group(&w, h, g);
                r = json_finish(&w);
        } else {
                r = group_text(h, g);
                if (r >= 0 && (fflush(stdout) != 0 || ferror(stdout)))
                        r = -EIO;
        }
        return output_result(r);
}
