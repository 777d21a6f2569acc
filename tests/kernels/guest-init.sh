#!/bin/busybox sh
# PID 1 of run-in-kernel.sh's guest (busybox, in the initramfs): mounts the host's root
# read-only under a tmpfs overlay, the kernel's filesystems in it, runs the command there as
# root and hands its exit status back through the shared run folder, then powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

fail() {
  echo "guest-init: $*"
  poweroff -f
}
for module in $(cat /modules/order); do
  insmod "/modules/$module" || fail "insmod $module failed"
done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 run /out || fail "no run folder"
. /out/params
# The host's files do not change while the guest runs: the page cache may keep them.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro hostroot /lower ||
  fail "cannot mount the host's root"
mount -t tmpfs -o mode=755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot ||
  fail "cannot overlay the host's root"

root=/newroot
mount -t proc proc $root/proc
mount -t sysfs sysfs $root/sys
mount -t devtmpfs devtmpfs $root/dev
mkdir -p $root/dev/pts $root/dev/shm
mount -t devpts devpts $root/dev/pts
mount -t tmpfs tmpfs $root/dev/shm
mount -t tmpfs -o mode=1777 tmpfs $root/tmp
mount -t tmpfs -o mode=755 tmpfs $root/run
mkdir -p $root/run/netns $root/run/lock
mount -t tracefs tracefs $root/sys/kernel/tracing
mount -t debugfs debugfs $root/sys/kernel/debug 2>/dev/null
mount -t bpf bpffs $root/sys/fs/bpf
mount -t cgroup2 cgroup2 $root/sys/fs/cgroup
# The guest kernel's modules where modprobe looks for them (the host's /lib/modules has its own).
mkdir -p "$root/lib/modules/$release"
mount -o bind "$root$modules" "$root/lib/modules/$release"
# and its /boot as the package installs it: libbpf reads the kernel's config-RELEASE there
# (Debian's kernels have no /proc/config.gz).
mount -o bind "$root$boot" "$root/boot"
mkdir -p "$root$run_dir"
mount -o bind /out "$root$run_dir"
# The kernel's module requests (a veth link, an ingress qdisc) run its helper in PID 1's root.
printf '#!/bin/sh\nexec chroot %s /sbin/modprobe "$@"\n' "$root" >/bin/modprobe-in-root
chmod 755 /bin/modprobe-in-root
echo /bin/modprobe-in-root >/proc/sys/kernel/modprobe
hostname synfin-guest
chroot $root /sbin/ip link set lo up

read -r start _ </proc/uptime
chroot $root /bin/bash "$run_dir/command" </dev/null
status=$?
read -r end _ </proc/uptime
echo "$start $end" >/out/uptimes
echo $status >/out/status
umount "$root$run_dir"
umount /out
sync
poweroff -f
