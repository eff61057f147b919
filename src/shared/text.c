/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "macro.h"
#include "text.h"

/* Length of the UTF-8 sequence at s, 0 when it is not a valid one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_sequence(const unsigned char *s) {
        unsigned char c = s[0];
        unsigned lo = 0x80, hi = 0xbf;
        size_t n;

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                n = 2;
        else if (c >= 0xe0 && c <= 0xef) {
                n = 3;
                if (c == 0xe0)
                        lo = 0xa0;
                else if (c == 0xed)
                        hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                n = 4;
                if (c == 0xf0)
                        lo = 0x90;
                else if (c == 0xf4)
                        hi = 0x8f;
        } else
                return 0;

        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return n;
}

bool utf8_is_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                size_t n = utf8_sequence(p);

                if (n == 0)
                        return false;
                p += n;
        }
        return true;
}

bool text_has_control(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p < 0x20 || *p == 0x7f)
                        return true;
                /* U+0080..U+009F are encoded as C2 80..C2 9F. */
                if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
                        return true;
        }
        return false;
}

const char *text_excerpt(const char *s, char buf[static TEXT_EXCERPT_MAX]) {
        size_t i;

        for (i = 0; s[i] && i < 40; i++)
                buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
        strcpy(buf + i, s[i] ? "…" : "");
        return buf;
}

int error_setf(char **ret_error, const char *fmt, ...) {
        va_list ap;
        int r;

        if (!ret_error)
                return -EINVAL;
        va_start(ap, fmt);
        r = vasprintf(ret_error, fmt, ap);
        va_end(ap);
        if (r < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}
