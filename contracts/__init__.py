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
    DecisionRecord,
    EntityType,
    ExpectedLink,
    LinkEffect,
    LinkState,
    Operation,
    Outcome,
    OutcomeStatus,
    SourceSystem,
    TraceContext,
    Verdict,
)

__all__ = [
    "ChangeEvent",
    "ChangeKind",
    "Command",
    "CustomerSnapshot",
    "DecisionRecord",
    "EmployeeSnapshot",
    "EntitySnapshot",
    "EntityType",
    "ExpectedLink",
    "LinkEffect",
    "LinkState",
    "Operation",
    "Outcome",
    "OutcomeStatus",
    "ProjectSnapshot",
    "ProjectStatus",
    "SourceSystem",
    "TraceContext",
    "Verdict",
]
