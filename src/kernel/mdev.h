/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kernel.h"
#include "model/mdev.h"

/* Mediated devices in sysfs: a parent's mdev_supported_types/<type>/
 * {name,description,available_instances,device_api,create}, instances in
 * /sys/bus/mdev/devices/<uuid> (a link to <parent syspath>/<uuid>, with
 * mdev_type, iommu_group and remove). */

/* The parent at syspath with its types; -ENOENT when it has none. */
int kernel_mdev_read_parent(Kernel *k, const char *address, const char *syspath, MdevParent **ret);
/* The syspaths of every registered parent, from the links the kernel
 * keeps in /sys/class/mdev_bus (PCI parents among them); none when the
 * class is not there. */
int kernel_mdev_bus_parents(Kernel *k, char ***ret);
/* The instance whose kernel name is syspath ("/sys/devices/…/<uuid>"). */
int kernel_mdev_read(Kernel *k, const char *syspath, Mdev **ret);
/* Every instance in /sys/bus/mdev/devices. */
int kernel_mdev_enumerate(Kernel *k, MdevSet *s);
/* The definitions of mdevctl, <etc>/mdevctl.d/<parent>/<uuid> (JSON with
 * "mdev_type"), as inactive instances of source mdevctl, added to s.
 * Files that do not parse are skipped with a warning. */
int kernel_mdevctl_read(Kernel *k, MdevSet *s);
/* Writes uuid to <parent>/mdev_supported_types/<type>/create. */
int kernel_mdev_create(Kernel *k, const char *parent_syspath, const char *type, const char *uuid);
/* Writes 1 to /sys/bus/mdev/devices/<uuid>/remove. */
int kernel_mdev_remove(Kernel *k, const char *uuid);

/* NVIDIA vGPU on SR-IOV VFs (vGPU host driver 550+): <vf>/nvidia/
 * creatable_vgpu_types and current_vgpu_type. -ENOENT when the VF has no
 * such files. */
int kernel_vgpu_read_vf(Kernel *k, const char *address, const char *syspath, VgpuVf *ret);
/* Writes the type id (0: none) to <vf>/nvidia/current_vgpu_type. */
int kernel_vgpu_set_type(Kernel *k, const char *syspath, unsigned type);
