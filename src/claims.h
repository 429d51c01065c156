/*-------------------------------------------------------------------------
 *
 * claims.h
 *	  The drawings of a statement's deferred pairs, claimed at its end (see
 *	  claims.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_CLAIMS_H
#define BUILDTRACE_CLAIMS_H

#include "commands/trigger.h"

extern void bt_claims_init(void);

/* AFTER ROW: td's statement must claim drawing for tenant. */
extern void bt_claims_note(TriggerData *td, Datum drawing, Datum tenant);

/*
 * AFTER STATEMENT: claim what td's statement noted, calling the function
 * claim_fn returns, (drawings text[], tenant text), once per tenant; asked
 * for only when there is something to claim.
 */
extern void bt_claims_settle(TriggerData *td, Oid (*claim_fn) (void));

#endif							/* BUILDTRACE_CLAIMS_H */
