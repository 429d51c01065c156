/*-------------------------------------------------------------------------
 *
 * store_direct.h
 *	  Storing a one-pair statement's result without the executor (see
 *	  store_direct.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_STORE_DIRECT_H
#define BUILDTRACE_STORE_DIRECT_H

/*
 * Called while the handover's one result is being stored, with the
 * TriggerData of the pairs statement trigger and the SQL store function
 * (_pairs_store_one) it stands in for: stores the result and returns true
 * if it is the common case, returns false having written nothing if not.
 */
extern bool bt_store_one_directly(void *pairs_trigger, Oid store_fn);

#endif							/* BUILDTRACE_STORE_DIRECT_H */
