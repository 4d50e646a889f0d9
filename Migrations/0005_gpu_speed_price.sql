-- 0005: what a GPU type computes and costs by the hour, for throughput, time to train and the
-- cost of a run (issue 13). Dense peak tensor TFLOPS per dtype (bf16_tflops is the 16-bit peak:
-- BF16 where the GPU has it, FP16 on V100 and T4), an on-demand price per GPU-hour with its
-- source, a user's hourly price (kept across re-seeding, like user_price_usd), and the memory
-- CUDA reports (cudaMemGetInfo total), which is less than nvidia-smi's; NULL where no
-- measurement is known. Seeded rows get their values when the seeds are reloaded.

ALTER TABLE gpu_types ADD COLUMN bf16_tflops REAL NOT NULL DEFAULT 0 CHECK (bf16_tflops >= 0);
ALTER TABLE gpu_types ADD COLUMN fp8_tflops REAL NOT NULL DEFAULT 0 CHECK (fp8_tflops >= 0);
ALTER TABLE gpu_types ADD COLUMN fp4_tflops REAL NOT NULL DEFAULT 0 CHECK (fp4_tflops >= 0);
ALTER TABLE gpu_types ADD COLUMN tflops_source TEXT NOT NULL DEFAULT '';
ALTER TABLE gpu_types ADD COLUMN hourly_usd REAL NOT NULL DEFAULT 0 CHECK (hourly_usd >= 0);
ALTER TABLE gpu_types ADD COLUMN hourly_source TEXT NOT NULL DEFAULT '';
ALTER TABLE gpu_types ADD COLUMN user_hourly_usd REAL CHECK (user_hourly_usd IS NULL OR user_hourly_usd >= 0);
ALTER TABLE gpu_types ADD COLUMN cuda_memory_bytes INTEGER CHECK (cuda_memory_bytes IS NULL OR cuda_memory_bytes > 0);
ALTER TABLE gpu_types ADD COLUMN cuda_memory_source TEXT NOT NULL DEFAULT '';
