"""Everything that travels on the wire between the engine's services, defined once.

Services import message models, topic names, record keys and header names from here and
nowhere else, so a change to the wire format is a change to this package.
"""

from contracts.entities import (
    CustomerSnapshot,
    EmployeeSnapshot,
    EntitySnapshot,
    ProjectSnapshot,
    ProjectStatus,
)
from contracts.envelope import (
    ChangeEvent,
    ChangeKind,
    Command,
    EntityType,
    ExpectedLink,
    LinkState,
    Operation,
    Outcome,
    OutcomeStatus,
    SourceSystem,
    TraceContext,
)

__all__ = [
    "ChangeEvent",
    "ChangeKind",
    "Command",
    "CustomerSnapshot",
    "EmployeeSnapshot",
    "EntitySnapshot",
    "EntityType",
    "ExpectedLink",
    "LinkState",
    "Operation",
    "Outcome",
    "OutcomeStatus",
    "ProjectSnapshot",
    "ProjectStatus",
    "SourceSystem",
    "TraceContext",
]
