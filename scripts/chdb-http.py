#!/usr/bin/env python3
"""A modern ClickHouse engine (chDB, PyPI `chdb-core`) behind the subset of
ClickHouse's HTTP interface that sshmap's store uses, for the tests.

Debian ships only ClickHouse 18.16; no package registry ships a modern
`clickhouse-server`. chDB is the ClickHouse engine (26.x) built as a library
(the `clickhouse-local` program in-process): real parser, MergeTree engines,
materialized views, TTL, mutations. What is *not* ClickHouse here is this
file: HTTP parsing, settings and errors are handled by these ~100 lines, not by
ClickHouse's own HTTP handler, and there is no TCP port (so no `Distributed`
table over two of these).

    python3 scripts/chdb-http.py PORT DATA_DIR

Serves on 127.0.0.1:PORT until killed:
- `GET /ping` -> `Ok.`
- `POST /?database=D&query=Q&SETTING=V` with the body:
  the SQL when there is no `query`, else the data of `INSERT … FORMAT RowBinary`.
- a ClickHouse error -> HTTP 500 and its message, as the server answers.
"""

import os
import re
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from chdb import state

# Parameters that are not settings.
NOT_SETTINGS = {"query", "database", "user", "password"}
# Settings of the real server that sshmap sends and that mean nothing here.
IGNORED = {"insert_distributed_sync"}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
INSERT_FORMAT = re.compile(r"\s+FORMAT\s+RowBinary\s*$", re.IGNORECASE)


class Engine:
    def __init__(self, path):
        self.conn = state.connect(path)
        self.lock = threading.Lock()
        self.tmp = tempfile.mkdtemp(prefix="chdb-http-")
        self.n = 0

    def run(self, sql, database, settings, data):
        with self.lock:
            for k, v in settings:
                if k in IGNORED:
                    continue
                if not NAME.match(k) or not re.match(r"^[A-Za-z0-9_.]+$", v):
                    raise ValueError(f"bad setting {k}={v}")
                self.conn.query(f"SET {k} = {v if v.isdigit() else repr(v)}", "TabSeparated")
            if database:
                self.conn.query(f"USE {database}", "TabSeparated")
            if data is not None:
                if not INSERT_FORMAT.search(sql):
                    raise ValueError("a body with `query` must be INSERT … FORMAT RowBinary")
                self.n += 1
                path = os.path.join(self.tmp, f"{self.n}.bin")
                with open(path, "wb") as f:
                    f.write(data)
                try:
                    sql = INSERT_FORMAT.sub(f" FROM INFILE '{path}' FORMAT RowBinary", sql)
                    return self.conn.query(sql, "TabSeparated").bytes()
                finally:
                    os.unlink(path)
            return self.conn.query(sql, "TabSeparated").bytes()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    engine = None

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if urlsplit(self.path).path == "/ping":
            self.answer(200, b"Ok.\n")
        else:
            self.answer(404, b"only /ping and POST /\n")

    def do_POST(self):
        params = parse_qsl(urlsplit(self.path).query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        query = next((v for k, v in params if k == "query"), None)
        database = next((v for k, v in params if k == "database"), None)
        settings = [(k, v) for k, v in params if k not in NOT_SETTINGS]
        try:
            if query is None:
                out = self.engine.run(body.decode(), database, settings, None)
            else:
                out = self.engine.run(query, database, settings, body)
        except Exception as e:  # a ClickHouse error (chdb raises them as exceptions)
            self.answer(500, (str(e).strip() + "\n").encode())
            return
        self.answer(200, out)


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    Handler.engine = Engine(path)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
