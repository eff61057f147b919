/* SPDX-License-Identifier: LGPL-2.1-or-later */

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

static int groups_text(const HdHost *h) {
        for (size_t i = 0; i < h->n_groups; i++) {
                const HdGroup *g = h->groups[i];

                if (i > 0)
                        putchar('\n');
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
        }

        if (fflush(stdout) != 0 || ferror(stdout))
                return -EIO;
        return 0;
}

int verb_groups(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_host_free_ HdHost *h = NULL;

        if (hd_bus_open(&bus) < 0 || hd_host_fetch(bus, &h) < 0)
                return EXIT_FAILURE;

        note_iommu(h);

        return output_result(arg_json ? groups_json(h) : groups_text(h));
}
