-- 0001: catalogs (GPU types, server SKUs, models), the fleet (servers and their GPUs),
-- planned workloads (jobs) and where they run (placements).
-- Integrity lives here: every count and size is checked, names are unique, and foreign keys
-- make orphans impossible. Never edit this file once it has shipped; add 0002_... instead.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE gpu_types (
    id                          TEXT PRIMARY KEY NOT NULL CHECK (length(id) > 0),
    name                        TEXT NOT NULL,
    vendor                      TEXT NOT NULL,
    memory_bytes                INTEGER NOT NULL CHECK (memory_bytes > 0),
    memory_source               TEXT NOT NULL DEFAULT '',
    bf16                        INTEGER NOT NULL CHECK (bf16 IN (0, 1)),
    fp8                         INTEGER NOT NULL CHECK (fp8 IN (0, 1)),
    bandwidth_bytes_per_s       INTEGER NOT NULL CHECK (bandwidth_bytes_per_s > 0),
    interconnect                TEXT NOT NULL,
    interconnect_bytes_per_s    INTEGER NOT NULL CHECK (interconnect_bytes_per_s > 0),
    price_usd                   INTEGER NOT NULL CHECK (price_usd >= 0),
    price_source                TEXT NOT NULL DEFAULT '',
    user_price_usd              INTEGER CHECK (user_price_usd IS NULL OR user_price_usd >= 0),
    origin                      TEXT NOT NULL DEFAULT 'seed' CHECK (origin IN ('seed', 'user'))
) STRICT;

CREATE TABLE gpu_aliases (
    alias   TEXT PRIMARY KEY NOT NULL COLLATE NOCASE CHECK (length(alias) > 0),
    gpu_id  TEXT NOT NULL REFERENCES gpu_types(id) ON DELETE CASCADE ON UPDATE CASCADE
) STRICT;

CREATE TABLE server_skus (
    id                      TEXT PRIMARY KEY NOT NULL CHECK (length(id) > 0),
    name                    TEXT NOT NULL,
    gpu_id                  TEXT NOT NULL REFERENCES gpu_types(id) ON DELETE RESTRICT ON UPDATE CASCADE,
    gpus_per_server         INTEGER NOT NULL CHECK (gpus_per_server > 0),
    host_memory_bytes       INTEGER NOT NULL CHECK (host_memory_bytes > 0),
    cpu_cores               INTEGER NOT NULL DEFAULT 0 CHECK (cpu_cores >= 0),
    price_usd               INTEGER NOT NULL CHECK (price_usd >= 0),
    price_source            TEXT NOT NULL DEFAULT '',
    user_price_usd          INTEGER CHECK (user_price_usd IS NULL OR user_price_usd >= 0),
    discount_basis_points   INTEGER CHECK (discount_basis_points IS NULL
                                           OR (discount_basis_points >= 0 AND discount_basis_points < 10000)),
    origin                  TEXT NOT NULL DEFAULT 'seed' CHECK (origin IN ('seed', 'user'))
) STRICT;

CREATE TABLE models (
    id          TEXT PRIMARY KEY NOT NULL CHECK (length(id) > 0),
    config_json TEXT NOT NULL CHECK (json_valid(config_json)),
    source      TEXT NOT NULL DEFAULT '',
    origin      TEXT NOT NULL DEFAULT 'seed' CHECK (origin IN ('seed', 'user'))
) STRICT;

CREATE TABLE model_aliases (
    alias       TEXT PRIMARY KEY NOT NULL COLLATE NOCASE CHECK (length(alias) > 0),
    model_id    TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE ON UPDATE CASCADE
) STRICT;

CREATE TABLE servers (
    id                  INTEGER PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE CHECK (length(name) > 0),
    gpu_type_id         TEXT NOT NULL REFERENCES gpu_types(id) ON DELETE RESTRICT ON UPDATE CASCADE,
    gpu_count           INTEGER NOT NULL CHECK (gpu_count > 0 AND gpu_count <= 1024),
    host_memory_bytes   INTEGER NOT NULL CHECK (host_memory_bytes > 0),
    site                TEXT NOT NULL DEFAULT '',
    rack                TEXT NOT NULL DEFAULT ''
) STRICT;

-- One row per physical GPU.
CREATE TABLE gpus (
    id              INTEGER PRIMARY KEY,
    server_id       INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    idx             INTEGER NOT NULL CHECK (idx >= 0),
    gpu_type_id     TEXT NOT NULL REFERENCES gpu_types(id) ON DELETE RESTRICT ON UPDATE CASCADE,
    memory_bytes    INTEGER NOT NULL CHECK (memory_bytes > 0),
    UNIQUE (server_id, idx)
) STRICT;

-- A planned workload. kind 'llm' is sized by the estimator from a model and workload flags
-- (spec_json); kind 'sized' asks for gpus x gpu_memory_bytes directly.
CREATE TABLE jobs (
    id                  INTEGER PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE CHECK (length(name) > 0),
    kind                TEXT NOT NULL CHECK (kind IN ('llm', 'sized')),
    mode                TEXT CHECK (mode IS NULL OR mode IN ('train', 'infer')),
    model_id            TEXT REFERENCES models(id) ON DELETE RESTRICT ON UPDATE CASCADE,
    model_config_json   TEXT CHECK (model_config_json IS NULL OR json_valid(model_config_json)),
    spec_json           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(spec_json)),
    replicas            INTEGER NOT NULL DEFAULT 1 CHECK (replicas > 0),
    priority            INTEGER NOT NULL DEFAULT 0,
    gpus                INTEGER CHECK (gpus IS NULL OR gpus > 0),
    gpu_memory_bytes    INTEGER CHECK (gpu_memory_bytes IS NULL OR gpu_memory_bytes > 0),
    same_server         INTEGER NOT NULL DEFAULT 0 CHECK (same_server IN (0, 1)),
    CHECK (kind = 'sized' OR (mode IS NOT NULL AND (model_id IS NOT NULL OR model_config_json IS NOT NULL))),
    CHECK (kind = 'llm' OR (gpus IS NOT NULL AND gpu_memory_bytes IS NOT NULL))
) STRICT;

-- Where one unit of a job (the job, or one inference replica) runs.
CREATE TABLE placements (
    id              INTEGER PRIMARY KEY,
    job_id          INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    replica         INTEGER NOT NULL CHECK (replica >= 0),
    strategy        TEXT NOT NULL,
    tp              INTEGER NOT NULL CHECK (tp > 0),
    pp              INTEGER NOT NULL CHECK (pp > 0),
    dp              INTEGER NOT NULL CHECK (dp > 0),
    gpu_type_id     TEXT NOT NULL REFERENCES gpu_types(id) ON DELETE RESTRICT ON UPDATE CASCADE,
    per_gpu_bytes   INTEGER NOT NULL CHECK (per_gpu_bytes > 0),
    UNIQUE (job_id, replica)
) STRICT;

-- The GPUs a placement holds. A GPU belongs to at most one placement (UNIQUE), and a server
-- cannot be deleted while one of its GPUs is held (RESTRICT): unplace first.
CREATE TABLE placement_gpus (
    placement_id    INTEGER NOT NULL REFERENCES placements(id) ON DELETE CASCADE,
    gpu_id          INTEGER NOT NULL UNIQUE REFERENCES gpus(id) ON DELETE RESTRICT,
    PRIMARY KEY (placement_id, gpu_id)
) STRICT;

CREATE INDEX gpus_by_type ON gpus(gpu_type_id);
CREATE INDEX servers_by_type ON servers(gpu_type_id);
CREATE INDEX placements_by_job ON placements(job_id);
CREATE INDEX jobs_by_model ON jobs(model_id);
CREATE INDEX skus_by_gpu ON server_skus(gpu_id);
CREATE INDEX gpu_aliases_by_gpu ON gpu_aliases(gpu_id);
CREATE INDEX model_aliases_by_model ON model_aliases(model_id);
