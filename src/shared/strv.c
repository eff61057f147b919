/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "macro.h"
#include "strv.h"

char **strv_free(char **l) {
        if (l)
                for (char **i = l; *i; i++)
                        free(*i);
        free(l);
        return NULL;
}

size_t strv_length(char * const *l) {
        size_t n = 0;

        if (l)
                while (l[n])
                        n++;
        return n;
}

char *strv_join(char * const *l, const char *separator) {
        size_t n = 1, k = strlen(separator);
        char *s, *p;

        for (char * const *i = l; i && *i; i++)
                n += strlen(*i) + k;
        p = s = malloc(n);
        if (!s)
                return NULL;
        *s = '\0';
        for (char * const *i = l; i && *i; i++) {
                if (i != l)
                        p = stpcpy(p, separator);
                p = stpcpy(p, *i);
        }
        return s;
}

bool strv_equal(char * const *a, char * const *b) {
        size_t na = strv_length(a), nb = strv_length(b);

        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

int strv_extend(char ***l, const char *s) {
        size_t n = strv_length(*l);
        char **t, *c;

        c = strdup(s);
        if (!c)
                return -ENOMEM;
        t = realloc(*l, sizeof(char *) * (n + 2));
        if (!t) {
                free(c);
                return -ENOMEM;
        }
        t[n] = c;
        t[n + 1] = NULL;
        *l = t;
        return 0;
}

char **strv_split_whitespace(const char *s) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        const char *p = s;

        if (!l)
                return NULL;
        for (;;) {
                size_t n;

                p += strspn(p, " \t\n");
                n = strcspn(p, " \t\n");
                if (n == 0)
                        break;
                _cleanup_free_ char *w = strndup(p, n);
                if (!w || strv_extend(&l, w) < 0)
                        return NULL;
                p += n;
        }
        return TAKE_PTR(l);
}
