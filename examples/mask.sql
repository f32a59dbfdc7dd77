-- Masking for the main-masked template: runs in a fresh branch of main after every refresh,
-- before anyone can connect to it or branch from it. Deterministic per row, so joins still work.
UPDATE customers
SET email     = 'customer' || id || '@masked.invalid',
    full_name = 'Customer ' || id,
    phone     = NULL;
-- Free-text columns can hide PII too.
UPDATE orders SET delivery_note = NULL WHERE delivery_note IS NOT NULL;
