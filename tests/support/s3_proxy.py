#!/usr/bin/env python3
"""An HTTP/1.1 relay in front of radosgw for S3 tests. Bytes pass unchanged both ways (the
Host header stays the relay's, which is what clients sign), and every request line that
goes through is appended to LOG as "METHOD TARGET", one line each, before it is forwarded.

--drop-answer REGEX: the first request whose line matches REGEX is sent to radosgw on a
connection of its own, its whole answer is read and thrown away, and the client's
connection is closed: the request took effect but the client never learns it (a lost
answer). The same request line again (a retry) is answered by the relay itself, 404
NoSuchUpload, as AWS S3 answers a CompleteMultipartUpload repeated after it took effect
(radosgw answers that one 200).

--hold REGEX SECONDS: the first request whose line matches REGEX is held that long before
it is logged and forwarded (a slow request); requests on other connections go on meanwhile."""
import time
import argparse
import re
import socket
import threading

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("upstream_port", type=int)
parser.add_argument("log")
parser.add_argument("--drop-answer")
parser.add_argument("--hold", nargs=2, metavar=("REGEX", "SECONDS"))
args = parser.parse_args()
lock = threading.Lock()
state = {"dropped": None, "held": False}
NO_SUCH_UPLOAD = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code>'
                  b'<Message>The specified upload does not exist.</Message></Error>')


def record(line):
    with lock:
        with open(args.log, "a") as f:
            f.write(line + "\n")


def read_request(conn, buffered):
    """One request off `conn`: (head bytes, body bytes, rest) or None at EOF."""
    while b"\r\n\r\n" not in buffered:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buffered += chunk
    end = buffered.index(b"\r\n\r\n") + 4
    head, buffered = buffered[:end], buffered[end:]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding":
            raise RuntimeError("chunked request bodies are not relayed")
    while len(buffered) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buffered += chunk
    return head, buffered[:length], buffered[length:]


def pump(source, sink):
    try:
        while True:
            chunk = source.recv(65536)
            if not chunk:
                break
            sink.sendall(chunk)
    except OSError:
        pass
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def lose_answer(head, body):
    """Sends one request on its own connection and reads its answer to the end."""
    lines = head.split(b"\r\n")
    kept = [l for l in lines[1:] if l and not l.lower().startswith(b"connection:")]
    head = b"\r\n".join([lines[0]] + kept + [b"Connection: close", b"", b""])
    with socket.create_connection(("127.0.0.1", args.upstream_port)) as up:
        up.sendall(head + body)
        while up.recv(65536):
            pass


def serve(client):
    upstream = socket.create_connection(("127.0.0.1", args.upstream_port))
    threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
    buffered = b""
    try:
        while True:
            request = read_request(client, buffered)
            if request is None:
                break
            head, body, buffered = request
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            method, target = line.split(" ")[:2]
            if args.hold and re.search(args.hold[0], line):
                with lock:
                    hold = not state["held"]
                    state["held"] = True
                if hold:
                    time.sleep(float(args.hold[1]))
            record(method + " " + target)
            drop = False
            if args.drop_answer and re.search(args.drop_answer, line):
                with lock:
                    retry = state["dropped"] == line
                    drop = state["dropped"] is None
                    if drop:
                        state["dropped"] = line
                if retry:
                    record("ANSWERED " + method + " " + target)
                    client.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/xml\r\n"
                                   b"Content-Length: " + str(len(NO_SUCH_UPLOAD)).encode() + b"\r\n\r\n"
                                   + NO_SUCH_UPLOAD)
                    continue
            if drop:
                lose_answer(head, body)
                record("DROPPED " + method + " " + target)
                break
            upstream.sendall(head + body)
    except OSError:
        pass
    finally:
        for s in (client, upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", args.port))
listener.listen(64)
while True:
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
