#!/usr/bin/env python3
"""qmp.py - a minimal QMP client (JSON over a UNIX socket) for test/vm.

Usage:
  qmp.py SOCK cmd NAME [JSON-ARGS]     run one command, print its "return"
  qmp.py SOCK status                   print the run state (query-status)
  qmp.py SOCK wait-status STATE[,STATE...] [--timeout S]
                                       poll query-status until one matches
  qmp.py migrate SRC-SOCK DST-SOCK URI [--downtime-limit MS]
         [--max-bandwidth BYTES/S] [--timeout S] [--target-timeout S]
                                       live-migrate SRC to DST (already
                                       started with -incoming URI), print
                                       key=value results

A QMP monitor serves one client at a time: keep connections short, and do
not run two of these against the same socket at once.

'migrate' connects to both monitors before starting, so it sees the
source's STOP and MIGRATION events and the target's RESUME event with
QEMU's own (wall clock, microsecond) timestamps.  Its output, one key=value
a line (times in ms, timestamps in seconds since the epoch):

  status            completed | failed | cancelled | timeout
  total_time_ms     QEMU's total-time (source)
  downtime_ms       QEMU's downtime: source stop -> all state sent
  setup_time_ms     QEMU's setup-time
  ram_transferred   bytes of RAM sent
  ram_total         guest RAM size
  dirty_sync_count  RAM passes
  ram_normal_pages, ram_zero_pages   pages sent in full / as zero pages
  mbps              QEMU's measured throughput
  src_stop_ts       source STOP event (vCPUs paused: the downtime begins)
  src_done_ts       source MIGRATION event with status completed
  dst_resume_ts     target RESUME event (vCPUs run on the target)
  stop_to_resume_ms dst_resume_ts - src_stop_ts: the guest's real pause
  target_status     query-status of the target at the end (running)
  source_status     query-status of the source at the end (postmigrate)
"""

import argparse
import json
import os
import select
import socket
import sys
import time


class QMPError(Exception):
    pass


class QMP:
    def __init__(self, path, timeout=10.0):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise QMPError(f"cannot connect to {path}")
                time.sleep(0.02)
        self.buf = b""
        self.events = []
        self.timeout = timeout
        greeting = self._read_msg(timeout)
        if "QMP" not in greeting:
            raise QMPError(f"no QMP greeting on {path}: {greeting}")
        self.cmd("qmp_capabilities")

    def close(self):
        self.sock.close()

    def fileno(self):
        return self.sock.fileno()

    def _read_msg(self, timeout):
        """Next JSON message (event or reply), or None on timeout.  With
        timeout 0 it still takes what the socket already holds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = max(0.0, deadline - time.monotonic())
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return None
            data = self.sock.recv(65536)
            if not data:
                raise QMPError(f"{self.path}: connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def pump(self, timeout=0.0):
        """Read whatever arrives within timeout; keep events."""
        msg = self._read_msg(timeout)
        while msg is not None:
            if "event" in msg:
                self.events.append(msg)
            msg = self._read_msg(0)

    def cmd(self, name, args=None):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        while True:
            msg = self._read_msg(self.timeout)
            if msg is None:
                raise QMPError(f"{name}: no reply within {self.timeout} s")
            if "event" in msg:
                self.events.append(msg)
                continue
            if "error" in msg:
                raise QMPError(f"{name}: {msg['error'].get('desc', msg)}")
            return msg.get("return")

    def event_ts(self, name, pred=None):
        for ev in self.events:
            if ev["event"] == name and (pred is None or pred(ev)):
                t = ev["timestamp"]
                return t["seconds"] + t["microseconds"] / 1e6
        return None


def wait_status(sock, states, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            q = QMP(sock, timeout=max(0.5, deadline - time.monotonic()))
            try:
                last = q.cmd("query-status")["status"]
            finally:
                q.close()
        except (QMPError, OSError) as e:
            last = f"error: {e}"
        if last in states:
            return last
        if time.monotonic() > deadline:
            raise QMPError(f"status is {last}, wanted {','.join(states)}")
        time.sleep(0.05)


def migrate(src_sock, dst_sock, uri, args):
    p = argparse.ArgumentParser(prog="qmp.py migrate")
    p.add_argument("--downtime-limit", type=int, default=300)
    p.add_argument("--max-bandwidth", type=int, default=10 * 1024 ** 3)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--target-timeout", type=float, default=10.0)
    o = p.parse_args(args)
    downtime_limit, max_bw = o.downtime_limit, o.max_bandwidth
    timeout, target_timeout = o.timeout, o.target_timeout

    src = QMP(src_sock)
    dst = QMP(dst_sock)
    st = dst.cmd("query-status")["status"]
    if st != "inmigrate":
        raise QMPError(f"target is '{st}', not 'inmigrate'")
    src.cmd("migrate-set-capabilities", {"capabilities": [
        {"capability": "events", "state": True}]})
    src.cmd("migrate-set-parameters", {
        "downtime-limit": downtime_limit,
        "max-bandwidth": max_bw,
    })
    src.cmd("migrate", {"uri": uri})

    deadline = time.monotonic() + timeout
    status = "timeout"
    info = {}
    next_query = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        select.select([src, dst], [], [], 0.05)
        src.pump(0)
        dst.pump(0)
        ev = [e for e in src.events if e["event"] == "MIGRATION"]
        if ev and ev[-1]["data"]["status"] in ("completed", "failed",
                                               "cancelled"):
            status = ev[-1]["data"]["status"]
            break
        # Events are the fast path; query-migrate is the safety net.
        if time.monotonic() >= next_query:
            next_query = time.monotonic() + 0.5
            info = src.cmd("query-migrate")
            if info.get("status") in ("completed", "failed", "cancelled"):
                status = info["status"]
                break
    if status == "timeout":
        try:
            src.cmd("migrate_cancel")
        except QMPError:
            pass
    # The MIGRATION "completed" event comes before the migration thread
    # fills in total-time and downtime: give it a moment.
    info = src.cmd("query-migrate")
    settle = time.monotonic() + 2.0
    while (status == "completed" and not info.get("total-time") and
           time.monotonic() < settle):
        time.sleep(0.01)
        info = src.cmd("query-migrate")

    # The target runs once it has loaded the state; wait for it.
    target_status = "unknown"
    tdeadline = time.monotonic() + target_timeout
    while status == "completed" and time.monotonic() < tdeadline:
        dst.pump(0.02)
        if dst.event_ts("RESUME") is not None:
            break
    try:
        target_status = dst.cmd("query-status")["status"]
    except QMPError as e:
        target_status = f"error:{e}"
    source_status = src.cmd("query-status")["status"]
    src.pump(0)
    dst.pump(0)

    ram = info.get("ram", {})
    stop_ts = src.event_ts("STOP")
    done_ts = src.event_ts("MIGRATION",
                           lambda e: e["data"]["status"] == "completed")
    resume_ts = dst.event_ts("RESUME")
    out = {
        "status": status,
        "total_time_ms": info.get("total-time", ""),
        "downtime_ms": info.get("downtime", ""),
        "setup_time_ms": info.get("setup-time", ""),
        "ram_transferred": ram.get("transferred", ""),
        "ram_total": ram.get("total", ""),
        "dirty_sync_count": ram.get("dirty-sync-count", ""),
        "ram_normal_pages": ram.get("normal", ""),
        "ram_zero_pages": ram.get("duplicate", ""),
        "mbps": info.get("ram", {}).get("mbps", ""),
        "src_stop_ts": f"{stop_ts:.6f}" if stop_ts else "",
        "src_done_ts": f"{done_ts:.6f}" if done_ts else "",
        "dst_resume_ts": f"{resume_ts:.6f}" if resume_ts else "",
        "stop_to_resume_ms": (f"{(resume_ts - stop_ts) * 1000:.1f}"
                              if stop_ts and resume_ts else ""),
        "target_status": target_status,
        "source_status": source_status,
    }
    if "error-desc" in info:
        out["error"] = info["error-desc"].replace("\n", " ")
    for k, v in out.items():
        print(f"{k}={v}")
    src.close()
    dst.close()
    return 0 if status == "completed" and target_status == "running" else 1


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        if argv[1] == "migrate":
            if len(argv) < 5:
                print(__doc__, file=sys.stderr)
                return 2
            return migrate(argv[2], argv[3], argv[4], argv[5:])
        sock, verb, rest = argv[1], argv[2], argv[3:]
        if verb == "cmd":
            q = QMP(sock)
            ret = q.cmd(rest[0], json.loads(rest[1]) if len(rest) > 1
                        else None)
            q.close()
            print(json.dumps(ret))
        elif verb == "status":
            q = QMP(sock)
            print(q.cmd("query-status")["status"])
            q.close()
        elif verb == "wait-status":
            p = argparse.ArgumentParser(prog="qmp.py SOCK wait-status")
            p.add_argument("states")
            p.add_argument("--timeout", type=float, default=30.0)
            o = p.parse_args(rest)
            print(wait_status(sock, o.states.split(","), o.timeout))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (QMPError, OSError) as e:
        print(f"qmp: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
