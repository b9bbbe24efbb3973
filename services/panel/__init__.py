"""The integration panel: a server-rendered page per tenant over the projections' read models."""
