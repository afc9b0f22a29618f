#!/bin/sh
# /init of the Strata guest (busybox ash). Built into the initramfs by tools/guest/build.ts.
#
# Contract with tools/guest/vm.ts (which scripts this console):
#   - prints "strata-guest: 9p mounted at /mnt/strata" or "strata-guest: no 9p device"
#     or "strata-guest: 9p mount failed";
#   - prints "strata-guest: ready" once, just before the shell starts;
#   - the shell's prompt is "strata# ";
#   - when the shell exits, prints "strata-guest: shell exited" and powers off.
# Kernel command line options read here:
#   strata.msize=N     9P msize (default 524288)
#   strata.nomount     do not mount 9p even if a virtio-9p device is present
#   strata.disk        an IDE disk is attached: load ext4 and the disk modules, and wait
#                      for /dev/sda before the prompt
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=linux
/bin/busybox mkdir -p /proc /sys /dev /tmp /root /mnt/strata /mnt/disk /etc /bin /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox mount -t tmpfs -o size=50% tmpfs /tmp
/bin/busybox --install -s /bin
echo 3 > /proc/sys/kernel/printk

# /etc/modules: what 9P needs; /etc/modules.disk: ext4 and the IDE disk (strata.disk only).
modules=/etc/modules
grep -q strata.disk /proc/cmdline && modules="/etc/modules /etc/modules.disk"
for m in $(cat $modules); do
  insmod "/lib/modules/$m.ko" || echo "strata-guest: insmod $m failed"
done

msize=524288
mount9p=yes
for word in $(cat /proc/cmdline); do
  case "$word" in
    strata.msize=*) msize="${word#strata.msize=}" ;;
    strata.nomount) mount9p=no ;;
  esac
done

if [ "$mount9p" = yes ]; then
  if ls /sys/bus/virtio/drivers/9pnet_virtio/ 2>/dev/null | grep -q '^virtio'; then
    if mount -t 9p -o trans=virtio,version=9p2000.L,msize="$msize",cache=none host9p /mnt/strata; then
      echo "strata-guest: 9p mounted at /mnt/strata (msize $msize)"
    else
      echo "strata-guest: 9p mount failed"
    fi
  else
    echo "strata-guest: no 9p device"
  fi
fi

# With an IDE disk attached (strata.disk on the command line), wait for it, at most 5 s.
if grep -q strata.disk /proc/cmdline; then
  tries=0
  while [ ! -e /dev/sda ] && [ $tries -lt 50 ]; do sleep 0.1; tries=$((tries + 1)); done
  [ -e /dev/sda ] && echo "strata-guest: disk /dev/sda" || echo "strata-guest: no disk appeared"
fi

export PS1='strata# '
echo "strata-guest: ready"
setsid cttyhack /bin/sh
echo "strata-guest: shell exited"
sync
poweroff -f
