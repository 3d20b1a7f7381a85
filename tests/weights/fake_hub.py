"""A stand-in for the Hugging Face hub (and a plain file host) on 127.0.0.1, for download tests.

It answers the two requests `huggingface_hub.hf_hub_download` makes, the way the Hub does for
a Git LFS file:

    HEAD /<repo>/resolve/main/<file>         200, X-Repo-Commit, X-Linked-Etag (the sha256),
                                             X-Linked-Size
    HEAD, GET /<repo>/resolve/<commit>/<file>   the same headers; GET: the body

and serves plain files at `/files/<name>` (the `.pth` release rows). Each file has a `mode`
that makes the server misbehave in one way: see `FakeHub.add`.
"""

import hashlib
import http.server
import os
import threading
import time

COMMIT = "0123456789abcdef0123456789abcdef01234567"
MODES = ("good", "flipped", "truncated", "truncated_no_length", "stall_head", "stall_body",
         "slow")


class FakeHub:
    """Serves registered files; records every request as (method, path, headers)."""

    def __init__(self):
        self.files, self.commits, self.requests = {}, {}, []
        self.stopping = threading.Event()
        self.release_after = None  # (folder, count): `slow` GETs wait for count files there
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_HEAD(self):  # noqa: N802
                hub.serve(self, body=False)

            def do_GET(self):  # noqa: N802
                hub.serve(self, body=True)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def _branch_path(self, path):
        """The branch and the commit it points at name the same file (hf_hub_download asks
        for the commit the branch's HEAD answer reported)."""
        repo, found, rest = path.partition("/resolve/")
        revision, _, name = rest.partition("/")
        main = f"{repo}/resolve/main/{name}"
        if found and self.commits.get(main) == revision:
            return main
        return path

    def add(self, path, data, mode="good", commit=COMMIT):
        """Serves `data` at `path` ("timm/x.y/resolve/main/model.safetensors" or
        "files/x.pth") at `commit`, advertising its sha256 and length, and misbehaving per
        `mode`:

            good                  as the Hub does
            flipped               one bit flipped in the body, same length
            truncated             a third of the body, then the connection drops
                                  (Content-Length announced)
            truncated_no_length   a third of the body, no Content-Length / X-Linked-Size
            stall_head            HEAD never answers
            stall_body            GET sends the headers and 10 bytes, then nothing
            slow                  GET waits for `release_after`, then sends in 5 pieces
        """
        assert mode in MODES, mode
        self.files[path.lstrip("/")] = (data, mode)
        self.commits[path.lstrip("/")] = commit

    def gets(self):
        """The file downloads (GETs of served paths; not the client's own /api/ calls)."""
        return [path for method, path, _ in self.requests
                if method == "GET" and not path.startswith("/api/")]

    def serve(self, handler, body):
        self.requests.append((handler.command, handler.path, dict(handler.headers)))
        entry = self.files.get(self._branch_path(handler.path.lstrip("/")))
        if entry is None:
            handler.send_response(404)
            handler.send_header("Content-Length", "0")
            handler.send_header("X-Error-Code", "EntryNotFound")
            handler.end_headers()
            return
        data, mode = entry
        if mode == "stall_head" or (mode == "stall_body" and body):
            self._stall(handler, data, mode)
            return
        if mode == "slow" and body:
            self._wait_for_release()
        sent = self._body(data, mode)
        handler.send_response(200)
        handler.send_header("X-Repo-Commit", self.commits[self._branch_path(
            handler.path.lstrip("/"))])
        handler.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')  # the Git pointer's
        handler.send_header("X-Linked-Etag", f'"{hashlib.sha256(data).hexdigest()}"')
        if mode == "truncated_no_length":
            handler.send_header("Connection", "close")
            handler.close_connection = True
        else:
            handler.send_header("X-Linked-Size", str(len(data)))
            handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if not body:
            return
        pieces = 5 if mode == "slow" else 1
        step = -(-len(sent) // pieces)
        for start in range(0, len(sent), step):
            handler.wfile.write(sent[start:start + step])
            handler.wfile.flush()
            if pieces > 1:
                time.sleep(0.1)
        if mode == "truncated":
            handler.close_connection = True

    @staticmethod
    def _body(data, mode):
        if mode == "flipped":
            middle = len(data) // 2
            return data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1:]
        if mode in ("truncated", "truncated_no_length"):
            return data[:len(data) // 3]
        return data

    def _stall(self, handler, data, mode):
        if mode == "stall_body":
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data[:10])
            handler.wfile.flush()
        self.stopping.wait(120)
        handler.close_connection = True

    def _wait_for_release(self):
        if self.release_after is None:
            return
        folder, count = self.release_after
        deadline = time.time() + 60
        while len(os.listdir(folder)) < count and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the others are now waiting on the lock, or past it

    def stop(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
