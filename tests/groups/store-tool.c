/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reads and writes gdbm files for the store tests, with the same libgdbm
 * hostdevd uses, so that the tests need no gdbm binding of their own.
 *
 *   store-tool write FILE [KEY VALUE]...   a new file holding these records
 *   store-tool dump FILE                   one line per record: KEY TAB VALUE,
 *                                          with \, TAB and newline escaped
 *                                          as \\, \t and \n; sorted by key
 *
 * Exits 1 with a message when the file cannot be opened or read. */
#include <errno.h>
#include <gdbm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_escaped(const char *s, int n) {
        for (int i = 0; i < n; i++) {
                if (s[i] == '\\')
                        fputs("\\\\", stdout);
                else if (s[i] == '\t')
                        fputs("\\t", stdout);
                else if (s[i] == '\n')
                        fputs("\\n", stdout);
                else
                        putchar(s[i]);
        }
}

static int compare(const void *a, const void *b) {
        const datum *x = a, *y = b;
        int n = x->dsize < y->dsize ? x->dsize : y->dsize;
        int c = memcmp(x->dptr, y->dptr, (size_t) n);

        return c ? c : x->dsize - y->dsize;
}

static int dump(const char *path) {
        GDBM_FILE db = gdbm_open(path, 0, GDBM_READER | GDBM_NOLOCK, 0, NULL);
        datum *keys = NULL;
        size_t n = 0;

        if (!db) {
                fprintf(stderr, "%s: %s\n", path, gdbm_strerror(gdbm_errno));
                return 1;
        }
        for (datum k = gdbm_firstkey(db); k.dptr; ) {
                datum next = gdbm_nextkey(db, k);
                datum *t = realloc(keys, (n + 1) * sizeof(datum));

                if (!t)
                        return 1;
                keys = t;
                keys[n++] = k;
                k = next;
        }
        if (gdbm_errno != GDBM_NO_ERROR && gdbm_errno != GDBM_ITEM_NOT_FOUND) {
                fprintf(stderr, "%s: %s\n", path, gdbm_strerror(gdbm_errno));
                return 1;
        }
        qsort(keys, n, sizeof(datum), compare);
        for (size_t i = 0; i < n; i++) {
                datum v = gdbm_fetch(db, keys[i]);

                if (!v.dptr) {
                        fprintf(stderr, "%s: record vanished\n", path);
                        return 1;
                }
                put_escaped(keys[i].dptr, keys[i].dsize);
                putchar('\t');
                put_escaped(v.dptr, v.dsize);
                putchar('\n');
                free(v.dptr);
                free(keys[i].dptr);
        }
        free(keys);
        gdbm_close(db);
        return 0;
}

static int write_file(const char *path, int argc, char **argv) {
        GDBM_FILE db;

        if (argc % 2) {
                fprintf(stderr, "write: keys and values come in pairs\n");
                return 2;
        }
        db = gdbm_open(path, 0, GDBM_NEWDB | GDBM_NOLOCK, 0600, NULL);
        if (!db) {
                fprintf(stderr, "%s: %s\n", path, gdbm_strerror(gdbm_errno));
                return 1;
        }
        for (int i = 0; i < argc; i += 2) {
                datum k = { .dptr = argv[i], .dsize = (int) strlen(argv[i]) };
                datum v = { .dptr = argv[i + 1], .dsize = (int) strlen(argv[i + 1]) };

                if (gdbm_store(db, k, v, GDBM_REPLACE) != 0) {
                        fprintf(stderr, "%s: %s\n", path, gdbm_strerror(gdbm_errno));
                        return 1;
                }
        }
        if (gdbm_sync(db) != 0)
                return 1;
        gdbm_close(db);
        return 0;
}

int main(int argc, char **argv) {
        if (argc >= 3 && strcmp(argv[1], "dump") == 0 && argc == 3)
                return dump(argv[2]);
        if (argc >= 3 && strcmp(argv[1], "write") == 0)
                return write_file(argv[2], argc - 3, argv + 3);
        fprintf(stderr, "usage: store-tool write FILE [KEY VALUE]... | store-tool dump FILE\n");
        return 2;
}
