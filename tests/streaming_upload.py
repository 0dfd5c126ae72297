"""A large upload made as it is sent, and the server's peak memory, for tests and benchmarks."""

from collections.abc import Iterator

from tests.service_process import Server

# An MP4 file's first box: enough for the content check to see a video.
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def peak_rss(server: Server) -> int:
    """The most memory the server process has held so far (VmHWM)."""
    with open(f"/proc/{server.process.pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def multipart_stream(boundary: str, size: int, digest) -> tuple[int, Iterator[bytes]]:
    """A multipart body with one `file` part of `size` bytes, made as it is sent."""
    before = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="rushes.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    after = f"\r\n--{boundary}--\r\n".encode()

    def chunks():
        yield before
        digest.update(MP4_HEAD)
        yield MP4_HEAD
        remaining = size - len(MP4_HEAD)
        block = bytes(range(256)) * 4096  # 1 MB
        while remaining > 0:
            piece = block[: min(len(block), remaining)]
            digest.update(piece)
            remaining -= len(piece)
            yield piece
        yield after

    return len(before) + size + len(after), chunks()
