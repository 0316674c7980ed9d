#!/usr/bin/env python3
"""Sends one RARP request from IFACE with IFACE's MAC, as QEMU announces a
migrated guest.  Run inside the pod's network namespace.  Test helper: the
daemon sends its own (ovn-lm/send-rarp); this one stands for the workload."""
import socket
import sys

iface = sys.argv[1]
with open(f"/sys/class/net/{iface}/address") as f:
    mac = bytes.fromhex(f.read().strip().replace(":", ""))
frame = (b"\xff" * 6 + mac + b"\x80\x35"          # Ethernet, RARP
         + b"\x00\x01\x08\x00\x06\x04\x00\x03"     # Ethernet/IPv4, request
         + mac + b"\x00" * 4 + mac + b"\x00" * 4)  # sender, target
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
s.send(frame.ljust(60, b"\x00"))
