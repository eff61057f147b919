#!/bin/sh
# PID 1 of the test guest, after the initramfs: the services a host has
# (udev, the system bus, polkitd), then the cases, then power off.
# Results go to /results, a share that the host reads afterwards.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8
export PYTHONDONTWRITEBYTECODE=1

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
ln -sf /proc/self/fd /dev/fd

for arg in $(cat /proc/cmdline); do
        case "$arg" in
                hostdev.src=*) src=${arg#hostdev.src=} ;;
                hostdev.build=*) build=${arg#hostdev.build=} ;;
                hostdev.cases=*) cases=${arg#hostdev.cases=} ;;
                hostdev.shell=*) shell=${arg#hostdev.shell=} ;;
        esac
done

step() {
        read -r up _ < /proc/uptime
        echo "boot: $up s: $*" > /dev/console
}

# Power off at once (reboot(2), no init to ask): QEMU then exits. PID 1
# must never return, or the kernel panics.
poweroff_now() {
        dmesg > /results/dmesg.txt 2>&1
        sync
        poweroff -f
        echo o > /proc/sysrq-trigger
        while :; do sleep 1; done
}

hostname hostdev-vm

step "udev"
/lib/systemd/systemd-udevd --daemon --resolve-names=never
# Coldplug only what the cases look at: PCI loads the drivers, and the
# devices behind them (USB, block, net) then arrive as fresh uevents.
udevadm trigger --type=devices --action=add --subsystem-match=pci --subsystem-match=usb
udevadm settle --timeout=60
# A host set up for passthrough has vfio-pci loaded (modules-load.d).
modprobe vfio-pci

step "system bus"
# The project's bus policy and polkit actions, as installed on a host.
cp "$src/data/org.hostdev1.conf" /etc/dbus-1/system.d/
cp "$src/polkit/org.hostdev1.policy" /usr/share/polkit-1/actions/
mkdir -p /run/dbus /var/lib/hostdev
dbus-daemon --system --fork

step "polkitd"
/usr/lib/polkit-1/polkitd --no-debug > /results/polkitd.log 2>&1 &

# For the record, beside the results: what the guest's kernel shows.
lspci -nnk > /results/lspci.txt 2>&1
ls -l /sys/kernel/iommu_groups/*/devices > /results/iommu-groups.txt 2>&1

if [ "${shell:-0}" = 1 ]; then
        "$build/src/hostdevd/hostdevd" --log-level=debug > /results/hostdevd.log 2>&1 &
        export PATH="$build/src/cli:$PATH"
        echo "hostdevd runs (log: /results/hostdevd.log); the cases are $src/tests/vm/guest/cases.py."
        echo "Leave the shell to power off."
        setsid -c /bin/bash < /dev/ttyS0 > /dev/ttyS0 2>&1
        poweroff_now
fi

step "cases"
/usr/bin/python3 "$src/tests/vm/guest/cases.py" \
        --source-root "$src" --build-root "$build" --results /results \
        ${cases:+--only "$cases"} > /dev/console 2>&1
echo "cases exited with $?" > /results/finished
step "done"

poweroff_now
