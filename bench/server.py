#!/usr/bin/env python3
"""A tiny Bitbucket-like git server for bench/run.sh: `git http-backend` behind Basic auth.

Usage: server.py PROJECT_ROOT TOKEN_FILE

Serves the bare repositories under PROJECT_ROOT on 127.0.0.1 at an ephemeral port, which it
prints on stdout (one line) once it listens. Every request needs Basic auth with the username
`x-bitbucket-api-token-auth` and the token in TOKEN_FILE; otherwise it answers 401 with
`WWW-Authenticate: Basic realm="Bitbucket.org HTTP"`, as Bitbucket Cloud does. Nothing is
logged: the token must never reach a terminal or a file.
"""

import base64
import hmac
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USERNAME = b"x-bitbucket-api-token-auth"
REALM = 'Basic realm="Bitbucket.org HTTP"'


def make_handler(project_root, token):
    expected = b"Basic " + base64.b64encode(USERNAME + b":" + token)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass  # never log: requests carry the token

        def do_GET(self):
            self.serve()

        def do_POST(self):
            self.serve()

        def reply(self, status, headers, body):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def serve(self):
            body = self.read_body() if self.command == "POST" else b""
            given = self.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                self.reply(
                    401,
                    [("WWW-Authenticate", REALM), ("Content-Type", "text/plain")],
                    b"Unauthorized\n",
                )
                return
            path, _, query = self.path.partition("?")
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": project_root,
                "GIT_HTTP_EXPORT_ALL": "1",
                "GATEWAY_INTERFACE": "CGI/1.1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": USERNAME.decode(),
                "REMOTE_ADDR": self.client_address[0],
            }
            for header, var in [
                ("Git-Protocol", "GIT_PROTOCOL"),
                ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
            ]:
                if self.headers.get(header):
                    env[var] = self.headers[header]
            out = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True
            ).stdout
            head, _, payload = out.partition(b"\r\n\r\n")
            status, headers = 200, []
            for line in head.split(b"\r\n"):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "status":
                    status = int(value.split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.reply(status, headers, payload)

    return Handler


def main():
    project_root, token_file = sys.argv[1], sys.argv[2]
    with open(token_file, "rb") as f:
        token = f.read().strip()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(project_root, token))
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
