#!/usr/bin/env python3
"""A small Bearer token server for tests, as docker_auth answers GET /token.

Users (Basic auth): pusher gets every action asked for, puller gets pull only, viewer gets
pull on repositories and the catalog (no push, no delete), late gets every action in a token
that expired an hour ago. Tokens are RS256 JWTs signed with the
given key (by the openssl CLI); the header's "kid" is the key's libtrust id.
Python standard library only.
"""
import argparse
import base64
import hashlib
import json
import subprocess
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USERS = {"pusher": "push-secret", "puller": "pull-secret", "viewer": "view-secret",
         "late": "late-secret"}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_kid(cert_path):
    pub = subprocess.run(["openssl", "x509", "-in", cert_path, "-noout", "-pubkey"],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         check=True, capture_output=True).stdout
    text = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(text[i:i + 4] for i in range(0, len(text), 4))


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--port", "--key", "--cert", "--issuer", "--service"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    kid = libtrust_kid(args.cert)

    def sign(claims):
        header = {"alg": "RS256", "typ": "JWT", "kid": kid}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode()))
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", args.key],
                                   input=signing_input.encode(), check=True,
                                   capture_output=True).stdout
        return signing_input + "." + b64url(signature)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, status, body, extra=()):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path != "/token":
                return self.reply(404, {"error": "not found"})
            query = urllib.parse.parse_qs(url.query)
            user = None
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                try:
                    name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                except ValueError:
                    name, password = "", ""
                if USERS.get(name) == password:
                    user = name
            if user is None:
                return self.reply(401, {"error": "bad credentials"},
                                  [("WWW-Authenticate", 'Basic realm="token"')])
            if query.get("service", [""])[0] != args.service:
                return self.reply(400, {"error": "unknown service"})
            access = []
            for scope in " ".join(query.get("scope", [])).split():
                kind, _, rest = scope.partition(":")
                name, _, actions = rest.rpartition(":")
                wanted = [a for a in actions.split(",") if a]
                if user == "puller":
                    wanted = [a for a in wanted if a == "pull"]
                elif user == "viewer":
                    allowed = {"pull"} if kind == "repository" else {"*"}
                    wanted = [a for a in wanted if a in allowed]
                access.append({"type": kind, "name": name, "actions": wanted})
            now = int(time.time())
            issued = now - 7200 if user == "late" else now
            claims = {"iss": args.issuer, "sub": user, "aud": args.service, "iat": issued,
                      "nbf": issued, "exp": issued + 3600, "jti": str(time.time_ns()),
                      "access": access}
            token = sign(claims)
            self.reply(200, {"token": token, "access_token": token, "expires_in": 3600,
                             "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                        time.gmtime(issued))})

        def log_message(self, fmt, *fmt_args):
            sys.stderr.write("token-server: " + (fmt % fmt_args) + "\n")

    ThreadingHTTPServer(("127.0.0.1", int(args.port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
