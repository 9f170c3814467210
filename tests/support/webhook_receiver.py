#!/usr/bin/env python3
"""A webhook endpoint for notification tests: records every POST as one JSON line
({"path", "headers", "body"}) in OUT, answering 200 — or 500 for the first --fail
requests, or never (holding the connection) with --hang; over TLS with --cert and --key
(a client that refuses the certificate never gets to POST, so nothing is recorded). Writes
its port to PORT_FILE once listening."""
import argparse
import http.server
import json
import socketserver
import ssl
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("port_file")
parser.add_argument("out")
parser.add_argument("--fail", type=int, default=0)
parser.add_argument("--hang", action="store_true")
parser.add_argument("--cert")
parser.add_argument("--key")
args = parser.parse_args()
lock = threading.Lock()
seen = {"n": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    def setup(self):
        if args.cert:
            self.request.do_handshake()
        super().setup()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        with lock:
            seen["n"] += 1
            n = seen["n"]
            with open(args.out, "a") as f:
                f.write(json.dumps({"path": self.path, "headers": dict(self.headers), "body": body,
                                    "attempt": n}) + "\n")
        if args.hang:
            time.sleep(3600)
        status = 500 if n <= args.fail else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
if args.cert:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    # The handshake runs in the request thread, so a refused one cannot stall the others.
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(args.port_file + ".tmp", args.port_file)
server.serve_forever()
