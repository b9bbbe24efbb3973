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
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import TenantDirectory
from services.core.writer import CommandWriter

CONSUMER_OF = {
    SourceSystem.TRIPLETEX: TRIPLETEX_WRITER_CONSUMER,
    SourceSystem.SVENN: SVENN_WRITER_CONSUMER,
}


# The side's own writer class; a side without one records commands only (see CommandWriter).
WRITER_OF: dict[SourceSystem, type[CommandWriter]] = {}


def register(
    broker: KafkaBroker,
    publisher: Publisher,
    settings: Settings,
    target: SourceSystem,
    tenants: TenantDirectory,
) -> None:
    WRITER_OF.get(target, CommandWriter)(
        tenants=tenants,
        broker=broker,
        publisher=publisher,
        settings=settings,
        consumer=CONSUMER_OF[target],
        topics=[COMMAND_TOPICS[target]],
        adapter=TypeAdapter(Command),
    ).register(broker)
