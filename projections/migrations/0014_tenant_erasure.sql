-- What `tsync tenants offboard` erased, kept for the data protection officer's accountability
-- (GDPR art. 5(2)): which tenant, when, by whom (the operator's login), how many rows per table
-- and tombstones per topic, and when the tenant's last messages on the topics that expire rather
-- than compact are gone. Ids and counts only, never a record's content. One row per run (a second
-- run of the same offboarding finds nothing left and records that too). Never erased by offboarding.
CREATE TABLE tenant_erasure (
    erasure_id        bigserial   PRIMARY KEY,
    tenant_id         text        NOT NULL,
    erased_at         timestamptz NOT NULL DEFAULT now(),
    erased_by         text        NOT NULL,
    rows_deleted      jsonb       NOT NULL,
    tombstones        jsonb       NOT NULL,
    kafka_expires_by  timestamptz NOT NULL
);
CREATE INDEX tenant_erasure_tenant ON tenant_erasure (tenant_id, erased_at);
