#!/usr/bin/env python3
"""kube-apiserver-standin.py: a TEST STAND-IN for the Kubernetes API server.

This is an ovn-lm test fixture, NOT a Kubernetes API server.  It speaks
enough of the API server's wire protocol (bearer-token auth, LIST with
selectors and pagination, chunked WATCH streams with bookmarks and 410
"Expired" errors, Event creation and patching) for tests of clients that
list and watch Pods, KubeVirt VirtualMachineInstances and
VirtualMachineInstanceMigrations, and that post Events.  There is no
admission, no validation beyond a few checks, no RBAC, no garbage
collection, no controllers.  Tests drive the objects through a control API
on a unix socket (the `ctl` subcommand).  See test/k8s/README.md.

What it models of a real kube-apiserver (v1.24, etcd 3.4), option by option:

  --bookmark-interval SEC (default 60)
      The watch cache sends a BOOKMARK about once a minute, and only when it
      holds something newer than what the watch was last sent: a quiet
      watch of a quiet resource gets nothing at all for minutes.
  --state FILE, and a restart (SIGTERM, then serve again with it)
      etcd keeps the objects and the resourceVersion counter, but the new
      server's watch cache starts empty at the current resourceVersion,
      which its own start-up writes (its lease, the endpoints) have moved
      on: every older resourceVersion gets 410 "too old resource version",
      so every client lists again after every restart.
  --startup-window SEC (default 0; a real server: about 1)
      The server accepts connections before it is ready: /readyz fails and
      API requests get 403 (the RBAC authorizer has not loaded its roles:
      core API paths) or 503 (the rest, e.g. custom resources) until then.
  --http2 (with --cert/--key; needs python3-h2)
      The server offers h2 by ALPN, as Go's net/http does, and libcurl
      then multiplexes every request on one connection; a server that goes
      away (SIGTERM, `ctl drop-watches`) ends every stream on it at once,
      without a clean end ("stream ... was not closed cleanly").  Without
      it: HTTP/1.1, one connection per concurrent request.

Python 3 standard library only, and python3-h2 for --http2 (Debian 12's
package; a python3 outside Debian's, e.g. pyenv's, finds it under
/usr/lib/python3/dist-packages).
"""

import argparse
import base64
import bisect
import collections
import copy
import datetime
import hmac
import http.client
import http.server
import json
import os
import queue
import random
import select
import signal
import socket
import socketserver
import ssl
import string
import sys
import threading
import time
import urllib.parse
import uuid

STAND_IN = "ovn-lm test fixture, not a Kubernetes API server"
DEFAULT_WATCH_TIMEOUT = 1800
HISTORY_LIMIT = 10000
TRUE_VALUES = ("1", "t", "T", "true", "TRUE", "True")

# ---- Resources ------------------------------------------------------------

META_FIELDS = ("metadata.name", "metadata.namespace")


class Resource:
    """One API resource: where it lives, what it is called, what it allows."""

    def __init__(self, group, version, plural, kind, fields=(), writable=False):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.fields = META_FIELDS + tuple(fields)  # fieldSelector labels
        self.writable = writable  # POST and PATCH allowed (Events)
        self.api_version = f"{group}/{version}" if group else version
        self.key = f"{plural}.{group}" if group else plural

    def not_found(self, name):
        return ApiError(404, "NotFound", f'{self.key} "{name}" not found',
                        {"name": name, "group": self.group, "kind": self.plural})


RESOURCES = [
    Resource("", "v1", "pods", "Pod",
             ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
              "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
              "status.podIP", "status.nominatedNodeName")),
    # Custom resources: the real server only has metadata.name/namespace.
    Resource("kubevirt.io", "v1", "virtualmachineinstances",
             "VirtualMachineInstance"),
    Resource("kubevirt.io", "v1", "virtualmachineinstancemigrations",
             "VirtualMachineInstanceMigration"),
    Resource("", "v1", "events", "Event",
             ("involvedObject.kind", "involvedObject.namespace",
              "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.fieldPath",
              "reason", "reportingComponent", "type"), writable=True),
    Resource("events.k8s.io", "v1", "events", "Event",
             ("regarding.kind", "regarding.namespace", "regarding.name",
              "regarding.uid", "regarding.apiVersion", "reason",
              "reportingController", "type"), writable=True),
]


def resource_by_path(group, version, plural):
    for r in RESOURCES:
        if (r.group, r.version, r.plural) == (group, version, plural):
            return r
    return None


def resource_by_type(api_version, kind):
    """The resource of an object with this apiVersion and kind."""
    for r in RESOURCES:
        if (r.api_version, r.kind) == (api_version, kind):
            return r
    raise ApiError(400, "BadRequest",
                   f"no resource for apiVersion {api_version!r} kind {kind!r}")


def resource_by_name(name):
    """For ctl: Pod, pods, VirtualMachineInstance, Event (core v1),
    Event.events.k8s.io, ... (case-insensitive)."""
    n = name.lower()
    for r in RESOURCES:
        k = r.kind.lower()
        if n in (k, r.plural, f"{k}.{r.group}", f"{r.plural}.{r.group}"):
            return r
    raise ApiError(400, "BadRequest", f"unknown kind {name!r}")


# ---- Errors and small helpers ---------------------------------------------

class ApiError(Exception):
    """An error the API answers with a v1 Status."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self):
        s = {"kind": "Status", "apiVersion": "v1", "metadata": {},
             "status": "Failure", "message": self.message, "reason": self.reason}
        if self.details is not None:
            s["details"] = self.details
        s["code"] = self.code
        return s


def expired(message):
    return ApiError(410, "Expired", message)


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch; returns a new value."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def obj_key(obj):
    m = obj.get("metadata", {})
    return (m.get("namespace", ""), m.get("name", ""))


def obj_rv(obj):
    return int(obj["metadata"]["resourceVersion"])


def without_type(obj):
    """An object as LIST items carry it: no kind, no apiVersion."""
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


# ---- Selectors ------------------------------------------------------------

def split_terms(s):
    """Splits a selector on commas outside parentheses."""
    terms, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    return [t.strip() for t in terms if t.strip()]


def parse_field_selector(s, res):
    """fieldSelector: a=b, a==b, a!=b, comma-separated (AND)."""
    reqs = []
    for term in split_terms(s or ""):
        for op in ("!=", "==", "="):
            if op in term:
                field, value = (x.strip() for x in term.split(op, 1))
                break
        else:
            raise ApiError(400, "BadRequest", f"invalid selector: '{s}'; can't understand '{term}'")
        if field not in res.fields:
            raise ApiError(400, "BadRequest", f'field label not supported: {field}')
        reqs.append((field, op != "!=", value))
    return reqs


def parse_label_selector(s):
    """labelSelector: k=v, k==v, k!=v, k, !k, k in (a,b), k notin (a,b)."""
    reqs = []
    for term in split_terms(s or ""):
        words = term.replace("(", " ( ").split()
        if len(words) >= 2 and words[1] in ("in", "notin"):
            if not (term.endswith(")") and "(" in term):
                raise ApiError(400, "BadRequest", f"unable to parse requirement: {term}")
            values = {v.strip() for v in term[term.index("(") + 1:-1].split(",")}
            reqs.append((words[0], words[1], values))
        elif term.startswith("!"):
            reqs.append((term[1:].strip(), "!exists", None))
        elif "!=" in term:
            k, v = term.split("!=", 1)
            reqs.append((k.strip(), "!=", v.strip()))
        elif "=" in term:
            k, v = term.split("==", 1) if "==" in term else term.split("=", 1)
            reqs.append((k.strip(), "=", v.strip()))
        else:
            reqs.append((term, "exists", None))
    for k, _, _ in reqs:
        if not k or any(c in k for c in " =!(),"):
            raise ApiError(400, "BadRequest", f"unable to parse requirement: invalid label key {k!r}")
    return reqs


def field_value(obj, path):
    v = obj
    for part in path.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


class Filter:
    """Which objects a LIST or WATCH sees: namespace, field and label selectors."""

    def __init__(self, res, namespace, query, name=None):
        self.namespace = namespace
        self.fields = parse_field_selector(query.get("fieldSelector"), res)
        if name is not None:  # GET .../NAME?watch=1
            self.fields.append(("metadata.name", True, name))
        self.labels = parse_label_selector(query.get("labelSelector"))
        self.selective = bool(self.fields or self.labels)

    def matches(self, obj):
        if obj is None:
            return False
        if self.namespace and obj.get("metadata", {}).get("namespace") != self.namespace:
            return False
        for field, equal, value in self.fields:
            if (field_value(obj, field) == value) != equal:
                return False
        labels = obj.get("metadata", {}).get("labels") or {}
        for k, op, v in self.labels:
            ok = {"=": lambda: labels.get(k) == v,
                  "!=": lambda: labels.get(k) != v,
                  "exists": lambda: k in labels,
                  "!exists": lambda: k not in labels,
                  "in": lambda: k in labels and labels[k] in v,
                  "notin": lambda: labels.get(k) not in v}[op]()
            if not ok:
                return False
        return True


# ---- The store --------------------------------------------------------------

Change = collections.namedtuple("Change", "rv res type prev obj")


class Watcher:
    """One open WATCH, as `ctl watchers` lists it and ctl commands end it."""

    def __init__(self, wid, res, namespace, query, conn, peer, user_agent, rv, outer=None):
        self.id, self.res, self.namespace, self.query = wid, res, namespace, query
        self.conn, self.peer, self.user_agent = conn, peer, user_agent
        self.outer = outer    # HTTP/2: the connection that carries the stream
        self.since = now_rfc3339()
        self.last_sent = rv
        self.dropped = False  # drop-watches: close without the final chunk
        self.expired = None   # compact: the 410 message to send

    def describe(self):
        return {"id": self.id, "resource": self.res.key, "namespace": self.namespace,
                "query": self.query, "since": self.since,
                "lastSentResourceVersion": str(self.last_sent),
                "peer": self.peer, "userAgent": self.user_agent,
                "protocol": "HTTP/2" if self.outer else "HTTP/1.1"}


class Store:
    """Objects, the resourceVersion counter, the change history and the open
    watches, all under one condition variable.  Stored objects are never
    modified in place (changes replace them), so they can be shared."""

    def __init__(self, state_file=None, history_limit=HISTORY_LIMIT):
        self.cond = threading.Condition()
        self.rv = 1
        self.compacted = 1  # changes with rv <= compacted are gone
        self.objects = {r.key: {} for r in RESOURCES}
        self.history = []
        self.history_limit = history_limit
        self.state_file = state_file
        self.watchers = {}
        self.next_watcher = 1
        # The newest change of each resource (what its watch cache holds).
        self.res_rv = {r.key: self.rv for r in RESOURCES}

    # -- persistence

    def load(self):
        """Loads --state if it exists; the history starts empty there."""
        if not self.state_file or not os.path.exists(self.state_file):
            return False
        with open(self.state_file) as f:
            data = json.load(f)
        for obj in data.get("objects", []):
            res = resource_by_type(obj.get("apiVersion"), obj.get("kind"))
            self.objects[res.key][obj_key(obj)] = obj
            self.rv = max(self.rv, obj_rv(obj))
        self.rv = max(self.rv, int(data.get("resourceVersion", 1)))
        # A restarted server: its own start-up writes move the counter on,
        # and its new watch cache starts there, so that every
        # resourceVersion a client saw before is too old (410).
        self.rv += 1
        self.compacted = self.rv
        self.res_rv = {r.key: self.rv for r in RESOURCES}
        return True

    def save(self):
        """Writes --state atomically (call with the lock held)."""
        if not self.state_file:
            return
        objs = [o for r in RESOURCES for _, o in sorted(self.objects[r.key].items())]
        data = {"comment": f"state of kube-apiserver-standin: {STAND_IN}",
                "resourceVersion": str(self.rv), "objects": objs}
        tmp = f"{self.state_file}.tmp.{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_file)

    # -- changes (all take the lock)

    def _commit(self, res, kind, prev, obj):
        self.res_rv[res.key] = self.rv
        self.history.append(Change(self.rv, res, kind, prev, obj))
        if len(self.history) > self.history_limit:
            dropped = self.history[:len(self.history) - self.history_limit]
            del self.history[:len(dropped)]
            self.compacted = max(self.compacted, dropped[-1].rv)
        self.save()
        self.cond.notify_all()

    def _stamp(self, res, obj, prev):
        """Fills kind, apiVersion, uid, creationTimestamp and a new rv."""
        obj["kind"], obj["apiVersion"] = res.kind, res.api_version
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", "default")
        if prev is not None:
            meta["uid"] = prev["metadata"]["uid"]
            meta["creationTimestamp"] = prev["metadata"]["creationTimestamp"]
        else:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_rfc3339())
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        return obj

    def create(self, res, obj):
        """API create: AlreadyExists if the object exists."""
        with self.cond:
            key = obj_key(obj)
            if key in self.objects[res.key]:
                raise ApiError(409, "AlreadyExists", f'{res.key} "{key[1]}" already exists',
                               {"name": key[1], "group": res.group, "kind": res.plural})
            obj = self._stamp(res, copy.deepcopy(obj), None)
            self.objects[res.key][key] = obj
            self._commit(res, "ADDED", None, obj)
            return obj

    def put(self, res, obj):
        """ctl apply: creates or replaces (keeping uid) the object."""
        with self.cond:
            obj = copy.deepcopy(obj)
            obj.setdefault("metadata", {}).setdefault("namespace", "default")
            if not obj["metadata"].get("name"):
                raise ApiError(422, "Invalid", "metadata.name is required")
            key = obj_key(obj)
            prev = self.objects[res.key].get(key)
            obj = self._stamp(res, obj, prev)
            self.objects[res.key][key] = obj
            self._commit(res, "ADDED" if prev is None else "MODIFIED", prev, obj)
            return obj

    def patch(self, res, namespace, name, patch):
        """JSON merge patch; a resourceVersion in the patch must match."""
        if not isinstance(patch, dict):
            raise ApiError(400, "BadRequest", "the patch must be a JSON object")
        with self.cond:
            prev = self.objects[res.key].get((namespace, name))
            if prev is None:
                raise res.not_found(name)
            want_rv = (patch.get("metadata") or {}).get("resourceVersion")
            if want_rv is not None and want_rv != prev["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict",
                               f'Operation cannot be fulfilled on {res.key} "{name}": the object '
                               "has been modified; please apply your changes to the latest "
                               "version and try again", {"name": name, "kind": res.plural})
            obj = merge_patch(prev, patch)
            meta = obj.setdefault("metadata", {})
            if (meta.get("namespace"), meta.get("name")) != (namespace, name):
                raise ApiError(400, "BadRequest", "the patch may not change the name or namespace")
            obj = self._stamp(res, obj, prev)
            self.objects[res.key][(namespace, name)] = obj
            self._commit(res, "MODIFIED", prev, obj)
            return obj

    def delete(self, res, namespace, name):
        with self.cond:
            prev = self.objects[res.key].pop((namespace, name), None)
            if prev is None:
                raise res.not_found(name)
            self.rv += 1
            obj = copy.deepcopy(prev)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self._commit(res, "DELETED", prev, obj)
            return obj

    def compact(self):
        """Forgets the history; watches that have not been sent the current
        rv get the 410 treatment."""
        with self.cond:
            self.compacted = self.rv
            self.history.clear()
            n = 0
            for w in self.watchers.values():
                if w.last_sent < self.compacted:
                    w.expired = f"too old resource version: {w.last_sent} ({self.compacted})"
                    n += 1
            self.cond.notify_all()
            return {"resourceVersion": str(self.rv), "expiredWatches": n}

    def drop_watches(self):
        """Closes every watch connection abruptly (no final chunk); over
        HTTP/2, the whole connection, with every stream on it."""
        with self.cond:
            for w in self.watchers.values():
                w.dropped = True
                for sock in filter(None, (w.conn, w.outer)):
                    try:
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)
                    except OSError:
                        pass
            self.cond.notify_all()
            return {"droppedWatches": len(self.watchers)}

    # -- reads

    def get(self, res, namespace, name):
        with self.cond:
            obj = self.objects[res.key].get((namespace, name))
        if obj is None:
            raise res.not_found(name)
        return obj

    def snapshot(self, res, at_rv=None):
        """(rv, {key: obj}) as of at_rv (default: now), rebuilt by undoing
        the changes after it; Expired if the history no longer reaches."""
        with self.cond:
            objs = dict(self.objects[res.key])
            if at_rv is None or at_rv >= self.rv:
                return self.rv, objs
            if at_rv < self.compacted:
                raise expired("The provided continue parameter is too old to display a "
                              "consistent list result. You can start a new list without "
                              "the continue parameter.")
            for ch in reversed(self.history):
                if ch.rv <= at_rv:
                    break
                if ch.res is res:
                    if ch.prev is None:
                        objs.pop(obj_key(ch.obj), None)
                    else:
                        objs[obj_key(ch.prev)] = ch.prev
            return at_rv, objs

    def changes_since(self, res, flt, rv):
        """Watch events after rv for this filter (call with the lock held).
        Objects that start or stop matching yield ADDED or DELETED."""
        events = []
        start = bisect.bisect_right(self.history, rv, key=lambda c: c.rv)
        for ch in self.history[start:]:
            if ch.res is not res:
                continue
            was, now = flt.matches(ch.prev), ch.type != "DELETED" and flt.matches(ch.obj)
            if was and now:
                events.append(("MODIFIED", ch.obj))
            elif now:
                events.append(("ADDED", ch.obj))
            elif was:
                obj = ch.obj
                if ch.type != "DELETED":  # stopped matching: old state, new rv
                    obj = copy.deepcopy(ch.prev)
                    obj["metadata"]["resourceVersion"] = str(ch.rv)
                events.append(("DELETED", obj))
        return events

    def all_events(self, namespace=None):
        """Every stored Event (both APIs), oldest first."""
        with self.cond:
            out = [o for r in RESOURCES if r.kind == "Event"
                   for o in self.objects[r.key].values()
                   if not namespace or o["metadata"].get("namespace") == namespace]
        return sorted(out, key=obj_rv)


# ---- Logging --------------------------------------------------------------

class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1) if path else sys.stderr
        self.lock = threading.Lock()

    def __call__(self, msg):
        with self.lock:
            self.f.write(f"{now_rfc3339()} kube-apiserver-standin: {msg}\n")
            self.f.flush()


# ---- The API server -------------------------------------------------------

class ApiServer(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer, optionally TLS (handshake in the request thread)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # many clients (re)connecting at once

    def __init__(self, addr, opts, store, log, ssl_context=None):
        self.opts, self.store, self.log, self.ssl_context = opts, store, log, ssl_context
        self.requests = collections.deque(maxlen=10000)
        self.requests_lock = threading.Lock()
        self.ready_at = 0.0     # serve_main: the end of the start-up window
        self.h2_outer = {}      # inner socket -> its HTTP/2 connection's socket
        super().__init__(addr, ApiHandler)

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)  # no getfqdn(): no DNS
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ssl_context:
            sock = self.ssl_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        self.log(f"error serving {client_address}: {sys.exc_info()[1]!r}")


class ApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-standin"
    timeout = 120
    auth_ok = None

    # -- plumbing

    def handle(self):
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()
            except (OSError, ssl.SSLError) as e:
                self.server.log(f"TLS handshake with {self.client_address[0]} failed: {e}")
                return
            if self.connection.selected_alpn_protocol() == "h2":
                H2Session(self.server, self.connection, self.client_address).run()
                self.close_connection = True
                return
        super().handle()

    def send_response(self, code, message=None):
        super().send_response(code, message)
        self.send_header("X-Stand-In", STAND_IN)
        url = urllib.parse.urlsplit(getattr(self, "path", "") or "")
        with self.server.requests_lock:
            self.server.requests.append({
                "time": now_rfc3339(), "method": getattr(self, "command", None),
                "path": url.path, "query": url.query,
                "userAgent": self.headers.get("User-Agent") if self.headers else None,
                "authOk": self.auth_ok, "code": code,
                "protocol": "HTTP/2" if self.connection in self.server.h2_outer
                else "HTTP/1.1"})

    def log_request(self, code="-", size="-"):
        ua = self.headers.get("User-Agent", "") if self.headers else ""
        h2 = " over HTTP/2" if self.connection in self.server.h2_outer else ""
        self.server.log(f'{self.client_address[0]} "{self.requestline}"{h2} {code} '
                        f'auth={self.auth_ok} ua="{ua}"')

    def log_message(self, fmt, *args):
        self.server.log(f"{self.client_address[0]} {fmt % args}")

    def send_json(self, code, obj, headers=()):
        body = json.dumps(obj, separators=(",", ":")).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def check_auth(self):
        """True without --token-file; else the bearer token must be one of
        the file's non-empty lines (re-read every time)."""
        if not self.server.opts.token_file:
            return True
        try:
            with open(self.server.opts.token_file) as f:
                tokens = [t.strip() for t in f if t.strip()]
        except OSError as e:
            self.server.log(f"cannot read token file: {e}")
            return False
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False
        given = auth[len("Bearer "):].strip().encode()
        return any(hmac.compare_digest(given, t.encode()) for t in tokens)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = lambda self: self.dispatch()

    # -- routing

    def dispatch(self):
        try:
            body = self.read_body() if self.command in ("POST", "PATCH", "PUT") else b""
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
            starting = time.monotonic() < self.server.ready_at
            if url.path in ("/healthz", "/readyz", "/livez"):
                if starting and url.path != "/livez":
                    return self.send_text(500, "[-]poststarthook/rbac/bootstrap-roles failed: "
                                          "not finished\n" + url.path[1:] + " check failed\n")
                return self.send_text(200, "ok")
            self.auth_ok = self.check_auth()
            if not self.auth_ok:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if starting and parts[:1] == ["api"]:
                what = parts[-1] if len(parts) > 2 else "resources"
                raise ApiError(403, "Forbidden",
                               f'{what} is forbidden: User "(this token)" cannot '
                               f'{self.command.lower()} resource "{what}" in API group "": '
                               'RBAC: the authorizer has not loaded its roles yet '
                               '(stand-in start-up window)', {"kind": what})
            if starting:
                raise ApiError(503, "ServiceUnavailable",
                               "the server is currently unable to handle the request "
                               "(stand-in start-up window)", {})
            if self.discovery(parts):
                return None
            res, namespace, name = self.route(parts)
            return self.serve(res, namespace, name, query, body)
        except ApiError as e:
            return self.send_json(e.code, e.status())
        except (OSError, ValueError) as e:
            if isinstance(e, OSError):
                self.close_connection = True
                return None
            return self.send_json(400, ApiError(400, "BadRequest", str(e)).status())

    def send_text(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route(self, parts):
        """(resource, namespace, name) for an API path, or 404."""
        not_found = ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise not_found
        namespace = name = None
        if len(rest) in (3, 4) and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if len(rest) == 2 and namespace is not None:
            name, rest = rest[1], rest[:1]
        if len(rest) != 1:
            raise not_found
        res = resource_by_path(group, version, rest[0])
        if res is None:
            raise not_found
        return res, namespace, name

    def discovery(self, parts):
        """/version, /api, /apis, /api/v1, /apis/G/V (minimal)."""
        groups = {}
        for r in RESOURCES:
            groups.setdefault(r.api_version, []).append(r)
        if parts == ["version"]:
            self.send_json(200, {"major": "1", "minor": "0", "gitVersion": "v0.0.0-standin",
                                 "platform": "linux/amd64", "standIn": STAND_IN})
        elif parts == ["api"]:
            self.send_json(200, {"kind": "APIVersions", "versions": ["v1"]})
        elif parts == ["apis"]:
            gl = [{"name": gv.split("/")[0],
                   "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                   "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]}}
                  for gv in groups if "/" in gv]
            self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": gl})
        elif (parts == ["api", "v1"] or (len(parts) == 3 and parts[0] == "apis")) \
                and "/".join(parts[1:]) in groups:
            gv = "/".join(parts[1:])
            self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                 "groupVersion": gv, "resources": [
                                     {"name": r.plural, "singularName": r.kind.lower(),
                                      "namespaced": True, "kind": r.kind,
                                      "verbs": ["get", "list", "watch"] +
                                      (["create", "patch"] if r.writable else [])}
                                     for r in groups[gv]]})
        else:
            return False
        return True

    def serve(self, res, namespace, name, query, body):
        watch = query.get("watch") in TRUE_VALUES
        if self.command == "GET" and watch:
            return self.serve_watch(res, namespace, name, query)
        if self.command == "GET" and name is not None:
            return self.send_json(200, self.server.store.get(res, namespace, name))
        if self.command == "GET":
            return self.serve_list(res, namespace, query)
        if self.command == "POST" and res.writable and namespace and name is None:
            return self.send_json(201, self.server.store.create(
                res, self.check_new_event(res, namespace, body)))
        if self.command == "PATCH" and res.writable and name is not None:
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
            if ctype not in ("application/merge-patch+json",
                             "application/strategic-merge-patch+json"):
                raise ApiError(415, "UnsupportedMediaType",
                               f"the body of the request was in an unknown format - accepted "
                               f"media types include: application/merge-patch+json, "
                               f"application/strategic-merge-patch+json (stand-in)")
            return self.send_json(200, self.server.store.patch(
                res, namespace, name, json.loads(body or b"null")))
        raise ApiError(405, "MethodNotAllowed",
                       f"the server does not allow this method on the requested resource "
                       f"(stand-in: {self.command} {res.key})", {})

    def check_new_event(self, res, namespace, body):
        """The checks the real server makes on a new Event that matter to
        clients: namespace, kind/apiVersion, name or generateName."""
        obj = json.loads(body or b"null")
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the body must be a JSON object")
        for field, want in (("kind", res.kind), ("apiVersion", res.api_version)):
            if obj.get(field, want) != want:
                raise ApiError(400, "BadRequest", f"{field} {obj[field]!r} does not match {want!r}")
        meta = obj.setdefault("metadata", {})
        if meta.get("namespace", namespace) != namespace:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not "
                           "match the namespace sent on the request")
        meta["namespace"] = namespace
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise ApiError(422, "Invalid", "name or generateName is required")
            meta["name"] = meta["generateName"] + "".join(
                random.choices(string.ascii_lowercase + string.digits, k=5))
        about = "involvedObject" if res.group == "" else "regarding"
        ref_ns = (obj.get(about) or {}).get("namespace")
        if ref_ns and ref_ns != namespace:
            raise ApiError(422, "Invalid", f'Event "{meta["name"]}" is invalid: {about}.namespace: '
                           f'Invalid value: "{ref_ns}": does not match event.namespace',
                           {"name": meta["name"], "group": res.group, "kind": "Event"})
        return obj

    # -- LIST

    def serve_list(self, res, namespace, query):
        """LIST, with selectors and limit/continue over one snapshot."""
        flt = Filter(res, namespace, query)
        limit = int(query.get("limit") or 0)
        token = query.get("continue")
        after, at_rv = None, None
        if token:
            try:
                c = json.loads(base64.urlsafe_b64decode(token.encode()))
                at_rv, after = int(c["rv"]), tuple(c["start"])
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, "BadRequest", "continue key is not valid") from None
        rv, objs = self.server.store.snapshot(res, at_rv)
        items = [o for k, o in sorted(objs.items()) if (after is None or k > after)
                 and flt.matches(o)]
        meta = {"resourceVersion": str(rv)}
        if limit > 0 and len(items) > limit:
            rest = len(items) - limit
            items = items[:limit]
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(
                {"rv": rv, "start": list(obj_key(items[-1]))}).encode()).decode()
            if not flt.selective:
                meta["remainingItemCount"] = rest
        self.send_json(200, {"kind": res.kind + "List", "apiVersion": res.api_version,
                             "metadata": meta, "items": [without_type(o) for o in items]})

    # -- WATCH

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def write_event(self, kind, obj):
        self.write_chunk(json.dumps({"type": kind, "object": obj},
                                    separators=(",", ":")).encode() + b"\n")

    def client_gone(self):
        """True if the peer closed (or sent something, which a watching
        client never does) while we wait."""
        try:
            readable = select.select([self.connection], [], [], 0)[0]
            if not readable:
                return False
            if isinstance(self.connection, ssl.SSLSocket):
                return True
            return socket.socket.recv(self.connection, 1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def serve_watch(self, res, namespace, name, query):
        """A chunked WATCH stream, one JSON event per line."""
        opts, store = self.server.opts, self.server.store
        flt = Filter(res, namespace, query, name)
        timeout = int(query.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
        bookmarks = query.get("allowWatchBookmarks") in TRUE_VALUES
        initial_end = query.get("sendInitialEvents") in TRUE_VALUES
        rv_param = query.get("resourceVersion", "")
        too_old = None
        with store.cond:
            if rv_param in ("", "0") or initial_end:
                start = store.rv
                initial = [o for _, o in sorted(store.objects[res.key].items()) if flt.matches(o)]
            else:
                try:
                    start = int(rv_param)
                except ValueError:
                    raise ApiError(400, "BadRequest",
                                   f"invalid resource version: {rv_param}") from None
                initial = []
                if start < store.compacted:
                    too_old = f"too old resource version: {start} ({store.compacted})"
            w = Watcher(store.next_watcher, res, namespace, urllib.parse.urlsplit(self.path).query,
                        self.connection, self.client_address[0],
                        self.headers.get("User-Agent"), start,
                        self.server.h2_outer.get(self.connection))
            if too_old is None:
                store.next_watcher += 1
                store.watchers[w.id] = w
        if too_old and opts.too_old_mode == "status":
            raise expired(too_old)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if too_old:
                self.write_event("ERROR", expired(too_old).status())
            elif self.stream(w, flt, initial, start, timeout, bookmarks, initial_end) == "dropped":
                self.close_connection = True
                return
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True
        finally:
            with store.cond:
                store.watchers.pop(w.id, None)

    def bookmark(self, res, rv, annotations=None):
        meta = {"resourceVersion": str(rv)}
        if annotations:
            meta["annotations"] = annotations
        self.write_event("BOOKMARK", {"kind": res.kind, "apiVersion": res.api_version,
                                      "metadata": meta})

    def stream(self, w, flt, initial, cursor, timeout, bookmarks, initial_end):
        """Sends events until the timeout, a 410 or a drop; returns
        "dropped" if the connection must be closed without a final chunk."""
        store, interval = self.server.store, self.server.opts.bookmark_interval
        for obj in initial:
            self.write_event("ADDED", obj)
            w.last_sent = obj_rv(obj)
        if initial_end and bookmarks:
            self.bookmark(w.res, cursor, {"k8s.io/initial-events-end": "true"})
            w.last_sent = cursor
        deadline = time.monotonic() + timeout
        next_bookmark = time.monotonic() + interval
        while True:
            now = time.monotonic()
            with store.cond:
                if store.rv <= cursor and not w.dropped and not w.expired:
                    wait = min(0.5, deadline - now)
                    if bookmarks:
                        wait = min(wait, next_bookmark - now)
                    store.cond.wait(max(wait, 0))
                if w.dropped:
                    return "dropped"
                too_old = w.expired
                if not too_old and cursor < store.compacted:
                    too_old = f"too old resource version: {cursor} ({store.compacted})"
                events = [] if too_old else store.changes_since(w.res, flt, cursor)
                cursor = store.rv
            if too_old:
                self.write_event("ERROR", expired(too_old).status())
                return "expired"
            for kind, obj in events:
                self.write_event(kind, obj)
                w.last_sent = obj_rv(obj)
            now = time.monotonic()
            if now >= deadline:
                return "timeout"
            if bookmarks and now >= next_bookmark:
                # Only with something newer than what the watch was sent.
                with store.cond:
                    newest = store.res_rv[w.res.key]
                if newest > w.last_sent:
                    self.bookmark(w.res, newest)
                    w.last_sent = newest
                next_bookmark = now + interval
            if self.client_gone():
                return "dropped"


# ---- HTTP/2 -----------------------------------------------------------------

H2_HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade")


def import_h2():
    """python3-h2, also from Debian's dist-packages for another python3."""
    try:
        import h2.config  # noqa: F401
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")
        try:
            import h2.config  # noqa: F401
        except ImportError:
            raise SystemExit("--http2 needs python3-h2 (Debian 12: apt-get install "
                             "python3-h2)") from None
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events
    import h2.exceptions
    return h2


class H2Session:
    """One HTTP/2 connection.  Each stream's request is handed, as HTTP/1.1,
    to an ApiHandler over a socketpair (so both protocols share one
    implementation); its response is read back with http.client and sent as
    HEADERS and DATA frames, within the peer's flow-control windows.  Only
    this thread touches the TLS socket and the h2 state; stream threads
    post to a queue and wake it through a pipe."""

    def __init__(self, server, sock, client_address):
        self.h2 = import_h2()
        self.server, self.sock, self.addr = server, sock, client_address
        self.conn = self.h2.connection.H2Connection(self.h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8"))
        self.queue = queue.Queue()
        self.wake_r, self.wake_w = os.pipe()
        self.streams = {}  # id -> {"headers", "body", "inner", "out", "ended"}

    def post(self, *item):
        self.queue.put(item)
        try:
            os.write(self.wake_w, b"x")
        except OSError:
            pass

    def run(self):
        ev = self.h2.events
        try:
            self.conn.initiate_connection()
            self.flush()
            while True:
                if not self.sock.pending():
                    readable = select.select([self.sock, self.wake_r], [], [], 1.0)[0]
                else:
                    readable = [self.sock]
                if self.wake_r in readable:
                    os.read(self.wake_r, 4096)
                if self.sock in readable:
                    data = self.sock.recv(65536)
                    if not data:
                        return
                    for e in self.conn.receive_data(data):
                        if isinstance(e, ev.RequestReceived):
                            self.streams[e.stream_id] = {"headers": dict(e.headers),
                                                         "body": bytearray(), "inner": None,
                                                         "out": bytearray(), "ended": False}
                        elif isinstance(e, ev.DataReceived):
                            st = self.streams.get(e.stream_id)
                            if st is not None:
                                st["body"] += e.data
                            self.conn.acknowledge_received_data(e.flow_controlled_length,
                                                                e.stream_id)
                        elif isinstance(e, ev.StreamEnded) and e.stream_id in self.streams:
                            threading.Thread(target=self.run_stream,
                                             args=(e.stream_id, self.streams[e.stream_id]),
                                             daemon=True).start()
                        elif isinstance(e, ev.StreamReset):
                            self.close_inner(self.streams.pop(e.stream_id, None))
                        elif isinstance(e, ev.ConnectionTerminated):
                            return
                self.drain_queue()
                for sid in list(self.streams):
                    self.send_out(sid)
                self.flush()
        except (OSError, ssl.SSLError, self.h2.exceptions.ProtocolError) as e:
            self.server.log(f"HTTP/2 connection from {self.addr[0]} ended: {e!r}")
        finally:
            for st in self.streams.values():
                self.close_inner(st)
            os.close(self.wake_r)
            os.close(self.wake_w)

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    @staticmethod
    def close_inner(st):
        if st and st["inner"] is not None:
            try:
                st["inner"].shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def drain_queue(self):
        while True:
            try:
                kind, sid, payload = self.queue.get_nowait()
            except queue.Empty:
                return
            st = self.streams.get(sid)
            if st is None:
                continue  # reset by the client meanwhile
            try:
                if kind == "headers":
                    self.conn.send_headers(sid, payload)
                elif kind == "data":
                    st["out"] += payload
                elif kind == "end":
                    st["ended"] = True
                elif kind == "reset":
                    del self.streams[sid]
                    self.conn.reset_stream(sid, self.h2.errors.ErrorCodes.INTERNAL_ERROR)
            except self.h2.exceptions.StreamClosedError:
                self.streams.pop(sid, None)

    def send_out(self, sid):
        """What the stream has to send, as far as the windows allow."""
        st = self.streams[sid]
        try:
            while st["out"]:
                n = min(len(st["out"]), self.conn.local_flow_control_window(sid),
                        self.conn.max_outbound_frame_size)
                if n <= 0:
                    return  # WindowUpdated will wake us
                self.conn.send_data(sid, bytes(st["out"][:n]))
                del st["out"][:n]
            if st["ended"]:
                self.conn.end_stream(sid)
                del self.streams[sid]
        except self.h2.exceptions.StreamClosedError:
            self.streams.pop(sid, None)

    def run_stream(self, sid, st):
        """A stream thread: the request to an inner handler, its answer back."""
        h = st["headers"]
        outer, inner = socket.socketpair()
        st["inner"] = outer
        self.server.h2_outer[inner] = self.sock
        threading.Thread(target=self.inner_handler, args=(inner,), daemon=True).start()
        lines = [f"{h.get(':method', 'GET')} {h.get(':path', '/')} HTTP/1.1",
                 f"Host: {h.get(':authority', '')}"]
        lines += [f"{k}: {v}" for k, v in h.items() if not k.startswith(":")
                  and k not in H2_HOP_BY_HOP and k != "content-length"]
        lines += [f"Content-Length: {len(st['body'])}", "Connection: close", "", ""]
        try:
            outer.sendall("\r\n".join(lines).encode() + bytes(st["body"]))
            resp = http.client.HTTPResponse(outer, method=h.get(":method", "GET"))
            resp.begin()
            headers = [(":status", str(resp.status))]
            headers += [(k.lower(), v) for k, v in resp.getheaders()
                        if k.lower() not in H2_HOP_BY_HOP]
            self.post("headers", sid, headers)
            while True:
                data = resp.read1(65536)
                if not data:
                    break
                self.post("data", sid, data)
            self.post("end", sid, None)
        except (OSError, http.client.HTTPException):
            self.post("reset", sid, None)  # the handler dropped it
        finally:
            outer.close()

    def inner_handler(self, inner):
        try:
            ApiHandler(inner, self.addr, self.server)
        except OSError:
            pass
        finally:
            self.server.h2_outer.pop(inner, None)
            inner.close()


# ---- The control API (tests only) -------------------------------------------

class ControlServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, path, api):
        self.api = api
        super().__init__(path, ControlHandler)

    def handle_error(self, request, client_address):
        self.api.log(f"control: error: {sys.exc_info()[1]!r}")


class ControlHandler(http.server.BaseHTTPRequestHandler):
    """HTTP over the --control unix socket; see ctl_main for the routes."""

    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-standin-control"

    def address_string(self):
        return "control"

    def log_message(self, fmt, *args):
        self.server.api.log(f"control: {fmt % args}")

    def send_response(self, code, message=None):
        super().send_response(code, message)
        self.send_header("X-Stand-In", STAND_IN)

    def send_json(self, code, obj):
        body = json.dumps(obj, indent=1).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = lambda self: self.dispatch()

    def dispatch(self):
        try:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
            self.send_json(200, self.command_result(parts, query, body))
        except ApiError as e:
            self.send_json(e.code, e.status())
        except ValueError as e:
            self.send_json(400, ApiError(400, "BadRequest", str(e)).status())

    def command_result(self, parts, query, body):
        store, api = self.server.api.store, self.server.api
        cmd, args = (parts[0], parts[1:]) if parts else ("", [])
        if cmd == "apply" and self.command == "POST":
            data = json.loads(body)
            items = data.get("items") if isinstance(data, dict) and data.get("kind") == "List" \
                else [data]
            if not isinstance(items, list) or not all(isinstance(o, dict) for o in items):
                raise ApiError(400, "BadRequest", "apply wants an object or a List of objects")
            out = [store.put(resource_by_type(o.get("apiVersion"), o.get("kind")), o)
                   for o in items]
            return out[0] if data.get("kind") != "List" else {"kind": "List", "items": out}
        if cmd in ("patch", "delete", "get") and len(args) == 3:
            res = resource_by_name(args[0])
            if cmd == "patch" and self.command == "POST":
                return store.patch(res, args[1], args[2], json.loads(body))
            if cmd == "delete" and self.command == "POST":
                return store.delete(res, args[1], args[2])
            if cmd == "get":
                return store.get(res, args[1], args[2])
        if cmd == "compact" and self.command == "POST":
            return store.compact()
        if cmd == "drop-watches" and self.command == "POST":
            return store.drop_watches()
        if cmd == "events":
            return store.all_events(query.get("namespace"))
        if cmd == "requests":
            with api.requests_lock:
                return list(api.requests)
        if cmd == "watchers":
            with store.cond:
                return [w.describe() for w in store.watchers.values()]
        raise ApiError(404, "NotFound", f"no control command {self.command} {self.path}")


# ---- serve ----------------------------------------------------------------

def parse_listen(s):
    host, _, port = s.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        raise SystemExit(f"--listen: want ADDR:PORT, got {s!r}")
    return host, int(port)


def serve_main(opts):
    log = Log(opts.log)
    log(f"TEST STAND-IN starting: {STAND_IN}")
    store = Store(opts.state)
    if store.load():
        log(f"loaded {opts.state} at resourceVersion {store.rv}")
    ctx = None
    if opts.cert or opts.key:
        if not (opts.cert and opts.key):
            raise SystemExit("--cert and --key go together")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(opts.cert, opts.key)
        if opts.http2:
            import_h2()
            ctx.set_alpn_protocols(["h2", "http/1.1"])
    elif opts.http2:
        raise SystemExit("--http2 needs --cert and --key (clients negotiate h2 by TLS ALPN)")
    host, port = parse_listen(opts.listen)
    server_class = ApiServer
    if ":" in host:
        server_class = type("ApiServer6", (ApiServer,), {"address_family": socket.AF_INET6})
    api = server_class((host, port), opts, store, log, ctx)
    api.ready_at = time.monotonic() + opts.startup_window
    if opts.startup_window > 0:
        log(f"start-up window: /readyz fails, API requests get 403/503 for "
            f"{opts.startup_window} s")
    control = None
    if opts.control:
        if os.path.exists(opts.control):
            os.unlink(opts.control)
        control = ControlServer(opts.control, api)
        os.chmod(opts.control, 0o600)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for srv in filter(None, (api, control)):
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()

    scheme = "https" if ctx else "http"
    bound = api.server_address
    url = f"{scheme}://{'[%s]' % bound[0] if ':' in bound[0] else bound[0]}:{bound[1]}"
    if opts.pidfile:
        with open(opts.pidfile + ".tmp", "w") as f:
            f.write(f"{os.getpid()}\n")
        os.replace(opts.pidfile + ".tmp", opts.pidfile)
    log(f"listening on {url} (control {opts.control or 'none'}); TEST STAND-IN, "
        "not a Kubernetes API server")
    print(f"ready url={url} port={bound[1]} pid={os.getpid()} "
          f"control={opts.control or ''} stand-in=yes", flush=True)

    while not stop.wait(0.5):
        pass
    log("SIGTERM: shutting down")
    for srv in filter(None, (api, control)):
        srv.shutdown()
        srv.server_close()
    with store.cond:
        store.save()
    for path in (opts.control, opts.pidfile):
        if path:
            try:
                os.unlink(path)
            except OSError:
                pass
    log("stopped")
    return 0


# ---- ctl ------------------------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


CTL_USAGE = """commands:
  apply [FILE|-]           create or replace an object or a {"kind":"List"}
  patch KIND NS NAME JSON  JSON merge patch (KIND: Pod, VirtualMachineInstance,
                           VirtualMachineInstanceMigration, Event,
                           Event.events.k8s.io; case-insensitive; plurals ok)
  delete KIND NS NAME      delete (emits DELETED)
  get KIND NS NAME         print the object
  compact                  compaction point := current rv; 410 to lagging watches
  drop-watches             close every watch connection abruptly
  events [NS]              print the stored Events (JSON list)
  requests                 print the API requests seen (JSON list)
  watchers                 print the open watches (JSON list)"""

CTL_ARGS = {"apply": (0, 1), "patch": (4, 4), "delete": (3, 3), "get": (3, 3),
            "compact": (0, 0), "drop-watches": (0, 0), "events": (0, 1),
            "requests": (0, 0), "watchers": (0, 0)}


def ctl_main(opts):
    """Sends one control command; prints the JSON answer; 1 on error."""
    cmd, args = opts.command, opts.args
    lo, hi = CTL_ARGS[cmd]
    if not lo <= len(args) <= hi:
        raise SystemExit(f"ctl {cmd}: wrong number of arguments\n{CTL_USAGE}")
    q = urllib.parse.quote
    method, path, body = "GET", "/" + cmd, None
    if cmd == "apply":
        src = args[0] if args else "-"
        body = sys.stdin.read() if src == "-" else open(src).read()
        method = "POST"
    elif cmd in ("patch", "delete", "get"):
        path = "/".join([path] + [q(a, safe="") for a in args[:3]])
        method = "GET" if cmd == "get" else "POST"
        if cmd == "patch":
            body = args[3]
    elif cmd in ("compact", "drop-watches"):
        method = "POST"
    elif cmd == "events" and args:
        path += "?namespace=" + q(args[0], safe="")
    if body is not None:
        json.loads(body)  # fail here, not in the server
    conn = UnixHTTPConnection(opts.control)
    conn.request(method, path, body=body.encode() if body is not None else None,
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read().decode()
    if resp.status != 200:
        sys.stderr.write(data)
        return 1
    sys.stdout.write(data)
    return 0


# ---- main -----------------------------------------------------------------

def main(argv):
    p = argparse.ArgumentParser(
        prog="kube-apiserver-standin.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="TEST STAND-IN for the Kubernetes API server (" + STAND_IN + ").\n"
        "Serves list/watch of pods, kubevirt.io/v1 VMIs and migrations, and Events,\n"
        "from objects that tests put in through the control socket.")
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve", help="run the stand-in server",
                       description="Run the stand-in (" + STAND_IN + ").")
    s.add_argument("--listen", required=True, help="ADDR:PORT (PORT 0: any free port)")
    s.add_argument("--cert", help="server certificate (PEM): serve HTTPS")
    s.add_argument("--key", help="server key (PEM)")
    s.add_argument("--token-file", help="accepted bearer tokens, one a line, re-read per request")
    s.add_argument("--state", help="JSON file to persist objects and the rv counter in")
    s.add_argument("--control", help="unix socket for the control API (ctl)")
    s.add_argument("--bookmark-interval", type=float, default=60.0, metavar="SEC",
                   help="BOOKMARK at most this often, only if newer (default 60, as a "
                   "real server)")
    s.add_argument("--startup-window", type=float, default=0.0, metavar="SEC",
                   help="after listening, /readyz fails and API requests get 403 (core) "
                   "or 503 (others) this long (a real server: about 1)")
    s.add_argument("--http2", action="store_true",
                   help="offer h2 by ALPN (needs --cert/--key and python3-h2)")
    s.add_argument("--too-old-mode", choices=("event", "status"), default="event",
                   help="watch from a compacted rv: 200 + ERROR event (default) or HTTP 410")
    s.add_argument("--log", help="log file (default stderr)")
    s.add_argument("--pidfile", help="written once listening")
    c = sub.add_parser("ctl", help="send a control command", epilog=CTL_USAGE,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Control the stand-in (" + STAND_IN + ").")
    c.add_argument("--control", default=os.environ.get("STANDIN_CONTROL"),
                   help="the server's --control socket (default $STANDIN_CONTROL)")
    c.add_argument("command", choices=sorted(CTL_ARGS))
    c.add_argument("args", nargs="*")
    opts = p.parse_args(argv)
    if opts.mode == "serve":
        return serve_main(opts)
    if not opts.control:
        raise SystemExit("ctl: --control PATH is required")
    return ctl_main(opts)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
