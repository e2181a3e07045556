"""An unmodified aiortc (PyPI) as a call participant: joins a room on the media node over
its signaling socket (core/src/protocol/media.rs), publishes a microphone and a camera
(aiortc's synthetic tracks), receives every remote track the node announces, and prints
what it received as one JSON line. No Vitrine code: only the documented protocol.

usage: aiortc_client.py WS_URL ROOM TOKEN SECONDS
"""

import asyncio
import json
import sys

import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from decoded import count_decoded


async def main(url: str, room: str, token: str, seconds: float) -> None:
    pc = RTCPeerConnection()
    received = count_decoded(pc)
    ice = {"state": "new"}

    # aiortc starts a receiver only when an answer finds DTLS already up: an answer to a
    # renegotiation applied while the first connection is still coming up leaves those
    # receivers silent (seen: audio by luck, video never). So it renegotiates once connected.
    connected = asyncio.Event()

    @pc.on("iceconnectionstatechange")
    def _ice() -> None:
        ice["state"] = pc.iceConnectionState

    @pc.on("connectionstatechange")
    def _connection() -> None:
        if pc.connectionState == "connected":
            connected.set()

    sources = {}
    for kind, track, source in (("audio", AudioStreamTrack(), "microphone"), ("video", VideoStreamTrack(), "camera")):
        sender_transceiver = pc.addTransceiver(track, direction="sendonly")
        sources[sender_transceiver] = source
    receiving = {}  # remote track id -> transceiver

    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "join", "room": room, "token": token}))

        # One offer at a time (the protocol's rule): tracks announced while an offer is
        # out are asked for once its answer is in.
        negotiation = {"pending": False, "again": False}

        async def offer() -> None:
            if negotiation["pending"]:
                negotiation["again"] = True
                return
            negotiation["pending"] = True
            await pc.setLocalDescription(await pc.createOffer())
            await ws.send(json.dumps({
                "type": "offer",
                "sdp": pc.localDescription.sdp,
                "sources": {t.mid: s for t, s in sources.items()},
                "receive": {t.mid: track_id for track_id, t in receiving.items()},
            }))

        async def subscribe(tracks) -> None:
            await connected.wait()
            for track in tracks:
                if track["id"] not in receiving:
                    receiving[track["id"]] = pc.addTransceiver(track["kind"], direction="recvonly")
            await offer()

        async def run() -> None:
            async for text in ws:
                frame = json.loads(text)
                kind = frame["type"]
                if kind == "joined":
                    await offer()
                elif kind == "answer":
                    await pc.setRemoteDescription(RTCSessionDescription(sdp=frame["sdp"], type="answer"))
                    negotiation["pending"] = False
                    if negotiation["again"]:
                        negotiation["again"] = False
                        await offer()
                elif kind == "tracks":
                    asyncio.ensure_future(subscribe(frame["tracks"]))
                elif kind in ("ended", "removed", "error"):
                    print(json.dumps({"signal": frame}), file=sys.stderr)

        runner = asyncio.ensure_future(run())
        await asyncio.sleep(seconds)
        if runner.done() and runner.exception():
            raise runner.exception()
        runner.cancel()
        print(json.dumps({"ice": ice["state"], "received": received, "tracks": sorted(receiving)}), flush=True)
        await ws.send(json.dumps({"type": "leave"}))
    await pc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
