#!/usr/bin/env python3
"""traffic.py - bounded test traffic against the test guest (test/vm).

  traffic.py tcp-echo HOST PORT [--interval-ms 10] [--duration S]
             [--stop-file F] [--out FILE]
      One TCP connection to the guest's echo service; sends one line every
      interval and checks every echo comes back, in order, on the same
      connection.  Never reconnects: a reset or a timeout is a failure.

It checks that the connection survives a migration; it is not a downtime
prober (that is ovn-lm-probe, tools/ovn-lm-probe).  It stops at --duration
(default 60 s, at most 600 s) or as soon as the stop file exists, prints
"ready" on stdout once echoes come back, and writes a JSON summary to --out
(or stdout).  Times are wall clock (time.time()) so they compare with QMP
event timestamps and tcpdump -tt.

Summary keys:
  ok                 no error, every line echoed intact and in order
  sent, received     lines
  bad                lines that came back altered or out of order
  local              the connection's local address:port
  max_gap_ms         longest time between two consecutive echoes
  gap_start, gap_end wall-clock times of the two echoes around it
  first_rx, last_rx  wall-clock times of the first and last echo
  gaps               [start, end] of every gap over 2.5 intervals, first 1000
  error              what broke the connection, if anything
"""

import argparse
import json
import os
import select
import socket
import sys
import time

MAX_DURATION = 600.0


class Gaps:
    def __init__(self, keep_over):
        self.keep_over = keep_over  # s; gaps longer than this are listed
        self.gaps = []
        self.last = None
        self.first = None
        self.max_gap = 0.0
        self.gap_start = self.gap_end = None

    def rx(self, t):
        if self.first is None:
            self.first = t
        if self.last is not None:
            gap = t - self.last
            if gap > self.max_gap:
                self.max_gap = gap
                self.gap_start, self.gap_end = self.last, t
            if gap > self.keep_over and len(self.gaps) < 1000:
                self.gaps.append([self.last, t])
        self.last = t

    def summary(self):
        return {
            "max_gap_ms": round(self.max_gap * 1000, 3),
            "gap_start": self.gap_start,
            "gap_end": self.gap_end,
            "first_rx": self.first,
            "last_rx": self.last,
            "gaps": self.gaps,
        }


def should_stop(stop_file, deadline):
    return time.monotonic() > deadline or (stop_file and
                                           os.path.exists(stop_file))


def tcp_echo(host, port, args):
    p = argparse.ArgumentParser(prog="traffic.py tcp-echo HOST PORT")
    p.add_argument("--interval-ms", type=float, default=10.0)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--stop-file")
    p.add_argument("--out")
    o = p.parse_args(args)
    interval = o.interval_ms / 1000
    duration = min(o.duration, MAX_DURATION)
    stop_file, out = o.stop_file, o.out
    deadline = time.monotonic() + duration
    res = {"mode": "tcp-echo", "ok": False, "sent": 0, "received": 0,
           "bad": 0, "error": None}
    gaps = Gaps(keep_over=2.5 * interval)
    try:
        s = socket.create_connection((host, port), timeout=5)
    except OSError as e:
        res["error"] = f"connect: {e}"
        return res, out
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    res["local"] = "%s:%d" % s.getsockname()
    buf = b""
    expect = 0          # next sequence number expected back
    seq = 0
    next_send = time.monotonic()
    announced = False
    stopping_at = None  # after stop: wait for the outstanding echoes
    while True:
        now = time.monotonic()
        if stopping_at is None and should_stop(stop_file, deadline):
            stopping_at = now
        if stopping_at is not None and (expect == seq or
                                        now - stopping_at > 5):
            break
        if stopping_at is None and now >= next_send:
            line = b"%d %.6f ovn-lm-echo\n" % (seq, time.time())
            try:
                s.send(line)   # small: never partially sent in practice
            except BlockingIOError:
                pass           # send buffer full: the peer is gone/stuck
            except OSError as e:
                res["error"] = f"send: {e}"
                break
            else:
                seq += 1
                res["sent"] = seq
            next_send += interval
            if next_send < now:
                next_send = now + interval
        wait = max(0.0, next_send - time.monotonic())
        r, _, _ = select.select([s], [], [], min(wait, 0.05))
        if not r:
            continue
        try:
            data = s.recv(65536)
        except BlockingIOError:
            continue
        except OSError as e:
            res["error"] = f"recv: {e}"
            break
        if not data:
            res["error"] = "connection closed by peer"
            break
        t = time.time()
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            parts = line.split(b" ")
            if (len(parts) != 3 or parts[2] != b"ovn-lm-echo" or
                    int(parts[0]) != expect):
                res["bad"] += 1
            expect += 1
            res["received"] += 1
            gaps.rx(t)
        if not announced and res["received"]:
            print("ready", flush=True)
            announced = True
    s.close()
    res.update(gaps.summary())
    res["ok"] = (res["error"] is None and res["bad"] == 0 and
                 res["received"] == res["sent"] and res["sent"] > 0)
    return res, out


def main(argv):
    if len(argv) < 4 or argv[1] != "tcp-echo":
        print(__doc__, file=sys.stderr)
        return 2
    res, out = tcp_echo(argv[2], int(argv[3]), argv[4:])
    text = json.dumps(res, indent=1)
    if out:
        with open(out + ".tmp", "w") as f:
            f.write(text + "\n")
        os.rename(out + ".tmp", out)
    else:
        print(text)
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
