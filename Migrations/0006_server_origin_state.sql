-- 0006: servers imported from a real fleet (issue 14). Where a server came from (`source`: '' for
-- servers added by hand or from plan's own CSV/JSON, else the importer that last synced it), what
-- its scheduler says of it (`state`: nodes that are cordoned, not ready, drained or down are kept
-- and marked, and take no new work), its Slurm partitions (comma-separated) and the GRES type its
-- GPUs have in Slurm (`gpu:<type>:<n>`), which exported batch scripts must name.

ALTER TABLE servers ADD COLUMN source TEXT NOT NULL DEFAULT ''
    CHECK (source IN ('', 'kubernetes', 'slurm', 'nvidia-smi'));
ALTER TABLE servers ADD COLUMN state TEXT NOT NULL DEFAULT 'ready'
    CHECK (state IN ('ready', 'unschedulable', 'not-ready', 'drain', 'down'));
ALTER TABLE servers ADD COLUMN partitions TEXT NOT NULL DEFAULT '';
ALTER TABLE servers ADD COLUMN gres_type TEXT NOT NULL DEFAULT '';
