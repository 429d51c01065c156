-- Everything buildtrace's install defines, one line per property, in a fixed
-- order: the members of the extension with their definitions, columns,
-- constraints, indexes, triggers, privileges, settings and comments. Two
-- databases with equal output have equal buildtrace schemas.
\pset tuples_only on
\pset format unaligned
WITH members AS (
    SELECT d.classid, d.objid, d.objsubid
    FROM pg_depend d
    JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
    WHERE e.extname = 'buildtrace' AND d.deptype = 'e'
),
described AS (
    -- every member object
    SELECT pg_describe_object(m.classid, m.objid, m.objsubid) AS line FROM members m
    UNION ALL
    -- functions: definition, security, volatility, parallel safety, settings, ACL
    SELECT format('%s: %s secdef=%s vol=%s par=%s strict=%s config=%s acl=%s',
                  p.oid::regprocedure, pg_get_functiondef(p.oid), p.prosecdef, p.provolatile,
                  p.proparallel, p.proisstrict, p.proconfig, p.proacl)
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    WHERE p.prokind <> 'a'
    UNION ALL
    SELECT format('aggregate %s: %s %s %s %s %s %s %s', a.aggfnoid::regprocedure, a.aggtransfn,
                  a.aggfinalfn, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn, a.aggtranstype::regtype,
                  p.proparallel)
    FROM members m JOIN pg_aggregate a ON m.classid = 'pg_proc'::regclass AND a.aggfnoid = m.objid
    JOIN pg_proc p ON p.oid = a.aggfnoid
    UNION ALL
    -- relations: kind, options, ACL, comment; views: definition
    SELECT format('%s: kind=%s options=%s acl=%s comment=%s view=%s', c.oid::regclass, c.relkind,
                  c.reloptions, c.relacl, obj_description(c.oid, 'pg_class'),
                  CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END)
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    UNION ALL
    -- columns of tables and views, in order
    -- by position among the live columns: an update that drops a column
    -- leaves a gap in attnum
    SELECT format('%s.%s #%s: %s notnull=%s default=%s identity=%s generated=%s compression=%s acl=%s',
                  c.oid::regclass, a.attname,
                  rank() OVER (PARTITION BY c.oid ORDER BY a.attnum), format_type(a.atttypid, a.atttypmod),
                  a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
                  a.attcompression, a.attacl)
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    UNION ALL
    SELECT format('%s constraint %s: %s', c.oid::regclass, k.conname, pg_get_constraintdef(k.oid))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_constraint k ON k.conrelid = c.oid
    UNION ALL
    SELECT format('%s index: %s', c.oid::regclass, pg_get_indexdef(i.indexrelid))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_index i ON i.indrelid = c.oid
    UNION ALL
    SELECT format('%s trigger: %s enabled=%s', c.oid::regclass, pg_get_triggerdef(t.oid), t.tgenabled)
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
    UNION ALL
    -- row-level security: whether it is on, and each policy
    SELECT format('%s row security: enabled=%s forced=%s', c.oid::regclass, c.relrowsecurity,
                  c.relforcerowsecurity)
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    WHERE c.relkind = 'r'
    UNION ALL
    SELECT format('%s policy %s: cmd=%s permissive=%s roles=%s using=%s check=%s', c.oid::regclass,
                  p.polname, p.polcmd, p.polpermissive, p.polroles::regrole[],
                  pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_policy p ON p.polrelid = c.oid
    UNION ALL
    SELECT format('type %s: %s %s %s', t.oid::regtype, t.typtype, t.typinput, t.typoutput)
    FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
    UNION ALL
    SELECT format('comment on %s: %s', pg_describe_object(m.classid, m.objid, 0), ds.description)
    FROM members m JOIN pg_description ds ON ds.classoid = m.classid AND ds.objoid = m.objid
    UNION ALL
    SELECT format('schema buildtrace: acl=%s', n.nspacl) FROM pg_namespace n WHERE n.nspname = 'buildtrace'
    UNION ALL
    -- the privileges pg_dump takes for the extension's own (it dumps the rest)
    SELECT format('initial privileges of %s: %s %s', pg_describe_object(i.classoid, i.objoid, i.objsubid),
                  i.privtype, i.initprivs)
    FROM pg_init_privs i
    WHERE (i.classoid, i.objoid) IN (SELECT m.classid, m.objid FROM members m)
       OR (i.classoid, i.objoid) = ('pg_namespace'::regclass, 'buildtrace'::regnamespace)
    UNION ALL
    -- what pg_dump dumps of the extension's tables
    SELECT format('dumped by pg_dump: %s %s', u.rel::regclass, u.cond)
    FROM pg_extension e, unnest(e.extconfig, e.extcondition) u(rel, cond)
    WHERE e.extname = 'buildtrace'
)
SELECT line FROM described ORDER BY line COLLATE "C";
