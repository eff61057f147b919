/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>

#include "shared/macro.h"
#include "vpd.h"

#define VPD_TAG_END       0x0f  /* small resource */
#define VPD_TAG_ID_STRING 0x02  /* large resources */
#define VPD_TAG_READ_ONLY 0x10

static int find_keyword(const uint8_t *p, size_t n, char **ret) {
        size_t i = 0;

        while (i + 3 <= n) {
                size_t len = p[i + 2];

                if (i + 3 + len > n)
                        return -EBADMSG;
                if (p[i] == 'S' && p[i + 1] == 'N') {
                        const uint8_t *v = p + i + 3;
                        char *s;

                        /* Trim the padding vendors put around it. */
                        while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == 0))
                                len--;
                        while (len > 0 && *v == ' ')
                                v++, len--;
                        if (len == 0)
                                return -ENOENT;
                        for (size_t k = 0; k < len; k++)
                                if (!isprint(v[k]))
                                        return -EBADMSG;
                        s = strndup((const char *) v, len);
                        if (!s)
                                return -ENOMEM;
                        *ret = s;
                        return 0;
                }
                i += 3 + len;
        }
        return -ENOENT;
}

int vpd_find_serial(const uint8_t *buf, size_t n, char **ret) {
        size_t i = 0;

        while (i < n) {
                uint8_t tag = buf[i];
                size_t len;

                if (!(tag & 0x80)) {
                        /* Small resource: bits 6..3 name it, bits 2..0 its length. */
                        if (((tag >> 3) & 0x0f) == VPD_TAG_END)
                                break;
                        i += 1 + (tag & 0x07);
                        continue;
                }
                if (i + 3 > n)
                        return -EBADMSG;
                len = (size_t) buf[i + 1] | ((size_t) buf[i + 2] << 8);
                if (i + 3 + len > n)
                        return -EBADMSG;
                if ((tag & 0x7f) == VPD_TAG_READ_ONLY)
                        return find_keyword(buf + i + 3, len, ret);
                i += 3 + len;
        }
        return -ENOENT;
}
