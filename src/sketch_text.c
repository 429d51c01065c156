/*-------------------------------------------------------------------------
 *
 * sketch_text.c
 *	  Text form of a bt_sketch, for output, pg_dump and input:
 *
 *		alpha=0.01 level=0 count=7 zero=1 min=0 max=140 pos=69:2,0,3;249:1 neg=
 *
 *	  Fields come in this order; "pos"/"neg" list runs of buckets, each a
 *	  first bucket index and the counts from there on, runs separated by ";"
 *	  ("neg=" is an empty store).  Floats are
 *	  printed in shortest exact form, so text out -> in is lossless.  Input
 *	  is parsed into the binary form and validated by bt_sketch_decode, so
 *	  both paths enforce the same invariants.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>

#include "common/shortest_dec.h"
#include "libpq/pqformat.h"

#include "sketch.h"

static void
bt_text_float(StringInfo out, const char *key, double v)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	double_to_shortest_decimal_buf(v, buf);
	appendStringInfo(out, "%s=%s ", key, buf);
}

/*
 * "first:c,c,c;first:c,..." — runs of buckets; a run of BT_TEXT_GAP or more
 * empty buckets starts a new segment instead of printing zeros.
 */
#define BT_TEXT_GAP 3

static void
bt_text_store(StringInfo out, const char *key, const BtStore *st)
{
	int			lo = 0,
				hi = st->cap - 1;
	int			zeros = 0;

	while (lo <= hi && st->counts[lo] == 0)
		lo++;
	while (hi >= lo && st->counts[hi] == 0)
		hi--;
	appendStringInfo(out, "%s=", key);
	if (lo > hi)
		return;
	appendStringInfo(out, "%d:" UINT64_FORMAT, st->offset + lo, st->counts[lo]);
	for (int k = lo + 1; k <= hi; k++)
	{
		if (st->counts[k] == 0)
		{
			zeros++;
			continue;
		}
		if (zeros >= BT_TEXT_GAP)
			appendStringInfo(out, ";%d:", st->offset + k);
		else
		{
			while (zeros-- > 0)
				appendStringInfoString(out, ",0");
			appendStringInfoChar(out, ',');
		}
		zeros = 0;
		appendStringInfo(out, UINT64_FORMAT, st->counts[k]);
	}
}

char *
bt_sketch_to_text(const BtSketch *sk)
{
	StringInfoData out;

	initStringInfo(&out);
	bt_text_float(&out, "alpha", sk->alpha0);
	appendStringInfo(&out, "level=%d count=" UINT64_FORMAT " zero=" UINT64_FORMAT " ",
					 sk->level, sk->count, sk->zero);
	bt_text_float(&out, "min", sk->count ? sk->min : 0.0);
	bt_text_float(&out, "max", sk->count ? sk->max : 0.0);
	bt_text_store(&out, "pos", &sk->pos);
	appendStringInfoChar(&out, ' ');
	bt_text_store(&out, "neg", &sk->neg);
	return out.data;
}

static void
bt_text_error(const char *str, const char *at, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type bt_sketch: \"%s\"", str),
			 errdetail("Expected %s at character %d.", expected, (int) (at - str) + 1)));
}

/* Expect "key=" at *p (after blanks) and step past it. */
static void
bt_text_key(const char *str, const char **p, const char *key)
{
	size_t		len = strlen(key);

	while (**p == ' ')
		(*p)++;
	if (strncmp(*p, key, len) != 0 || (*p)[len] != '=')
	{
		char	   *what = psprintf("\"%s=\"", key);

		bt_text_error(str, *p, what);
	}
	*p += len + 1;
}

static double
bt_text_parse_float(const char *str, const char **p)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(*p, &end);
	/* A subnormal minimum or maximum is printed as such: ERANGE, and kept. */
	if (end == *p || (errno != 0 && !(errno == ERANGE && v != 0.0 && isfinite(v))))
		bt_text_error(str, *p, "a number");
	*p = end;
	return v;
}

static uint64
bt_text_parse_uint(const char *str, const char **p)
{
	char	   *end;
	unsigned long long v;

	if (**p < '0' || **p > '9')
		bt_text_error(str, *p, "an unsigned integer");
	errno = 0;
	v = strtoull(*p, &end, 10);
	if (errno != 0)
		bt_text_error(str, *p, "an integer in range");
	*p = end;
	return (uint64) v;
}

static int64
bt_text_parse_int(const char *str, const char **p)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(*p, &end, 10);
	if (end == *p || errno != 0 || v < PG_INT32_MIN || v > PG_INT32_MAX)
		bt_text_error(str, *p, "a 32-bit integer");
	*p = end;
	return (int64) v;
}

/* Segments "first:c,c;first:c" or nothing, into the dense binary form. */
static void
bt_text_parse_store(const char *str, const char **p, StringInfo bin, int32 max_buckets)
{
	uint64	   *counts = palloc0(max_buckets * sizeof(uint64));
	int64		first = 0;
	int64		next = 0;		/* bucket after the last one read */
	bool		started = false;

	if (**p == ' ' || **p == '\0')
	{
		pq_sendint32(bin, 0);
		pq_sendint32(bin, 0);
		return;
	}
	for (;;)
	{
		const char *at = *p;
		int64		i = bt_text_parse_int(str, p);

		if (!started)
			first = next = i;
		else if (i < next)
			bt_text_error(str, at, "bucket indexes in ascending order");
		if (**p != ':')
			bt_text_error(str, *p, "\":\"");
		(*p)++;
		for (next = i;; next++)
		{
			if (next - first >= max_buckets)
				bt_text_error(str, *p, psprintf("at most %d buckets from the first to the last",
												max_buckets));
			counts[next - first] = bt_text_parse_uint(str, p);
			if (**p != ',')
				break;
			(*p)++;
		}
		next++;
		started = true;
		if (**p != ';')
			break;
		(*p)++;
	}
	pq_sendint32(bin, (int32) first);
	pq_sendint32(bin, (int32) (next - first));
	bt_sketch_encode_counts(bin, counts, (int32) (next - first));
	pfree(counts);
}

void
bt_sketch_from_text(BtSketch *sk, const char *str, MemoryContext mcxt)
{
	const char *p = str;
	StringInfoData bin;
	double		alpha;
	int64		level;

	bt_text_key(str, &p, "alpha");
	alpha = bt_text_parse_float(str, &p);
	bt_text_key(str, &p, "level");
	level = bt_text_parse_int(str, &p);
	if (level < 0 || level > BT_SKETCH_MAX_LEVEL)
		bt_text_error(str, p, "a level between 0 and 30");

	initStringInfo(&bin);
	pq_sendbyte(&bin, 1);		/* format version */
	pq_sendbyte(&bin, (uint8) level);
	pq_sendfloat8(&bin, alpha);
	bt_text_key(str, &p, "count");
	pq_sendint64(&bin, bt_text_parse_uint(str, &p));
	bt_text_key(str, &p, "zero");
	pq_sendint64(&bin, bt_text_parse_uint(str, &p));
	bt_text_key(str, &p, "min");
	pq_sendfloat8(&bin, bt_text_parse_float(str, &p));
	bt_text_key(str, &p, "max");
	pq_sendfloat8(&bin, bt_text_parse_float(str, &p));
	bt_text_key(str, &p, "pos");
	bt_text_parse_store(str, &p, &bin, bt_sketch_max_buckets(alpha));
	bt_text_key(str, &p, "neg");
	bt_text_parse_store(str, &p, &bin, bt_sketch_max_buckets(alpha));
	while (*p == ' ')
		p++;
	if (*p != '\0')
		bt_text_error(str, p, "end of input");
	bt_sketch_decode(sk, &bin, mcxt, true);
}
