"""A local stand-in for the Hugging Face Hub API: just the endpoints `create_repo` and
`upload_folder` call (repos/create, validate-yaml, preupload, commit, repo info).

It runs in a thread of the test process on 127.0.0.1 (ephemeral port), records what it received,
and stops by itself after `lifetime` seconds if a test forgets to. Every file is answered as a
"regular" upload, so commits carry the file contents inline (no LFS or Xet storage to mock).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAILURES = (None, "unauthorized", "forbidden", "drop_commit")
_REPO_PATH = re.compile(r"/api/models/([^/]+/[^/]+)(?:/(preupload|commit)/([^/?]+))?/?(?:\?.*)?$")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")


@dataclass
class Commit:
    repo_id: str
    revision: str
    summary: str
    description: str
    files: dict[str, bytes]
    oid: str


@dataclass
class State:
    token: str
    fail: str | None = None
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)
    commits: list[Commit] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # a stuck client cannot hold a handler thread forever
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # -- plumbing ---------------------------------------------------------------------------
    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        state = self.server.state
        auth = self.headers.get("Authorization")
        with state.lock:
            state.requests.append((self.command, self.path))
            state.authorizations.append(auth)
        if state.fail == "unauthorized" or auth != f"Bearer {state.token}":
            self._send(
                401,
                {"error": "Invalid username or password."},
                {"X-Error-Message": "Invalid credentials in Authorization header"},
            )
            return False
        return True

    # -- endpoints --------------------------------------------------------------------------
    def do_GET(self) -> None:
        if not self._authorized():
            return
        match = _REPO_PATH.match(self.path)
        repo = self.server.state.repos.get(match.group(1)) if match else None
        if repo is None:
            self._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            return
        self._send(200, {"id": match.group(1), "sha": repo["sha"], "private": repo["private"]})

    def do_POST(self) -> None:
        state = self.server.state
        if not self._authorized():
            self._body()
            return
        if self.path.startswith("/api/repos/create"):
            self._create(json.loads(self._body()))
        elif self.path.startswith("/api/validate-yaml"):
            self._body()
            self._send(200, {"errors": [], "warnings": []})
        elif (match := _REPO_PATH.match(self.path)) and match.group(2) == "preupload":
            files = json.loads(self._body())["files"]
            modes = [
                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files
            ]
            self._send(200, {"files": modes})
        elif match and match.group(2) == "commit":
            if state.fail == "drop_commit":
                self._drop()
                return
            self._commit(match.group(1), match.group(3), self._body())
        else:
            self._body()
            self._send(404, {"error": f"no mock for {self.path}"})

    def _create(self, payload: dict[str, Any]) -> None:
        state = self.server.state
        if state.fail == "forbidden":
            self._send(
                403, {"error": "You don't have the rights to create a model under this namespace"}
            )
            return
        name, org = payload.get("name", ""), payload.get("organization")
        if not _NAME.fullmatch(name) or "--" in name or ".." in name:
            self._send(400, {"error": f"Invalid repo name {name!r}"})
            return
        repo_id = f"{org}/{name}" if org else f"mock-user/{name}"
        url = f"http://{self.server.host}:{self.server.port}/{repo_id}"
        with state.lock:
            if repo_id in state.repos:
                self._send(409, {"error": "You already created this model repo", "url": url})
                return
            private = payload.get("visibility") == "private" or payload.get("private") is True
            state.repos[repo_id] = {"private": private, "sha": "0" * 40, "payload": payload}
        self._send(200, {"url": url, "name": repo_id})

    def _commit(self, repo_id: str, revision: str, body: bytes) -> None:
        state = self.server.state
        if repo_id not in state.repos:
            self._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            return
        header: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        for line in body.splitlines():
            item = json.loads(line)
            if item["key"] == "header":
                header = item["value"]
            elif item["key"] == "file":
                value = item["value"]
                assert value["encoding"] == "base64"
                files[value["path"]] = base64.b64decode(value["content"])
            else:
                self._send(400, {"error": f"mock hub does not support {item['key']}"})
                return
        oid = hashlib.sha1(body).hexdigest()
        with state.lock:
            state.commits.append(
                Commit(
                    repo_id,
                    revision,
                    header.get("summary", ""),
                    header.get("description", ""),
                    files,
                    oid,
                )
            )
            state.repos[repo_id]["sha"] = oid
        url = f"http://{self.server.host}:{self.server.port}/{repo_id}/commit/{oid}"
        self._send(200, {"commitUrl": url, "commitOid": oid, "pullRequestUrl": None})

    def _drop(self) -> None:
        """Read part of the upload, then close the socket without answering."""
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(min(length, 1024))
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: State
    host: str
    port: int


class MockHub:
    """`with MockHub(token) as hub:` → `hub.url` is the endpoint; `hub.state` what it received."""

    def __init__(self, token: str, *, fail: str | None = None, lifetime: float = 120.0):
        assert fail in FAILURES, fail
        self.state = State(token=token, fail=fail)
        self.lifetime = lifetime
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{self._server.host}:{self._server.port}"

    def __enter__(self) -> MockHub:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.state = self.state
        server.host, server.port = server.server_address[:2]
        self._server = server
        serve = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        watchdog = threading.Timer(self.lifetime, server.shutdown)
        watchdog.daemon = True
        self._threads = [serve, watchdog]
        serve.start()
        watchdog.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._threads[1].cancel()
        self._server.shutdown()
        self._server.server_close()
        self._threads[0].join(timeout=5)
