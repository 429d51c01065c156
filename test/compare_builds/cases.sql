-- Seeded generator of the input pairs that test/compare_builds/run.sh diffs
-- with two builds: about 5,500 pairs of 0 to 2,000 objects, revisions of
-- every kind (moves in runs of one vector, tiny moves at the tolerance,
-- whole-drawing shifts, renamed ids, attributes, types, rotations),
-- hostile numbers (scales 0-20, exponents, -0, 9e131071) and ids (numeric,
-- multibyte, sharing 8-byte prefixes), both input forms and the wrapper,
-- reordered versions, and invalid pairs.  Same seed (psql variable
-- "seed"), same pairs.  Each case: its category, a, b, the tolerances and
-- match_geometry to pass (NULL: the setting), whether to draw it too.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS cmp CASCADE;
CREATE SCHEMA cmp;
CREATE TABLE cmp.cases(id int PRIMARY KEY, cat text, a jsonb, b jsonb,
                       mt float8, st float8, mg boolean, svg boolean);

CREATE FUNCTION cmp.ri(n int) RETURNS int LANGUAGE sql AS $$ SELECT floor(random()*n)::int $$;
CREATE FUNCTION cmp.pick(arr text[]) RETURNS text LANGUAGE sql
AS $$ SELECT arr[1 + floor(random()*array_length(arr,1))::int] $$;

-- a number literal (text) of a style
CREATE FUNCTION cmp.num(style int, nonneg boolean) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text;
BEGIN
  CASE style
  WHEN 0 THEN s := cmp.ri(100)::text;
  WHEN 1 THEN s := round((random()*100)::numeric, 1 + cmp.ri(3))::text;
  WHEN 2 THEN s := round((random()*20)::numeric, cmp.ri(21))::text;
  WHEN 3 THEN s := (1 + cmp.ri(99999))::text || cmp.pick('{e,E}') || (10 + cmp.ri(11))::text;
  WHEN 4 THEN s := cmp.pick('{0,-0,-0.000,0.0,0e5,-0e-400,0.00000000000000000000,-0.0e3}');
  WHEN 5 THEN s := (1 + cmp.ri(99))::text || '.' || cmp.ri(10)::text || cmp.pick('{e1,E-1,e+2,e-3,e0,E2,e-20,e15}');
  WHEN 6 THEN s := cmp.pick('{9e131071,1e-16383,9.99e13107,1e-100,123456789012345678901234567890.5,1e20,1.5e19}');
  WHEN 7 THEN s := cmp.pick('{999999999999.999,9999999999999.999,0.000000000000001,123456789012.3456,99999999999.9999,1000000000000000,999999999999999,0.0000000000000001,12345678.1234567,99999999.99999999,100000000000.0001,0.123456789012345,1.000000000000000}');
  ELSE s := (cmp.ri(2000) - 1000)::text || '.' || lpad(cmp.ri(1000)::text, 3, '0');
  END CASE;
  IF NOT nonneg AND random() < 0.3 AND left(s, 1) <> '-' THEN s := '-' || s; END IF;
  IF nonneg AND left(s, 1) = '-' AND s !~ '^-0(\.0*)?(e[-+]?\d+)?$' THEN s := substr(s, 2); END IF;
  RETURN s;
END $$;

-- style chooser: mostly ordinary, some exotic per the case's numeric profile
CREATE FUNCTION cmp.nstyle(profile int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  IF profile = 0 THEN RETURN cmp.pick('{0,0,1,1,8}')::int;
  ELSIF profile = 1 THEN RETURN cmp.pick('{1,2,2,2,7}')::int;
  ELSIF profile = 2 THEN RETURN cmp.pick('{3,3,5,7,1,0,4}')::int;
  ELSIF profile = 3 THEN RETURN cmp.pick('{0,1,2,3,4,5,6,7,8}')::int;
  ELSE RETURN cmp.pick('{4,4,0,1,5}')::int;
  END IF;
END $$;

-- an id as JSON text
CREATE FUNCTION cmp.idj(style int, n int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  CASE style
  WHEN 0 THEN RETURN to_json('W' || n)::text;
  WHEN 1 THEN RETURN n::text;                                  -- numeric id
  WHEN 2 THEN RETURN CASE WHEN n % 2 = 0 THEN n::text ELSE to_json(n::text)::text END;
  WHEN 3 THEN RETURN to_json('LONGPREF' || CASE WHEN n % 3 = 0 THEN '' ELSE 'IX-' END || n)::text;  -- shared 8-byte prefix
  WHEN 4 THEN RETURN to_json('Ü€' || n || '😀')::text;
  WHEN 5 THEN RETURN to_json(lpad(n::text, 6, '0'))::text;
  WHEN 6 THEN RETURN to_json('ABCDEFGH' || chr(65 + n % 26) || n)::text;
  WHEN 7 THEN RETURN CASE WHEN n % 3 = 0 THEN (n::text || '.50') WHEN n % 3 = 1 THEN to_json(n::text || '.5')::text ELSE (n::text || 'e0') END;
  ELSE RETURN to_json(chr(65 + n % 26) || n)::text;
  END CASE;
END $$;

CREATE FUNCTION cmp.types(k int) RETURNS text[] LANGUAGE sql AS $$
  SELECT (ARRAY['wall','door','window','column','stairs','gallery','class','box','storey',
                'Türrahmen-mit-sehr-langem-Namen-über-vierzig-Bytes-ÄÖÜ',
                'a-very-long-type-name-that-exceeds-forty-bytes-by-a-margin',
                'ÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄ€',        -- multibyte at the 40-byte edge
                'ventilation_duct','slab','railing','Beam','beam','x','😀😀😀😀😀😀😀😀😀😀😀',
                'room','opening','furniture','sink','pipe','lamp','bus','glass'])[1:k]
$$;

-- attributes object text (without leading/trailing brace), may be empty
CREATE FUNCTION cmp.attrs(n int, richness int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE parts text[] := '{}';
BEGIN
  IF richness = 0 THEN RETURN ''; END IF;
  IF random() < 0.5 THEN parts := parts || ('"layer":' || to_json(cmp.pick('{A,B,C,A-Walls,"Ebene 1"}'))::text); END IF;
  IF random() < 0.3 THEN parts := parts || ('"name":' || to_json(cmp.pick('{Room,Küche,Bad,Flur,Raum-mit-einem-sehr-langen-Namen-über-vierzig-Zeichen}') || ' ' || n)::text); END IF;
  IF random() < 0.15 THEN parts := parts || ('"label":' || to_json('L' || n)::text); END IF;
  IF random() < 0.3 THEN parts := parts || ('"rotation":' || cmp.pick('{0,90,180,270,350,10,0.3,45.5,-90,359.9,720}')); END IF;
  IF richness > 1 THEN
    IF random() < 0.3 THEN parts := parts || ('"fire_rating":' || cmp.num(cmp.pick('{0,1,5,4}')::int, false)); END IF;
    IF random() < 0.2 THEN parts := parts || ('"meta":{"a":' || cmp.ri(5) || ',"b":[1,2,{"c":"d"}],"e":null,"f":' || cmp.pick('{true,false}') || '}'); END IF;
    IF random() < 0.15 THEN parts := parts || '"note":null'::text; END IF;
    IF random() < 0.15 THEN parts := parts || ('"flag":' || cmp.pick('{true,false}')); END IF;
    IF random() < 0.1 THEN parts := parts || ('"tags":["x",' || cmp.ri(9) || ']'); END IF;
    IF random() < 0.1 THEN parts := parts || ('"zz_very_long_attribute_key_ÄÖÜ_' || cmp.ri(3) || '":' || to_json(repeat('ab', cmp.ri(30)))::text); END IF;
  END IF;
  RETURN array_to_string(parts, ',');
END $$;

-- a new object (jsonb) with id n
CREATE FUNCTION cmp.obj(idstyle int, n int, ntypes int, profile int, richness int) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE t text[] := cmp.types(ntypes); at text; s text;
BEGIN
  at := cmp.attrs(n, richness);
  s := '{"id":' || cmp.idj(idstyle, n)
     || CASE WHEN random() < 0.04 THEN '' ELSE ',"type":' || to_json(t[1 + cmp.ri(ntypes)])::text END
     || ',"x":' || cmp.num(cmp.nstyle(profile), false)
     || ',"y":' || cmp.num(cmp.nstyle(profile), false)
     || ',"width":' || cmp.num(cmp.nstyle(profile), true)
     || ',"height":' || cmp.num(cmp.nstyle(profile), true)
     || CASE WHEN at = '' THEN '' ELSE ',' || at END || '}';
  RETURN s::jsonb;
END $$;

CREATE FUNCTION cmp.addnum(j jsonb, d text) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN to_jsonb((j #>> '{}')::numeric + d::numeric);
EXCEPTION WHEN numeric_value_out_of_range THEN RETURN j;   -- 9e131071 + 9e131071
END $$;
CREATE FUNCTION cmp.mulnum(j jsonb, d text) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN to_jsonb((j #>> '{}')::numeric * d::numeric);
EXCEPTION WHEN numeric_value_out_of_range THEN RETURN j;
END $$;

-- vector literal pairs
CREATE FUNCTION cmp.vec(kind int) RETURNS text[] LANGUAGE plpgsql AS $$
BEGIN
  CASE kind
  WHEN 0 THEN RETURN ARRAY[cmp.pick('{0.5,1,2,-3,10,0.25,1.10,-0.50,7.125}'), cmp.pick('{0,0.5,-1,2,0.0,3.333}')];
  WHEN 1 THEN RETURN ARRAY[cmp.pick('{0.1,0.05,0.1000000001,0.0999999999,0.10,-0.1,0.07071067811865475,0,0.000000000000001}'),
                           cmp.pick('{0,0.0,0.07071067811865475,-0.1,0.01,0.1}')];  -- at/below tolerance
  WHEN 2 THEN RETURN ARRAY[cmp.num(cmp.pick('{1,2,3,5,7,8}')::int, false), cmp.num(cmp.pick('{1,2,3,5,7,8}')::int, false)];
  WHEN 3 THEN RETURN ARRAY[cmp.pick('{1,-1,0,1,-1,0,1,-1}'), cmp.pick('{0,1,-1,1,1,-1,-1,0}')];  -- compass points
  ELSE RETURN ARRAY[cmp.pick('{0.41421356,2.41421356,1,-2.41421356,0.4142135623730950}'), '1'];  -- near sector edges
  END CASE;
END $$;

-- generate one case
CREATE FUNCTION cmp.gen(cid int, cat text, size int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  idstyle int := cmp.pick('{0,0,0,1,2,3,4,5,6,8,3,1}')::int;
  ntypes int := 1 + cmp.ri(CASE WHEN random() < 0.3 THEN 25 ELSE 5 END);
  profile int := CASE WHEN cat = 'numeric' THEN 1 + cmp.ri(4) WHEN random() < 0.7 THEN 0 ELSE cmp.ri(5) END;
  richness int := cmp.ri(3);
  a jsonb[] := '{}'; b jsonb[] := '{}'; o jsonb; x jsonb;
  p_move float8; p_resize float8; p_retype float8; p_attr float8; p_rot float8;
  p_rm float8; p_add float8; p_ren float8; nvec int; runlen int; veckind int;
  vx text[] := '{}'; vy text[] := '{}'; v text[]; shift text[]; shift_share float8 := 0;
  i int; j int; k int; nextid int; reorder text; aorder text; form text;
  res_a jsonb; res_b jsonb; mt float8; st float8; mg boolean; t text[];
  adds jsonb[] := '{}'; hashy boolean;
BEGIN
  IF cat = 'numeric_ids' THEN idstyle := cmp.pick('{1,2,7}')::int; END IF;
  IF cat = 'long_ids' THEN idstyle := cmp.pick('{3,4,6}')::int; END IF;
  IF cat = 'types' THEN ntypes := 10 + cmp.ri(16); richness := 1 + cmp.ri(2); END IF;
  t := cmp.types(ntypes);
  -- version a
  FOR i IN 1..size LOOP
    a := a || cmp.obj(idstyle, i, ntypes, profile, richness);
  END LOOP;
  nextid := size + 1;
  -- probabilities
  p_move := random() * 0.5; p_resize := random() * 0.2; p_retype := random() * 0.1;
  p_attr := random() * 0.3; p_rot := random() * 0.1; p_rm := random() * 0.15;
  p_add := random() * 0.15; p_ren := random() * 0.1;
  IF cat = 'identical' THEN p_move := 0; p_resize := 0; p_retype := 0; p_attr := 0; p_rot := 0; p_rm := 0; p_add := 0; p_ren := 0; END IF;
  IF cat = 'moves' THEN p_move := 0.3 + random() * 0.7; p_resize := 0; p_retype := random()*0.05; p_attr := 0; p_rm := 0; p_add := 0; p_ren := 0; END IF;
  IF cat = 'reid' THEN p_ren := 0.2 + random() * 0.7; p_move := random() * 0.3; p_rm := random()*0.1; p_add := random()*0.1; END IF;
  IF cat = 'shift' THEN shift_share := 0.45 + random() * 0.55; p_move := random() * 0.2; p_ren := random() * 0.2; END IF;
  IF cat = 'tiny' THEN p_move := 0.3 + random() * 0.7; END IF;
  IF cat = 'attrs' THEN p_attr := 0.3 + random() * 0.7; p_rot := random() * 0.4; p_move := random()*0.1; END IF;
  IF cat = 'types' THEN p_retype := 0.2 + random() * 0.5; p_move := random() * 0.5; END IF;
  nvec := 1 + cmp.ri(CASE WHEN random() < 0.5 THEN 2 ELSE 8 END);
  runlen := 1 + cmp.ri(CASE WHEN random() < 0.5 THEN 3 ELSE 40 END);
  veckind := CASE WHEN cat = 'tiny' THEN 1 WHEN cat = 'numeric' THEN cmp.pick('{0,2,2,1}')::int ELSE cmp.ri(5) END;
  FOR i IN 1..nvec LOOP
    v := cmp.vec(CASE WHEN random() < 0.8 THEN veckind ELSE cmp.ri(5) END);
    vx := vx || v[1]; vy := vy || v[2];
  END LOOP;
  shift := cmp.vec(CASE WHEN random() < 0.5 THEN 0 ELSE cmp.ri(5) END);
  -- version b
  FOR i IN 1..size LOOP
    o := a[i];
    IF random() < p_rm THEN CONTINUE; END IF;
    IF random() < shift_share THEN
      o := o || jsonb_build_object('x', cmp.addnum(o->'x', shift[1]), 'y', cmp.addnum(o->'y', shift[2]));
      IF random() < 0.3 THEN  -- shift plus a tiny wobble
        v := cmp.vec(1);
        o := o || jsonb_build_object('x', cmp.addnum(o->'x', v[1]), 'y', cmp.addnum(o->'y', v[2]));
      END IF;
    ELSIF random() < p_move THEN
      v := ARRAY[vx[1 + ((i / runlen) % nvec)], vy[1 + ((i / runlen) % nvec)]];
      o := o || jsonb_build_object('x', cmp.addnum(o->'x', v[1]), 'y', cmp.addnum(o->'y', v[2]));
    END IF;
    IF random() < p_resize THEN
      o := o || jsonb_build_object('width', cmp.addnum(o->'width', cmp.pick('{0.01,0.5,1,0.005,0.010,0.0100000001,2.50}')));
      IF random() < 0.5 THEN o := o || jsonb_build_object('height', cmp.mulnum(o->'height', cmp.pick('{2,1.5,1.00,1}'))); END IF;
    END IF;
    IF random() < p_retype THEN
      IF random() < 0.1 THEN o := o - 'type';
      ELSE o := o || jsonb_build_object('type', t[1 + cmp.ri(ntypes)]); END IF;
    END IF;
    IF random() < p_attr THEN
      k := cmp.ri(9);
      CASE k
      WHEN 0 THEN o := o || '{"layer":"Z"}';
      WHEN 1 THEN o := o - 'layer';
      WHEN 2 THEN o := o || jsonb_build_object('name', 'Renamed ' || i);
      WHEN 3 THEN o := o || '{"note":null}';
      WHEN 4 THEN o := o || '{"meta":{"b":[1,2,{"c":"d"}],"a":1.0,"e":null,"f":true}}';
      WHEN 5 THEN o := o || jsonb_build_object('fire_rating', cmp.num(cmp.pick('{0,1,4,5}')::int, false)::numeric);
      WHEN 6 THEN o := o || '{"flag":false,"extra":[1,{"x":[]}]}';
      WHEN 7 THEN o := o - 'name' - 'label' - 'note';
      ELSE o := o || jsonb_build_object('label', 'New label ' || cmp.ri(3));
      END CASE;
    END IF;
    IF random() < p_rot THEN
      o := o || jsonb_build_object('rotation', cmp.pick('{0,10,350,90.4,90.6,0.5,0.50000001,180,-180,540,1e2,0.0}')::numeric);
    END IF;
    IF random() < p_ren THEN
      o := o || jsonb_build_object('id', ('"R' || nextid || '"')::jsonb);
      nextid := nextid + 1;
      IF random() < 0.3 THEN  -- move a little too: nearest / geometry
        v := cmp.vec(cmp.pick('{1,0,3}')::int);
        o := o || jsonb_build_object('x', cmp.addnum(o->'x', v[1]), 'y', cmp.addnum(o->'y', v[2]));
      END IF;
    END IF;
    b := b || o;
    IF random() < p_add THEN
      IF random() < 0.3 AND size > 0 THEN  -- a copy of some object of a under a new id (ambiguous / content)
        x := a[1 + cmp.ri(size)] || jsonb_build_object('id', ('"N' || nextid || '"')::jsonb);
      ELSE
        x := cmp.obj(idstyle, nextid + 100000, ntypes, profile, richness);
      END IF;
      nextid := nextid + 1;
      IF random() < 0.5 THEN b := b || x; ELSE adds := adds || x; END IF;
    END IF;
  END LOOP;
  b := b || adds;
  -- orders
  reorder := cmp.pick('{none,none,none,shuffle,reverse,swap,middle,sortid,dupshift}');
  IF cat = 'order' THEN reorder := cmp.pick('{shuffle,reverse,swap,middle,sortid,dupshift,rotate}'); END IF;
  IF reorder = 'shuffle' THEN
    SELECT coalesce(array_agg(e ORDER BY random()), '{}') INTO b FROM unnest(b) e;
  ELSIF reorder = 'reverse' THEN
    SELECT coalesce(array_agg(e ORDER BY n DESC), '{}') INTO b FROM unnest(b) WITH ORDINALITY u(e, n);
  ELSIF reorder = 'swap' THEN
    FOR i IN 1..coalesce(array_length(b, 1), 0) - 1 LOOP
      IF random() < 0.3 THEN x := b[i]; b[i] := b[i+1]; b[i+1] := x; END IF;
    END LOOP;
  ELSIF reorder = 'middle' THEN
    FOR i IN 1..1 + cmp.ri(5) LOOP
      j := 1 + cmp.ri(coalesce(array_length(b, 1), 0) + 1);
      b := b[1:j-1] || cmp.obj(idstyle, nextid + 200000, ntypes, profile, richness) || b[j:];
      nextid := nextid + 1;
    END LOOP;
  ELSIF reorder = 'sortid' THEN
    SELECT coalesce(array_agg(e ORDER BY (e->'id')::text COLLATE "C"), '{}') INTO b FROM unnest(b) e;
  ELSIF reorder = 'rotate' THEN
    j := 1 + cmp.ri(coalesce(array_length(b, 1), 0) + 1);
    b := b[j:] || b[1:j-1];
  ELSIF reorder = 'dupshift' THEN   -- delete one early object so later identical objects sit one place off
    IF coalesce(array_length(b, 1), 0) > 0 THEN
      j := 1 + cmp.ri(array_length(b, 1));
      b := b[1:j-1] || b[j+1:];
    END IF;
  END IF;
  aorder := cmp.pick('{gen,gen,sortid,shuffle}');
  IF aorder = 'sortid' THEN
    SELECT coalesce(array_agg(e ORDER BY (e->'id')::text COLLATE "C"), '{}') INTO a FROM unnest(a) e;
  ELSIF aorder = 'shuffle' THEN
    SELECT coalesce(array_agg(e ORDER BY random()), '{}') INTO a FROM unnest(a) e;
  END IF;
  -- forms
  form := CASE WHEN cat = 'map' THEN cmp.pick('{map,map,maphash,mixed}') ELSE cmp.pick('{array,array,array,array,wrapper,map}') END;
  IF form IN ('array', 'mixed') THEN
    res_a := coalesce(to_jsonb(a), '[]');
    IF form = 'mixed' THEN res_b := (SELECT coalesce(jsonb_object_agg(e->>'id', e - 'id'), '{}') FROM unnest(b) e);
    ELSE res_b := coalesce(to_jsonb(b), '[]'); END IF;
  ELSIF form = 'wrapper' THEN
    res_a := jsonb_build_object('objects', coalesce(to_jsonb(a), '[]'), 'drawing', 'GF');
    res_b := CASE WHEN random() < 0.5 THEN jsonb_build_object('objects', coalesce(to_jsonb(b), '[]')) ELSE coalesce(to_jsonb(b), '[]') END;
  ELSE
    hashy := form = 'maphash';
    res_a := (SELECT coalesce(jsonb_object_agg(e->>'id',
               CASE WHEN hashy AND (e->>'id') ~ '[02468]' THEN to_jsonb(md5(e::text)) WHEN random() < 0.2 THEN e ELSE e - 'id' END), '{}') FROM unnest(a) e);
    res_b := (SELECT coalesce(jsonb_object_agg(e->>'id',
               CASE WHEN hashy AND (e->>'id') ~ '[02468]' THEN to_jsonb(md5(e::text)) WHEN random() < 0.2 THEN e ELSE e - 'id' END), '{}') FROM unnest(b) e);
  END IF;
  mt := (ARRAY[NULL, NULL, NULL, 0, 0.1, 0.05, 1e-9, 1, 0.5]::float8[])[1 + cmp.ri(9)];
  st := (ARRAY[NULL, NULL, NULL, 0, 0.01, 0.5]::float8[])[1 + cmp.ri(6)];
  mg := (ARRAY[NULL, NULL, true, false]::boolean[])[1 + cmp.ri(4)];
  INSERT INTO cmp.cases VALUES (cid, cat || ':' || form || ':' || reorder || ':ids' || idstyle || ':p' || profile,
                                res_a, res_b, mt, st, mg, random() < 0.12 AND size <= 300);
END $$;

-- an invalid pair: a valid pair, then one or two defects
CREATE FUNCTION cmp.gen_invalid(cid int, size int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  a jsonb; b jsonb; kind text; tgt text; n int; o jsonb; j int; c text; key text;
BEGIN
  PERFORM cmp.gen(cid, 'inv', size);
  SELECT cases.a, cases.b INTO a, b FROM cmp.cases WHERE id = cid;
  DELETE FROM cmp.cases WHERE id = cid;
  IF jsonb_typeof(a) = 'object' AND a ? 'objects' THEN a := a->'objects'; END IF;
  IF jsonb_typeof(b) = 'object' AND b ? 'objects' THEN b := b->'objects'; END IF;
  kind := cmp.pick('{dup,dup,dupsame,missing,negative,typenum,emptyid,nanx,nully,notobj,numstrdup,boolid,copyinvalid,copyinvalid,copyinvalid,scalar,two}');
  tgt := cmp.pick('{a,b,b,both}');
  c := kind;
  FOR pass IN 1..CASE WHEN kind = 'two' THEN 2 ELSE 1 END LOOP
    IF kind = 'two' THEN c := cmp.pick('{dup,missing,negative,typenum,emptyid,nanx,nully,notobj,dupsame}'); END IF;
    FOR side IN 1..2 LOOP
      IF (side = 1 AND tgt = 'b') OR (side = 2 AND tgt = 'a') THEN CONTINUE; END IF;
      o := CASE WHEN side = 1 THEN a ELSE b END;
      IF jsonb_typeof(o) = 'array' AND jsonb_array_length(o) > 0 THEN
        n := jsonb_array_length(o); j := cmp.ri(n);
        CASE c
        WHEN 'dup' THEN o := jsonb_insert(o, ARRAY[cmp.ri(n)::text], o->j || '{"layer":"dupe"}');
        WHEN 'dupsame' THEN o := jsonb_insert(o, ARRAY[cmp.ri(n)::text], o->j, random() < 0.5);
        WHEN 'missing' THEN o := jsonb_set(o, ARRAY[j::text], (o->j) - cmp.pick('{id,x,y,width,height}'));
        WHEN 'negative' THEN o := jsonb_set(o, ARRAY[j::text, cmp.pick('{width,height}')], cmp.pick('{-0.5,-1e-20,-1e20,-0.000000000000000000001}')::jsonb);
        WHEN 'typenum' THEN o := jsonb_set(o, ARRAY[j::text, 'type'], '5');
        WHEN 'emptyid' THEN o := jsonb_set(o, ARRAY[j::text, 'id'], '""');
        WHEN 'nanx' THEN o := jsonb_set(o, ARRAY[j::text, 'x'], cmp.pick('{"\"NaN\"",true,"{}","[1]","\"1\""}')::jsonb);
        WHEN 'nully' THEN o := jsonb_set(o, ARRAY[j::text, cmp.pick('{y,id,type,height}')], 'null');
        WHEN 'notobj' THEN o := jsonb_insert(o, ARRAY[j::text], cmp.pick('{5,"\"s\"",null,"[1]",true}')::jsonb);
        WHEN 'numstrdup' THEN o := o || jsonb_build_array((o->j) || '{"id": 7}', (o->j) || '{"id": "7"}');
        WHEN 'boolid' THEN o := jsonb_set(o, ARRAY[j::text, 'id'], cmp.pick('{true,"{}","[1]"}')::jsonb);
        WHEN 'copyinvalid' THEN NULL;  -- handled below
        WHEN 'scalar' THEN o := cmp.pick('{5,"\"x\"",null,true}')::jsonb;
        ELSE NULL;
        END CASE;
      ELSIF jsonb_typeof(o) = 'object' THEN
        CASE c
        WHEN 'missing', 'nully', 'negative', 'nanx' THEN
          IF (SELECT count(*) FROM jsonb_object_keys(o)) > 0 THEN
            SELECT k INTO key FROM jsonb_object_keys(o) k ORDER BY random() LIMIT 1;
            IF jsonb_typeof(o->key) = 'object' THEN
              o := jsonb_set(o, ARRAY[key, cmp.pick('{x,width,height}')], cmp.pick('{-1,null,"\"NaN\""}')::jsonb);
            ELSE
              o := jsonb_set(o, ARRAY[key], cmp.pick('{5,null,true,"[1]"}')::jsonb);
            END IF;
          END IF;
        WHEN 'emptyid' THEN o := o || '{"": {"x":1,"y":1,"width":1,"height":1}}';
        ELSE o := o || '{"Q": {"id": "P", "x":1,"y":1,"width":1,"height":1}}';
        END CASE;
      ELSE
        o := o || '[{"id":"", "x":1,"y":1,"width":1,"height":1}, {"id":"A","x":-0,"y":0,"width":-2,"height":1}]'::jsonb;
      END IF;
      IF side = 1 THEN a := o; ELSE b := o; END IF;
    END LOOP;
  END LOOP;
  IF kind = 'copyinvalid' AND jsonb_typeof(a) = 'array' AND jsonb_array_length(a) > 0 THEN
    -- an invalid object in a, and b contains the byte-identical object at the same place
    j := cmp.ri(jsonb_array_length(a));
    o := CASE cmp.ri(5) WHEN 0 THEN (a->j) || '{"width": -1}' WHEN 1 THEN (a->j) - 'x'
         WHEN 2 THEN (a->j) || '{"type": 3}' WHEN 3 THEN (a->j) || '{"y": "NaN"}' ELSE (a->j) || '{"id": ""}' END;
    a := jsonb_set(a, ARRAY[j::text], o);
    IF jsonb_typeof(b) = 'array' THEN
      b := a;
      IF random() < 0.5 AND jsonb_array_length(b) > 1 THEN b := b - (cmp.ri(jsonb_array_length(b))); END IF;
      IF random() < 0.5 THEN b := b || (a->cmp.ri(jsonb_array_length(a))); END IF;  -- and a duplicate
    END IF;
  END IF;
  INSERT INTO cmp.cases VALUES (cid, 'invalid:' || kind || ':' || tgt || ':' || coalesce(jsonb_typeof(a), 'null') || '/' || coalesce(jsonb_typeof(b), 'null'),
                                a, b, NULL, NULL, NULL, random() < 0.1);
END $$;

-- the campaign
SELECT setseed(:seed) \g /dev/null
DO $$
DECLARE
  cid int := 0; r record; sz int;
BEGIN
  FOR r IN SELECT * FROM (VALUES ('mixed', 900), ('moves', 350), ('tiny', 250), ('shift', 300), ('reid', 300),
                                 ('attrs', 200), ('types', 200), ('numeric', 500), ('numeric_ids', 150),
                                 ('long_ids', 150), ('map', 350), ('order', 350), ('identical', 120)) v(cat, n) LOOP
    FOR i IN 1..r.n LOOP
      cid := cid + 1;
      sz := CASE WHEN random() < 0.05 THEN cmp.ri(2)
                 WHEN random() < 0.75 THEN 1 + cmp.ri(25)
                 WHEN random() < 0.9 THEN 25 + cmp.ri(250)
                 ELSE 300 + cmp.ri(CASE WHEN random() < 0.3 THEN 1701 ELSE 500 END) END;
      PERFORM cmp.gen(cid, r.cat, sz);
    END LOOP;
  END LOOP;
  FOR i IN 1..400 LOOP
    cid := cid + 1;
    PERFORM cmp.gen_invalid(cid, 1 + cmp.ri(CASE WHEN random() < 0.8 THEN 15 ELSE 200 END));
  END LOOP;
  -- a few large drawings of 2000 objects
  FOR i IN 1..8 LOOP
    cid := cid + 1;
    PERFORM cmp.gen(cid, (ARRAY['mixed','shift','moves','reid','order','map','identical','tiny'])[i], 2000);
  END LOOP;
END $$;
