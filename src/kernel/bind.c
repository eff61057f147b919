/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <pthread.h>

#include "bind.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/text.h"
#include "sysfs.h"

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

/* The change engine moves PCI functions and USB interfaces ("2-1:1.0"):
 * the bus whose devices/, drivers/ and drivers_probe an address uses. */
static const char *bus_of(const char *address) {
        return usb_interface_parse(address, NULL) >= 0 ? "usb" : "pci";
}

int kernel_current_driver(Kernel *k, const char *address, char **ret) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int dfd = -1;
        int r;

        if (asprintf(&path, "%s/bus/%s/devices/%s", k->paths->sysfs, bus_of(address), address) < 0)
                return -ENOMEM;
        dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        *ret = NULL;
        r = sysfs_read_link_basename(dfd, "driver", ret);
        return r == -ENOENT ? 0 : r;
}

int kernel_set_override(Kernel *k, const char *address, const char *to, char **ret_error) {
        _cleanup_free_ char *override = NULL;
        int r;

        /* USB interfaces have no driver_override: they go back to the
         * driver that matches them, and none takes them unless probed. */
        if (streq(bus_of(address), "usb"))
                return 0;
        if (asprintf(&override, "%s/bus/pci/devices/%s/driver_override", k->paths->sysfs, address) < 0)
                return -ENOMEM;
        r = write_attr(override, streq(to, DRIVER_VFIO) ? DRIVER_VFIO : "\n");
        if (r < 0) {
                error_setf(ret_error, "Setting driver_override of %s failed: %s", address, strerror(-r));
                return -EIO;
        }
        return 0;
}

/* What the thread owns: it frees it. */
typedef struct WriteJob {
        char *path;
        char *value;
        int fd;         /* the pipe's write end: the result goes there */
} WriteJob;

struct KernelWrite {
        sd_event_source *source;
        KernelWriteDone done;
        void *userdata;
};

static void *write_thread(void *userdata) {
        WriteJob *j = userdata;
        int r = write_attr(j->path, j->value);

        /* A pipe write of a few bytes is atomic and never blocks here. */
        (void) !write(j->fd, &r, sizeof r);
        close(j->fd);
        free(j->path);
        free(j->value);
        free(j);
        return NULL;
}

static int on_write_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        KernelWrite *w = userdata;
        KernelWriteDone done = w->done;
        int result = -EIO;

        if (read(fd, &result, sizeof result) != (ssize_t) sizeof result)
                result = -EIO;
        w->source = sd_event_source_disable_unref(w->source);
        if (done)
                done(w, result, w->userdata);
        free(w);
        return 0;
}

void kernel_write_set_callback(KernelWrite *w, KernelWriteDone done, void *userdata) {
        w->done = done;
        w->userdata = userdata;
}

int kernel_write_async(sd_event *e, const char *path, const char *value, KernelWriteDone done, void *userdata,
                       KernelWrite **ret) {
        _cleanup_free_ KernelWrite *w = calloc(1, sizeof(KernelWrite));
        WriteJob *j = calloc(1, sizeof(WriteJob));
        pthread_attr_t attr;
        pthread_t thread;
        int fds[2], r;

        if (!w || !j || !(j->path = strdup(path)) || !(j->value = strdup(value))) {
                if (j) {
                        free(j->path);
                        free(j);
                }
                return -ENOMEM;
        }
        if (pipe2(fds, O_CLOEXEC) < 0) {
                r = -errno;
                free(j->path);
                free(j->value);
                free(j);
                return r;
        }
        j->fd = fds[1];
        r = sd_event_add_io(e, &w->source, fds[0], EPOLLIN, on_write_done, w);
        if (r >= 0)
                r = sd_event_source_set_io_fd_own(w->source, true);
        if (r < 0) {
                if (!w->source)
                        close(fds[0]);
                w->source = sd_event_source_disable_unref(w->source);
                close(fds[1]);
                free(j->path);
                free(j->value);
                free(j);
                return r;
        }
        w->done = done;
        w->userdata = userdata;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        r = pthread_create(&thread, &attr, write_thread, j);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                w->source = sd_event_source_disable_unref(w->source);
                close(fds[1]);
                free(j->path);
                free(j->value);
                free(j);
                return -r;
        }
        *ret = TAKE_PTR(w);
        return 0;
}

int kernel_unbind_async(Kernel *k, sd_event *e, const char *address, const char *driver, KernelWriteDone done,
                        void *userdata, KernelWrite **ret) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/bus/%s/drivers/%s/unbind", k->paths->sysfs, bus_of(address), driver) < 0)
                return -ENOMEM;
        log_debug("%s: unbind from %s", address, driver);
        return kernel_write_async(e, path, address, done, userdata, ret);
}

int kernel_probe_async(Kernel *k, sd_event *e, const char *address, KernelWriteDone done, void *userdata,
                       KernelWrite **ret) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/bus/%s/drivers_probe", k->paths->sysfs, bus_of(address)) < 0)
                return -ENOMEM;
        log_debug("%s: probe", address);
        return kernel_write_async(e, path, address, done, userdata, ret);
}
