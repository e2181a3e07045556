"""An unmodified aiortc (PyPI) as a WHIP publisher (RFC 9725) or a WHEP viewer: one POST
of an SDP offer with a bearer token, the answer applied, media for SECONDS, then a DELETE
of the session's Location. Prints one JSON line: the POST's status, what was decoded, the
DELETE's status. No Vitrine code: only the standards.

usage: whip_client.py publish|watch ENDPOINT_URL TOKEN SECONDS
"""

import asyncio
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from decoded import count_decoded


def http(method: str, url: str, token: str, body: bytes | None = None):
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/sdp")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


async def main(mode: str, url: str, token: str, seconds: float) -> None:
    pc = RTCPeerConnection()
    received = count_decoded(pc)

    if mode == "publish":
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
    else:
        pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())  # gathers every candidate
    status, headers, body = await asyncio.to_thread(
        http, "POST", url, token, pc.localDescription.sdp.encode())
    result = {"status": status, "received": received}
    if status != 201:
        result["error"] = body
    else:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))
        await asyncio.sleep(seconds)
        result["connection"] = pc.connectionState
        location = urllib.parse.urljoin(url, headers["Location"])
        result["deleted"] = (await asyncio.to_thread(http, "DELETE", location, token))[0]
        result["deleted_again"] = (await asyncio.to_thread(http, "DELETE", location, token))[0]
    print(json.dumps(result), flush=True)
    await pc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
