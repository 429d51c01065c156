-- copy_binary_field(tab, field): loads one row into table tab, of one
-- column, through COPY … FORMAT binary, its one field the bytes given: as
-- a client's binary COPY sends them, so that a type's binary input can be
-- fed any bytes. The file goes to the data directory; superuser only
-- (lo_export, COPY from a file). Made in schema :copy_schema.
CREATE FUNCTION :copy_schema.copy_binary_field(tab regclass, field bytea) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    path text := current_setting('data_directory') || '/binary_field.copy';
    lo oid := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea  -- signature
                               || '\x0000000000000000'::bytea     -- flags, header extension
                               || '\x0001'::bytea                 -- one field
                               || int4send(length(field)) || field
                               || '\xffff'::bytea);               -- end of data
BEGIN
    PERFORM lo_export(lo, path);
    PERFORM lo_unlink(lo);
    EXECUTE format('COPY %s FROM %L WITH (FORMAT binary)', tab, path);
END
$$;
