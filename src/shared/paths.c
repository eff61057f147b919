/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "macro.h"
#include "paths.h"

static int path_from_env(char **ret, const char *env, const char *def) {
        const char *v = getenv(env);
        size_t l;

        if (isempty(v))
                v = def;
        *ret = strdup(v);
        if (!*ret)
                return -ENOMEM;
        /* "/x/" and "/x" name the same root; keep one form so joins stay clean. */
        l = strlen(*ret);
        while (l > 1 && (*ret)[l - 1] == '/')
                (*ret)[--l] = 0;
        return 0;
}

int paths_init_from_env(Paths *p) {
        const char *state = getenv("HOSTDEV_STATE_DIRECTORY");

        *p = (Paths) {};
        /* systemd's StateDirectory= sets STATE_DIRECTORY; ours wins when both are set. */
        if (isempty(state))
                state = getenv("STATE_DIRECTORY");

        if (path_from_env(&p->sysfs, "HOSTDEV_SYSFS_ROOT", "/sys") < 0 ||
            path_from_env(&p->dev, "HOSTDEV_DEV_ROOT", "/dev") < 0 ||
            path_from_env(&p->proc, "HOSTDEV_PROC_ROOT", "/proc") < 0 ||
            path_from_env(&p->run, "HOSTDEV_RUN_ROOT", "/run") < 0 ||
            path_from_env(&p->etc, "HOSTDEV_ETC_ROOT", "/etc") < 0 ||
            path_from_env(&p->state_dir, "HOSTDEV_STATE_DIRECTORY",
                          isempty(state) ? STATE_DIRECTORY_DEFAULT : state) < 0 ||
            path_from_env(&p->pci_ids, "HOSTDEV_PCI_IDS", PCI_IDS_DEFAULT) < 0 ||
            path_from_env(&p->usb_ids, "HOSTDEV_USB_IDS", USB_IDS_DEFAULT) < 0) {
                paths_done(p);
                return -ENOMEM;
        }
        if (!isempty(getenv("HOSTDEV_RTNL_SOCKET")) && !(p->rtnl_socket = strdup(getenv("HOSTDEV_RTNL_SOCKET")))) {
                paths_done(p);
                return -ENOMEM;
        }
        return 0;
}

void paths_done(Paths *p) {
        free(p->sysfs);
        free(p->dev);
        free(p->proc);
        free(p->run);
        free(p->etc);
        free(p->state_dir);
        free(p->pci_ids);
        free(p->usb_ids);
        free(p->rtnl_socket);
        *p = (Paths) {};
}

char *paths_sysfs(const Paths *p, const char *kernel_syspath) {
        const char *rest = startswith(kernel_syspath, "/sys");
        char *s;

        if (!rest || (*rest && *rest != '/'))
                return NULL;
        if (asprintf(&s, "%s%s", p->sysfs, rest) < 0)
                return NULL;
        return s;
}
