/*-------------------------------------------------------------------------
 *
 * typeintern.c
 *	  Equal type texts of a diff's changed objects as one pointer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"

#include "typeintern.h"

static void
grow(BtTypeIntern *t)
{
	int			nslots = t->nslots ? t->nslots * 2 : 16;
	BtInternedType *slots = palloc0(sizeof(BtInternedType) * nslots);

	for (int i = 0; i < t->nslots; i++)
	{
		BtInternedType *e = &t->slots[i];
		int			j = e->hash & (nslots - 1);

		if (e->name == NULL)
			continue;
		while (slots[j].name != NULL)
			j = (j + 1) & (nslots - 1);
		slots[j] = *e;
	}
	if (t->slots)
		pfree(t->slots);
	t->slots = slots;
	t->nslots = nslots;
}

/*
 * A text's hash.  Most type names are short: up to eight bytes are read as
 * two four-byte words that may overlap (or three single bytes), a few
 * fixed-size loads instead of hash_bytes' loop or a call to copy them.
 * The loads cover every byte, so texts of one length that differ load
 * differently.
 */
static inline uint32
text_hash(const char *s, int len)
{
	uint32		lo,
				hi;

	if (len > 8)
		return hash_bytes((const unsigned char *) s, len);
	if (len >= 4)
	{
		memcpy(&lo, s, sizeof(lo));
		memcpy(&hi, s + len - 4, sizeof(hi));
	}
	else
	{
		lo = len > 0 ? (uint8) s[0] | (uint8) s[len / 2] << 8 : 0;
		hi = len > 0 ? (uint8) s[len - 1] : 0;
	}
	return hash_combine(murmurhash32(lo ^ (uint32) len), murmurhash32(hi));
}

const char *
bt_type_intern(BtTypeIntern *t, const char *s, int len)
{
	uint32		hash;
	int			j;

	/* objects changed together are often of one type */
	if (t->last && t->lastlen == len && memcmp(t->last, s, len) == 0)
		return t->last;
	/* at most half full: a probe ends at an empty slot */
	if (2 * (t->nused + 1) > t->nslots)
		grow(t);
	hash = text_hash(s, len);
	for (j = hash & (t->nslots - 1); t->slots[j].name != NULL;
		 j = (j + 1) & (t->nslots - 1))
	{
		BtInternedType *e = &t->slots[j];

		if (e->hash == hash && e->len == len && memcmp(e->name, s, len) == 0)
			break;
	}
	if (t->slots[j].name == NULL)
	{
		t->slots[j].name = s;
		t->slots[j].len = len;
		t->slots[j].hash = hash;
		t->nused++;
	}
	t->last = t->slots[j].name;
	t->lastlen = len;
	return t->last;
}
