#!/usr/bin/env bash
# Runs a command as root inside another kernel: Debian's own linux-image package of that
# version, booted under qemu with this machine's root as the guest's (read-only over 9p, under
# a tmpfs overlay), so the guest runs the very binaries the host built. Nothing is installed on
# the host and its boot is untouched: the package is unpacked into a cache folder.
#
#   tests/kernels/run-in-kernel.sh [--timeout SECONDS] [--memory MIB] VERSION -- CMD [ARG...]
#
# VERSION: 6.1 (Debian's newest linux-image-6.1.0-N-amd64), or an ABI such as 6.1.0-50.
# CMD runs in the caller's directory (not one under /tmp, /run or /dev/shm, which the guest
# mounts afresh: refused) with tracefs, bpffs and cgroup2 mounted and the kernel's
# modules loadable (veth, sch_ingress, ...); CI and every SYNFIN_* variable are passed in, and
# SYNFIN_GUEST_KERNEL names the guest's kernel. Its output streams to stdout (stderr merged:
# the guest has one console), and its exit status is this script's. 125: the guest never
# reported one (boot failure, timeout), which is never mistaken for a skip (77). Without root
# it exits 77 (skipped), or 2 under CI=true.
# Needs: qemu-system-x86, kmod, cpio, busybox-static (setup.sh test installs them). The cache
# is SYNFIN_KERNEL_CACHE, by default /var/cache/synfin/kernels.
set -euo pipefail

timeout_seconds=3600
memory_mib=3072
while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) timeout_seconds="$2"; shift 2 ;;
    --memory) memory_mib="$2"; shift 2 ;;
    *) break ;;
  esac
done
if [ $# -lt 3 ] || [ "$2" != -- ]; then
  echo "usage: $0 [--timeout SECONDS] [--memory MIB] VERSION -- CMD [ARG...]" >&2
  exit 2
fi
version="$1"
shift 2
# The guest mounts its own tmpfs on /tmp, /run and /dev/shm: a caller's directory there does
# not exist inside it, and CMD would find nothing. Refused before anything is fetched or booted.
here="$(pwd -P)"
for fresh in /tmp /run /dev/shm; do
  case "$here/" in
    "$fresh"/*)
      echo "run-in-kernel: the current directory $here is under $fresh, which the guest mounts" \
        "afresh (an empty tmpfs): run from a directory elsewhere, e.g. the source tree or a" \
        "build folder under it" >&2
      exit 2
      ;;
  esac
done
if [ "$(id -u)" -ne 0 ]; then
  echo "run-in-kernel: needs root (9p passthrough of the host's files, apt-get download)" >&2
  # ctest's skip outside CI, as the privileged tier's; under CI=true a failure.
  [ "${CI:-}" = true ] && exit 2
  exit 77
fi
for tool in qemu-system-x86_64 depmod modprobe cpio /bin/busybox setpriv; do
  if ! command -v "$tool" >/dev/null; then
    echo "run-in-kernel: $tool is missing (apt-get install qemu-system-x86 kmod cpio" \
      "busybox-static util-linux)" >&2
    exit 2
  fi
done

log() { echo "run-in-kernel: $*" >&2; }
cache="${SYNFIN_KERNEL_CACHE:-/var/cache/synfin/kernels}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd -P)"

# The package name. A bare major.minor takes the newest ABI the archive has; the archive's
# list is refreshed once if it names none (a fresh machine has never run apt-get update).
resolve_package() {
  if [[ "$version" =~ ^[0-9]+\.[0-9]+$ ]]; then
    apt-cache pkgnames "linux-image-$version.0-" 2>/dev/null |
      grep -E "^linux-image-${version//./\\.}\.0-[0-9]+-amd64$" | sort -V | tail -n 1
  elif [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+$ ]]; then
    apt-cache pkgnames "linux-image-$version-amd64" 2>/dev/null |
      grep -Fx "linux-image-$version-amd64"
  else
    log "VERSION is major.minor (6.1) or an ABI (6.1.0-50), not '$version'"
    exit 2
  fi
}
package="$(resolve_package || true)"
if [ -z "$package" ]; then
  log "the package list names no linux-image for $version: apt-get update"
  apt-get update -qq
  package="$(resolve_package || true)"
fi
if [ -z "$package" ]; then
  log "Debian's archive has no linux-image-*-amd64 for $version"
  exit 2
fi
release="${package#linux-image-}"
kernel_dir="$cache/$release"

# Unpacked once: the kernel and its modules, with a modules.dep of their own (the package's
# postinst would make it).
if [ ! -f "$kernel_dir/unpacked" ]; then
  started=$SECONDS
  staging="$(mktemp -d "$cache/.staging.XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  log "fetching $package from Debian's archive"
  (cd "$staging" && apt-get download -q -o APT::Sandbox::User=root "$package" >/dev/null)
  mkdir "$staging/root"
  dpkg-deb -x "$staging"/"$package"_*.deb "$staging/root"
  rm -f "$staging"/*.deb
  depmod -b "$staging/root" "$release"
  touch "$staging/unpacked"
  chmod 755 "$staging"
  rm -rf "$kernel_dir"
  mv "$staging" "$kernel_dir"
  trap - EXIT
  log "unpacked $package into $kernel_dir in $((SECONDS - started)) s"
fi

# The initramfs: busybox, guest-init.sh and the modules mounting the shared root needs; made
# anew when guest-init.sh changes.
guest_init="$(dirname "$0")/guest-init.sh"
initrd="$kernel_dir/initrd-$(sha256sum "$guest_init" | cut -c1-16).img"
if [ ! -f "$initrd" ]; then
  initramfs="$(mktemp -d "$cache/.initramfs.XXXXXX")"
  trap 'rm -rf "$initramfs"' EXIT
  mkdir -p "$initramfs"/{bin,dev,proc,sys,out,lower,rw,newroot,modules}
  cp /bin/busybox "$initramfs/bin/busybox"
  : >"$initramfs/modules/order"
  for module in virtio_pci 9pnet_virtio 9p overlay; do
    modprobe -d "$kernel_dir/root" -S "$release" --show-depends "$module" |
      while read -r verb path _; do
        [ "$verb" = insmod ] || continue
        name="$(basename "$path")"
        grep -qx "$name" "$initramfs/modules/order" && continue
        cp "$path" "$initramfs/modules/$name"
        echo "$name" >>"$initramfs/modules/order"
      done
  done
  install -m 755 "$guest_init" "$initramfs/init"
  rm -f "$kernel_dir"/initrd-*.img
  (cd "$initramfs" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.partial"
  mv "$initrd.partial" "$initrd"
  rm -rf "$initramfs"
  trap - EXIT
fi

# One folder per run, shared writable with the guest: the command, then its exit status.
run_dir="$(mktemp -d /tmp/synfin-guest.XXXXXX)"
cleanup() {
  local pid
  pid="$(cat "$run_dir/qemu.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid" || true; fi
  rm -rf "$run_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

{
  echo "#!/bin/bash"
  echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root"
  echo "export TERM=dumb LANG=C.UTF-8 SYNFIN_GUEST_KERNEL=$(printf %q "$release")"
  while IFS= read -r name; do
    echo "export $name=$(printf %q "${!name}")"
  done < <(compgen -e | grep -E '^(CI|SYNFIN_[A-Z0-9_]+)$' | grep -vx SYNFIN_GUEST_KERNEL || true)
  echo "cd $(printf %q "$(pwd -P)") || exit 125"
  printf 'exec'
  printf ' %q' "$@"
  echo
} >"$run_dir/command"
{
  echo "release=$(printf %q "$release")"
  echo "modules=$(printf %q "$kernel_dir/root/lib/modules/$release")"
  echo "boot=$(printf %q "$kernel_dir/root/boot")"
  echo "run_dir=$(printf %q "$run_dir")"
} >"$run_dir/params"

accel=tcg
cpu=max
if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
  accel=kvm
  cpu=host
fi
cpus="$(nproc)"
[ "$cpus" -gt 4 ] && cpus=4
log "booting $release ($accel, $cpus CPUs, $memory_mib MiB); command: $*"
boot_started=$(date +%s.%N)
set +e
# Parent-death signals: a caller killed outright (ctest's timeout) takes the guest with it.
setpriv --pdeathsig KILL -- timeout --kill-after=10 "$timeout_seconds" \
  setpriv --pdeathsig KILL -- qemu-system-x86_64 -machine q35,accel="$accel" -cpu "$cpu" -smp "$cpus" -m "$memory_mib" \
  -kernel "$kernel_dir/root/boot/vmlinuz-$release" -initrd "$initrd" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init" \
  -display none -monitor none -serial stdio -nic none -no-reboot \
  -pidfile "$run_dir/qemu.pid" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
  -virtfs local,path="$run_dir",mount_tag=run,security_model=passthrough,multidevs=remap \
  </dev/null 2>&1 | sed -u 's/\r$//' &
wait $!
set -e
ended=$(date +%s.%N)
wall="$(awk -v a="$boot_started" -v b="$ended" 'BEGIN{printf "%.1f", b-a}')"
if [ ! -f "$run_dir/status" ]; then
  log "the guest ended without the command's exit status (boot failure, or the $timeout_seconds s" \
    "timeout); wall time $wall s"
  exit 125
fi
# The guest's uptime when the command started and ended: boot is the first, the rest of the
# wall time is qemu's own start and the power-off.
read -r start_uptime end_uptime <"$run_dir/uptimes" || true
status="$(cat "$run_dir/status")"
log "command exited $status in $release; wall time $wall s (guest booted to the command in" \
  "${start_uptime:-?} s, command ran $(awk -v a="${start_uptime:-0}" -v b="${end_uptime:-0}" \
    'BEGIN{printf "%.1f", b-a}') s)"
exit "$status"
