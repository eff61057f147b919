/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <gdbm.h>
#include <sys/stat.h>

#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "shared/text.h"
#include "store.h"

#define KEY_VERSION "schema-version"
#define KEY_GROUP_PREFIX "group/"
#define KEY_PREPARED_PREFIX "prepared/"
#define KEY_REBOOT "reboot"

struct Store {
        char *dir;
        char *path;
        char *tmp_path;
};

static void gdbm_fatal_log(const char *msg) {
        log_error("gdbm: %s", msg);
}

const char *store_path(const Store *s) {
        return s->path;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        free(s->dir);
        free(s->path);
        free(s->tmp_path);
        free(s);
        return NULL;
}

static inline void store_freep(Store **s) {
        store_free(*s);
}

/* Values are text with '%XX' escapes for anything that could be taken
 * for structure (newlines, separators) or is not printable. */
static int escape(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f || strchr("%=,\n", *p))
                        fprintf(f, "%%%02X", *p);
                else
                        fputc(*p, f);
        return 0;
}

static char *unescape(const char *s, size_t n) {
        char *r = malloc(n + 1), *o = r;

        if (!r)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                unsigned v;

                if (s[i] != '%') {
                        *o++ = s[i];
                        continue;
                }
                if (i + 2 >= n + 0 || sscanf(s + i + 1, "%2X", &v) != 1 || v == 0) {
                        free(r);
                        return NULL;
                }
                *o++ = (char) v;
                i += 2;
        }
        *o = 0;
        return r;
}

static int serialize_rule(FILE *f, const Rule *r) {
        bool first = true;

        fputs("rule=", f);
        for (RuleField k = 0; k < _RULE_FIELD_MAX; k++) {
                RuleValue v;

                if (!rule_has(r, k))
                        continue;
                v = rule_get(r, k);
                fprintf(f, "%s%s:", first ? "" : ",", rule_field_to_string(k));
                first = false;
                if (v.type == 's')
                        escape(f, v.s);
                else if (v.type == 'i')
                        fprintf(f, "%" PRIi32, v.i);
                else
                        fprintf(f, "%" PRIu32, v.u);
        }
        fputc('\n', f);
        return 0;
}

static char *serialize_group(const ResourceGroup *g) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        fputs("name=", f), escape(f, g->name), fputc('\n', f);
        fputs("description=", f), escape(f, strempty(g->description)), fputc('\n', f);
        fputs("class=", f), escape(f, strempty(g->class_hint)), fputc('\n', f);
        fprintf(f, "type=%s\n", resource_type_to_string(g->type));
        for (size_t i = 0; i < g->n_rules; i++)
                serialize_rule(f, &g->rules[i]);
        for (size_t i = 0; i < g->n_known; i++) {
                fputs("known=", f), escape(f, g->known_serials[i]);
                fputc(',', f), escape(f, g->known_addresses[i]), fputc('\n', f);
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static int parse_rule(ResourceType type, const char *s, Rule *ret) {
        _cleanup_(rule_done) Rule r = {};

        while (*s) {
                size_t n = strcspn(s, ","), k = strcspn(s, ":");
                _cleanup_free_ char *key = NULL, *val = NULL, *err = NULL;
                RuleField field;
                RuleValue v = {};
                char *end;

                if (k >= n)
                        return -EBADMSG;
                key = strndup(s, k);
                val = unescape(s + k + 1, n - k - 1);
                if (!key || !val)
                        return -EBADMSG;
                field = rule_field_from_string(key);
                if ((int) field < 0)
                        return -EBADMSG;
                v.type = rule_field_type(field);
                errno = 0;
                if (v.type == 's')
                        v.s = val;
                else if (v.type == 'i')
                        v.i = (int32_t) strtol(val, &end, 10);
                else
                        v.u = (uint32_t) strtoul(val, &end, 10);
                if (v.type != 's' && (errno || *end || end == val))
                        return -EBADMSG;
                if (rule_set(&r, type, key, &v, &err) < 0)
                        return -EBADMSG;
                s += n + (s[n] == ',');
        }
        if (rule_validate(&r, NULL) < 0)
                return -EBADMSG;
        *ret = r;
        r = (Rule) {};
        return 0;
}

static int parse_group(const char *id, const char *text, size_t len, ResourceGroup **ret) {
        _cleanup_free_ char *name = NULL, *desc = NULL, *class_hint = NULL, *copy = strndup(text, len);
        _cleanup_strv_free_ char **rule_lines = NULL, **known = NULL;
        ResourceType type = _RESOURCE_TYPE_INVALID;
        ResourceGroup *g;
        char *line, *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');

                if (!eq)
                        return -EBADMSG;
                *eq++ = 0;
                if (streq(line, "name"))
                        name = unescape(eq, strlen(eq));
                else if (streq(line, "description"))
                        desc = unescape(eq, strlen(eq));
                else if (streq(line, "class"))
                        class_hint = unescape(eq, strlen(eq));
                else if (streq(line, "type"))
                        type = resource_type_from_string(eq);
                else if (streq(line, "rule")) {
                        if (strv_extend(&rule_lines, eq) < 0)
                                return -ENOMEM;
                } else if (streq(line, "known")) {
                        if (strv_extend(&known, eq) < 0)
                                return -ENOMEM;
                } else
                        return -EBADMSG;
        }
        if (!name || !desc || !class_hint || type < 0 || resource_name_validate(name, NULL) < 0)
                return -EBADMSG;

        g = resource_group_new(id, name, type);
        if (!g)
                return -ENOMEM;
        /* resource_group_new gave them empty strings. */
        free(g->description);
        free(g->class_hint);
        g->description = TAKE_PTR(desc);
        g->class_hint = TAKE_PTR(class_hint);
        g->rules = calloc(strv_length(rule_lines) + 1, sizeof(Rule));
        if (!g->rules) {
                resource_group_free(g);
                return -ENOMEM;
        }
        for (size_t i = 0; rule_lines && rule_lines[i]; i++) {
                if (parse_rule(type, rule_lines[i], &g->rules[i]) < 0) {
                        resource_group_free(g);
                        return -EBADMSG;
                }
                g->n_rules++;
        }
        for (size_t i = 0; known && known[i]; i++) {
                size_t c = strcspn(known[i], ",");
                _cleanup_free_ char *serial = unescape(known[i], c);
                Device probe = { .serial = serial };

                if (!serial || !known[i][c]) {
                        resource_group_free(g);
                        return -EBADMSG;
                }
                probe.address = unescape(known[i] + c + 1, strlen(known[i] + c + 1));
                if (!probe.address || resource_group_note_member(g, &probe, NULL) < 0) {
                        free(probe.address);
                        resource_group_free(g);
                        return -EBADMSG;
                }
                free(probe.address);
        }
        *ret = g;
        return 0;
}

/* "key=value" lines into a NULL-terminated key, value, … list. */
static char **parse_lines(const char *text, size_t len) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *copy = strndup(text, len);
        char *line, *save = NULL;

        if (!copy || !(l = calloc(1, sizeof(char *))))
                return NULL;
        for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');

                if (!eq)
                        return NULL;
                *eq++ = 0;
                _cleanup_free_ char *v = unescape(eq, strlen(eq));
                if (!v || strv_extend(&l, line) < 0 || strv_extend(&l, v) < 0)
                        return NULL;
        }
        return TAKE_PTR(l);
}

static int parse_prepared(const char *address, const char *text, size_t len, PreparedSet *set) {
        _cleanup_strv_free_ char **kv = parse_lines(text, len);
        Device probe = {};
        const char *original = NULL;
        bool releasing = false;
        unsigned v = 0, p = 0;
        int r;

        if (!kv || pci_address_parse(address, NULL) < 0)
                return -EBADMSG;
        probe.address = (char *) address;
        for (size_t i = 0; kv[i]; i += 2) {
                if (streq(kv[i], "serial"))
                        probe.serial = kv[i + 1];
                else if (streq(kv[i], "ids") && sscanf(kv[i + 1], "%4x:%4x", &v, &p) == 2)
                        probe.vendor_id = (uint16_t) v, probe.product_id = (uint16_t) p;
                else if (streq(kv[i], "original-driver"))
                        original = kv[i + 1];
                else if (streq(kv[i], "releasing"))
                        releasing = streq(kv[i + 1], "1");
                else
                        return -EBADMSG;
        }
        if (!original)
                return -EBADMSG;
        r = prepared_add(set, &probe, original);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        prepared_find(set, address)->releasing = releasing;
        return 0;
}

static int parse_reboot(const char *text, size_t len, RebootState *reboot) {
        _cleanup_strv_free_ char **kv = parse_lines(text, len);

        if (!kv)
                return -EBADMSG;
        for (size_t i = 0; kv[i]; i += 2) {
                if (streq(kv[i], "boot-id")) {
                        if (free_and_strdup(&reboot->boot_id, kv[i + 1]) < 0)
                                return -ENOMEM;
                } else if (streq(kv[i], "reason")) {
                        size_t c = strcspn(kv[i + 1], ",");
                        _cleanup_free_ char *subject = unescape(kv[i + 1], c);
                        _cleanup_free_ char *reason = kv[i + 1][c] ? unescape(kv[i + 1] + c + 1, strlen(kv[i + 1] + c + 1)) : NULL;

                        if (!subject || !reason || reboot_state_add(reboot, strempty(reboot->boot_id), subject, reason) < 0)
                                return -EBADMSG;
                } else
                        return -EBADMSG;
        }
        return 0;
}

static int load(Store *s, GDBM_FILE db, const StoreState *state, char **ret_error) {
        ResourceSet *set = state->resources;
        datum key, next, val;
        int version;
        _cleanup_free_ char *v = NULL;

        key = (datum) { .dptr = (char *) KEY_VERSION, .dsize = sizeof(KEY_VERSION) - 1 };
        val = gdbm_fetch(db, key);
        if (!val.dptr) {
                error_setf(ret_error, "%s has no schema version: it is not a hostdev state file or it is damaged. "
                         "Move it away to start with an empty state, or restore a backup.", s->path);
                return -EBADMSG;
        }
        v = strndup(val.dptr, (size_t) val.dsize);
        free(val.dptr);
        version = v ? atoi(v) : 0;
        if (version > STORE_SCHEMA_VERSION) {
                error_setf(ret_error, "%s was written by a newer hostdev (schema version %d; this one knows %d). "
                         "Run the newer hostdevd, or move the file away to start with an empty state.",
                         s->path, version, STORE_SCHEMA_VERSION);
                return -EPROTONOSUPPORT;
        }
        if (version < 1) {
                error_setf(ret_error, "%s has an invalid schema version '%s'. Move it away or restore a backup.",
                         s->path, strempty(v));
                return -EBADMSG;
        }

        for (key = gdbm_firstkey(db); key.dptr; key = next) {
                _cleanup_free_ char *k = strndup(key.dptr, (size_t) key.dsize);
                const char *id = k ? startswith(k, KEY_GROUP_PREFIX) : NULL;
                const char *address = k ? startswith(k, KEY_PREPARED_PREFIX) : NULL;
                ResourceGroup *g = NULL;
                int r = 0;

                next = gdbm_nextkey(db, key);
                if (address || (k && streq(k, KEY_REBOOT))) {
                        val = gdbm_fetch(db, key);
                        r = !val.dptr ? -EBADMSG
                            : address ? parse_prepared(address, val.dptr, (size_t) val.dsize, state->prepared)
                                      : parse_reboot(val.dptr, (size_t) val.dsize, state->reboot);
                        free(val.dptr);
                } else if (id) {
                        val = gdbm_fetch(db, key);
                        r = val.dptr ? parse_group(id, val.dptr, (size_t) val.dsize, &g) : -EBADMSG;
                        free(val.dptr);
                        if (r >= 0 && (resource_set_find_name(set, g->name) || resource_set_add(set, g) < 0)) {
                                resource_group_free(g);
                                r = -EBADMSG;
                        }
                } else if (!k || !streq(k, KEY_VERSION))
                        r = -EBADMSG;
                free(key.dptr);
                if (r < 0) {
                        free(next.dptr);
                        resource_set_done(set);
                        prepared_set_done(state->prepared);
                        reboot_state_done(state->reboot);
                        error_setf(ret_error, "%s holds a damaged record '%s'. Move the file away to start "
                                 "with an empty state, or restore a backup.", s->path, strempty(k));
                        return r;
                }
        }
        return 0;
}

int store_open(const char *state_dir, const StoreState *state, Store **ret, char **ret_error) {
        _cleanup_(store_freep) Store *s = calloc(1, sizeof(Store));
        GDBM_FILE db;
        int r;

        if (!s || !(s->dir = strdup(state_dir)) ||
            asprintf(&s->path, "%s/%s", state_dir, STORE_FILE) < 0 ||
            asprintf(&s->tmp_path, "%s/.%s.new", state_dir, STORE_FILE) < 0)
                return -ENOMEM;

        if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
                r = -errno;
                error_setf(ret_error, "Cannot create the state directory %s: %s", state_dir, strerror(-r));
                return r;
        }
        /* A leftover from a save that was cut short: never the real state. */
        (void) unlink(s->tmp_path);

        db = gdbm_open(s->path, 0, GDBM_READER | GDBM_NOLOCK | GDBM_CLOEXEC, 0600, gdbm_fatal_log);
        if (!db) {
                if (errno == ENOENT && gdbm_errno == GDBM_FILE_OPEN_ERROR) {
                        /* First start: an empty state, written at the first change. */
                        *ret = TAKE_PTR(s);
                        return 0;
                }
                error_setf(ret_error, "Cannot read the state file %s: %s. Move it away to start with an empty "
                         "state, or restore a backup.", s->path, gdbm_strerror(gdbm_errno));
                return -EBADMSG;
        }
        r = load(s, db, state, ret_error);
        gdbm_close(db);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

static int put(GDBM_FILE db, const char *key, const char *value) {
        datum k = { .dptr = (char *) key, .dsize = (int) strlen(key) };
        datum v = { .dptr = (char *) value, .dsize = (int) strlen(value) };

        return gdbm_store(db, k, v, GDBM_REPLACE) == 0 ? 0 : -EIO;
}

static int fsync_path(const char *path, int flags) {
        _cleanup_close_ int fd = open(path, flags | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

static char *serialize_prepared(const Prepared *p) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        if (p->serial)
                fputs("serial=", f), escape(f, p->serial), fputc('\n', f);
        fprintf(f, "ids=%04x:%04x\n", p->vendor_id, p->product_id);
        fputs("original-driver=", f), escape(f, p->original_driver), fputc('\n', f);
        fprintf(f, "releasing=%d\n", p->releasing);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static char *serialize_reboot(const RebootState *r) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        fputs("boot-id=", f), escape(f, strempty(r->boot_id)), fputc('\n', f);
        for (size_t i = 0; r->reasons && r->reasons[i] && r->reasons[i + 1]; i += 2) {
                fputs("reason=", f), escape(f, r->reasons[i]);
                fputc(',', f), escape(f, r->reasons[i + 1]), fputc('\n', f);
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

int store_save(Store *s, const StoreState *state) {
        const ResourceSet *set = state->resources;
        char version[16];
        GDBM_FILE db;
        int r = 0;

        (void) unlink(s->tmp_path);
        db = gdbm_open(s->tmp_path, 0, GDBM_NEWDB | GDBM_NOLOCK | GDBM_CLOEXEC, 0600, gdbm_fatal_log);
        if (!db)
                return log_error_errno(EIO, "Cannot create %s: %s", s->tmp_path, gdbm_strerror(gdbm_errno));

        snprintf(version, sizeof version, "%d", STORE_SCHEMA_VERSION);
        r = put(db, KEY_VERSION, version);
        for (size_t i = 0; r >= 0 && i < set->n_groups; i++) {
                _cleanup_free_ char *key = NULL, *val = serialize_group(set->groups[i]);

                if (!val || asprintf(&key, KEY_GROUP_PREFIX "%s", set->groups[i]->id) < 0)
                        r = -ENOMEM;
                else
                        r = put(db, key, val);
        }
        for (size_t i = 0; r >= 0 && i < state->prepared->n_items; i++) {
                _cleanup_free_ char *key = NULL, *val = serialize_prepared(&state->prepared->items[i]);

                if (!val || asprintf(&key, KEY_PREPARED_PREFIX "%s", state->prepared->items[i].address) < 0)
                        r = -ENOMEM;
                else
                        r = put(db, key, val);
        }
        if (r >= 0 && state->reboot->reasons) {
                _cleanup_free_ char *val = serialize_reboot(state->reboot);

                r = val ? put(db, KEY_REBOOT, val) : -ENOMEM;
        }
        if (r >= 0 && gdbm_sync(db) != 0)
                r = -EIO;
        gdbm_close(db);
        /* Data on disk before the rename makes it visible, and the rename
         * on disk before we tell anyone the change is done. */
        if (r >= 0)
                r = fsync_path(s->tmp_path, O_RDONLY);
        if (r >= 0 && rename(s->tmp_path, s->path) < 0)
                r = -errno;
        if (r >= 0)
                r = fsync_path(s->dir, O_RDONLY | O_DIRECTORY);
        if (r < 0) {
                (void) unlink(s->tmp_path);
                return log_error_errno(r, "Cannot save the state to %s: %m", s->path);
        }
        return 0;
}
