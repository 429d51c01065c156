/*-------------------------------------------------------------------------
 *
 * jsonbwrite.c
 *	  Writing a jsonb value's bytes directly, in final key order.
 *
 * The layout is PostgreSQL's (utils/jsonb.h): a container is a header word,
 * one JEntry per child (an object's keys first, then its values), then the
 * children's data.  A JEntry holds its child's length, or on every
 * JB_OFFSET_STRIDE'th child the end offset of that child within the
 * container's data.  Numerics and nested containers start on a 4-byte
 * boundary of the whole value; the padding counts as part of the child.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "jsonbuild.h"
#include "jsonbwrite.h"
#include "stored_numeric.h"

/*
 * The writers of values and objects that a diff calls a dozen times for
 * each changed object are marked always inline: under link-time
 * optimisation (the Makefile's default) the diff's list writers then take
 * them in, where a call and its checks cost as much as the few bytes they
 * copy.  Without it they are ordinary calls.
 */

/* Bytes written between two interrupt checks. */
#define BT_JW_CHECK_EVERY (1024 * 1024)

int
bt_jsonb_key_cmp(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

static void
too_large(Size len)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("result exceeds the maximum jsonb size of %u bytes",
					(unsigned) JENTRY_OFFLENMASK),
			 errdetail("The result needs at least %zu bytes.", len)));
}

/*
 * Room for n more bytes, and an interrupt check every so often: the rare
 * part of reserve.  The capacity never exceeds jsonb's limit, so a result
 * that fits its buffer fits jsonb.
 */
static pg_noinline void
reserve_slow(BtJsonbWriter *w, Size n)
{
	Size		need = w->len + n;

	if (need - VARHDRSZ > JENTRY_OFFLENMASK)
		too_large(need - VARHDRSZ);
	if (need > w->cap)
	{
		Size		cap = Min(Max(w->cap * 2, need),
							  (Size) JENTRY_OFFLENMASK + VARHDRSZ);

		w->buf = repalloc_huge(w->buf, cap);
		w->cap = cap;
	}
	if (w->len - w->checked > BT_JW_CHECK_EVERY)
	{
		CHECK_FOR_INTERRUPTS();
		w->checked = w->len;
	}
}

/* Room for n more bytes; the usual call, with room, is two comparisons. */
static inline void
reserve(BtJsonbWriter *w, Size n)
{
	if (unlikely(w->len + n > w->cap ||
				 w->len - w->checked > BT_JW_CHECK_EVERY))
		reserve_slow(w, n);
}

/*
 * Most values are short (a number, an id, a type name), and a call to libc
 * for their few bytes costs more than the copy: up to 16 bytes are copied
 * as two fixed-size pieces that overlap, which the compiler inlines.
 */
static inline void
copy_bytes(char *dst, const char *src, Size n)
{
	if (n >= 8 && n <= 16)
	{
		memcpy(dst, src, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	}
	else if (n >= 4 && n < 8)
	{
		memcpy(dst, src, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	}
	else if (n > 0 && n < 4)
	{
		dst[0] = src[0];
		dst[n / 2] = src[n / 2];
		dst[n - 1] = src[n - 1];
	}
	else if (n > 16)
		memcpy(dst, src, n);
}

static inline void
append(BtJsonbWriter *w, const void *data, Size n)
{
	reserve(w, n);
	copy_bytes(w->buf + w->len, data, n);
	w->len += n;
}

/*
 * Zeros up to the next multiple of four bytes: four are stored at once in
 * the room reserved, as past the length nothing written counts.
 */
static inline void
pad_to_int(BtJsonbWriter *w)
{
	static const uint32 zero = 0;

	reserve(w, sizeof(uint32));
	memcpy(w->buf + w->len, &zero, sizeof(uint32));
	w->len = INTALIGN(w->len);
}

/* A child written where its container cannot take it: a caller's bug. */
static pg_noinline void
misplaced_child(BtJsonbWriter *w)
{
	if (w->depth == 0)
		elog(ERROR, "jsonb writer: a value outside any container");
	elog(ERROR, "jsonb writer: more children than the %d declared",
		 w->stack[w->depth - 1].nentries);
}

/*
 * Record the child that began at start (before its padding) in its parent.
 * Its end is within the buffer, whose capacity keeps every offset within
 * jsonb's limit (see reserve_slow).
 */
static inline void
child_done(BtJsonbWriter *w, uint32 type, Size start)
{
	BtJwFrame  *f;
	uint32		entry;

	if (unlikely(w->depth == 0 ||
				 w->stack[w->depth - 1].next >= w->stack[w->depth - 1].nentries))
		misplaced_child(w);
	f = &w->stack[w->depth - 1];
	Assert(w->len - f->data <= JENTRY_OFFLENMASK);
	if (f->next % JB_OFFSET_STRIDE == 0)
		entry = type | (uint32) (w->len - f->data) | JENTRY_HAS_OFF;
	else
		entry = type | (uint32) (w->len - start);
	memcpy(w->buf + f->jentries + sizeof(JEntry) * f->next, &entry,
		   sizeof(JEntry));
	f->next++;
}

void
bt_jw_init(BtJsonbWriter *w, Size at_least, Size estimate)
{
	/* fail before writing anything when the result cannot fit */
	if (at_least > JENTRY_OFFLENMASK)
		too_large(at_least);
	w->cap = VARHDRSZ + Min(Max(estimate, 64), (Size) JENTRY_OFFLENMASK);
	w->buf = MemoryContextAllocHuge(CurrentMemoryContext, w->cap);
	w->len = VARHDRSZ;
	w->checked = 0;
	w->depth = 0;
	w->rounded = NULL;
}

Jsonb *
bt_jw_finish(BtJsonbWriter *w)
{
	if (w->depth != 0 || w->len == VARHDRSZ)
		elog(ERROR, "jsonb writer: the value is not complete");
	SET_VARSIZE(w->buf, w->len);
	return (Jsonb *) w->buf;
}

/* Checks before a container begins at the current length. */
static void
check_new_container(BtJsonbWriter *w, int count)
{
	if (w->depth >= BT_JW_MAX_DEPTH)
		elog(ERROR, "jsonb writer: containers nested too deeply");
	if (w->depth == 0 && w->len != VARHDRSZ)
		elog(ERROR, "jsonb writer: a second root value");
	if (count < 0 || count > JB_CMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("number of jsonb elements exceeds the maximum allowed (%d)",
						JB_CMASK)));
}

/*
 * The container whose header the writer has just passed: nentries JEntries
 * follow, then its data (of which skip bytes, an object's keys, are
 * already written, as are its first filled JEntries).
 */
static void
push_frame(BtJsonbWriter *w, Size base, int nentries, int filled, Size skip)
{
	BtJwFrame  *f = &w->stack[w->depth++];

	f->base = base;
	f->jentries = w->len;
	w->len += sizeof(JEntry) * (Size) nentries + skip;
	f->data = w->len - skip;
	f->nentries = nentries;
	f->next = filled;
}

static void
begin_container(BtJsonbWriter *w, uint32 flags, int count, int nentries)
{
	Size		start = w->len;
	uint32		header = (uint32) count | flags;

	check_new_container(w, count);
	pad_to_int(w);
	append(w, &header, sizeof(header));
	reserve(w, sizeof(JEntry) * (Size) nentries);
	push_frame(w, start, nentries, 0, 0);
}

void
bt_jw_begin_array(BtJsonbWriter *w, int nelems)
{
	begin_container(w, JB_FARRAY, nelems, nelems);
}

/* The bytes of the keys together; they must be in jsonb order. */
static Size
keys_length(const BtJwKey *keys, int nkeys)
{
	Size		keybytes = 0;

	for (int i = 0; i < nkeys; i++)
	{
		if (i > 0 && bt_jsonb_key_cmp(keys[i - 1].s, keys[i - 1].len,
									  keys[i].s, keys[i].len) >= 0)
			elog(ERROR, "jsonb writer: key \"%.*s\" out of order",
				 keys[i].len, keys[i].s);
		keybytes += keys[i].len;
	}
	return keybytes;
}

/* The bytes of an object's beginning (see object_start). */
static inline Size
object_start_length(int nkeys, Size keybytes)
{
	return sizeof(uint32) + sizeof(JEntry) * 2 * (Size) nkeys + keybytes;
}

/*
 * An object's beginning at dst: its header, the keys' JEntries (the first
 * an offset, as child_done would make it), room for the values' JEntries,
 * and the keys' bytes.
 */
static void
object_start(char *dst, const BtJwKey *keys, int nkeys)
{
	uint32		header = (uint32) nkeys | JB_FOBJECT;
	char	   *jentries = dst + sizeof(header);
	char	   *keydata = jentries + sizeof(JEntry) * 2 * (Size) nkeys;
	uint32		end = 0;

	memcpy(dst, &header, sizeof(header));
	for (int i = 0; i < nkeys; i++)
	{
		uint32		entry;

		memcpy(keydata + end, keys[i].s, keys[i].len);
		end += keys[i].len;
		if (i % JB_OFFSET_STRIDE == 0)
			entry = JENTRY_ISSTRING | end | JENTRY_HAS_OFF;
		else
			entry = JENTRY_ISSTRING | (uint32) keys[i].len;
		memcpy(jentries + sizeof(JEntry) * i, &entry, sizeof(JEntry));
	}
}

/* An object's header and JEntries, and its keys' bytes, as they come. */
void
bt_jw_begin_object(BtJsonbWriter *w, const BtJwKey *keys, int nkeys)
{
	Size		start = w->len;
	Size		keybytes = keys_length(keys, nkeys);

	check_new_container(w, nkeys);
	pad_to_int(w);
	reserve(w, object_start_length(nkeys, keybytes));
	object_start(w->buf + w->len, keys, nkeys);
	w->len += sizeof(uint32);
	push_frame(w, start, 2 * nkeys, nkeys, keybytes);
}

/*
 * An object of a constant shape: its beginning is built once per backend
 * and then copied whole, which the many objects of a diff's lists repeat.
 */
pg_attribute_always_inline void
bt_jw_begin_shape(BtJsonbWriter *w, BtJwShape *shape)
{
	Size		start = w->len;
	int			nkeys = shape->nkeys;
	Size		len;

	if (shape->image == NULL)
	{
		Size		keybytes = keys_length(shape->keys, nkeys);
		char	   *image = MemoryContextAllocZero(TopMemoryContext,
												   object_start_length(nkeys, keybytes));

		object_start(image, shape->keys, nkeys);
		shape->keybytes = keybytes;
		shape->image = image;
	}
	len = object_start_length(nkeys, shape->keybytes);
	check_new_container(w, nkeys);
	pad_to_int(w);
	reserve(w, len);
	memcpy(w->buf + w->len, shape->image, len);
	w->len += sizeof(uint32);
	push_frame(w, start, 2 * nkeys, nkeys, shape->keybytes);
}

pg_attribute_always_inline void
bt_jw_end(BtJsonbWriter *w)
{
	BtJwFrame  *f;

	if (w->depth == 0)
		elog(ERROR, "jsonb writer: no container to end");
	f = &w->stack[w->depth - 1];
	if (f->next != f->nentries)
		elog(ERROR, "jsonb writer: %d of %d children written",
			 f->next, f->nentries);
	w->depth--;
	if (w->depth > 0)
		child_done(w, JENTRY_ISCONTAINER, f->base);
}

pg_attribute_always_inline void
bt_jw_string(BtJsonbWriter *w, const char *s, int len)
{
	Size		start = w->len;

	append(w, s, len);
	child_done(w, JENTRY_ISSTRING, start);
}

pg_attribute_always_inline void
bt_jw_cstring(BtJsonbWriter *w, const char *s)
{
	if (s == NULL)
		bt_jw_null(w);
	else
		bt_jw_string(w, s, strlen(s));
}

pg_attribute_always_inline void
bt_jw_null(BtJsonbWriter *w)
{
	child_done(w, JENTRY_ISNULL, w->len);
}

pg_attribute_always_inline void
bt_jw_numeric(BtJsonbWriter *w, Numeric n)
{
	Size		start = w->len;

	pad_to_int(w);
	append(w, n, VARSIZE_ANY(n));
	child_done(w, JENTRY_ISNUMERIC, start);
}

void
bt_jw_int(BtJsonbWriter *w, int64 v)
{
	bt_jw_numeric(w, bt_numeric_from_int64(v));
}

/*
 * Objects moved together share their distance: the last rounded number is
 * kept for the next value that is the same.
 */
void
bt_jw_rounded(BtJsonbWriter *w, double v)
{
	if (w->rounded == NULL || v != w->rounded_from)
	{
		if (w->rounded)
			pfree(w->rounded);
		w->rounded = bt_round_numeric(v);
		w->rounded_from = v;
	}
	bt_jw_numeric(w, w->rounded);
}

void
bt_jw_container(BtJsonbWriter *w, JsonbContainer *c, int len)
{
	Size		start = w->len;

	pad_to_int(w);
	append(w, c, len);
	child_done(w, JENTRY_ISCONTAINER, start);
}

void
bt_jw_value(BtJsonbWriter *w, const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			bt_jw_null(w);
			break;
		case jbvString:
			bt_jw_string(w, v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			bt_jw_numeric(w, v->val.numeric);
			break;
		case jbvBool:
			child_done(w, v->val.boolean ? JENTRY_ISBOOL_TRUE : JENTRY_ISBOOL_FALSE,
					   w->len);
			break;
		case jbvBinary:
			bt_jw_container(w, v->val.binary.data, v->val.binary.len);
			break;
		default:
			elog(ERROR, "jsonb writer: unexpected value type %d", (int) v->type);
	}
}
