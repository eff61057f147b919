/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pthread.h>
#include <time.h>

#include "bind.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/text.h"
#include "sysfs.h"

/* Failures of a kernel write are I/O errors; the message says which. */
#define set_error(ret, ...) (error_setf((ret), __VA_ARGS__), -EIO)

/* sysfs wants the whole value in one write to a truncated file. */
static int write_attr(const char *path, const char *value) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
        size_t l = strlen(value);

        if (fd < 0)
                return -errno;
        if (write(fd, value, l) != (ssize_t) l)
                return errno ? -errno : -EIO;
        return 0;
}

int kernel_current_driver(Kernel *k, const char *address, char **ret) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int dfd = -1;
        int r;

        if (asprintf(&path, "%s/bus/pci/devices/%s", k->paths->sysfs, address) < 0)
                return -ENOMEM;
        dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        *ret = NULL;
        r = sysfs_read_link_basename(dfd, "driver", ret);
        return r == -ENOENT ? 0 : r;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

typedef enum Want {
        WANT_NONE,      /* no driver */
        WANT_DRIVER,    /* exactly this driver */
        WANT_NOT,       /* anything but this driver */
} Want;

/* Waits for the device's driver to be as wanted. The kernel's reaction to
 * a sysfs write is asynchronous, so look again every millisecond. */
static bool wait_driver(Kernel *k, const char *address, Want want, const char *driver, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;

        for (;;) {
                _cleanup_free_ char *cur = NULL;
                bool ok;

                if (kernel_current_driver(k, address, &cur) < 0)
                        return false;
                ok = want == WANT_NONE ? !cur : want == WANT_DRIVER ? streq_ptr(cur, driver) : !streq_ptr(cur, driver);
                if (ok)
                        return true;
                if (now_usec() >= deadline)
                        return false;
                (void) usleep(1000);
        }
}

/* A write to "unbind" returns only once the driver's remove() has: a
 * driver that hangs there would hang the daemon. The write runs in a
 * thread of its own; if it does not come back in time, the thread is left
 * behind (a write in the kernel cannot be interrupted) and we report it. */
typedef struct UnbindWrite {
        char *path;
        char *value;
        int result;
        bool done;
        bool abandoned;
        pthread_mutex_t lock;
} UnbindWrite;

static void unbind_write_free(UnbindWrite *w) {
        pthread_mutex_destroy(&w->lock);
        free(w->path);
        free(w->value);
        free(w);
}

static void *unbind_thread(void *userdata) {
        UnbindWrite *w = userdata;
        int r = write_attr(w->path, w->value);
        bool abandoned;

        pthread_mutex_lock(&w->lock);
        w->result = r;
        w->done = true;
        abandoned = w->abandoned;
        pthread_mutex_unlock(&w->lock);
        if (abandoned)
                unbind_write_free(w);
        return NULL;
}

/* 0 when written, -errno when the write failed, -ETIMEDOUT when it did not return. */
static int write_with_timeout(const char *path, const char *value, uint64_t timeout) {
        uint64_t deadline = now_usec() + timeout;
        UnbindWrite *w = calloc(1, sizeof(UnbindWrite));
        pthread_attr_t attr;
        pthread_t thread;
        int r;

        if (!w || !(w->path = strdup(path)) || !(w->value = strdup(value))) {
                if (w) {
                        free(w->path);
                        free(w);
                }
                return -ENOMEM;
        }
        pthread_mutex_init(&w->lock, NULL);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        r = pthread_create(&thread, &attr, unbind_thread, w);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                unbind_write_free(w);
                return -r;
        }
        for (;;) {
                pthread_mutex_lock(&w->lock);
                if (w->done || now_usec() >= deadline) {
                        bool done = w->done;

                        r = done ? w->result : -ETIMEDOUT;
                        w->abandoned = !done;
                        pthread_mutex_unlock(&w->lock);
                        if (done)
                                unbind_write_free(w);
                        return r;
                }
                pthread_mutex_unlock(&w->lock);
                (void) usleep(500);
        }
}

static int unbind(Kernel *k, const char *address, const char *driver, uint64_t timeout, BindFailure *ret_failure,
                  char **ret_error) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (asprintf(&path, "%s/bus/pci/drivers/%s/unbind", k->paths->sysfs, driver) < 0)
                return -ENOMEM;
        r = write_with_timeout(path, address, timeout);
        if (r == -ETIMEDOUT) {
                *ret_failure = BIND_UNBIND_TIMEOUT;
                return set_error(ret_error, "%s did not release %s: unbind did not return within %" PRIu64 " ms",
                                 driver, address, timeout / 1000);
        }
        if (r < 0) {
                *ret_failure = BIND_WRITE_FAILED;
                return set_error(ret_error, "Unbinding %s from %s failed: %s", address, driver, strerror(-r));
        }
        if (!wait_driver(k, address, WANT_NONE, NULL, timeout)) {
                *ret_failure = BIND_UNBIND_TIMEOUT;
                return set_error(ret_error, "%s did not release %s within %" PRIu64 " ms", driver, address,
                                 timeout / 1000);
        }
        return 0;
}

/* driver_override first, so that no other driver takes the device in
 * between; an empty line clears it and the kernel matches by ids again. */
static int set_override(Kernel *k, const char *address, const char *to, BindFailure *ret_failure, char **ret_error) {
        _cleanup_free_ char *override = NULL;
        int r;

        if (asprintf(&override, "%s/bus/pci/devices/%s/driver_override", k->paths->sysfs, address) < 0)
                return -ENOMEM;
        r = write_attr(override, streq(to, DRIVER_VFIO) ? DRIVER_VFIO : "\n");
        if (r < 0) {
                *ret_failure = BIND_WRITE_FAILED;
                return set_error(ret_error, "Setting driver_override of %s failed: %s", address, strerror(-r));
        }
        return 0;
}

static int probe(Kernel *k, const char *address, const char *to, uint64_t timeout, BindFailure *ret_failure,
                 char **ret_error) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (asprintf(&path, "%s/bus/pci/drivers_probe", k->paths->sysfs) < 0)
                return -ENOMEM;
        r = write_attr(path, address);
        if (r < 0 && r != -ENODEV && r != -EINVAL) {
                /* The kernel answers ENODEV/EINVAL when no driver takes the device;
                 * the wait below tells whether that matters. */
                *ret_failure = BIND_WRITE_FAILED;
                return set_error(ret_error, "Probing drivers for %s failed: %s", address, strerror(-r));
        }
        if (*to ? !wait_driver(k, address, WANT_DRIVER, to, timeout)
                : !wait_driver(k, address, WANT_NOT, DRIVER_VFIO, timeout)) {
                *ret_failure = BIND_PROBE_TIMEOUT;
                return set_error(ret_error, "%s did not bind to %s within %" PRIu64 " ms", address,
                                 *to ? to : "a host driver", timeout / 1000);
        }
        return 0;
}

/* do_probe: after unbinding, let the kernel (guided by driver_override)
 * pick the driver; without it the device is left with none. */
static int move(Kernel *k, const char *address, const char *to, bool do_probe, uint64_t timeout,
                BindFailure *ret_failure, char **ret_error) {
        _cleanup_free_ char *cur = NULL;
        int r;

        *ret_failure = BIND_OK;
        r = kernel_current_driver(k, address, &cur);
        if (r < 0) {
                *ret_failure = BIND_WRITE_FAILED;
                return set_error(ret_error, "%s is gone: %s", address, strerror(-r));
        }
        r = set_override(k, address, do_probe ? to : "", ret_failure, ret_error);
        if (r < 0)
                return r;
        /* Already there (the kernel, or another tool, was quicker; or an
         * unbind that never finished is being undone). */
        if (*to && streq_ptr(cur, to))
                return 0;
        if (cur) {
                r = unbind(k, address, cur, timeout, ret_failure, ret_error);
                if (r < 0)
                        return r;
        }
        return do_probe ? probe(k, address, to, timeout, ret_failure, ret_error) : 0;
}

int kernel_bind_step(Kernel *k, const PlanStep *step, uint64_t timeout_usec, BindFailure *ret_failure,
                     char **ret_error) {
        log_debug("%s: %s → %s", step->address, *step->from ? step->from : "(none)", *step->to ? step->to : "(host)");
        return move(k, step->address, step->to, *step->to != 0, timeout_usec, ret_failure, ret_error);
}

int kernel_bind_undo(Kernel *k, const PlanStep *step, uint64_t timeout_usec, char **ret_error) {
        BindFailure f;

        log_debug("%s: undo, back to %s", step->address, *step->from ? step->from : "(none)");
        /* A device that had no driver gets none back. */
        return move(k, step->address, step->from, *step->from != 0, timeout_usec, &f, ret_error);
}
