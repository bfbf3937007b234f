#!/usr/bin/env python3
"""A loopback API server that misbehaves on purpose, for the remote providers'
failure paths. The first path segment picks the behaviour; the rest is the
API's own route (/v1/chat/completions, /v1/messages, /api/chat), and the reply
is framed as that API frames it:

  /ok/...         a three-piece reply "Hello, world!" with usage
  /retry/...      429 with Retry-After: 1 on the first call of each API, then /ok
  /reset/...      the first call of each API gets its connection closed with
                  no response (a reset), then /ok
  /hangup/...     every connection closed with no response
  /unavailable/.. 503 every time
  /unauth/...     401 with the API's error body "invalid api key"
  /cut/...        two pieces, then the connection closes without the end marker
  /slow/...       nothing for 10 s (past the client's deadline)
  /drip/...       one piece every 0.2 s, 100 of them (for cancellation)
  /tools/...      reasoning "Let me look.", then two calls of get_weather
                  ({"city": "Paris", "days": 2} and {"city": "Oslo", "days": 5}),
                  framed as each API streams calls: OpenAI tool_calls deltas with
                  the arguments text cut mid-token, Anthropic tool_use blocks with
                  input_json_delta pieces, Ollama whole calls in message.tool_calls
  /badtool/...    one call whose arguments are not JSON (`{"city": "Par`)
  /count          how many requests each behaviour got (JSON)

Prints "PORT n" on stdout once listening on 127.0.0.1:n (port 0 = any free one).
"""
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts = {}
lock = threading.Lock()


def api_of(route):
    if route.endswith("/chat/completions"):
        return "openai"
    if route.endswith("/v1/messages"):
        return "anthropic"
    if route.endswith("/api/chat"):
        return "ollama"
    return None


def error_body(api, message):
    if api == "anthropic":
        return {"type": "error", "error": {"type": "authentication_error", "message": message}}
    if api == "ollama":
        return {"error": message}
    return {"error": {"message": message, "type": "invalid_request_error"}}


def frames(api, pieces, prompt_tokens=7):
    """The stream as `api` sends it: a list of byte strings, last one the end marker."""
    out = []
    if api == "openai":
        for p in pieces:
            out.append(b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}).encode() + b"\n\n")
        out.append(b"data: " + json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).encode() + b"\n\n")
        out.append(b"data: " + json.dumps({"choices": [], "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(pieces), "total_tokens": prompt_tokens + len(pieces)}}).encode() + b"\n\n")
        out.append(b"data: [DONE]\n\n")
    elif api == "anthropic":
        def ev(name, obj):
            return b"event: " + name.encode() + b"\ndata: " + json.dumps(obj).encode() + b"\n\n"
        # As Anthropic reports a prompt partly read from its cache: input_tokens is the rest.
        out.append(ev("message_start", {"type": "message_start", "message": {"usage": {
            "input_tokens": prompt_tokens - 5, "cache_read_input_tokens": 4, "cache_creation_input_tokens": 1,
            "output_tokens": 1}}}))
        out.append(ev("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))
        for p in pieces:
            out.append(ev("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}))
        out.append(ev("content_block_stop", {"type": "content_block_stop", "index": 0}))
        out.append(ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": len(pieces)}}))
        out.append(ev("message_stop", {"type": "message_stop"}))
    else:
        for p in pieces:
            out.append(json.dumps({"message": {"role": "assistant", "content": p}, "done": False}).encode() + b"\n")
        out.append(json.dumps({"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
                               "prompt_eval_count": prompt_tokens, "eval_count": len(pieces),
                               "prompt_eval_duration": 2000000, "eval_duration": 3000000}).encode() + b"\n")
    return out


CALLS = [("get_weather", '{"city": "Paris", "days": 2}'), ("get_weather", '{"city": "Oslo", "days": 5}')]


def pieces_of(text, n=3):
    """`text` cut in `n` pieces at arbitrary places (not at JSON token edges)."""
    step = max(1, len(text) // n + 1)
    return [text[i:i + step] for i in range(0, len(text), step)]


def tool_frames(api, calls):
    out = []
    if api == "openai":
        def chunk(delta, finish=None):
            return b"data: " + json.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}).encode() + b"\n\n"
        out.append(chunk({"role": "assistant", "reasoning_content": "Let me "}))
        out.append(chunk({"reasoning_content": "look."}))
        for i, (name, args) in enumerate(calls):
            out.append(chunk({"tool_calls": [{"index": i, "id": "call_%d" % i, "type": "function",
                                              "function": {"name": name, "arguments": ""}}]}))
            for p in pieces_of(args):
                out.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": p}}]}))
        out.append(chunk({}, "tool_calls"))
        out.append(b"data: [DONE]\n\n")
    elif api == "anthropic":
        def ev(name, obj):
            return b"event: " + name.encode() + b"\ndata: " + json.dumps(obj).encode() + b"\n\n"
        out.append(ev("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 7, "output_tokens": 1}}}))
        out.append(ev("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}))
        for p in ["Let me ", "look."]:
            out.append(ev("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": p}}))
        out.append(ev("content_block_stop", {"type": "content_block_stop", "index": 0}))
        for i, (name, args) in enumerate(calls):
            out.append(ev("content_block_start", {"type": "content_block_start", "index": i + 1,
                                                  "content_block": {"type": "tool_use", "id": "toolu_%d" % i, "name": name, "input": {}}}))
            for p in pieces_of(args):
                out.append(ev("content_block_delta", {"type": "content_block_delta", "index": i + 1,
                                                      "delta": {"type": "input_json_delta", "partial_json": p}}))
            out.append(ev("content_block_stop", {"type": "content_block_stop", "index": i + 1}))
        out.append(ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}))
        out.append(ev("message_stop", {"type": "message_stop"}))
    else:
        out.append(json.dumps({"message": {"role": "assistant", "content": "", "thinking": "Let me look."}, "done": False}).encode() + b"\n")
        parsed = []
        for name, args in calls:
            try:
                parsed.append({"function": {"name": name, "arguments": json.loads(args)}})
            except ValueError:  # as a server that passes the model's text on
                parsed.append({"function": {"name": name, "arguments": args}})
        out.append(json.dumps({"message": {"role": "assistant", "content": "", "tool_calls": parsed}, "done": False}).encode() + b"\n")
        out.append(json.dumps({"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
                               "prompt_eval_count": 7, "eval_count": 9}).encode() + b"\n")
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def start_stream(self, api):
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson" if api == "ollama" else "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()  # no length: the body ends when the connection closes
        self.close_connection = True

    def do_GET(self):
        if self.path == "/count":
            with lock:
                return self.send_json(200, counts)
        self.send_json(404, {"error": "no such route"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        _, behaviour, *rest = self.path.split("/", 2)
        route = "/" + (rest[0] if rest else "")
        api = api_of(route)
        with lock:
            counts[behaviour] = counts.get(behaviour, 0) + 1
            n = counts[behaviour]
        if api is None:
            return self.send_json(404, {"error": "no such route " + route})
        if request.get("stream") is not True:
            return self.send_json(400, error_body(api, "this test server only streams"))
        if behaviour == "retry" and n == 1:
            return self.send_json(429, error_body(api, "slow down"), [("Retry-After", "1")])
        if (behaviour == "reset" and n == 1) or behaviour == "hangup":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if behaviour == "unavailable":
            return self.send_json(503, error_body(api, "overloaded"))
        if behaviour == "unauth":
            return self.send_json(401, error_body(api, "invalid api key"))
        if behaviour == "slow":
            time.sleep(10)
            return self.send_json(200, {})
        if behaviour in ("ok", "retry", "reset"):
            self.start_stream(api)
            for f in frames(api, ["Hello", ", world", "!"]):
                self.wfile.write(f)
                self.wfile.flush()
            return
        if behaviour in ("tools", "badtool"):
            self.start_stream(api)
            for f in tool_frames(api, CALLS if behaviour == "tools" else [("get_weather", '{"city": "Par')]):
                self.wfile.write(f)
                self.wfile.flush()
            return
        if behaviour == "cut":
            self.start_stream(api)
            for f in frames(api, ["Hello", ", world", "!"])[:2 + (api == "anthropic") * 2]:
                self.wfile.write(f)
                self.wfile.flush()
            return
        if behaviour == "drip":
            self.start_stream(api)
            try:
                for f in frames(api, ["tick "] * 100):
                    self.wfile.write(f)
                    self.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                with lock:
                    counts["drip_closed"] = counts.get("drip_closed", 0) + 1
            return
        self.send_json(404, {"error": "unknown behaviour " + behaviour})


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("PORT", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
