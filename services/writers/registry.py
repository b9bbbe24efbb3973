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
from projections.database import Database
from services.core.batch_consumer import BatchConsumer
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import TenantDirectory
from services.core.write_gate import WriteGate
from services.core.writer import CommandWriter
from services.svenn.writer import SvennWriter
from services.tenants.outages import Outages
from services.tripletex.writer import TripletexWriter

CONSUMER_OF = {
    SourceSystem.TRIPLETEX: TRIPLETEX_WRITER_CONSUMER,
    SourceSystem.SVENN: SVENN_WRITER_CONSUMER,
}


# Each side's writer; a side without one would only record its commands (see CommandWriter).
WRITER_OF: dict[SourceSystem, type[CommandWriter]] = {
    SourceSystem.TRIPLETEX: TripletexWriter,
    SourceSystem.SVENN: SvennWriter,
}


def register(
    broker: KafkaBroker,
    publisher: Publisher,
    settings: Settings,
    target: SourceSystem,
    tenants: TenantDirectory,
    gate: WriteGate | None = None,
    database: Database | None = None,
) -> BatchConsumer[Command]:
    """``database``: parks the commands of a tenant whose side does not answer (else they hold the batch)."""
    outages = Outages(database, publisher, settings, target, tenants) if database is not None else None
    return WRITER_OF[target](
        tenants=tenants,
        gate=gate,
        outages=outages,
        broker=broker,
        publisher=publisher,
        settings=settings,
        consumer=CONSUMER_OF[target],
        topics=[COMMAND_TOPICS[target]],
        adapter=TypeAdapter(Command),
    ).register(broker)
