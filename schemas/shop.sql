-- Sample commerce database for cdc-views (schema "public").
--
-- Applied by src/sample/database.ts (createSampleDatabase) to a fresh database;
-- the workload generator (src/sample/workload.ts) then mutates it.
--
-- There are deliberately NO foreign-key constraints: the workload deletes
-- customers while their orders remain, renames product skus that old order
-- lines still name, and changes primary keys, and a CDC consumer must cope
-- with references to rows that are missing (or not yet arrived). Without FKs,
-- deletes and key changes can also be issued in any order.
--
-- What the tables exercise for CDC (Debezium PostgreSQL connector):
--   customers    int PK, REPLICA IDENTITY FULL, non-ASCII text, JSONB, uuid,
--                boolean, DATE, nullable columns, TIMESTAMPTZ
--   addresses    composite PK (customer_id, kind), REPLICA IDENTITY DEFAULT
--   products     text PK (sku, renamed by the workload), NUMERIC(12,2), JSONB,
--                REPLICA IDENTITY DEFAULT
--   orders       bigint PK (changed by the workload), REPLICA IDENTITY FULL,
--                TIMESTAMPTZ and TIMESTAMP (without time zone), DATE, NUMERIC
--   order_lines  composite PK (order_id, line_no) (line_no renumbered and
--                order_id moved by the workload), REPLICA IDENTITY DEFAULT
--   cdcv_watermark  one row (id = 1) that tools upsert with a fresh token; once
--                the token is seen in the CDC stream, everything committed
--                before it has been captured.
--   cdcv_signal  Debezium's signal table (signal.data.collection): an INSERT
--                of (id, type, data) is a signal (e.g. execute-snapshot, sent by
--                `cdc-views backfill`), and the connector writes the low/high
--                watermarks of incremental-snapshot chunks into it. It must be
--                in the publication, and the connector's user needs INSERT.
--
-- rev (customers, addresses, products, orders, order_lines): a per-key change
-- counter the workload keeps: inserts start at 0, every UPDATE sets
-- rev = rev + 1, and a key that is deleted (or moved away by a primary-key
-- update) and written again starts above the last rev it had. Per key, rev
-- therefore only grows over the workload's run, so a reader that sees a key's
-- rev go down has seen that row move back to an older version (tests read it
-- from table state and views without trusting cdc-views' own versions).
--
-- With REPLICA IDENTITY DEFAULT, update and delete events carry only the
-- primary-key columns in "before". All values are kept well under 2 kB so that
-- no column is TOASTed (no "__debezium_unavailable_value" placeholders).

CREATE TABLE public.customers (
  id               integer      PRIMARY KEY,
  email            text         NOT NULL,
  name             text         NOT NULL,
  -- NULL means "no tier"; the workload toggles it to NULL and back.
  tier             text         NULL,
  preferences      jsonb        NOT NULL DEFAULT '{}'::jsonb,
  marketing_opt_in boolean      NOT NULL DEFAULT false,
  external_ref     uuid         NOT NULL,
  birth_date       date         NULL,
  created_at       timestamptz  NOT NULL DEFAULT now(),
  updated_at       timestamptz  NOT NULL DEFAULT now(),
  rev              integer      NOT NULL DEFAULT 0
);
ALTER TABLE public.customers REPLICA IDENTITY FULL;

CREATE TABLE public.addresses (
  customer_id  integer      NOT NULL,
  -- 'billing' | 'shipping' | 'office'
  kind         text         NOT NULL,
  line1        text         NOT NULL,
  line2        text         NULL,
  city         text         NOT NULL,
  postal_code  text         NULL,
  -- ISO 3166-1 alpha-2
  country      text         NOT NULL,
  updated_at   timestamptz  NOT NULL DEFAULT now(),
  rev          integer      NOT NULL DEFAULT 0,
  PRIMARY KEY (customer_id, kind)
);
-- (REPLICA IDENTITY DEFAULT: the primary key)

CREATE TABLE public.products (
  sku          text           PRIMARY KEY,
  name         text           NOT NULL,
  description  text           NULL,
  price        numeric(12,2)  NOT NULL,
  active       boolean        NOT NULL DEFAULT true,
  attributes   jsonb          NULL,
  updated_at   timestamptz    NOT NULL DEFAULT now(),
  rev          integer        NOT NULL DEFAULT 0
);
-- (REPLICA IDENTITY DEFAULT: the primary key)

CREATE TABLE public.orders (
  id               bigint         PRIMARY KEY,
  -- references customers.id (may name a deleted customer)
  customer_id      integer        NOT NULL,
  -- 'new' | 'paid' | 'shipped' | 'delivered' | 'cancelled'
  status           text           NOT NULL,
  -- always equals sum(quantity * unit_price - coalesce(discount, 0)) of its lines
  total            numeric(12,2)  NOT NULL,
  currency         text           NOT NULL DEFAULT 'EUR',
  placed_at        timestamptz    NOT NULL,
  -- wall-clock time at the shop that took the order (no time zone)
  placed_local     timestamp      NOT NULL,
  ship_by          date           NULL,
  note             text           NULL,
  updated_at       timestamptz    NOT NULL DEFAULT now(),
  rev              integer        NOT NULL DEFAULT 0
);
ALTER TABLE public.orders REPLICA IDENTITY FULL;

CREATE TABLE public.order_lines (
  order_id    bigint         NOT NULL,
  line_no     integer        NOT NULL,
  -- references products.sku as it was when the line was written
  sku         text           NOT NULL,
  quantity    integer        NOT NULL,
  unit_price  numeric(12,2)  NOT NULL,
  discount    numeric(12,2)  NULL,
  rev         integer        NOT NULL DEFAULT 0,
  PRIMARY KEY (order_id, line_no)
);
-- (REPLICA IDENTITY DEFAULT: the primary key)

CREATE TABLE public.cdcv_watermark (
  id          integer      PRIMARY KEY,
  token       text         NOT NULL,
  written_at  timestamptz  NOT NULL DEFAULT now()
);

CREATE TABLE public.cdcv_signal (
  id    varchar(64)    PRIMARY KEY,
  type  varchar(32)    NOT NULL,
  data  varchar(2048)  NULL
);
