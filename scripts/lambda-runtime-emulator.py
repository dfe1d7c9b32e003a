#!/usr/bin/env python3
"""A minimal AWS Lambda Runtime API on loopback, for measuring a real Lambda binary here.

It hands the same event to the function `--invocations` times, times each invocation from
the moment the event is handed out to the moment the response arrives, and then answers the
next poll with an error so the runtime exits. Results go to stdout as JSON.
"""
import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--event", required=True)
    parser.add_argument("--invocations", type=int, default=51)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    event = open(args.event, "rb").read()
    state = {"handed": 0, "started": {}, "durations_ms": [], "errors": [], "responses": []}
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_GET(self):
            if not self.path.endswith("/runtime/invocation/next"):
                self.send_error(404)
                return
            if state["handed"] >= args.invocations:
                done.set()
                self.send_error(500, "emulator finished")
                return
            state["handed"] += 1
            request_id = str(uuid.uuid4())
            state["started"][request_id] = time.perf_counter()
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:decider")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.send_header("Content-Length", str(len(event)))
            self.end_headers()
            self.wfile.write(event)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            parts = self.path.strip("/").split("/")
            if "init" in parts:
                state["errors"].append({"init": body.decode(errors="replace")})
                done.set()
            elif len(parts) >= 5:
                request_id, kind = parts[3], parts[4]
                elapsed = (time.perf_counter() - state["started"].pop(request_id, time.perf_counter())) * 1000
                if kind == "response":
                    state["durations_ms"].append(elapsed)
                    state["responses"].append(json.loads(body or b"null"))
                else:
                    state["errors"].append(json.loads(body or b"null"))
            self.send_response(202)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file, "w") as f:
        f.write(str(server.server_address[1]))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    done.wait(timeout=600)
    time.sleep(0.2)
    server.shutdown()
    warm = state["durations_ms"][1:]  # the first invocation is the cold one
    result = {
        "invocations": len(state["durations_ms"]),
        "errors": state["errors"],
        "cold_ms": round(state["durations_ms"][0], 2) if state["durations_ms"] else None,
        "warm_median_ms": round(statistics.median(warm), 2) if warm else None,
        "warm_p90_ms": round(statistics.quantiles(warm, n=10)[-1], 2) if len(warm) >= 10 else None,
        "last_response": state["responses"][-1] if state["responses"] else None,
    }
    json.dump(result, open(args.out, "w"), indent=1)
    return 0 if not state["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
