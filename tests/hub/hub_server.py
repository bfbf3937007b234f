#!/usr/bin/env python3
"""A loopback server speaking the Hugging Face hub's protocol, for allm's pull tests.

Written from the hub's documented behaviour (huggingface_hub's file_download.py and
hf_api.py are its clients):
  GET  /api/models/{org}/{name}/revision/{rev}  -> {"sha", "siblings": [{"rfilename"}], "gated", "private", ...}
  GET  /api/models/{org}/{name}/tree/{rev}[?recursive=true]
                                                -> [{"type", "path", "size", "oid", "lfs": {"oid", "size"}}]
  HEAD/GET /{org}/{name}/resolve/{rev}/{path}
       LFS files: 302 to the CDN with X-Linked-Etag (the sha256), X-Linked-Size, X-Repo-Commit
       other files: 200 with ETag (the git blob oid), X-Repo-Commit, the bytes
  GET  /cdn/{sha256} (on a second port, another origin): the bytes, honouring "Range: bytes=N-" with 206 + Content-Range
Errors as the hub sends them: 401 + X-Error-Code: RepoNotFound / GatedRepo, 404 +
RevisionNotFound / EntryNotFound.

Faults for the tests: --cut-once PATH:BYTES closes the first CDN transfer of PATH after
BYTES; --stall-once PATH:BYTES sends BYTES of it then nothing (the connection stays open); --corrupt PATH flips a byte of PATH on the CDN; --claim-size PATH:BYTES
announces another size for PATH (a repo larger than the disk); --throttle B/s slows the CDN.
Every request is logged as one JSON line to --log (never the token itself).
"""
import argparse
import hashlib
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LFS_SUFFIXES = (".safetensors", ".gguf", ".bin", ".pth", ".pt", ".model", ".onnx")


def git_blob_oid(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, repo_id, directory, gated):
        self.id = repo_id
        self.gated = gated
        self.files = {}  # path -> bytes
        for root, _, names in os.walk(directory, followlinks=True):
            for n in names:
                full = os.path.join(root, n)
                rel = os.path.relpath(full, directory).replace(os.sep, "/")
                with open(full, "rb") as f:
                    self.files[rel] = f.read()
        self.lfs = {p: (p.endswith(LFS_SUFFIXES) or len(d) > 10 * 1024 * 1024) for p, d in self.files.items()}
        tree = "".join(f"{p}\0{git_blob_oid(d)}\n" for p, d in sorted(self.files.items()))
        self.commit = hashlib.sha1((repo_id + "\0" + tree).encode()).hexdigest()
        self.sha256 = {p: hashlib.sha256(d).hexdigest() for p, d in self.files.items()}
        self.oid = {p: git_blob_oid(d) for p, d in self.files.items()}

    def resolve_revision(self, rev):
        return self.commit if rev in ("main", "v1.0", self.commit) else None


class State:
    repos = {}
    token = None
    cut_once = {}  # path -> bytes, removed after the first cut
    stall_once = {}  # path -> bytes, removed after the first stall
    corrupt = set()
    claim_size = {}  # path -> the size the headers and the tree claim
    throttle = 0
    log_path = None
    lock = threading.Lock()
    blobs = {}  # sha256 -> (repo, path)
    cdn_port = 0
    no_siblings = False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def log_request_json(self, status):
        if not State.log_path:
            return
        entry = {"method": self.command, "path": self.path, "status": status,
                 "range": self.headers.get("Range"), "auth": self.headers.get("Authorization") is not None}
        with State.lock, open(State.log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def send(self, status, headers=None, body=b""):
        self.log_request_json(status)
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def error(self, status, code, message):
        body = json.dumps({"error": message}).encode()
        self.send(status, {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}, body)

    def authorized(self):
        return State.token is not None and self.headers.get("Authorization") == "Bearer " + State.token

    def do_HEAD(self):
        self.route()

    def do_GET(self):
        self.route()

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
        query = urllib.parse.parse_qs(url.query)
        if parts[:1] == ["cdn"] and len(parts) == 2:
            return self.cdn(parts[1])
        if parts[:2] == ["api", "models"] and len(parts) >= 6:
            repo = self.repo(parts[2] + "/" + parts[3])
            if not repo:
                return
            if parts[4] == "revision" and len(parts) == 6:
                return self.info(repo, parts[5])
            if parts[4] == "tree":
                return self.tree(repo, parts[5], "/".join(parts[6:]), query)
        if len(parts) >= 5 and parts[2] == "resolve":
            repo = self.repo(parts[0] + "/" + parts[1])
            if repo:
                self.resolve(repo, parts[3], "/".join(parts[4:]))
            return
        self.error(404, "NotFound", "no such route: " + url.path)

    def repo(self, repo_id):
        repo = State.repos.get(repo_id)
        if repo is None:
            self.error(401, "RepoNotFound", f"Repository Not Found for url: {self.path}.")
        return repo

    def info(self, repo, rev):
        commit = repo.resolve_revision(rev)
        if commit is None:
            return self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        body = {"_id": "0" * 24, "id": repo.id, "modelId": repo.id, "author": repo.id.split("/")[0],
                "sha": commit, "lastModified": "2025-01-01T00:00:00.000Z", "private": False,
                "gated": "manual" if repo.gated else False, "disabled": False, "downloads": 0, "likes": 0,
                "tags": [], "library_name": "transformers", "createdAt": "2025-01-01T00:00:00.000Z",
                "siblings": [{"rfilename": p} for p in sorted(repo.files)]}
        if State.no_siblings:  # as the hub answers for very large repos: the tree lists the files
            del body["siblings"]
        self.send(200, {"Content-Type": "application/json"}, json.dumps(body).encode())

    def tree(self, repo, rev, under, query):
        if repo.resolve_revision(rev) is None:
            return self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
        prefix = under + "/" if under else ""
        entries, dirs = [], set()
        for p in sorted(repo.files):
            if not p.startswith(prefix):
                continue
            rest = p[len(prefix):]
            if "/" in rest and not recursive:
                dirs.add(prefix + rest.split("/")[0])
                continue
            for i in range(rest.count("/")):
                dirs.add(prefix + "/".join(rest.split("/")[:i + 1]))
            size = State.claim_size.get(p, len(repo.files[p]))
            e = {"type": "file", "oid": repo.oid[p], "size": size, "path": p}
            if repo.lfs[p]:
                e["lfs"] = {"oid": repo.sha256[p], "size": size, "pointerSize": 134}
            entries.append(e)
        entries = [{"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d}
                   for d in sorted(dirs)] + entries
        self.send(200, {"Content-Type": "application/json"}, json.dumps(entries).encode())

    def resolve(self, repo, rev, path):
        commit = repo.resolve_revision(rev)
        if commit is None:
            return self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        if repo.gated and not self.authorized():
            return self.error(401, "GatedRepo", f"Access to model {repo.id} is restricted. You must have access "
                              "to it and be authenticated to access it. Please log in.")
        if path not in repo.files:
            return self.error(404, "EntryNotFound", f"{path} does not exist on \"{rev}\"")
        data = repo.files[path]
        common = {"X-Repo-Commit": commit, "Accept-Ranges": "bytes", "Vary": "Origin, Accept"}
        if repo.lfs[path]:
            sha = repo.sha256[path]
            State.blobs[sha] = (repo, path)
            # Another host name (and port), as the hub's CDN is: clients follow a
            # redirect to the hub's own host for metadata, never one to the CDN.
            location = f"http://localhost:{State.cdn_port}/cdn/{sha}"
            body = f"Found. Redirecting to {location}".encode()
            self.send(302, dict(common, **{"Location": location, "X-Linked-Etag": f'"{sha}"',
                                           "X-Linked-Size": str(State.claim_size.get(path, len(data))),
                                           "ETag": f'"{repo.oid[path]}"',
                                           "Content-Type": "text/plain; charset=utf-8"}), body)
        else:
            self.send_bytes(data, dict(common, **{"ETag": f'"{repo.oid[path]}"'}))

    def cdn(self, sha):
        if sha not in State.blobs:
            return self.error(404, "NotFound", "no such object")
        repo, path = State.blobs[sha]
        data = repo.files[path]
        if path in State.corrupt:
            data = bytearray(data)
            data[len(data) // 2] ^= 0x5A
            data = bytes(data)
        cut = stall = None
        with State.lock:
            if path in State.cut_once:
                cut = State.cut_once.pop(path)
            if path in State.stall_once:
                stall = State.stall_once.pop(path)
        self.send_bytes(data, {"ETag": f'"{sha}"', "Content-Type": "application/octet-stream"}, cut, stall)

    def send_bytes(self, data, headers, cut=None, stall=None):
        start = 0
        status = 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and self.command == "GET":
            first, _, last = rng[6:].partition("-")
            start = int(first)
            end = int(last) if last else len(data) - 1
            if start >= len(data):
                return self.send(416, dict(headers, **{"Content-Range": f"bytes */{len(data)}"}))
            status = 206
            headers = dict(headers, **{"Content-Range": f"bytes {start}-{end}/{len(data)}"})
            data = data[start:end + 1]
        headers = dict(headers, **{"Content-Length": str(len(data)), "Accept-Ranges": "bytes"})
        self.log_request_json(status)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        chunk = 64 * 1024
        sent = 0
        while sent < len(data):
            piece = data[sent:sent + chunk]
            if stall is not None and sent + len(piece) > stall:
                self.wfile.write(piece[:stall - sent])
                self.wfile.flush()
                time.sleep(60)  # a stalled transfer: open, silent
                self.close_connection = True
                return
            if cut is not None and sent + len(piece) > cut:
                self.wfile.write(piece[:cut - sent])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # the cut: a closed socket before Content-Length bytes
                return
            self.wfile.write(piece)
            sent += len(piece)
            if State.throttle:
                time.sleep(len(piece) / State.throttle)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", action="append", default=[], help="org/name=DIR")
    ap.add_argument("--gated", action="append", default=[], help="org/name needing the token")
    ap.add_argument("--token")
    ap.add_argument("--cut-once", action="append", default=[], help="PATH:BYTES")
    ap.add_argument("--stall-once", action="append", default=[], help="PATH:BYTES")
    ap.add_argument("--corrupt", action="append", default=[])
    ap.add_argument("--claim-size", action="append", default=[], help="PATH:BYTES (a lie about its size)")
    ap.add_argument("--throttle", type=int, default=0, help="CDN bytes per second")
    ap.add_argument("--no-siblings", action="store_true", help="repo info without its file list")
    ap.add_argument("--log")
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    for spec in args.repo:
        repo_id, _, directory = spec.partition("=")
        State.repos[repo_id] = Repo(repo_id, directory, repo_id in args.gated)
    State.token = args.token
    for c in args.cut_once:
        path, _, n = c.rpartition(":")
        State.cut_once[path] = int(n)
    for c in args.stall_once:
        path, _, n = c.rpartition(":")
        State.stall_once[path] = int(n)
    State.corrupt = set(args.corrupt)
    for c in args.claim_size:
        path, _, n = c.rpartition(":")
        State.claim_size[path] = int(n)
    State.throttle = args.throttle
    State.no_siblings = args.no_siblings
    State.log_path = args.log
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    cdn = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # the same routes on a second port: the "CDN"
    cdn.daemon_threads = True
    State.cdn_port = cdn.server_address[1]
    threading.Thread(target=cdn.serve_forever, daemon=True).start()
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
