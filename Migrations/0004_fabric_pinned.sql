-- 0004: the network between servers (issue 12) and pinned work.
-- A fabric is the scale-out network a server reaches other servers over (InfiniBand, RoCE,
-- Ethernet, or none); the ids and their rates are PlanModel's `Fabric.all` (sources in
-- docs/placement.md). A server's fabric is NULL only for servers added before this migration:
-- plan then reads it as the fabric of the seeded SKU with the same GPU type and count, else 'none'.
-- A job's min_fabric is the least fabric it needs to span servers (a fabric id, or 'any');
-- NULL is the default (100 Gb/s with RDMA). A pinned job is running work: no plan moves it.

ALTER TABLE servers ADD COLUMN fabric TEXT CHECK (fabric IS NULL OR fabric IN ('ib-xdr-800', 'ib-ndr-400', 'roce-400', 'ib-hdr-200', 'roce-200', 'ib-edr-100', 'roce-100', 'ethernet-100', 'ethernet-25', 'ethernet-10', 'none'));
ALTER TABLE server_skus ADD COLUMN fabric TEXT NOT NULL DEFAULT 'none' CHECK (fabric IN ('ib-xdr-800', 'ib-ndr-400', 'roce-400', 'ib-hdr-200', 'roce-200', 'ib-edr-100', 'roce-100', 'ethernet-100', 'ethernet-25', 'ethernet-10', 'none'));
ALTER TABLE server_skus ADD COLUMN fabric_source TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN min_fabric TEXT CHECK (min_fabric IS NULL OR min_fabric IN ('ib-xdr-800', 'ib-ndr-400', 'roce-400', 'ib-hdr-200', 'roce-200', 'ib-edr-100', 'roce-100', 'ethernet-100', 'ethernet-25', 'ethernet-10', 'any'));
ALTER TABLE jobs ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1));
