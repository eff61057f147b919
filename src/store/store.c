/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <gdbm.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model/address.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "shared/text.h"
#include "store.h"

#define KEY_VERSION "schema-version"
#define KEY_GROUP_PREFIX "group/"
#define KEY_PREPARED_PREFIX "prepared/"
#define KEY_REBOOT "reboot"
/* Every record but the version ends with "check=XXXXXXXX\n": the CRC-32
 * of its key, a NUL and the lines before it. */
#define CHECK_PREFIX "check="
#define CHECK_LINE_LEN (sizeof(CHECK_PREFIX) - 1 + 8 + 1)
#define KEY_MAX 256
/* Serials, drivers, boot ids and reboot reasons are not typed by users;
 * bound them anyway. */
#define TEXT_MAX 4096
#define DRIVER_MAX 255

struct Store {
        char *dir;
        char *path;
        char *tmp_path;
};

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

static Store *store_new(const char *state_dir) {
        _cleanup_(store_freep) Store *s = calloc(1, sizeof(Store));

        if (!s || !(s->dir = strdup(state_dir)) ||
            asprintf(&s->path, "%s/%s", state_dir, STORE_FILE) < 0 ||
            asprintf(&s->tmp_path, "%s/.%s.new", state_dir, STORE_FILE) < 0)
                return NULL;
        return TAKE_PTR(s);
}

static void state_done(const StoreState *st) {
        resource_set_done(st->resources);
        prepared_set_done(st->prepared);
        reboot_state_done(st->reboot);
}

/* Moves what src holds into the empty dst. */
static void state_move(const StoreState *dst, const StoreState *src) {
        *dst->resources = *src->resources;
        *dst->prepared = *src->prepared;
        *dst->reboot = *src->reboot;
        *src->resources = (ResourceSet) {};
        *src->prepared = (PreparedSet) {};
        *src->reboot = (RebootState) {};
}

static uint32_t crc32_update(uint32_t crc, const void *data, size_t n) {
        const unsigned char *p = data;

        crc = ~crc;
        for (size_t i = 0; i < n; i++) {
                crc ^= p[i];
                for (int k = 0; k < 8; k++)
                        crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1u));
        }
        return ~crc;
}

static uint32_t record_check(const char *key, const char *body, size_t n) {
        return crc32_update(crc32_update(0, key, strlen(key) + 1), body, n);
}

/* gdbm is opened without a fatal function throughout: with one, gdbm
 * calls it and exits on a read error; without, the call fails and sets
 * gdbm_errno, which is what lets a damaged file be reported. */

/* ---- writing ---------------------------------------------------------- */

/* Values are text with '%XX' escapes for anything that could be taken
 * for structure (newlines, separators) or is not printable. */
static bool needs_escape(unsigned char c) {
        return c < 0x20 || c == 0x7f || strchr("%=,\n", c);
}

static int escape(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (needs_escape(*p))
                        fprintf(f, "%%%02X", *p);
                else
                        fputc(*p, f);
        return 0;
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

/* The records of a state, as key, value, key, value, …; values end in
 * their check line. */
static int add_record(char ***l, const char *key, char *body) {
        _cleanup_free_ char *b = body, *v = NULL;

        if (!b || asprintf(&v, "%s" CHECK_PREFIX "%08" PRIx32 "\n", b, record_check(key, b, strlen(b))) < 0)
                return -ENOMEM;
        if (strv_extend(l, key) < 0 || strv_extend(l, v) < 0)
                return -ENOMEM;
        return 0;
}

static int state_records(const StoreState *state, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        char version[16];
        int r;

        snprintf(version, sizeof version, "%d", STORE_SCHEMA_VERSION);
        if (strv_extend(&l, KEY_VERSION) < 0 || strv_extend(&l, version) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < state->resources->n_groups; i++) {
                _cleanup_free_ char *key = NULL;
                const ResourceGroup *g = state->resources->groups[i];

                if (asprintf(&key, KEY_GROUP_PREFIX "%s", g->id) < 0)
                        return -ENOMEM;
                r = add_record(&l, key, serialize_group(g));
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < state->prepared->n_items; i++) {
                _cleanup_free_ char *key = NULL;
                const Prepared *p = &state->prepared->items[i];

                if (asprintf(&key, KEY_PREPARED_PREFIX "%s", p->address) < 0)
                        return -ENOMEM;
                r = add_record(&l, key, serialize_prepared(p));
                if (r < 0)
                        return r;
        }
        if (state->reboot->reasons) {
                r = add_record(&l, KEY_REBOOT, serialize_reboot(state->reboot));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
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

/* A complete new file at tmp_path, on disk. */
static int write_new(Store *s, char **records) {
        GDBM_FILE db;
        int r = 0;

        (void) unlink(s->tmp_path);
        db = gdbm_open(s->tmp_path, 0, GDBM_NEWDB | GDBM_NOLOCK | GDBM_CLOEXEC, 0600, NULL);
        if (!db)
                return log_error_errno(EIO, "Cannot create %s: %s", s->tmp_path, gdbm_strerror(gdbm_errno));
        for (size_t i = 0; r >= 0 && records[i] && records[i + 1]; i += 2)
                r = put(db, records[i], records[i + 1]);
        if (r >= 0 && gdbm_sync(db) != 0)
                r = -EIO;
        gdbm_close(db);
        /* Data on disk before the rename makes it visible. */
        if (r >= 0)
                r = fsync_path(s->tmp_path, O_RDONLY);
        if (r < 0)
                (void) unlink(s->tmp_path);
        return r;
}

/* The new file in place, and the rename on disk before anyone is told. */
static int commit_new(Store *s) {
        int r = 0;

        if (rename(s->tmp_path, s->path) < 0)
                r = -errno;
        if (r >= 0)
                r = fsync_path(s->dir, O_RDONLY | O_DIRECTORY);
        if (r < 0)
                (void) unlink(s->tmp_path);
        return r;
}

int store_save(Store *s, const StoreState *state) {
        _cleanup_strv_free_ char **records = NULL;
        int r;

        r = state_records(state, &records);
        if (r >= 0)
                r = write_new(s, records);
        if (r >= 0)
                r = commit_new(s);
        if (r < 0)
                return log_error_errno(r, "Cannot save the state to %s: %m", s->path);
        return 0;
}

/* ---- reading ---------------------------------------------------------- */

/* Each parser returns -EINVAL with *reason (a phrase) for a record that
 * is not what a save writes, or -ENOMEM. */

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Exactly what escape() writes: anything it escapes must be escaped. */
static int unescape(const char *s, size_t n, char **ret, char **reason) {
        _cleanup_free_ char *r = malloc(n + 1);
        char *o = r;

        if (!r)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int hi, lo;

                if (s[i] != '%') {
                        if (needs_escape((unsigned char) s[i]))
                                return error_setf(reason, "a value holds an unescaped character");
                        *o++ = s[i];
                        continue;
                }
                if (i + 2 >= n || (hi = unhex(s[i + 1])) < 0 || (lo = unhex(s[i + 2])) < 0 ||
                    (hi == 0 && lo == 0))
                        return error_setf(reason, "a value holds a malformed escape");
                *o++ = (char) (hi << 4 | lo);
                i += 2;
        }
        *o = 0;
        *ret = TAKE_PTR(r);
        return 0;
}

/* "key=value\n" lines into key, raw value, …: every line ends in '\n'. */
static int split_lines(const char *body, char ***ret, char **reason) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (const char *p = body; *p; ) {
                const char *nl = strchr(p, '\n'), *eq;
                _cleanup_free_ char *k = NULL, *v = NULL;

                if (!nl)
                        return error_setf(reason, "its last line is cut short");
                eq = memchr(p, '=', (size_t) (nl - p));
                if (!eq || eq == p)
                        return error_setf(reason, "a line is not 'field=value'");
                k = strndup(p, (size_t) (eq - p));
                v = strndup(eq + 1, (size_t) (nl - eq - 1));
                if (!k || !v || strv_extend(&l, k) < 0 || strv_extend(&l, v) < 0)
                        return -ENOMEM;
                p = nl + 1;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int set_once(char **field, const char *raw, const char *name, char **reason) {
        if (*field)
                return error_setf(reason, "field '%s' is given twice", name);
        return unescape(raw, strlen(raw), field, reason);
}

static int unknown_field(const char *name, char **reason) {
        char buf[TEXT_EXCERPT_MAX];

        return error_setf(reason, "unknown field '%s'", text_excerpt(name, buf));
}

/* Serials come from the devices: any bytes but NUL (they are escaped). */
static bool serial_ok(const char *s) {
        return !isempty(s) && strlen(s) <= TEXT_MAX;
}

static bool text_ok(const char *s, size_t max) {
        return !isempty(s) && strlen(s) <= max && utf8_is_valid(s) && !text_has_control(s);
}

/* A driver name ends up in a sysfs path: no '/', no "." or "..". */
static bool driver_ok(const char *s) {
        return isempty(s) || (text_ok(s, DRIVER_MAX) && !strchr(s, '/') && !streq(s, ".") && !streq(s, ".."));
}

/* Decimal as serialize_rule() writes it; 'i' may be negative. */
static int parse_number(const char *s, char type, RuleValue *v) {
        const char *digits = s + (type == 'i' && *s == '-');
        long long x;
        char *end;

        if (!*digits || digits[strspn(digits, "0123456789")] != 0 || strlen(digits) > 10)
                return -EINVAL;
        errno = 0;
        x = strtoll(s, &end, 10);
        if (errno || *end)
                return -EINVAL;
        if (type == 'i') {
                if (x < INT32_MIN || x > INT32_MAX)
                        return -EINVAL;
                v->i = (int32_t) x;
        } else {
                if (x > UINT32_MAX)
                        return -EINVAL;
                v->u = (uint32_t) x;
        }
        return 0;
}

/* "field:value,field:value" with escaped values; checked by the model's
 * rule_set() and rule_validate(), as the bus checks a rule it is given. */
static int parse_rule(ResourceType type, const char *s, Rule *ret, char **reason) {
        _cleanup_(rule_done) Rule rule = {};
        _cleanup_free_ char *msg = NULL;
        char buf[TEXT_EXCERPT_MAX];
        int r;

        while (*s) {
                size_t n = strcspn(s, ","), k = strcspn(s, ":");
                _cleanup_free_ char *key = NULL, *val = NULL;
                RuleField field;
                RuleValue v = {};

                if (k >= n)
                        return error_setf(reason, "a rule field is not 'name:value'");
                key = strndup(s, k);
                if (!key)
                        return -ENOMEM;
                r = unescape(s + k + 1, n - k - 1, &val, reason);
                if (r < 0)
                        return r;
                field = rule_field_from_string(key);
                if ((int) field < 0)
                        return error_setf(reason, "unknown rule field '%s'", text_excerpt(key, buf));
                v.type = rule_field_type(field);
                if (v.type == 's')
                        v.s = val;
                else if (parse_number(val, v.type, &v) < 0)
                        return error_setf(reason, "rule field '%s' is not a number", key);
                r = rule_set(&rule, type, key, &v, &msg);
                if (r < 0)
                        return r == -ENOMEM ? r : error_setf(reason, "%s", strempty(msg));
                s += n;
                if (*s == ',' && !*++s)
                        return error_setf(reason, "a rule ends in ','");
        }
        r = rule_validate(&rule, &msg);
        if (r < 0)
                return r == -ENOMEM ? r : error_setf(reason, "%s", strempty(msg));
        *ret = rule;
        rule = (Rule) {};
        return 0;
}

/* "serial,address": a member the group knew, to tell a moved device. */
static int parse_known(ResourceGroup *g, const char *raw, char **reason) {
        _cleanup_free_ char *serial = NULL, *address = NULL, *canonical = NULL;
        size_t c = strcspn(raw, ",");
        DeviceKind kind;
        Device probe = {};
        int r;

        if (!raw[c])
                return error_setf(reason, "a known member is not 'serial,address'");
        r = unescape(raw, c, &serial, reason);
        if (r >= 0)
                r = unescape(raw + c + 1, strlen(raw + c + 1), &address, reason);
        if (r < 0)
                return r;
        if (!serial_ok(serial))
                return error_setf(reason, "a known member's serial is empty or too long");
        r = address_parse(address, &kind, &canonical);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !streq(canonical, address))
                return error_setf(reason, "a known member's address is not a device address");
        probe = (Device) { .kind = kind, .address = address, .serial = serial };
        r = resource_group_note_member(g, &probe, NULL);
        if (r < 0)
                return r;
        return r > 0 ? error_setf(reason, "a known member is listed twice") : 0;
}

static inline void resource_group_freep(ResourceGroup **g) {
        resource_group_free(*g);
}

/* A group as the bus would accept it: id, name, description and class
 * through the model's validators, the type one of the known ones, each
 * rule through rule_set(). */
static int parse_group(const char *id, const char *body, ResourceGroup **ret, char **reason) {
        _cleanup_strv_free_ char **kv = NULL;
        _cleanup_free_ char *name = NULL, *desc = NULL, *class_hint = NULL, *type_name = NULL, *msg = NULL;
        _cleanup_(resource_group_freep) ResourceGroup *g = NULL;
        ResourceType type;
        size_t n_rules = 0;
        char buf[TEXT_EXCERPT_MAX];
        int r;

        r = resource_id_validate(id, &msg);
        if (r < 0)
                return r == -ENOMEM ? r : error_setf(reason, "%s", strempty(msg));
        r = split_lines(body, &kv, reason);
        if (r < 0)
                return r;
        for (size_t i = 0; kv[i]; i += 2) {
                const char *k = kv[i], *v = kv[i + 1];

                if (streq(k, "name"))
                        r = set_once(&name, v, k, reason);
                else if (streq(k, "description"))
                        r = set_once(&desc, v, k, reason);
                else if (streq(k, "class"))
                        r = set_once(&class_hint, v, k, reason);
                else if (streq(k, "type"))
                        r = set_once(&type_name, v, k, reason);
                else if (streq(k, "rule"))
                        n_rules++;
                else if (!streq(k, "known"))
                        r = unknown_field(k, reason);
                if (r < 0)
                        return r;
        }
        if (!name || !desc || !class_hint || !type_name)
                return error_setf(reason, "a group needs the fields name, description, class and type");
        if ((r = resource_name_validate(name, &msg)) < 0 ||
            (r = resource_description_validate(desc, &msg)) < 0)
                return r == -ENOMEM ? r : error_setf(reason, "%s", strempty(msg));
        if ((r = resource_description_validate(class_hint, &msg)) < 0)
                return r == -ENOMEM ? r : error_setf(reason, "class: %s", strempty(msg));
        type = resource_type_from_string(type_name);
        if (type < 0)
                return error_setf(reason, "unknown group type '%s'", text_excerpt(type_name, buf));

        g = resource_group_new(id, name, type);
        if (!g)
                return -ENOMEM;
        /* resource_group_new gave them empty strings. */
        free(g->description);
        free(g->class_hint);
        g->description = TAKE_PTR(desc);
        g->class_hint = TAKE_PTR(class_hint);
        g->rules = calloc(n_rules + 1, sizeof(Rule));
        if (!g->rules)
                return -ENOMEM;
        for (size_t i = 0; kv[i]; i += 2) {
                if (streq(kv[i], "rule")) {
                        r = parse_rule(type, kv[i + 1], &g->rules[g->n_rules], reason);
                        if (r >= 0)
                                g->n_rules++;
                } else if (streq(kv[i], "known"))
                        r = parse_known(g, kv[i + 1], reason);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(g);
        return 0;
}

static bool hex_ok(const char *s, size_t n) {
        return strspn(s, "0123456789abcdef") >= n;
}

static int parse_prepared(const char *address, const char *body, PreparedSet *set, char **reason) {
        _cleanup_strv_free_ char **kv = NULL;
        _cleanup_free_ char *canonical = NULL, *serial = NULL, *ids = NULL, *driver = NULL, *releasing = NULL;
        Device probe = {};
        unsigned v = 0, p = 0;
        int r;

        r = pci_address_parse(address, &canonical);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !streq(canonical, address))
                return error_setf(reason, "the key does not end in a PCI address");
        r = split_lines(body, &kv, reason);
        if (r < 0)
                return r;
        for (size_t i = 0; kv[i]; i += 2) {
                const char *k = kv[i];

                if (streq(k, "serial"))
                        r = set_once(&serial, kv[i + 1], k, reason);
                else if (streq(k, "ids"))
                        r = set_once(&ids, kv[i + 1], k, reason);
                else if (streq(k, "original-driver"))
                        r = set_once(&driver, kv[i + 1], k, reason);
                else if (streq(k, "releasing"))
                        r = set_once(&releasing, kv[i + 1], k, reason);
                else
                        r = unknown_field(k, reason);
                if (r < 0)
                        return r;
        }
        if (!ids || !driver || !releasing)
                return error_setf(reason, "a prepared device needs the fields ids, original-driver and releasing");
        if (serial && !serial_ok(serial))
                return error_setf(reason, "the serial is empty or too long");
        if (strlen(ids) != 9 || ids[4] != ':' || !hex_ok(ids, 4) || !hex_ok(ids + 5, 4) ||
            sscanf(ids, "%4x:%4x", &v, &p) != 2)
                return error_setf(reason, "ids is not 'vvvv:pppp'");
        if (!driver_ok(driver))
                return error_setf(reason, "original-driver is not a driver name");
        if (!streq(releasing, "0") && !streq(releasing, "1"))
                return error_setf(reason, "releasing is neither 0 nor 1");

        probe = (Device) { .address = canonical, .serial = serial,
                           .vendor_id = (uint16_t) v, .product_id = (uint16_t) p };
        r = prepared_add(set, &probe, driver);
        if (r == -EEXIST)
                return error_setf(reason, "the device is recorded twice");
        if (r < 0)
                return r;
        prepared_find(set, canonical)->releasing = streq(releasing, "1");
        return 0;
}

static int parse_reboot(const char *body, RebootState *reboot, char **reason) {
        _cleanup_strv_free_ char **kv = NULL;
        _cleanup_free_ char *boot_id = NULL;
        int r;

        r = split_lines(body, &kv, reason);
        if (r < 0)
                return r;
        for (size_t i = 0; kv[i]; i += 2) {
                if (streq(kv[i], "boot-id"))
                        r = set_once(&boot_id, kv[i + 1], kv[i], reason);
                else if (!streq(kv[i], "reason"))
                        r = unknown_field(kv[i], reason);
                if (r < 0)
                        return r;
        }
        if (!boot_id || (*boot_id && !text_ok(boot_id, 64)))
                return error_setf(reason, "boot-id is missing or not a boot id");
        for (size_t i = 0; kv[i]; i += 2) {
                const char *raw = kv[i + 1];
                _cleanup_free_ char *subject = NULL, *why = NULL;
                size_t c = strcspn(raw, ",");

                if (!streq(kv[i], "reason"))
                        continue;
                if (!raw[c])
                        return error_setf(reason, "a reason is not 'subject,reason'");
                r = unescape(raw, c, &subject, reason);
                if (r >= 0)
                        r = unescape(raw + c + 1, strlen(raw + c + 1), &why, reason);
                if (r < 0)
                        return r;
                /* Reasons are sentences the daemon wrote; they may span lines. */
                if (!text_ok(subject, TEXT_MAX) || isempty(why) || strlen(why) > TEXT_MAX || !utf8_is_valid(why))
                        return error_setf(reason, "a reason is empty, too long or not UTF-8");
                r = reboot_state_add(reboot, boot_id, subject, why);
                if (r < 0)
                        return r;
                if (r == 0)
                        return error_setf(reason, "a reason is listed twice");
        }
        if (!reboot->reasons)
                return error_setf(reason, "it holds no reason");
        return 0;
}

static bool has_check_line(const char *val, size_t len) {
        const char *c = val + len - CHECK_LINE_LEN;

        return len >= CHECK_LINE_LEN && strncmp(c, CHECK_PREFIX, sizeof(CHECK_PREFIX) - 1) == 0 &&
               hex_ok(c + sizeof(CHECK_PREFIX) - 1, 8) && c[CHECK_LINE_LEN - 1] == '\n' &&
               (c == val || c[-1] == '\n');
}

/* One record into st. version 0: not known (salvage), taken from the
 * record itself. */
static int parse_record(int version, const char *key, const char *val, size_t len, const StoreState *st,
                        char **reason) {
        _cleanup_free_ char *body = NULL;
        const char *id, *address;
        bool checked = version >= 2 || (version == 0 && has_check_line(val, len));
        size_t n = len;
        int r;

        if (memchr(val, 0, len))
                return error_setf(reason, "its value holds a NUL byte");
        if (checked) {
                if (!has_check_line(val, len))
                        return error_setf(reason, "its check line is missing or malformed");
                n = len - CHECK_LINE_LEN;
        }
        body = strndup(val, n);
        if (!body)
                return -ENOMEM;
        if (checked && record_check(key, body, n) != (uint32_t) strtoul(val + n + sizeof(CHECK_PREFIX) - 1, NULL, 16))
                return error_setf(reason, "its checksum does not match: it changed after it was written");

        if ((id = startswith(key, KEY_GROUP_PREFIX))) {
                _cleanup_(resource_group_freep) ResourceGroup *g = NULL;
                char buf[TEXT_EXCERPT_MAX];

                r = parse_group(id, body, &g, reason);
                if (r < 0)
                        return r;
                if (resource_set_find_name(st->resources, g->name))
                        return error_setf(reason, "another group has the name '%s'", text_excerpt(g->name, buf));
                r = resource_set_add(st->resources, g);
                if (r < 0)
                        return r == -EEXIST ? error_setf(reason, "the id is taken") : r;
                TAKE_PTR(g);
                return 0;
        }
        if ((address = startswith(key, KEY_PREPARED_PREFIX)))
                return parse_prepared(address, body, st->prepared, reason);
        if (streq(key, KEY_REBOOT))
                return parse_reboot(body, st->reboot, reason);
        return error_setf(reason, "no such record is ever written");
}

/* ---- the file --------------------------------------------------------- */

#define ADVICE " hostdevd leaves the file as it is. Run 'hostdevd --salvage-state' (with hostdevd " \
               "stopped) to keep what can be read in a new state file and the damaged one beside it, " \
               "or restore a backup."

/* A message in *ret_error and -EBADMSG (or -ENOMEM). */
#define bad_file(ret_error, ...) (error_setf((ret_error), __VA_ARGS__) == -ENOMEM ? -ENOMEM : -EBADMSG)

/* The state file, opened for reading, when it is a regular file: never
 * follows a symbolic link, never waits on a FIFO. -ENOENT when missing. */
static int open_regular(const char *path, int *ret_fd, char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        const char *what;
        struct stat st;
        int r;

        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT)
                return -ENOENT;
        if (fd < 0 && errno == ELOOP)
                return bad_file(ret_error, "The state file %s is a symbolic link; hostdev keeps its state in "
                                "a regular file. hostdevd leaves it as it is: replace it by the file it "
                                "points to, or move it away to start with an empty state.", path);
        if (fd < 0 || fstat(fd, &st) < 0) {
                r = -errno;
                (void) error_setf(ret_error, "Cannot open the state file %s: %s.", path, strerror(-r));
                return r;
        }
        switch (st.st_mode & S_IFMT) {
        case S_IFREG:
                *ret_fd = TAKE_FD(fd);
                return 0;
        case S_IFDIR:
                what = "a directory";
                break;
        case S_IFIFO:
                what = "a FIFO";
                break;
        case S_IFCHR:
        case S_IFBLK:
                what = "a device node";
                break;
        case S_IFSOCK:
                what = "a socket";
                break;
        default:
                what = "not a regular file";
        }
        return bad_file(ret_error, "The state file %s is %s; hostdev keeps its state in a regular file. "
                        "hostdevd leaves it as it is: move it away to start with an empty state.", path, what);
}

/* A key as it can be shown: printable ASCII, anything else as \xNN. */
static char *key_name(datum key) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        int n = key.dsize < KEY_MAX ? key.dsize : KEY_MAX;

        if (!f)
                return NULL;
        for (int i = 0; i < n; i++) {
                unsigned char c = (unsigned char) key.dptr[i];

                if (c > 0x20 && c < 0x7f && c != '\'' && c != '\\')
                        fputc(c, f);
                else
                        fprintf(f, "\\x%02x", c);
        }
        if (key.dsize > n)
                fputs("...", f);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

typedef struct Reader {
        const char *path;
        bool salvage;           /* drop what is bad and go on, instead of stopping */
        int version;            /* 0: not known */
        char **dropped;         /* record, reason, … (salvage) */
} Reader;

static int drop(Reader *rd, const char *record, const char *reason) {
        if (strv_extend(&rd->dropped, record) < 0 || strv_extend(&rd->dropped, reason) < 0)
                return -ENOMEM;
        return 0;
}

static int read_version(Reader *rd, GDBM_FILE db, char **ret_error) {
        datum key = { .dptr = (char *) KEY_VERSION, .dsize = sizeof(KEY_VERSION) - 1 };
        datum val = gdbm_fetch(db, key);
        _cleanup_free_ char *v = NULL, *reason = NULL;
        char buf[TEXT_EXCERPT_MAX];
        int r;

        if (!val.dptr)
                r = gdbm_errno == GDBM_ITEM_NOT_FOUND
                    ? error_setf(&reason, "it is missing: this is not a hostdev state file, or it is damaged")
                    : error_setf(&reason, "it cannot be read: %s", gdbm_strerror(gdbm_errno));
        else {
                v = strndup(val.dptr, (size_t) val.dsize);
                free(val.dptr);
                if (!v)
                        return -ENOMEM;
                r = 0;
                if (!*v || v[strspn(v, "0123456789")] != 0 || strlen(v) > 4 || v[0] == '0')
                        r = error_setf(&reason, "'%s' is not a schema version", text_excerpt(v, buf));
                else if (atoi(v) > STORE_SCHEMA_VERSION)
                        return bad_file(ret_error, "%s was written by a newer hostdev (schema version %s; this one "
                                        "knows %d). Run the newer hostdevd, or move the file away to start with "
                                        "an empty state.", rd->path, v, STORE_SCHEMA_VERSION) == -ENOMEM
                               ? -ENOMEM : -EPROTONOSUPPORT;
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0 && !rd->salvage)
                return bad_file(ret_error, "%s: record '" KEY_VERSION "' is damaged: %s." ADVICE, rd->path, reason);
        if (r < 0)
                return drop(rd, KEY_VERSION, reason);
        rd->version = atoi(v);
        return 0;
}

static int check_key(datum key, char **ret, char **reason) {
        char *k;

        if (key.dsize <= 0 || key.dsize > KEY_MAX || memchr(key.dptr, 0, (size_t) key.dsize))
                return error_setf(reason, "its key is empty, too long or holds a NUL byte");
        k = strndup(key.dptr, (size_t) key.dsize);
        if (!k)
                return -ENOMEM;
        if (!utf8_is_valid(k)) {
                free(k);
                return error_setf(reason, "its key is not UTF-8");
        }
        *ret = k;
        return 0;
}

/* One record: its value fetched, validated and added to st. */
static int read_record(Reader *rd, GDBM_FILE db, datum key, const StoreState *st, char **reason) {
        _cleanup_free_ char *k = NULL;
        datum val;
        int r;

        r = check_key(key, &k, reason);
        if (r < 0)
                return r;
        val = gdbm_fetch(db, key);
        if (!val.dptr)
                return error_setf(reason, "its value cannot be read: %s", gdbm_strerror(gdbm_errno));
        r = streq(k, KEY_VERSION) ? 0 : parse_record(rd->version, k, val.dptr, (size_t) val.dsize, st, reason);
        free(val.dptr);
        return r;
}

static bool endswith_dot(const char *s) {
        size_t n = strlen(s);

        return n > 0 && s[n - 1] == '.';
}

/* Every record in gdbm's order. The end of the iteration is told from an
 * error by gdbm_errno: GDBM_ITEM_NOT_FOUND is the end, anything else
 * means the rest of the file cannot be read. */
static int read_records(Reader *rd, GDBM_FILE db, const StoreState *st, char **ret_error) {
        _cleanup_free_ char *last = NULL;
        datum key = gdbm_firstkey(db);

        for (;;) {
                _cleanup_free_ char *name = NULL, *reason = NULL;
                datum next;
                int r;

                if (!key.dptr) {
                        _cleanup_free_ char *where = NULL;

                        if (gdbm_errno == GDBM_ITEM_NOT_FOUND)
                                return 0;
                        if (asprintf(&where, last ? "the records after '%s'" : "its records", last) < 0)
                                return -ENOMEM;
                        if (!rd->salvage)
                                return bad_file(ret_error, "%s: %s cannot be read: %s." ADVICE, rd->path, where,
                                                gdbm_strerror(gdbm_errno));
                        if (asprintf(&reason, "gdbm stopped reading there: %s", gdbm_strerror(gdbm_errno)) < 0)
                                return -ENOMEM;
                        return drop(rd, where, reason);
                }
                name = key_name(key);
                r = name ? read_record(rd, db, key, st, &reason) : -ENOMEM;
                /* The model's messages are sentences; here they go mid-sentence. */
                if (reason && endswith_dot(reason))
                        reason[strlen(reason) - 1] = 0;
                if (r < 0 && r != -ENOMEM) {
                        if (rd->salvage)
                                r = drop(rd, name, reason);
                        else
                                r = bad_file(ret_error, "%s: record '%s' is damaged: %s." ADVICE, rd->path, name,
                                             reason);
                }
                if (r < 0) {
                        free(key.dptr);
                        return r;
                }
                next = gdbm_nextkey(db, key);
                free(key.dptr);
                key = next;
                free(last);
                last = TAKE_PTR(name);
        }
}

/* Loads the file open at fd (taken) into the empty st: all or nothing. */
static int load_file(const char *path, int fd, const StoreState *st, char **ret_error) {
        ResourceSet resources = {};
        PreparedSet prepared = {};
        RebootState reboot = {};
        StoreState tmp = { &resources, &prepared, &reboot };
        Reader rd = { .path = path };
        GDBM_FILE db;
        int r;

        /* No mmap: a damaged header must not send us past the end of the file. */
        db = gdbm_fd_open(fd, path, 0, GDBM_READER | GDBM_NOLOCK | GDBM_NOMMAP | GDBM_XVERIFY | GDBM_CLOERROR, NULL);
        if (!db)
                return bad_file(ret_error, "%s cannot be read: %s." ADVICE, path, gdbm_strerror(gdbm_errno));
        r = read_version(&rd, db, ret_error);
        if (r >= 0)
                r = read_records(&rd, db, &tmp, ret_error);
        gdbm_close(db);
        if (r < 0) {
                state_done(&tmp);
                return r;
        }
        state_move(st, &tmp);
        return 0;
}

int store_open(const char *state_dir, const StoreState *state, Store **ret, char **ret_error) {
        _cleanup_(store_freep) Store *s = store_new(state_dir);
        int fd, r;

        if (!s)
                return -ENOMEM;
        if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
                r = -errno;
                (void) error_setf(ret_error, "Cannot create the state directory %s: %s", state_dir, strerror(-r));
                return r;
        }
        /* A leftover from a save that was cut short: never the real state. */
        (void) unlink(s->tmp_path);

        r = open_regular(s->path, &fd, ret_error);
        if (r == -ENOENT) {
                /* First start: an empty state, written at the first change. */
                *ret = TAKE_PTR(s);
                return 0;
        }
        if (r >= 0)
                r = load_file(s->path, fd, state, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

static char *describe(const StoreState *st) {
        char *s = NULL;
        size_t n = strv_length(st->reboot->reasons) / 2;

        if (asprintf(&s, "%zu group%s, %zu prepared device%s, %zu reboot reason%s",
                     st->resources->n_groups, st->resources->n_groups == 1 ? "" : "s",
                     st->prepared->n_items, st->prepared->n_items == 1 ? "" : "s", n, n == 1 ? "" : "s") < 0)
                return NULL;
        return s;
}

static void put_escaped(FILE *f, const char *s) {
        for (; *s; s++)
                if (*s == '\\')
                        fputs("\\\\", f);
                else if (*s == '\t')
                        fputs("\\t", f);
                else if (*s == '\n')
                        fputs("\\n", f);
                else
                        fputc(*s, f);
}

static int compare_keys(const void *a, const void *b) {
        return strcmp(**(char * const * const *) a, **(char * const * const *) b);
}

/* key TAB value lines, sorted by key. */
static char *dump_records(char **records) {
        size_t n = strv_length(records) / 2, size = 0;
        _cleanup_free_ char **order = calloc(n + 1, sizeof(char *));
        char *buf = NULL;
        FILE *f;

        if (!order || !(f = open_memstream(&buf, &size)))
                return NULL;
        for (size_t i = 0; i < n; i++)
                order[i] = (char *) &records[2 * i];
        qsort(order, n, sizeof(char *), compare_keys);
        for (size_t i = 0; i < n; i++) {
                char **kv = (char **) order[i];

                put_escaped(f, kv[0]);
                fputc('\t', f);
                put_escaped(f, kv[1]);
                fputc('\n', f);
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

int store_verify(const char *state_dir, char **ret_dump, char **ret_summary, char **ret_error) {
        _cleanup_(store_freep) Store *s = store_new(state_dir);
        _cleanup_strv_free_ char **records = NULL;
        ResourceSet resources = {};
        PreparedSet prepared = {};
        RebootState reboot = {};
        StoreState st = { &resources, &prepared, &reboot };
        int fd, r;

        if (!s)
                return -ENOMEM;
        r = open_regular(s->path, &fd, ret_error);
        if (r == -ENOENT) {
                *ret_dump = strdup("");
                r = asprintf(ret_summary, "There is no state file %s: hostdevd starts with an empty state.",
                             s->path);
                return *ret_dump && r >= 0 ? 0 : -ENOMEM;
        }
        if (r >= 0)
                r = load_file(s->path, fd, &st, ret_error);
        if (r < 0)
                return r;
        r = state_records(&st, &records);
        if (r >= 0) {
                _cleanup_free_ char *counts = describe(&st);

                *ret_dump = dump_records(records);
                if (!*ret_dump || !counts || asprintf(ret_summary, "%s loads completely: %s.", s->path, counts) < 0)
                        r = -ENOMEM;
        }
        state_done(&st);
        return r;
}

/* ---- salvage ---------------------------------------------------------- */

static int copy_fd_to(int fd, const char *path) {
        _cleanup_close_ int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        char buf[65536];
        ssize_t n;

        if (out < 0)
                return -errno;
        while ((n = read(fd, buf, sizeof buf)) > 0)
                for (ssize_t done = 0, w; done < n; done += w) {
                        w = write(out, buf + done, (size_t) (n - done));
                        if (w < 0)
                                return -errno;
                }
        return n < 0 ? -errno : 0;
}

/* A second name for the damaged file, never replacing one that exists:
 * the file stays in place until the new one is renamed over it. */
static int keep_damaged(const Store *s, char **ret_name) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;

        if (!gmtime_r(&now, &tm) || strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm) == 0)
                return -EINVAL;
        for (unsigned i = 1; i < 100; i++) {
                _cleanup_free_ char *name = NULL;

                if ((i == 1 ? asprintf(&name, "%s.damaged-%s", s->path, stamp)
                            : asprintf(&name, "%s.damaged-%s.%u", s->path, stamp, i)) < 0)
                        return -ENOMEM;
                if (link(s->path, name) >= 0) {
                        *ret_name = TAKE_PTR(name);
                        return 0;
                }
                if (errno != EEXIST)
                        return -errno;
        }
        return -EEXIST;
}

/* Reads what can be read from a copy of the damaged file, after gdbm's
 * own recovery (which rewrites the file it works on: hence the copy). */
static int salvage_read(Reader *rd, const char *copy, const StoreState *st, char **ret_error,
                        gdbm_recovery *ret_rcvr, bool *ret_recovered) {
        GDBM_FILE db;
        int r;

        *ret_recovered = false;
        db = gdbm_open(copy, 0, GDBM_WRITER | GDBM_NOLOCK | GDBM_NOMMAP | GDBM_CLOEXEC, 0600, NULL);
        if (!db) {
                _cleanup_free_ char *reason = NULL;

                if (asprintf(&reason, "gdbm cannot open it: %s", gdbm_strerror(gdbm_errno)) < 0)
                        return -ENOMEM;
                return drop(rd, "(all records)", reason);
        }
        *ret_recovered = gdbm_recover(db, ret_rcvr, GDBM_RCVR_FORCE) == 0;
        r = read_version(rd, db, ret_error);
        if (r >= 0)
                r = read_records(rd, db, st, ret_error);
        gdbm_close(db);
        return r;
}

static char *salvage_report(const Store *s, const StoreState *st, const Reader *rd, const gdbm_recovery *rcvr,
                            bool recovered, const char *damaged) {
        _cleanup_free_ char *counts = describe(st);
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!counts || !(f = open_memstream(&buf, &size)))
                return NULL;
        fprintf(f, "Salvaged %s: kept %s.\n", s->path, counts);
        if (recovered && (rcvr->failed_keys || rcvr->failed_buckets))
                fprintf(f, "Lost: %zu record%s gdbm could not read, in %zu damaged bucket%s.\n",
                        rcvr->failed_keys, rcvr->failed_keys == 1 ? "" : "s",
                        rcvr->failed_buckets, rcvr->failed_buckets == 1 ? "" : "s");
        for (size_t i = 0; rd->dropped && rd->dropped[i] && rd->dropped[i + 1]; i += 2)
                fprintf(f, "Dropped %s: %s.\n", rd->dropped[i], rd->dropped[i + 1]);
        fprintf(f, "The damaged file is kept as %s.\n", damaged);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

int store_salvage(const char *state_dir, char **ret_report, char **ret_error) {
        _cleanup_(store_freep) Store *s = store_new(state_dir);
        _cleanup_free_ char *copy = NULL, *damaged = NULL, *load_error = NULL;
        _cleanup_strv_free_ char **records = NULL;
        ResourceSet resources = {};
        PreparedSet prepared = {};
        RebootState reboot = {};
        StoreState st = { &resources, &prepared, &reboot };
        Reader rd = { .salvage = true };
        gdbm_recovery rcvr = {};
        bool recovered = false;
        int fd, r;

        if (!s || asprintf(&copy, "%s/.%s.salvage", state_dir, STORE_FILE) < 0)
                return -ENOMEM;
        rd.path = s->path;

        /* A file that loads needs nothing; one that is no regular file or
         * from a newer version is not ours to rewrite. */
        r = open_regular(s->path, &fd, ret_error);
        if (r == -ENOENT)
                return error_setf(ret_error, "There is no state file %s: nothing to salvage.", s->path) == -ENOMEM
                       ? -ENOMEM : -ENOENT;
        if (r < 0)
                return r;
        r = load_file(s->path, fd, &st, &load_error);
        state_done(&st);
        if (r >= 0)
                return asprintf(ret_report, "%s loads completely: nothing to salvage, nothing was changed.\n",
                                s->path) < 0 ? -ENOMEM : 0;
        if (r == -ENOMEM || r == -EPROTONOSUPPORT) {
                *ret_error = TAKE_PTR(load_error);
                return r;
        }

        r = open_regular(s->path, &fd, ret_error);
        if (r < 0)
                return r;
        (void) unlink(copy);
        r = copy_fd_to(fd, copy);
        close(fd);
        if (r < 0) {
                (void) unlink(copy);
                return log_error_errno(r, "Cannot copy %s to %s: %m", s->path, copy);
        }
        r = salvage_read(&rd, copy, &st, ret_error, &rcvr, &recovered);
        (void) unlink(copy);
        if (r >= 0)
                r = state_records(&st, &records);
        if (r >= 0)
                r = write_new(s, records);
        if (r >= 0) {
                r = keep_damaged(s, &damaged);
                if (r < 0) {
                        (void) unlink(s->tmp_path);
                        (void) error_setf(ret_error, "Cannot give the damaged file %s a second name: %s. "
                                          "Nothing was changed.", s->path, strerror(-r));
                }
        }
        if (r >= 0)
                r = commit_new(s);
        if (r >= 0) {
                *ret_report = salvage_report(s, &st, &rd, &rcvr, recovered, damaged);
                if (!*ret_report)
                        r = -ENOMEM;
        }
        state_done(&st);
        strv_free(rd.dropped);
        return r;
}
