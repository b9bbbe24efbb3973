-- D-L1: which Tripletex account each Drifti ledger account is booked to, per tenant. Filled by
-- an automatic match on equal account numbers in the tenant's Tripletex chart ('auto') and by
-- operators (`tsync drifti map-account`, 'operator'); an operator's choice is never overwritten
-- by a later automatic match. The decision reads it per batch for Drifti invoices.
CREATE TABLE drifti_account_map (
    tenant_id          text        NOT NULL,
    drifti_account     text        NOT NULL,
    tripletex_account  text        NOT NULL CHECK (tripletex_account ~ '^[0-9]{4,6}$'),
    origin             text        NOT NULL CHECK (origin IN ('auto', 'operator')),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, drifti_account)
);
