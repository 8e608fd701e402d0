"""The overload policy's mailbox (serve/overload.py): the newest frame wins."""

import asyncio

from serve.overload import NewestFrame


def test_the_newest_frame_replaces_the_waiting_one_and_keeps_its_number():
    async def scenario():
        inbox = NewestFrame()
        for data in (b"a", b"b", b"c"):
            inbox.put_frame(data)
        inbox.put_notice({"error": "text"})
        first = await inbox.take()
        inbox.put_frame(b"d")
        second = await inbox.take()
        return inbox.received, first, second

    received, first, second = asyncio.run(scenario())
    assert received == 4
    assert first == ([{"error": "text"}], (2, b"c"))     # frames 0 and 1 were dropped
    assert second == ([], (3, b"d"))


def test_take_waits_for_a_frame_and_returns_when_the_socket_closes():
    async def scenario():
        inbox = NewestFrame()
        waiting = asyncio.ensure_future(inbox.take())
        await asyncio.sleep(0.01)
        assert not waiting.done()
        inbox.put_frame(b"a")
        got = await asyncio.wait_for(waiting, 1)
        closing = asyncio.ensure_future(inbox.take())
        await asyncio.sleep(0.01)
        inbox.close()
        return got, await asyncio.wait_for(closing, 1), inbox.closed

    got, after_close, closed = asyncio.run(scenario())
    assert got == ([], (0, b"a"))
    assert after_close == ([], None) and closed
