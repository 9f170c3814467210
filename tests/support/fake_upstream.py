#!/usr/bin/env python3
"""A registry that misbehaves on purpose, for the pull-through cache's tests.

It serves one blob under any repository: GET /v2/<name>/blobs/<digest> answers with the
blob's Content-Length, and its first --failures GETs misbehave as --mode says:
  cut      half the bytes, then the connection is closed
  corrupt  the right length of wrong bytes
  stall    half the bytes, then nothing more for a minute (the connection stays open)
  pause    half the bytes, then the rest once the file --release names exists
  ratelimit  429 with Retry-After: 2, no body
Every request is logged as one line "METHOD PATH" on stdout. Python standard library only.
"""
import argparse
import hashlib
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--blob", required=True)
    parser.add_argument("--mode", choices=["cut", "corrupt", "stall", "pause", "ratelimit"],
                        required=True)
    parser.add_argument("--failures", type=int, default=1)
    parser.add_argument("--release", help="pause: the file whose existence ends the pause")
    args = parser.parse_args()
    with open(args.blob, "rb") as f:
        blob = f.read()
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    lock = threading.Lock()
    left = [args.failures]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def answer(self, head):
            print(self.command, self.path, flush=True)
            if self.path in ("/v2/", "/v2"):
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                if not head:
                    self.wfile.write(b"{}")
                return
            if not self.path.endswith("/blobs/" + digest):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            fail = False
            if not head:
                with lock:
                    fail = left[0] > 0
                    if fail:
                        left[0] -= 1
            if fail and args.mode == "ratelimit":
                self.send_response(429)
                self.send_header("Retry-After", "2")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(blob)))
            self.send_header("Docker-Content-Digest", digest)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            if head:
                return
            if not fail:
                self.wfile.write(blob)
            elif args.mode == "cut":
                self.wfile.write(blob[: len(blob) // 2])
                self.wfile.flush()
                self.close_connection = True
            elif args.mode == "stall":
                self.wfile.write(blob[: len(blob) // 2])
                self.wfile.flush()
                time.sleep(60)
                self.close_connection = True
            elif args.mode == "pause":
                self.wfile.write(blob[: len(blob) // 2])
                self.wfile.flush()
                while not os.path.exists(args.release):
                    time.sleep(0.05)
                self.wfile.write(blob[len(blob) // 2:])
            else:
                self.wfile.write(bytes(b ^ 0xFF for b in blob))

        def do_GET(self):
            self.answer(False)

        def do_HEAD(self):
            self.answer(True)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
