#!/usr/bin/env python3
"""switchover.py - the moment of a workload switchover, prepared in advance.

Run inside the TARGET pod's network namespace:

  switchover.py rarp  --kill PID --iface IFACE
  switchover.py naive --kill PID --nb-sock PATH --lport NAME --chassis NAME

It gets everything ready first (a raw socket on IFACE with the RARP frame
built, or a connection to the OVN Northbound database with the transaction
built), prints "ready", and waits for one line on stdin.  Then, as fast as
it can: SIGKILL the source workload (PID), and either send the workload's
RARP from the target (what QEMU does; OVN's multi-chassis binding with
activation-strategy=rarp unblocks the target) or set the logical port's
requested-chassis to the target (the naive approach).  It prints the
wall-clock times of the kill and of the action, and for naive waits for the
database's answer.  So both approaches pay the same, tiny, cost outside OVN:
what the benchmark compares is OVN's part.

Talking JSON-RPC to ovsdb-server here is a benchmark shortcut, so that no
ovn-nbctl process start lands inside the measured gap; the product never
does this (the daemon uses OVS's IDL).
"""

import json
import os
import signal
import socket
import sys
import time


def opt(name):
    i = sys.argv.index(name)
    return sys.argv[i + 1]


def rarp_frame(iface):
    with open(f"/sys/class/net/{iface}/address") as f:
        mac = bytes.fromhex(f.read().strip().replace(":", ""))
    frame = (b"\xff" * 6 + mac + b"\x80\x35"
             + b"\x00\x01\x08\x00\x06\x04\x00\x03"
             + mac + b"\x00" * 4 + mac + b"\x00" * 4)
    return frame.ljust(60, b"\x00")


def rpc(sock, method, params, rid):
    sock.sendall(json.dumps({"method": method, "params": params,
                             "id": rid}).encode())
    buf = b""
    dec = json.JSONDecoder()
    while True:
        data = sock.recv(65536)
        if not data:
            raise RuntimeError("Northbound closed the connection")
        buf += data
        try:
            msg, _ = dec.raw_decode(buf.decode())
        except ValueError:
            continue
        buf = b""
        if msg.get("id") == rid:
            return msg


def main():
    mode = sys.argv[1]
    pid = int(opt("--kill"))
    if mode == "rarp":
        iface = opt("--iface")
        frame = rarp_frame(iface)
        raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        raw.bind((iface, 0))
        act = lambda: raw.send(frame)
    elif mode == "naive":
        nb = socket.socket(socket.AF_UNIX)
        nb.connect(opt("--nb-sock"))
        lport, chassis = opt("--lport"), opt("--chassis")
        txn = ["OVN_Northbound",
               {"op": "mutate", "table": "Logical_Switch_Port",
                "where": [["name", "==", lport]],
                "mutations": [["options", "delete",
                               ["set", ["requested-chassis"]]]]},
               {"op": "mutate", "table": "Logical_Switch_Port",
                "where": [["name", "==", lport]],
                "mutations": [["options", "insert",
                               ["map", [["requested-chassis", chassis]]]]]}]
        payload = json.dumps({"method": "transact", "params": txn,
                              "id": "flip"}).encode()
        act = lambda: nb.sendall(payload)
    else:
        sys.exit(f"switchover.py: unknown mode {mode}")

    print("ready", flush=True)
    sys.stdin.readline()
    t_kill = time.time()
    os.kill(pid, signal.SIGKILL)
    # SIGKILL takes effect when the victim next leaves the kernel: on a
    # loaded machine it may still send a reply it was preparing.  Act only
    # once it is dead (gone or a zombie), as a paused VM is.
    while True:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    break
        except OSError:
            break
    act()
    t_act = time.time()
    result = {"t_kill": t_kill, "t_act": t_act}
    if mode == "naive":
        buf = b""
        dec = json.JSONDecoder()
        while True:
            buf += nb.recv(65536)
            try:
                msg, _ = dec.raw_decode(buf.decode())
            except ValueError:
                continue
            if msg.get("id") == "flip":
                break
            buf = b""
        result["t_committed"] = time.time()
        errors = [r for r in msg.get("result") or [] if "error" in r]
        if msg.get("error") or errors:
            sys.exit(f"switchover.py: transaction failed: {msg}")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
