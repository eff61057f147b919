/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <sys/stat.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool journal_prefix = false;
static const char *log_ident = "hostdev";

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
        [LOG_ERR] = "err",         [LOG_WARNING] = "warning",
        [LOG_NOTICE] = "notice",   [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

int log_parse_level(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (streq(s, level_names[i]))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == 0)
                return s[0] - '0';
        return -EINVAL;
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

/* JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected us to; only
 * when it is still our stderr do we speak the journal's prefix. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == dev && st.st_ino == ino;
}

void log_setup(const char *ident) {
        const char *e;
        int l;

        log_ident = ident;
        journal_prefix = stderr_is_journal();
        e = getenv("HOSTDEV_LOG_LEVEL");
        if (e && (l = log_parse_level(e)) >= 0)
                max_level = l;
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) {
        char buf[2048];
        va_list ap;
        int saved = errno;

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;

        va_start(ap, fmt);
        errno = error;
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);

        if (journal_prefix)
                fprintf(stderr, "<%d>%s\n", level, buf);
        else if (max_level >= LOG_DEBUG)
                fprintf(stderr, "%s[%s] %s:%d: %s\n", log_ident, level_names[level], file, line, buf);
        else
                fprintf(stderr, "%s: %s\n", log_ident, buf);

        errno = saved;
        return -error;
}
