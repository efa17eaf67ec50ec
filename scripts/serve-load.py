#!/usr/bin/env python3
"""Load client for `mmfree serve` (docs/BENCHMARKS.md, "Server"). Standard library only.

  bench: S concurrent streams, each sending R streamed greedy completions of T tokens one after
         another; prints aggregate tokens/s and p50/p99 of time to first token and of the time
         between tokens, as JSON.
  chaos: N requests with random parameters (both endpoints, streamed or not, n, stop, logprobs,
         sampling), C at a time, a fraction abandoned midway (a stream after its first event, a
         non-streamed request 0.2 s after it was sent); checks that every request that was not
         abandoned succeeded and was well formed, that no slot is left taken, that the server
         still answers, and that its RSS (--pid), read --settle-s seconds after the round, grew by
         less than --rss-slack-mb; --rounds R runs it R times and reports the RSS after each (a
         leak grows every round); exits 1 otherwise.
"""
import argparse
import http.client
import json
import random
import socket
import statistics
import sys
import threading
import time
from urllib.parse import urlparse


def percentile(values, q):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def connect(url):
    u = urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=600)


def stream_request(url, path, body, abandon_after=None):
    """POSTs a streamed request; returns (status, [(arrival time, event dict)], abandoned)."""
    conn = connect(url)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    events = []
    if resp.status != 200:
        resp.read()
        conn.close()
        return resp.status, events, False
    done = False
    while True:
        line = resp.fp.readline()
        if not line:
            break
        line = line.decode("utf-8").rstrip("\n")
        if not line.startswith("data: "):
            continue
        data = line[6:]
        if data == "[DONE]":
            done = True
            break
        events.append((time.perf_counter(), json.loads(data)))
        if abandon_after is not None and len(events) >= abandon_after:
            conn.sock.shutdown(socket.SHUT_RDWR)
            conn.close()
            return 200, events, True
    conn.close()
    if not done:
        raise RuntimeError("stream ended without data: [DONE]")
    return 200, events, False


def bench(args):
    body = {"prompt": args.prompt, "max_tokens": args.max_tokens, "temperature": 0, "ignore_eos": True, "stream": True}
    ttft, itl, tokens = [], [], [0]
    lock = threading.Lock()
    errors = []

    def worker():
        for _ in range(args.requests):
            t0 = time.perf_counter()
            try:
                status, events, _ = stream_request(args.url, "/v1/completions", body)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(str(e))
                return
            if status != 200:
                errors.append("status %d" % status)
                return
            times = [t for t, e in events if e["choices"] and e["choices"][0].get("text")]
            with lock:
                if times:
                    ttft.append(times[0] - t0)
                    itl.extend(b - a for a, b in zip(times, times[1:]))
                tokens[0] += args.max_tokens

    threads = [threading.Thread(target=worker) for _ in range(args.streams)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    out = {
        "streams": args.streams,
        "requests": args.streams * args.requests,
        "max_tokens": args.max_tokens,
        "tokens_per_s": tokens[0] / wall,
        "wall_s": wall,
        "ttft_p50_s": percentile(ttft, 50),
        "ttft_p99_s": percentile(ttft, 99),
        "itl_p50_s": percentile(itl, 50),
        "itl_p99_s": percentile(itl, 99),
        "errors": errors,
    }
    print(json.dumps(out))
    return 1 if errors else 0


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def get(url, path):
    conn = connect(url)
    conn.request("GET", path)
    r = conn.getresponse()
    data = r.read().decode()
    conn.close()
    return r.status, data


def random_request(rng):
    chat = rng.random() < 0.5
    body = {"max_tokens": rng.randint(1, 64), "stream": rng.random() < 0.7}
    if chat:
        body["messages"] = [{"role": "user", "content": rng.choice(["Hello", "Who is Emma?", "Tell me a story", "é ünïcödé 🙂"])}]
    else:
        body["prompt"] = rng.choice(["It is a truth", "Once upon a time", "", "The", "Mr. Knightley said"])
    if rng.random() < 0.5:
        body["temperature"] = rng.choice([0, 0.3, 0.8, 1.5, 2])
    if rng.random() < 0.3:
        body["top_p"] = rng.choice([0.1, 0.5, 0.9, 1])
    if rng.random() < 0.3:
        body["top_k"] = rng.choice([0, 1, 5, 40])
    if rng.random() < 0.3:
        body["min_p"] = rng.choice([0, 0.05, 0.5])
    if rng.random() < 0.3:
        body["repeat_penalty"] = rng.choice([0.8, 1.0, 1.3])
    if rng.random() < 0.5:
        body["seed"] = rng.randint(-(2**63), 2**64 - 1)
    if rng.random() < 0.2:
        body["n"] = rng.randint(1, 3)
    if rng.random() < 0.3:
        body["stop"] = rng.choice(["\n", ["the", "and"], "."])
    if rng.random() < 0.2:
        if chat:
            body["logprobs"] = True
            body["top_logprobs"] = rng.randint(0, 5)
        else:
            body["logprobs"] = rng.randint(0, 5)
    if rng.random() < 0.2:
        body["ignore_eos"] = True
    if body["stream"] and rng.random() < 0.3:
        body["stream_options"] = {"include_usage": True}
    return ("/v1/chat/completions" if chat else "/v1/completions"), body


def check_stream(path, body, events):
    n = body.get("n", 1)
    finished = set()
    for _, e in events:
        if "error" in e:
            raise RuntimeError("error event: %s" % e)
        for c in e["choices"]:
            if c["finish_reason"] is not None:
                finished.add(c["index"])
    if finished != set(range(n)):
        raise RuntimeError("choices finished: %s of %d" % (sorted(finished), n))


def check_whole(path, body, data):
    j = json.loads(data)
    if len(j["choices"]) != body.get("n", 1):
        raise RuntimeError("wrong number of choices")
    for c in j["choices"]:
        if c["finish_reason"] not in ("stop", "length"):
            raise RuntimeError("finish_reason %s" % c["finish_reason"])


def chaos(args):
    rss = [rss_kb(args.pid)] if args.pid else []
    results = []
    for r in range(args.rounds):
        results.append(chaos_round(args, random.Random(args.seed + r)))
        if args.pid:
            time.sleep(args.settle_s)  # the server ends a burst's idle connection threads after 2 s
            rss.append(rss_kb(args.pid))
    out = {"rounds": results, "rss_kb": rss}
    print(json.dumps(out))
    bad = any(r["bad"] for r in results)
    if args.pid and rss[-1] - rss[0] > args.rss_slack_mb * 1024:
        bad = True
    return 1 if bad else 0


def chaos_round(args, rng):
    plans = []
    for i in range(args.requests):
        path, body = random_request(rng)
        plans.append((path, body, rng.random() < args.abandon))
    failures, abandoned, ok = [], [0], [0]
    lock = threading.Lock()
    it = iter(plans)

    def worker():
        while True:
            with lock:
                plan = next(it, None)
            if plan is None:
                return
            path, body, abandon = plan
            try:
                if body["stream"]:
                    status, events, gone = stream_request(args.url, path, body, abandon_after=1 if abandon else None)
                    if status != 200:
                        raise RuntimeError("status %d" % status)
                    if gone:
                        with lock:
                            abandoned[0] += 1
                        continue
                    check_stream(path, body, events)
                else:
                    conn = connect(args.url)
                    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
                    if abandon:
                        time.sleep(0.2)
                        conn.sock.shutdown(socket.SHUT_RDWR)
                        conn.close()
                        with lock:
                            abandoned[0] += 1
                        continue
                    r = conn.getresponse()
                    data = r.read().decode()
                    conn.close()
                    if r.status != 200:
                        raise RuntimeError("status %d: %s" % (r.status, data[:200]))
                    check_whole(path, body, data)
                with lock:
                    ok[0] += 1
            except Exception as e:  # noqa: BLE001 - every failure is reported
                with lock:
                    failures.append({"body": body, "error": str(e)})

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    time.sleep(1)  # the slots of the last abandoned streams are freed at the next step
    status, _ = get(args.url, "/health")
    _, metrics = get(args.url, "/metrics")
    active = [l.split()[1] for l in metrics.splitlines() if l.startswith("mmfree_active_sequences ")]
    out = {
        "requests": args.requests,
        "succeeded": ok[0],
        "abandoned": abandoned[0],
        "failed": len(failures),
        "wall_s": wall,
        "health_after": status,
        "active_after": active[0] if active else None,
        "failures": failures[:5],
    }
    out["bad"] = bool(failures) or status != 200 or active != ["0"]
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["bench", "chaos"])
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--streams", type=int, default=1, help="bench: concurrent streams")
    p.add_argument("--requests", type=int, default=4, help="bench: requests per stream; chaos: requests in all")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--prompt", default="It is a truth universally acknowledged, that a single man")
    p.add_argument("--concurrency", type=int, default=16, help="chaos: requests in flight")
    p.add_argument("--abandon", type=float, default=0.1, help="chaos: fraction of requests abandoned mid-stream")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pid", type=int, help="chaos: the server's pid, for its RSS")
    p.add_argument("--rss-slack-mb", type=float, default=8)
    p.add_argument("--settle-s", type=float, default=5, help="chaos: seconds after a round before its RSS is read")
    p.add_argument("--rounds", type=int, default=1, help="chaos: runs of --requests each")
    args = p.parse_args()
    sys.exit(bench(args) if args.mode == "bench" else chaos(args))


if __name__ == "__main__":
    main()
