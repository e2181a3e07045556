"""What both interop clients report: frames decoded per kind, counted as aiortc hands
them over (audio frames and video pictures, after its decoders)."""

import asyncio


def count_decoded(pc) -> dict:
    """Counts the frames of every remote track `pc` receives; the dict fills as they come."""
    received = {"audio": 0, "video": 0}

    @pc.on("track")
    def _track(track) -> None:
        async def consume() -> None:
            while True:
                try:
                    await track.recv()
                except Exception:
                    return
                received[track.kind] += 1

        asyncio.ensure_future(consume())

    return received
