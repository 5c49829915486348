"""The TCP door of flag submission: the line protocol the A/D community agreed on
(enowars/specification: a banner ending in an empty line, one flag per line, each answered
``<flag> <CODE> [message]``, pipelining allowed), also readable by DestructiveFarm's
``ructf_tcp`` and ``forcad_tcp`` modules (the greeting's "Welcome" and "Enter your flags", a
token line answered "... enter your flags", answers sorted by their words).

The team is known by the address the connection comes from (the networks the organisers gave
it: ``rangectl teams networks``; DestructiveFarm's ``ructf_tcp`` sends no token) or by its
token, sent as the first line (``rct_...``: it names the team whatever the address); a flag
from an unknown address before a token is answered ``ERR``. Lines pipelined together are judged
and stored as one batch (``submit.Submissions``), answers written in order once the batch is
committed.
Bounded: a line of more than 256 bytes closes the connection, an idle one closes after
``IDLE`` seconds, at most ``MAX_CLIENTS`` connections at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from range_control.context import Range
from range_control.core.errors import Unauthorized
from range_control.domain.defence.captures import Code, answer
from range_control.services.defence.submit import MAX_BATCH, Submissions, submissions
from range_control.services.people import teams

log = logging.getLogger("range_control.flags")

GREETING = (
    b"Welcome to the Range Control flag submission.\n"
    b"Send your team token on the first line (not needed from your team's own network),\n"
    b"then Enter your flags, one per line.\n"
    b"Each is answered: <flag> OK|DUP|OWN|OLD|INV|ERR <message>.\n\n"
)
MAX_LINE = 256
IDLE = 300.0
MAX_CLIENTS = 1000


class FlagServer:
    def __init__(self, ctx: Range) -> None:
        self.ctx = ctx
        self.subs: Submissions = submissions(ctx)
        self.clients = 0
        self.server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; the port bound (``port`` 0: any free one)."""
        self.server = await asyncio.start_server(self._client, host, port, limit=MAX_LINE)
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and end every connection (their answers already written)."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        me = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not me]
        for t in rest:
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    async def serve_forever(self) -> None:
        assert self.server is not None
        async with self.server:
            await self.server.serve_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.clients >= MAX_CLIENTS:
            writer.write(b"ERR too many connections: try again later\n")
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()
            return
        self.clients += 1
        peer = writer.get_extra_info("peername")
        source = str(peer[0]) if peer else ""
        try:
            writer.write(GREETING)
            await writer.drain()
            await self._lines(reader, writer, source)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, asyncio.CancelledError):
            pass
        except ValueError:  # a line past the limit
            with contextlib.suppress(ConnectionError):
                writer.write(b"ERR line too long\n")
                await writer.drain()
        finally:
            self.clients -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _lines(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, source: str
    ) -> None:
        known = await asyncio.to_thread(teams.by_address, self.ctx, source) if source else None
        team_id: int | None = known.id if known is not None else None
        while True:
            first = await asyncio.wait_for(reader.readline(), IDLE)
            if not first:
                return
            batch = [first]
            # What the client pipelined and is already here, judged as one batch.
            while len(batch) < MAX_BATCH and b"\n" in reader._buffer:
                batch.append(await reader.readline())
            lines = [b.decode("utf-8", "replace").strip() for b in batch]
            lines = [ln for ln in lines if ln]
            if lines and lines[0].startswith(teams.TOKEN_PREFIX):
                token = lines.pop(0)
                try:
                    team = await asyncio.to_thread(teams.authenticate, self.ctx, token)
                except Unauthorized:
                    writer.write(b"ERR invalid team token\n")
                    await writer.drain()
                    return
                team_id = team.id
                writer.write(f"{team.name}: enter your flags, one per line\n".encode())
            if not lines:
                await writer.drain()
                continue
            if team_id is None:
                why = "send your team token first (this address is no team's)"
                out = [answer(ln, Code.ERR, why).line() for ln in lines]
            else:
                got = await asyncio.to_thread(self.subs.submit, team_id, lines, "tcp", source)
                out = [a.line() for a in got]
            writer.write(("\n".join(out) + "\n").encode())
            await writer.drain()


def serve(ctx: Range, host: str, port: int) -> None:
    """Run the TCP door until interrupted."""

    async def main() -> None:
        server = FlagServer(ctx)
        bound = await server.start(host, port)
        log.info("flag submission listening on %s:%s", host, bound)
        await server.serve_forever()

    asyncio.run(main())
