"""Spans and metrics of a whole task, printed by OpenTelemetry's console exporters.

pip install 'kie-instrumental[otel,fake]' opentelemetry-sdk
python -m examples.otel_console

Runs against FakeKie in-process on a fake clock: no key, no network, no waiting. In a service,
keep the two providers (with your exporters, e.g. OTLP) and pass `hooks=[OpenTelemetryHook()]`
to the client you already have.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from typing import TextIO

import httpx
from kie_instrumental import AsyncKieClient
from kie_instrumental.otel import OpenTelemetryHook
from kie_instrumental.testing import FakeClock, FakeKie
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor


async def run_task(hook: OpenTelemetryHook) -> None:
    clock = FakeClock()
    fake = FakeKie(clock=clock, stage_seconds=5, callbacks="off")
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app))
    async with AsyncKieClient(
        fake.api_key,
        base_url="http://fake.kie",
        upload_base_url="http://fake.kie",
        http_client=http,
        clock=clock,
        hooks=[hook],
    ) as client:
        await client.get_credits()
        task = await client.add_instrumental(
            upload_url="https://example.com/vocals.mp3",
            title="Night Drive",
            tags="synthwave",
            negative_tags="",
            callback_url="https://example.com/kie/callback",
        )
        details = await client.wait(task.task_id)
        with tempfile.TemporaryDirectory() as folder:
            await client.download(details, folder)
        await client.get_credits()
    await http.aclose()


def main(out: TextIO = sys.stdout) -> None:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out)))
    reader = PeriodicExportingMetricReader(
        ConsoleMetricExporter(out=out), export_interval_millis=60_000
    )
    meter_provider = MeterProvider(metric_readers=[reader])
    hook = OpenTelemetryHook(tracer_provider=tracer_provider, meter_provider=meter_provider)
    asyncio.run(run_task(hook))
    tracer_provider.shutdown()
    meter_provider.shutdown()  # exports the metrics once more on the way out


if __name__ == "__main__":
    main()
