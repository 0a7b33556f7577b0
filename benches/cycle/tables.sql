-- Two tables that reference each other with NOT NULL keys: a cycle no load
-- order satisfies. Keys are added by keys.sql (plain) or keys_deferrable.sql.
CREATE TABLE account (id integer PRIMARY KEY, owner_id integer NOT NULL, name text NOT NULL);
CREATE TABLE person (id integer PRIMARY KEY, account_id integer NOT NULL, name text NOT NULL);
