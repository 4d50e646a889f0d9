-- 0003: whether a GPU type computes in FP4 natively (NVIDIA Blackwell's NVFP4/MXFP4 tensor cores,
-- AMD MI355X). Seeded rows get their value when the seeds are reloaded; rows a user added start
-- without it.

ALTER TABLE gpu_types ADD COLUMN fp4 INTEGER NOT NULL DEFAULT 0 CHECK (fp4 IN (0, 1));
