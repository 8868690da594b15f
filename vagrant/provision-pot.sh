#!/bin/sh
# Make this FreeBSD VM a pot host: ZFS, pot, pf, racct.  Idempotent.
#
# Vagrant boxes usually boot from UFS, so pot gets a file-backed ZFS pool
# (/var/potpool.img) unless the box already has a "zroot" pool.
set -eu

POOL_FILE=/var/potpool.img
POOL_SIZE=8G

pkg install -y pot

sysrc zfs_enable=YES
kldload -n zfs
if zpool list -H -o name zroot >/dev/null 2>&1; then
    zfs_root=zroot/pot
else
    if ! zpool list -H -o name potpool >/dev/null 2>&1; then
        if [ -f "$POOL_FILE" ]; then
            zpool import -d "$(dirname "$POOL_FILE")" potpool
        else
            truncate -s "$POOL_SIZE" "$POOL_FILE"
            zpool create potpool "$POOL_FILE"
        fi
    fi
    zfs_root=potpool/pot
fi

# The interface of the default route carries the pots' traffic (em0, vtnet0 ...).
ext_if=$(route -n get default | awk '/interface:/ { print $2 }')
cat > /usr/local/etc/pot/pot.conf <<CONF
POT_ZFS_ROOT=${zfs_root}
POT_FS_ROOT=/opt/pot
POT_EXTIF=${ext_if}
CONF

# pot init adds its nat and rdr anchors to pf.conf; an empty rule set passes everything else.
touch /etc/pf.conf
pot init
sysrc pf_enable=YES gateway_enable=YES
sysctl net.inet.ip.forwarding=1
kldload -n pf
service pf status >/dev/null 2>&1 || service pf start
service pf reload
pot vnet-start

# Memory limits (pot set-rss) and usage stats (pot get-rss) need racct, which only a
# reboot turns on: `vagrant reload` once.  Jobs run without it.
if ! grep -q '^kern.racct.enable=1' /boot/loader.conf; then
    echo 'kern.racct.enable=1' >> /boot/loader.conf
    echo "racct enabled for the next boot: run 'vagrant reload' for memory limits and stats"
fi
pot version
