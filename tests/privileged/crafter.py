#!/usr/bin/env python3
"""Sends crafted TCP packets with scapy, from inside a test's network namespace.

    crafter.py IFACE DST SPEC [SPEC ...]
SPEC is FLAGS:SPORT:DPORT[:SEQ[:ACK[:COUNT]]], FLAGS in scapy's letters ("S", "SF", "R", "" for
none, "FA", ...). Each packet is sent COUNT times (default 1) at layer 2 on IFACE, so no
kernel socket of ours is involved. The destination MAC comes from SYNFIN_DST_MAC: addressed to
the receiving host (not broadcast), TCP takes the packets as its own."""
import sys

import os

from scapy.all import IP, IPv6, TCP, Ether, conf, get_if_hwaddr, sendp

conf.verb = 0


def main():
    iface, dst, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
    six = ":" in dst
    src_mac = get_if_hwaddr(iface)
    frames = []
    for spec in specs:
        parts = spec.split(":")
        flags, sport, dport = parts[0], int(parts[1]), int(parts[2])
        seq = int(parts[3]) if len(parts) > 3 else 1000
        ack = int(parts[4]) if len(parts) > 4 else 0
        count = int(parts[5]) if len(parts) > 5 else 1
        ip = IPv6(dst=dst) if six else IP(dst=dst)
        frame = Ether(src=src_mac, dst=os.environ["SYNFIN_DST_MAC"]) / ip / TCP(
            sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=1024)
        frames += [frame] * count
    sendp(frames, iface=iface)


if __name__ == "__main__":
    main()
