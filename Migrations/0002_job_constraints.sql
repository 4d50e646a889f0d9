-- 0002: what a planner needs to know about a job beyond its size — the GPU types it may use, the
-- memory headroom it wants, a fixed split — and the host memory each placement takes for offload.

CREATE TABLE job_gpu_types (
    job_id      INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    gpu_type_id TEXT NOT NULL REFERENCES gpu_types(id) ON DELETE RESTRICT ON UPDATE CASCADE,
    PRIMARY KEY (job_id, gpu_type_id)
) STRICT;

CREATE INDEX job_gpu_types_by_type ON job_gpu_types(gpu_type_id);

ALTER TABLE jobs ADD COLUMN headroom REAL CHECK (headroom IS NULL OR (headroom >= 0 AND headroom < 1));
ALTER TABLE jobs ADD COLUMN strategy TEXT CHECK (strategy IS NULL OR strategy IN ('ddp', 'zero1', 'zero2', 'zero3', 'fsdp'));
ALTER TABLE jobs ADD COLUMN tp INTEGER CHECK (tp IS NULL OR tp > 0);
ALTER TABLE jobs ADD COLUMN pp INTEGER CHECK (pp IS NULL OR pp > 0);

ALTER TABLE placements ADD COLUMN host_bytes INTEGER NOT NULL DEFAULT 0 CHECK (host_bytes >= 0);
