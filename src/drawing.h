/*-------------------------------------------------------------------------
 *
 * drawing.h
 *	  Reading one drawing version (jsonb) into an array of objects, and the
 *	  single checker that both raises errors (bt_diff) and collects every
 *	  problem (bt_validate, bt_try_diff).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_DRAWING_H
#define BUILDTRACE_DRAWING_H

#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "jsonbwrite.h"

/*
 * One object of a drawing version, kept small because there is one per
 * object: the fields below are all a diff needs for the (usual) object that
 * is byte-identical in both versions.  Pointers point into the version's
 * detoasted jsonb, except the id text of a numeric id, which is palloc'd.
 */
typedef struct BtObject
{
	const char *id;				/* id text, not NUL-terminated */
	JsonbContainer *obj;		/* attribute object, or NULL for a hash */
	const char *hash;			/* map form with a string value: the hash */
	int			idlen;
	int			index;			/* element index, or -1 in the map form */
	int			objlen;			/* bytes of obj, for the identical fast path */
	int			hashlen;
	bool		is_hash;
	bool		from_like;		/* taken from bt_drawing_read's like version:
								 * byte-identical to its namesake there */
	bool		unlike_namesake;	/* compared with its namesake in the like
									 * version by the read, and not identical */
} BtObject;

/*
 * The fields of an object that has changed, extracted on demand.  A diff
 * keeps two per changed object and reads them in every later pass, so they
 * are packed: the id is its text, or its Numeric when written as a number.
 */
typedef struct BtFields
{
	const char *id;				/* the id as written; bt_fields_id() */
	int			idlen;			/* bytes of id text, or BT_ID_NUMERIC */
	int			typelen;
	const char *type;			/* "type" text, or NULL if absent */
	Numeric		x;				/* NULL for a hash */
	Numeric		y;
	Numeric		width;
	Numeric		height;
	Numeric		rotation;		/* degrees, NULL when absent */
} BtFields;

#define BT_ID_NUMERIC (-1)

/* f's id as a jsonb value in *v, a string or a number as written. */
static inline JsonbValue *
bt_fields_id(const BtFields *f, JsonbValue *v)
{
	if (f->idlen == BT_ID_NUMERIC)
	{
		v->type = jbvNumeric;
		v->val.numeric = (Numeric) f->id;
	}
	else
	{
		v->type = jbvString;
		v->val.string.val = (char *) f->id;
		v->val.string.len = f->idlen;
	}
	return v;
}

/*
 * A sort key of one object: the first eight id bytes as a big-endian
 * integer (zero-padded; jsonb strings cannot contain NUL, so padding sorts
 * a shorter id first, as memcmp order wants), the object's position in
 * objs and its id length.  Equal prefixes of two ids of at most eight
 * bytes mean equal ids, so most comparisons never touch the id text.
 */
typedef struct BtIdKey
{
	uint64		prefix;
	uint32		obj;			/* index into BtDrawing.objs */
	int32		idlen;
} BtIdKey;

/* A parsed version: its objects, and keys to them in id order. */
typedef struct BtDrawing
{
	BtObject   *objs;			/* in input order */
	BtIdKey    *byid;			/* sorted by id (byte order of the id text) */
	int			nobjs;
	bool		map_form;		/* id → hash/attributes map */
} BtDrawing;

/*
 * Byte order of the ids of two keys (of objects in objs_a and objs_b).
 * Past equal prefixes only ids longer than eight bytes need their text.
 */
static inline int
bt_key_cmp(const BtIdKey *ka, const BtObject *objs_a,
		   const BtIdKey *kb, const BtObject *objs_b)
{
	int			r;

	if (ka->prefix != kb->prefix)
		return ka->prefix < kb->prefix ? -1 : 1;
	if (ka->idlen <= 8 && kb->idlen <= 8)
		return 0;
	/* both ids are at least eight bytes long and share those eight */
	r = memcmp(objs_a[ka->obj].id + 8, objs_b[kb->obj].id + 8,
			   Min(ka->idlen, kb->idlen) - 8);
	if (r != 0)
		return r;
	return (ka->idlen > kb->idlen) - (ka->idlen < kb->idlen);
}

/*
 * x, y, width, height or rotation: the keys of an object's place, size and
 * turn (switch on length: no strlen per key).
 */
static inline bool
bt_is_place_key(const char *s, int len)
{
	switch (len)
	{
		case 1:
			return s[0] == 'x' || s[0] == 'y';
		case 5:
			return memcmp(s, "width", 5) == 0;
		case 6:
			return memcmp(s, "height", 6) == 0;
		case 8:
			return memcmp(s, "rotation", 8) == 0;
	}
	return false;
}

/* Byte order of two objects' ids (of any versions). */
static inline int
bt_object_id_cmp(const BtObject *a, const BtObject *b)
{
	int			r = memcmp(a->id, b->id, Min(a->idlen, b->idlen));

	if (r != 0)
		return r;
	return (a->idlen > b->idlen) - (a->idlen < b->idlen);
}

/* One problem found in a version (see bt_validate). */
typedef struct BtProblem
{
	char		version;		/* 'a', 'b', or 0 when not part of a pair */
	int			index;			/* element index, or -1 for none */
	char	   *id;				/* id text, or NULL */
	const char *key;			/* offending key, or NULL */
	int			sqlerrcode;
	char	   *message;
	char	   *detail;
} BtProblem;

/*
 * Parse and check one version.  With problems == NULL the first problem is
 * raised as an ERROR; otherwise every problem is appended to *problems (a
 * List of BtProblem *) and the function returns false if there were any.
 * version is 'a', 'b' or 0 (named in errdetail when not 0).  like, if not
 * NULL, is a valid earlier version in array form: objects byte-identical to
 * its own are taken from it instead of being read again.
 */
extern bool bt_drawing_read(Jsonb *jb, char version, BtDrawing *out,
							List **problems, const BtDrawing *like);

/* Append the problems as jsonb objects to an array being built. */
extern void bt_problems_push(JsonbParseState **ps, List *problems,
							 bool with_version);

/* Write the object as output (array form: as written). */
extern void bt_object_write(BtJsonbWriter *w, BtObject *o);

/*
 * A walk over an object's keys and values in key order, reading its JEntry
 * array directly (no JsonbIterator and its allocations).
 */
typedef struct BtPairCursor
{
	const JEntry *children;
	const char *base;			/* where the keys' data begins */
	uint32		count;
	uint32		next;
	uint32		keyoff;			/* end of the last key read */
	uint32		valoff;			/* end of the last value read */
} BtPairCursor;

extern void bt_pairs_begin(BtPairCursor *c, JsonbContainer *obj);
extern bool bt_pairs_next(BtPairCursor *c, JsonbValue *key, JsonbValue *value);

/* Extract the fields of an object of a version that passed the checks. */
extern void bt_object_fields(BtObject *o, BtFields *f);

/*
 * The same, handing every key/value pair but the id to fn as well, in key
 * order: one walk over the object for callers that look at every pair.
 */
typedef void (*BtPairFn) (JsonbValue *key, JsonbValue *value, void *arg);
extern void bt_object_fields_each(BtObject *o, BtFields *f, BtPairFn fn,
								  void *arg);

/*
 * A walk over an object's attributes (its keys other than id, type, place,
 * size and rotation) in key order that fills its fields on the way: one
 * pass over the object for a comparison of both.  The fields are complete
 * once bt_attrs_next has returned false.
 */
typedef struct BtAttrCursor
{
	BtPairCursor pairs;
	BtObject   *o;
	BtFields   *f;
} BtAttrCursor;

extern void bt_attrs_begin(BtAttrCursor *c, BtObject *o, BtFields *f);
extern bool bt_attrs_next(BtAttrCursor *c, JsonbValue *key, JsonbValue *value);

/*
 * Fill the fields of a and b when no attribute differs between them and
 * both are laid out alike (the usual moved object); false sends the caller
 * to the attribute walk.
 */
extern bool bt_fields_if_attrs_equal(BtObject *a, BtObject *b, BtFields *fa,
									 BtFields *fb);

/*
 * Text of the data as people read it (summaries, pictures): at most
 * BT_TEXT_MAX_BYTES bytes, cut on a character boundary and marked with an
 * ellipsis, so that a long name cannot swell a summary.
 */
#define BT_TEXT_MAX_BYTES 40
extern char *bt_clip_text(const char *s, int len);

/*
 * The length in bytes of the blank that s starts with, 0 if none: a space,
 * or a character a sentence cannot show as it is, which would break its
 * line or reach a reader's terminal as a command: a control character (tab
 * and line breaks among them, escape, delete) and, in UTF-8, a C1 control
 * (U+0085, the next line, among them) or the line or paragraph separator
 * (U+2028, U+2029).  A sentence shows a run of them as one space.
 */
extern int	bt_blank_len(const char *s, int len);

/*
 * A name or type as a sentence shows it: each run of blanks one space, none
 * at either end, then clipped as bt_clip_text clips; "" when s is all
 * blanks.  A type "door " or a name "Room\n5" would otherwise end up in the
 * summary as "door s" or across two lines.
 */
extern char *bt_display_text(const char *s, int len);

/*
 * An id as a sentence shows it: each blank (bt_blank_len) one space, then
 * clipped as bt_clip_text clips.  Blanks are not merged: an id names one
 * object however it is spelt, and " " is an id.
 */
extern char *bt_display_id(const char *id, int len);

/*
 * An object's id as a problem or an error names it: at most BT_ID_MAX_BYTES,
 * cut and marked the same way, so that a hostile id of megabytes cannot
 * swell the problems stored with a failed pair, its anomaly, what health()
 * and report_html() show of them, or the server log.  The element's index
 * still locates it; real ids (GUIDs, paths) are far shorter.
 */
#define BT_ID_MAX_BYTES 200
extern char *bt_clip_id(const char *id, int len);

/* U+2026 and U+00B0 in UTF-8, as escapes: pgindent mangles other bytes */
#define BT_ELLIPSIS "\342\200\246"
#define BT_DEGREE "\302\260"

/*
 * The type as a sentence shows it: as bt_display_text, underscores read as
 * blanks (curtain_wall: curtain wall); "object" when it is absent or blank.
 */
extern char *bt_type_name(BtFields *f);

/*
 * Whether two present types read alike in full, not only as far as
 * bt_type_name shows them: the same but for their runs of blanks and
 * underscores.
 */
extern bool bt_types_read_alike(const BtFields *a, const BtFields *b);

/*
 * Per-object arrays: a jsonb of 256 MB can hold tens of millions of
 * elements, more than palloc's 1 GB limit allows for their bookkeeping.
 */
#define palloc_huge(size) palloc_extended((size), MCXT_ALLOC_HUGE)

/*
 * A hint to fetch memory that a pass over a large version will read a few
 * steps on: its objects are far larger than the cache.
 */
#ifdef __GNUC__
#define bt_prefetch(p) __builtin_prefetch(p)
#else
#define bt_prefetch(p) ((void) (p))
#endif

/*
 * How many steps ahead of its use a pass fetches an object: far enough for
 * memory to answer, near enough that it is still in cache when used.  A
 * pass that fetches in stages (an entry, then what it points to) takes half
 * this per stage.
 */
#define BT_PREFETCH_AHEAD 8
#define BT_PREFETCH_STAGE (BT_PREFETCH_AHEAD / 2)

/*
 * Fetch the stored bytes of an object that a pass is about to compare or
 * hash in full: every cache line of its first 512 bytes (the usual object
 * is 2 to 4 lines; past that the hardware follows the walk on its own).
 */
#define BT_PREFETCH_LINE 64
#define BT_PREFETCH_OBJECT_MAX 512

static inline void
bt_prefetch_object(const BtObject *o)
{
	const char *p = o->is_hash ? o->hash : (const char *) o->obj;
	int			len = Min(o->is_hash ? o->hashlen : o->objlen, BT_PREFETCH_OBJECT_MAX);

	for (int k = 0; k < len; k += BT_PREFETCH_LINE)
		bt_prefetch(p + k);
}

#endif							/* BUILDTRACE_DRAWING_H */
