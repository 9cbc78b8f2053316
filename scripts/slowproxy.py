#!/usr/bin/env python3
"""A slow link on loopback: a rate-limited, delayed TCP proxy for tests and benchmarks.

    scripts/slowproxy.py LISTEN_PORT TARGET_PORT BYTES_PER_SEC [DELAY_MS [STATS_FILE]]

Every connection to 127.0.0.1:LISTEN_PORT is relayed to 127.0.0.1:TARGET_PORT;
client-to-server bytes share one token bucket of BYTES_PER_SEC (all connections
together, as one slow link), the other direction is not limited. With DELAY_MS,
every byte reaches the other side DELAY_MS later, in each direction (a round
trip costs twice that), as over a WAN.

With STATS_FILE, the proxy keeps it up to date (every half second) with one JSON
object: `turns`, the times a client sent something after the server had answered
(each is a round trip the client waited for), `connections`, and the bytes each
way. Turns per file, over a push of many files, is the round trips per file that
the client waited for.
"""
import asyncio
import json
import sys
import time


class Bucket:
    """The link is busy until `free`; an idle link earns no credit beyond a small burst."""

    def __init__(self, rate):
        self.rate = rate
        self.free = time.monotonic()

    async def take(self, n):
        now = time.monotonic()
        self.free = max(self.free, now - 0.05) + n / self.rate
        wait = self.free - now
        if wait > 0:
            await asyncio.sleep(wait)


class Stats:
    def __init__(self):
        self.turns = 0
        self.connections = 0
        self.up = 0
        self.down = 0

    def write(self, path):
        with open(path + ".tmp", "w") as f:
            json.dump(vars(self), f)
        import os

        os.replace(path + ".tmp", path)


class Turns:
    """Per connection: a turn is the client speaking after the server did, having been
    silent for most of a round trip: it waited for an answer. (Window adjustments the
    server sends in the middle of a stream of writes are no turn: the client did not stop.)"""

    def __init__(self, stats, delay):
        self.stats = stats
        self.last = "server"  # the server speaks first (its SSH banner)
        self.quiet = 1.5 * delay
        self.client_spoke = 0.0

    def spoke(self, who):
        now = time.monotonic()
        if who == "client":
            if self.last == "server" and now - self.client_spoke >= self.quiet:
                self.stats.turns += 1
            self.client_spoke = now
        self.last = who


async def pipe(reader, writer, bucket, delay, who, turns, stats):
    """Relays one direction; with a delay, through a queue that releases each chunk
    `delay` seconds after it was read, in order."""
    queue = asyncio.Queue()

    async def release():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(release())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if bucket:
                await bucket.take(len(data))
            turns.spoke(who)
            if who == "client":
                stats.up += len(data)
            else:
                stats.down += len(data)
            await queue.put((time.monotonic() + delay, data))
        await queue.put((0, None))
        await sender
    except (ConnectionError, asyncio.CancelledError):
        sender.cancel()
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main(listen, target, rate, delay, stats_file):
    bucket = Bucket(rate)
    stats = Stats()

    async def handle(cr, cw):
        try:
            sr, sw = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            cw.close()
            return
        stats.connections += 1
        turns = Turns(stats, delay)
        await asyncio.gather(
            pipe(cr, sw, bucket, delay, "client", turns, stats),
            pipe(sr, cw, None, delay, "server", turns, stats),
        )

    async def report():
        while True:
            stats.write(stats_file)
            await asyncio.sleep(0.5)

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    if stats_file:
        asyncio.create_task(report())
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    args = sys.argv[1:]
    delay_ms = float(args[3]) if len(args) > 3 else 0.0
    asyncio.run(main(int(args[0]), int(args[1]), float(args[2]), delay_ms / 1000, args[4] if len(args) > 4 else None))
