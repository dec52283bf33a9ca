/**
 * A table with one column per PostgreSQL type the generator maps (and a few it
 * does not), each NOT NULL and nullable, for the `types generate` tests.
 */
export const ALL_TYPES_SETUP = `
  CREATE EXTENSION IF NOT EXISTS citext;
  CREATE EXTENSION IF NOT EXISTS hstore;
  CREATE EXTENSION IF NOT EXISTS ltree;
  CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
  CREATE DOMAIN public.positive_int AS integer CHECK (VALUE > 0);
  CREATE DOMAIN public.price AS numeric(8,3) NOT NULL;
  CREATE TYPE public.pair AS (a integer, b text);
  CREATE TABLE public.all_types (
    id            integer PRIMARY KEY,
    c_int2        smallint NOT NULL,
    c_int4        integer,
    c_int8        bigint NOT NULL,
    c_int8_null   bigint,
    c_serial      serial,
    c_oid         oid,
    c_float4      real,
    c_float8      double precision NOT NULL,
    c_numeric     numeric(12,2) NOT NULL,
    c_numeric_any numeric,
    c_money       money,
    c_bool        boolean NOT NULL,
    c_bit1        bit(1),
    c_bit8        bit(8),
    c_varbit      bit varying(16),
    c_text        text NOT NULL,
    c_varchar     varchar(20),
    c_char        char(3),
    c_name        name,
    c_citext      citext,
    c_date        date NOT NULL,
    c_time        time,
    c_time3       time(3),
    c_timetz      time with time zone,
    c_ts          timestamp NOT NULL,
    c_ts3         timestamp(3),
    c_tstz        timestamptz NOT NULL,
    c_interval    interval,
    c_json        json,
    c_jsonb       jsonb NOT NULL,
    c_uuid        uuid,
    c_bytea       bytea,
    c_xml         xml,
    c_inet        inet,
    c_cidr        cidr,
    c_macaddr     macaddr,
    c_macaddr8    macaddr8,
    c_int4range   int4range,
    c_tstzrange   tstzrange,
    c_point       point,
    c_mood        public.mood,
    c_mood_nn     public.mood NOT NULL,
    c_domain      public.positive_int,
    c_domain_nn   public.price,
    c_hstore      hstore,
    c_ltree       ltree,
    c_int4_arr    integer[],
    c_text_arr    text[] NOT NULL,
    c_numeric_arr numeric(6,2)[],
    c_date_arr    date[],
    c_uuid_arr    uuid[],
    c_tstz_arr    timestamptz[],
    c_pair        public.pair,
    c_tsvector    tsvector,
    "Mixed Case"  text
  );
  ALTER TABLE public.all_types REPLICA IDENTITY FULL;
  ALTER PUBLICATION cdcv_pub ADD TABLE public.all_types;
  GRANT SELECT ON public.all_types TO cdcv_replicator;
  INSERT INTO public.all_types VALUES (
    1, -32768, 2147483647, 9007199254740993, -42, DEFAULT, 4000000000, 1.5, -2.25, 12345.60, 3.14159265358979323846, 12.34,
    true, B'1', B'10100101', B'101', 'text ✓', 'varchar', 'ab', 'a_name', 'CiText',
    '2026-11-30', '17:11:00.123456', '17:11:00.123', '17:11:00.5+02', '2026-11-30 17:11:00.123456', '2026-11-30 17:11:00.123',
    '2026-11-30 17:11:00.123456+01', '1 year 2 months 3 days 04:05:06.789', '{"a":[1,2,{"b":null}]}', '{"k":"v","n":1.5}',
    '6f1c2b1e-8d7a-4c3b-9e2f-0a1b2c3d4e5f', '\\xdeadbeef', '<a>x</a>', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',
    '08:00:2b:01:02:03:04:05', '[1,10)', '[2026-01-01 00:00:00+00,2026-12-31 00:00:00+00)', '(1.5,-2)', 'happy', 'ok', 7, 1.5,
    'a=>1, b=>NULL', 'top.middle.leaf', '{1,NULL,3}', '{"x",NULL,"z"}', '{1.50,NULL}', '{2026-01-01,NULL}',
    '{6f1c2b1e-8d7a-4c3b-9e2f-0a1b2c3d4e5f}', '{"2026-11-30 17:11:00+00"}', ROW(1, 'one'), 'a fat cat', 'mixed'
  );
  INSERT INTO public.all_types (id, c_int2, c_int8, c_float8, c_numeric, c_bool, c_text, c_date, c_ts, c_tstz, c_jsonb, c_mood_nn, c_domain_nn, c_text_arr)
  VALUES (2, 0, -9007199254740993, 0, -0.01, false, '', '1969-12-31', '1969-12-31 23:59:59.999999', '1969-12-31 23:59:59.999999+00', 'null', 'sad', 0.001, '{}');`;
