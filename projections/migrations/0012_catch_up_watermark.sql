-- Where each catch-up poll resumes, per tenant, side (svenn, drifti) and resource (project, …;
-- "all" where one watermark covers a side): records updated at or after it are read again. Only
-- moved once Kafka has confirmed everything the poll read, and never backwards, so an ingest
-- restarted after an outage of any length reads all it missed. Written by the ingest's catch-up.
CREATE TABLE catch_up_watermark (
    tenant_id    text        NOT NULL,
    side         text        NOT NULL,
    resource     text        NOT NULL,
    watermark    timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, side, resource)
);
