/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdarg.h>
#include <gdbm.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "shared/text.h"
#include "record.h"
#include "store.h"

struct Store {
        char *dir;
        char *path;
        char *tmp_path;
        RecordCache cache;      /* the group records of the last save */
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
        record_cache_done(&s->cache);
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
        if (st->sriov)
                sriov_config_set_done(st->sriov);
        if (st->mdevs)
                mdev_record_set_done(st->mdevs);
        if (st->claims)
                claim_set_done(st->claims);
        if (st->usb_prepared)
                usb_prepared_set_done(st->usb_prepared);
}

/* Moves what src holds into the empty dst. */
static void state_move(const StoreState *dst, const StoreState *src) {
        *dst->resources = *src->resources;
        *dst->prepared = *src->prepared;
        *dst->reboot = *src->reboot;
        *src->resources = (ResourceSet) {};
        *src->prepared = (PreparedSet) {};
        *src->reboot = (RebootState) {};
        if (dst->sriov && src->sriov) {
                *dst->sriov = *src->sriov;
                *src->sriov = (SriovConfigSet) {};
        }
        if (dst->mdevs && src->mdevs) {
                *dst->mdevs = *src->mdevs;
                *src->mdevs = (MdevRecordSet) {};
        }
        if (dst->usb_prepared && src->usb_prepared) {
                *dst->usb_prepared = *src->usb_prepared;
                *src->usb_prepared = (UsbPreparedSet) {};
        } else if (src->usb_prepared)
                /* Checked, not kept. */
                usb_prepared_set_done(src->usb_prepared);
        if (dst->claims && src->claims && src->claims->by_device) {
                claim_set_done(dst->claims);
                *dst->claims = *src->claims;
                *src->claims = (ClaimSet) {};
        }
}

/* gdbm is opened without a fatal function throughout: with one, gdbm
 * calls it and exits on a read error; without, the call fails and sets
 * gdbm_errno, which is what lets a damaged file be reported. */

/* ---- writing ---------------------------------------------------------- */

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
        int fd, r = 0;

        /* Emptied rather than unlinked first: one call less on every
         * save, and never through a symbolic link. */
        fd = open(s->tmp_path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(errno, "Cannot create %s: %m", s->tmp_path);
        /* No mmap: a file written once and closed gains nothing from it,
         * and each unmap costs a TLB flush on every CPU. */
        db = gdbm_fd_open(fd, s->tmp_path, 0, GDBM_NEWDB | GDBM_NOLOCK | GDBM_NOMMAP | GDBM_CLOERROR, NULL);
        if (!db) {
                (void) unlink(s->tmp_path);
                return log_error_errno(EIO, "Cannot create %s: %s", s->tmp_path, gdbm_strerror(gdbm_errno));
        }
        for (size_t i = 0; r >= 0 && records[i] && records[i + 1]; i += 2)
                r = put(db, records[i], records[i + 1]);
        /* Data on disk before the rename makes it visible: gdbm_sync()
         * writes what gdbm holds back and fsync()s the file (gdbm 1.23
         * without mmap; gdbm_close() fsyncs once more but does not say
         * whether that failed, hence the sync here). */
        if (r >= 0 && gdbm_sync(db) != 0)
                r = -EIO;
        gdbm_close(db);
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

        r = record_serialize_state_cached(state, &s->cache, &records);
        if (r >= 0)
                r = write_new(s, records);
        if (r >= 0)
                r = commit_new(s);
        if (r < 0)
                return log_error_errno(r, "Cannot save the state to %s: %m", s->path);
        return 0;
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
        int n = key.dsize < RECORD_KEY_MAX ? key.dsize : RECORD_KEY_MAX;

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
        datum key = { .dptr = (char *) RECORD_KEY_VERSION, .dsize = sizeof(RECORD_KEY_VERSION) - 1 };
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
                return bad_file(ret_error, "%s: record '" RECORD_KEY_VERSION "' is damaged: %s." ADVICE,
                                rd->path, reason);
        if (r < 0)
                return drop(rd, RECORD_KEY_VERSION, reason);
        rd->version = atoi(v);
        return 0;
}

static int check_key(datum key, char **ret, char **reason) {
        char *k;

        if (key.dsize <= 0 || key.dsize > RECORD_KEY_MAX || memchr(key.dptr, 0, (size_t) key.dsize))
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
        r = streq(k, RECORD_KEY_VERSION) ? 0 : record_parse(rd->version, k, val.dptr, (size_t) val.dsize, st, reason);
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
        SriovConfigSet sriov = {};
        MdevRecordSet mdevs = {};
        ClaimSet claims = {};
        UsbPreparedSet usb_prepared = {};
        StoreState tmp = { &resources, &prepared, &reboot, &sriov, &mdevs, &claims, &usb_prepared };
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

        size_t c = st->claims ? st->claims->n_claims : 0;

        if (asprintf(&s, "%zu group%s, %zu prepared device%s, %zu reboot reason%s, %zu claim%s",
                     st->resources->n_groups, st->resources->n_groups == 1 ? "" : "s",
                     st->prepared->n_items, st->prepared->n_items == 1 ? "" : "s", n, n == 1 ? "" : "s",
                     c, c == 1 ? "" : "s") < 0)
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
        SriovConfigSet sriov = {};
        MdevRecordSet mdevs = {};
        ClaimSet claims = {};
        UsbPreparedSet usb_prepared = {};
        StoreState st = { &resources, &prepared, &reboot, &sriov, &mdevs, &claims, &usb_prepared };
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
        r = record_serialize_state(&st, &records);
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
        SriovConfigSet sriov = {};
        MdevRecordSet mdevs = {};
        ClaimSet claims = {};
        UsbPreparedSet usb_prepared = {};
        StoreState st = { &resources, &prepared, &reboot, &sriov, &mdevs, &claims, &usb_prepared };
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
                r = record_serialize_state(&st, &records);
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
