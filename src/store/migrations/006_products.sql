-- 006: product models (issue 4): a product's services, their properties and commands, in the shape of the
-- platform's ServiceCapabilityDTO (spec §5.5). Loaded from data/products/*.json at start or created through
-- the admin API.
CREATE TABLE products (
  product_id  TEXT PRIMARY KEY,
  definition  TEXT NOT NULL,
  source      TEXT NOT NULL,   -- 'file' or 'admin'
  created_at  INTEGER NOT NULL,
  modified_at INTEGER NOT NULL
) STRICT;
