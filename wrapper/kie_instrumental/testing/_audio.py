"""Real, playable audio and cover images that the fake server synthesises (standard library)."""

from __future__ import annotations

import io
import math
import random
import struct
import wave
import zlib

SAMPLE_RATE = 22_050
# A-minor, F, C, G: one chord per second, a different voicing per seed.
_PROGRESSION = (
    (220.00, 261.63, 329.63),
    (174.61, 220.00, 261.63),
    (261.63, 329.63, 392.00),
    (196.00, 246.94, 293.66),
)


def synth_wav(seconds: float, seed: int) -> bytes:
    """A mono 16-bit WAV: a soft chord progression with a plucked envelope."""
    rng = random.Random(seed)  # noqa: S311 - timbre only
    detune = 1 + rng.uniform(-0.01, 0.01)
    frames = int(seconds * SAMPLE_RATE)
    samples = bytearray()
    for i in range(frames):
        t = i / SAMPLE_RATE
        chord = _PROGRESSION[int(t) % len(_PROGRESSION)]
        envelope = math.exp(-3.0 * (t % 1.0))
        value = sum(math.sin(2 * math.pi * f * detune * t) for f in chord) / len(chord)
        samples += struct.pack("<h", int(12_000 * envelope * value))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(bytes(samples))
    return buffer.getvalue()


def wav_duration(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as audio:
        return audio.getnframes() / audio.getframerate()


def synth_png(seed: int, size: int = 16) -> bytes:
    """A small solid-colour PNG cover."""
    rng = random.Random(seed)  # noqa: S311 - colour only
    pixel = bytes(rng.randrange(256) for _ in range(3))
    raw = b"".join(b"\x00" + pixel * size for _ in range(size))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
