/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <fcntl.h>
#include <malloc.h>
#include <pci/pci.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "libpci-log.h"
#include "names.h"
#include "shared/hashmap.h"
#include "shared/log.h"
#include "shared/macro.h"

typedef struct CacheEntry {
        char key[24];
        const char *value;
} CacheEntry;

struct Names {
        struct pci_access *pacc;
        char *pci_ids;
        char *usb_ids;
        Hashmap *strings;       /* interned string → itself */
        Hashmap *cache;         /* "p:10de:2206" → CacheEntry */
};

Names *names_new(const char *pci_ids, const char *usb_ids) {
        Names *n = calloc(1, sizeof(Names));

        if (!n)
                return NULL;
        n->pci_ids = strdup(pci_ids);
        n->usb_ids = strdup(usb_ids);
        n->strings = hashmap_new();
        n->cache = hashmap_new();
        n->pacc = pci_alloc();
        if (!n->pci_ids || !n->usb_ids || !n->strings || !n->cache || !n->pacc)
                return names_free(n);
        n->pacc->warning = libpci_warning;
        n->pacc->debug = libpci_silent;
        pci_set_name_list_path(n->pacc, n->pci_ids, 0);
        return n;
}

Names *names_free(Names *n) {
        void *v;
        size_t i = 0;

        if (!n)
                return NULL;
        while (hashmap_iterate(n->cache, &i, &v, NULL))
                free(v);
        hashmap_free(n->cache);
        i = 0;
        while (hashmap_iterate(n->strings, &i, &v, NULL))
                free(v);
        hashmap_free(n->strings);
        if (n->pacc)
                pci_cleanup(n->pacc);
        free(n->pci_ids);
        free(n->usb_ids);
        free(n);
        return NULL;
}

const char *names_intern(Names *n, const char *s) {
        char *v;

        if (!s)
                s = "";
        v = hashmap_get(n->strings, s);
        if (v)
                return v;
        v = strdup(s);
        if (!v || hashmap_put(n->strings, v, v) < 0) {
                free(v);
                return "";
        }
        return v;
}

typedef const char *(*LookupFunc)(Names *n, unsigned a, unsigned b);

static const char *cached(Names *n, const char *kind, unsigned a, int b, LookupFunc lookup) {
        CacheEntry *e, key;

        if (b < 0)
                snprintf(key.key, sizeof key.key, "%s:%06x", kind, a);
        else
                snprintf(key.key, sizeof key.key, "%s:%04x:%04x", kind, a, (unsigned) b);
        e = hashmap_get(n->cache, key.key);
        if (e)
                return e->value;

        e = malloc(sizeof(CacheEntry));
        if (!e)
                return "";
        memcpy(e->key, key.key, sizeof e->key);
        e->value = names_intern(n, lookup(n, a, (unsigned) b));
        if (hashmap_put(n->cache, e->key, e) < 0) {
                free(e);
                return "";
        }
        return e->value;
}

static char name_buf[1024];

static const char *lookup_pci_vendor(Names *n, unsigned v, unsigned unused) {
        return pci_lookup_name(n->pacc, name_buf, sizeof name_buf,
                               PCI_LOOKUP_VENDOR | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB, v);
}

static const char *lookup_pci_device(Names *n, unsigned v, unsigned d) {
        return pci_lookup_name(n->pacc, name_buf, sizeof name_buf,
                               PCI_LOOKUP_DEVICE | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB, v, d);
}

static const char *lookup_pci_class(Names *n, unsigned class, unsigned unused) {
        char suffix[16];
        const char *s;
        size_t l;

        /* The subclass name ("VGA compatible controller") says the most.
         * For an unknown subclass libpci gives the base class name with the
         * number appended ("Display controller [0380]"): keep the name. */
        s = pci_lookup_name(n->pacc, name_buf, sizeof name_buf,
                            PCI_LOOKUP_CLASS | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB, class >> 8);
        snprintf(suffix, sizeof suffix, " [%04x]", class >> 8);
        if (s && endswith(s, suffix)) {
                l = strlen(s) - strlen(suffix);
                memmove(name_buf, s, l);
                name_buf[l] = 0;
                s = name_buf;
        }
        return s;
}

void names_pci(Names *n, uint16_t vendor, uint16_t device, const char **ret_vendor, const char **ret_device) {
        *ret_vendor = cached(n, "p", vendor, -1, lookup_pci_vendor);
        *ret_device = cached(n, "p", vendor, device, lookup_pci_device);
}

const char *names_pci_class(Names *n, uint32_t class) {
        return cached(n, "c", class & 0xffff00, -1, lookup_pci_class);
}

/* "10de  Name" between p and eol: four hex digits, two spaces, a name.
 * Bounded by eol: the mapped file is not NUL-terminated. */
static bool parse_id_line(const char *p, const char *eol, unsigned *ret_id) {
        unsigned id = 0;

        if (eol - p < 7 || p[4] != ' ' || p[5] != ' ')
                return false;
        for (int i = 0; i < 4; i++) {
                int c = (unsigned char) p[i];

                if (!isxdigit(c))
                        return false;
                id = id * 16 + (unsigned) (isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
        }
        *ret_id = id;
        return true;
}

/* usb.ids: "vvvv  Vendor" lines, each followed by "\tpppp  Product" lines,
 * then class and other sections ("C 00  …"). Looked up by one scan of the
 * mapped file, once per model: results are cached. */
static const char *usb_ids_lookup(Names *n, unsigned vendor, int product) {
        _cleanup_close_ int fd = open(n->usb_ids, O_RDONLY | O_CLOEXEC);
        const char *p, *end, *found = NULL, *found_eol = NULL;
        bool in_vendor = false;
        struct stat st;
        char *map;

        if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0)
                return NULL;
        map = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED)
                return NULL;
        end = map + st.st_size;
        for (p = map; p < end && !found; ) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));
                unsigned id;

                if (!eol)
                        eol = end;
                if (eol - p >= 2 && p[0] == 'C' && p[1] == ' ')
                        break;
                if (*p != '#' && *p != '\t' && eol > p) {
                        /* The next vendor ends this vendor's products. */
                        if (in_vendor)
                                break;
                        if (parse_id_line(p, eol, &id) && id == vendor) {
                                in_vendor = true;
                                if (product < 0)
                                        found = p + 6, found_eol = eol;
                        }
                } else if (in_vendor && *p == '\t' && parse_id_line(p + 1, eol, &id) && (int) id == product)
                        found = p + 7, found_eol = eol;
                p = eol + 1;
        }
        if (found) {
                size_t l = (size_t) (found_eol - found);

                if (l >= sizeof name_buf)
                        l = sizeof name_buf - 1;
                memcpy(name_buf, found, l);
                name_buf[l] = 0;
        }
        munmap(map, (size_t) st.st_size);
        return found ? name_buf : NULL;
}

static const char *lookup_usb_vendor(Names *n, unsigned v, unsigned unused) {
        return usb_ids_lookup(n, v, -1);
}

static const char *lookup_usb_product(Names *n, unsigned v, unsigned p) {
        return usb_ids_lookup(n, v, (int) p);
}

void names_usb(Names *n, uint16_t vendor, uint16_t product, const char **ret_vendor, const char **ret_product) {
        *ret_vendor = cached(n, "u", vendor, -1, lookup_usb_vendor);
        *ret_product = cached(n, "u", vendor, product, lookup_usb_product);
}

void names_trim(Names *n) {
        pci_free_name_list(n->pacc);
        malloc_trim(0);
}
