"""Registers each side's writer on a broker: which topic it reads and which consumer group it is."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter

from contracts.envelope import Command, SourceSystem
from contracts.topics import (
    COMMAND_TOPICS,
    SVENN_WRITER_CONSUMER,
    TRIPLETEX_WRITER_CONSUMER,
)
from services.core.settings import Settings
from services.core.writer import CommandWriter

CONSUMER_OF = {
    SourceSystem.TRIPLETEX: TRIPLETEX_WRITER_CONSUMER,
    SourceSystem.SVENN: SVENN_WRITER_CONSUMER,
}


def register(broker: KafkaBroker, settings: Settings, target: SourceSystem) -> None:
    CommandWriter(
        broker=broker,
        settings=settings,
        consumer=CONSUMER_OF[target],
        topics=[COMMAND_TOPICS[target]],
        adapter=TypeAdapter(Command),
    ).register(broker)
