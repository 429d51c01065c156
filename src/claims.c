/*-------------------------------------------------------------------------
 *
 * claims.c
 *	  The drawings of a statement's deferred pairs, claimed for their
 *	  tenants at the end of the statement, in drawing order.
 *
 * A deferred pair is stored pending for work(), but its drawing is claimed
 * for its tenant at once, as processing it inline would.  Claiming a new
 * drawing inserts its drawing_state row, whose key stays locked until the
 * transaction ends.  Claimed row by row, in the order of the rows, two
 * statements naming the same new drawings in other orders would deadlock.
 * So the AFTER ROW trigger notes each drawing that is not already known to
 * be its tenant's, and the AFTER STATEMENT trigger claims them together,
 * one call per tenant, which inserts them in drawing order: the order in
 * which the inline store locks drawings too.
 *
 * The notes live in a context of the transaction, keyed by the statement
 * (bt_statement_key, the same in the statement's row and statement
 * triggers); notes of a statement that failed before its statement trigger
 * ran are forgotten at the (sub)transaction's abort.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/regproc.h"

#include "claims.h"
#include "handover.h"

typedef struct Claim
{
	text	   *drawing;
	text	   *tenant;
} Claim;

typedef struct NotedClaims
{
	const Trigger *statement;
	MemoryContext cxt;			/* holds this and the claims */
	Claim	   *claims;
	int			nclaims;
	int			capacity;
} NotedClaims;

static NotedClaims *noted = NULL;

static void
forget_claims(void)
{
	if (noted != NULL)
		MemoryContextDelete(noted->cxt);
	noted = NULL;
}

/* At a transaction's end its context is gone; at an abort, its notes. */
static void
claims_xact_end(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		noted = NULL;
}

static void
claims_subxact_end(SubXactEvent event, SubTransactionId mySubid,
				   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		forget_claims();
}

void
bt_claims_init(void)
{
	RegisterXactCallback(claims_xact_end, NULL);
	RegisterSubXactCallback(claims_subxact_end, NULL);
}

void
bt_claims_note(TriggerData *td, Datum drawing, Datum tenant)
{
	const Trigger *statement = bt_statement_key(td);
	MemoryContext old;
	Claim	   *c;

	if (noted != NULL && noted->statement != statement)
		forget_claims();		/* a statement that failed in between */
	if (noted == NULL)
	{
		MemoryContext cxt = AllocSetContextCreate(TopTransactionContext,
												  "buildtrace drawing claims",
												  ALLOCSET_SMALL_SIZES);

		noted = MemoryContextAllocZero(cxt, sizeof(NotedClaims));
		noted->cxt = cxt;
		noted->statement = statement;
		noted->capacity = 16;
		noted->claims = MemoryContextAlloc(cxt, noted->capacity * sizeof(Claim));
	}
	if (noted->nclaims == noted->capacity)
	{
		noted->capacity *= 2;
		noted->claims = repalloc_huge(noted->claims, noted->capacity * sizeof(Claim));
	}
	old = MemoryContextSwitchTo(noted->cxt);
	c = &noted->claims[noted->nclaims++];
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
bt_claims_settle(TriggerData *td, const char *claim_fn)
{
	NotedClaims *mine = noted;
	int			start = 0;
	Oid			fn;

	if (mine == NULL)
		return;
	if (mine->statement != bt_statement_key(td))
	{
		forget_claims();
		return;
	}
	/* taken before anything can fail: an error leaves no notes behind */
	noted = NULL;
	fn = DatumGetObjectId(DirectFunctionCall1(regprocedurein, CStringGetDatum(claim_fn)));
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
		OidFunctionCall2(fn, PointerGetDatum(array),
						 PointerGetDatum(mine->claims[start].tenant));
		pfree(drawings);
		pfree(array);
		start = end;
	}
	MemoryContextDelete(mine->cxt);
}
