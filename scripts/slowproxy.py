#!/usr/bin/env python3
"""A rate-limiting TCP proxy on loopback: a slow SFTP host for tests and benchmarks.

    scripts/slowproxy.py LISTEN_PORT TARGET_PORT BYTES_PER_SEC

Every connection to 127.0.0.1:LISTEN_PORT is relayed to 127.0.0.1:TARGET_PORT;
client-to-server bytes share one token bucket of BYTES_PER_SEC (all connections
together, as one slow link), the other direction is not limited.
"""
import asyncio
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


async def pipe(reader, writer, bucket):
    try:
        while True:
            data = await reader.read(16384)
            if not data:
                break
            if bucket:
                await bucket.take(len(data))
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main(listen, target, rate):
    bucket = Bucket(rate)

    async def handle(cr, cw):
        try:
            sr, sw = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, sw, bucket), pipe(sr, cw, None))

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
