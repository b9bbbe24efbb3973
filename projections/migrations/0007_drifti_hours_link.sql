-- What the Drifti hours export (D-H1) found or made in Tripletex, reused by every later export:
-- Drifti users -> employees (D-E1), hourly rates -> activities (D-A1), jobs -> projects (D-J2).
-- A stored link wins over a fresh search, so it survives a changed e-mail, name or rate name.
-- Written by the export itself after Tripletex confirmed the record; the why of each link is on
-- sync.decisions.v1, and a lost row is found again by the same search on the next export.
CREATE TABLE drifti_hours_link (
    tenant_id     text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('user', 'hourly_rate', 'job')),
    drifti_id     text        NOT NULL,
    tripletex_id  bigint      NOT NULL,
    method        text        NOT NULL,
    linked_at     timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, kind, drifti_id)
);
