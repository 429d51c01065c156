/*-------------------------------------------------------------------------
 *
 * claims.c
 *	  The drawings of a statement's deferred pairs, claimed for their
 *	  tenants at the end of the statement, in drawing order.
 *
 * A deferred pair is stored pending for work(), but its drawing is claimed
 * for its tenant by the end of its statement, as processing it inline
 * would.  Claiming a new
 * drawing inserts its drawing_state row, whose key stays locked until the
 * transaction ends.  Claimed row by row, in the order of the rows, two
 * statements naming the same new drawings in other orders would deadlock.
 * So the AFTER ROW trigger notes each drawing that is not already known to
 * be its tenant's, and the AFTER STATEMENT trigger claims them together,
 * one call per tenant, which inserts them in drawing order: the order in
 * which the inline store locks drawings too.
 *
 * The notes of each statement live in a context of the transaction, keyed
 * by the statement (bt_statement_key, the same in its row and statement
 * triggers).  Statements nest (the versions trigger inserts pairs in a
 * statement of its own, a data-modifying WITH clause runs inside another
 * statement), so several statements can have notes at once; the notes of a
 * subtransaction that aborts go with it, and every note with its
 * transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "claims.h"
#include "handover.h"

typedef struct Claim
{
	text	   *drawing;
	text	   *tenant;
} Claim;

/* The notes of one statement, newest statement first. */
typedef struct NotedClaims
{
	const Trigger *statement;
	SubTransactionId subxid;	/* where the first note was made */
	MemoryContext cxt;			/* holds this and the claims */
	Claim	   *claims;
	int			nclaims;
	int			capacity;
	struct NotedClaims *older;
} NotedClaims;

static NotedClaims *newest = NULL;

/* At a transaction's end its context is gone, and the notes with it. */
static void
claims_xact_end(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		newest = NULL;
}

/* The notes made in an aborted subtransaction, or in one inside it, go. */
static void
claims_subxact_end(SubXactEvent event, SubTransactionId mySubid,
				   SubTransactionId parentSubid, void *arg)
{
	NotedClaims **link = &newest;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	while (*link != NULL)
	{
		NotedClaims *n = *link;

		if (n->subxid >= mySubid)
		{
			*link = n->older;
			MemoryContextDelete(n->cxt);
		}
		else
			link = &n->older;
	}
}

void
bt_claims_init(void)
{
	RegisterXactCallback(claims_xact_end, NULL);
	RegisterSubXactCallback(claims_subxact_end, NULL);
}

/* The notes of statement, created if asked to; NULL if there are none. */
static NotedClaims *
notes_of(const Trigger *statement, bool create)
{
	NotedClaims *n;
	MemoryContext cxt;

	for (n = newest; n != NULL; n = n->older)
	{
		if (n->statement == statement)
			return n;
	}
	if (!create)
		return NULL;
	cxt = AllocSetContextCreate(TopTransactionContext, "buildtrace drawing claims",
								ALLOCSET_SMALL_SIZES);
	n = MemoryContextAllocZero(cxt, sizeof(NotedClaims));
	n->cxt = cxt;
	n->statement = statement;
	n->subxid = GetCurrentSubTransactionId();
	n->capacity = 16;
	n->claims = MemoryContextAlloc(cxt, n->capacity * sizeof(Claim));
	n->older = newest;
	newest = n;
	return n;
}

void
bt_claims_note(TriggerData *td, Datum drawing, Datum tenant)
{
	NotedClaims *n = notes_of(bt_statement_key(td), true);
	MemoryContext old;
	Claim	   *c;

	if (n->nclaims == n->capacity)
	{
		n->capacity *= 2;
		n->claims = repalloc_huge(n->claims, n->capacity * sizeof(Claim));
	}
	old = MemoryContextSwitchTo(n->cxt);
	c = &n->claims[n->nclaims++];
	c->drawing = (text *) pg_detoast_datum_copy((struct varlena *) DatumGetPointer(drawing));
	c->tenant = (text *) pg_detoast_datum_copy((struct varlena *) DatumGetPointer(tenant));
	MemoryContextSwitchTo(old);
}

/* Claims grouped by tenant (byte order; one statement has mostly one). */
static int
cmp_claim_tenants(const void *a, const void *b)
{
	const text *ta = ((const Claim *) a)->tenant;
	const text *tb = ((const Claim *) b)->tenant;
	int			la = VARSIZE_ANY_EXHDR(ta),
				lb = VARSIZE_ANY_EXHDR(tb);
	int			r = memcmp(VARDATA_ANY(ta), VARDATA_ANY(tb), Min(la, lb));

	return r != 0 ? r : (la > lb) - (la < lb);
}

void
bt_claims_settle(TriggerData *td, Oid (*claim_fn) (void))
{
	NotedClaims *mine = notes_of(bt_statement_key(td), false);
	NotedClaims **link = &newest;
	int			start = 0;
	Oid			fn;

	if (mine == NULL)
		return;
	/* taken out before anything can fail: an error leaves no notes behind */
	while (*link != mine)
		link = &(*link)->older;
	*link = mine->older;
	fn = claim_fn();
	qsort(mine->claims, mine->nclaims, sizeof(Claim), cmp_claim_tenants);
	while (start < mine->nclaims)
	{
		int			end = start + 1;
		Datum	   *drawings;
		ArrayType  *array;

		CHECK_FOR_INTERRUPTS();
		while (end < mine->nclaims &&
			   cmp_claim_tenants(&mine->claims[start], &mine->claims[end]) == 0)
			end++;
		drawings = palloc((end - start) * sizeof(Datum));
		for (int i = start; i < end; i++)
			drawings[i - start] = PointerGetDatum(mine->claims[i].drawing);
		array = construct_array(drawings, end - start, TEXTOID, -1, false, TYPALIGN_INT);
		OidFunctionCall2(fn, PointerGetDatum(array), PointerGetDatum(mine->claims[start].tenant));
		pfree(drawings);
		pfree(array);
		start = end;
	}
	MemoryContextDelete(mine->cxt);
}
