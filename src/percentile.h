/*-------------------------------------------------------------------------
 *
 * percentile.h
 *	  Aggregate state shared by bt_percentile, bt_sketch and bt_sketch_merge,
 *	  and the bt_sketch datum of a sketch.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BT_PERCENTILE_H
#define BT_PERCENTILE_H

#include "sketch.h"

/* What the final function returns. */
#define BT_Q_NONE	0			/* the sketch itself */
#define BT_Q_SCALAR 1			/* one quantile */
#define BT_Q_ARRAY	2			/* an array of quantiles */

typedef struct BtAggState
{
	BtSketch	sk;
	int			qkind;
	bool		qnull;			/* the quantile array itself was null */
	int			nq;
	double	   *qs;				/* nq quantiles, from the first row */
	bool	   *qnulls;
	bool		qvaries;		/* the quantile argument is no constant: each
								 * row's is checked against the first's */
} BtAggState;

/* A bt_sketch datum (detoasted) decoded into *sk in CurrentMemoryContext. */
extern void bt_sketch_from_datum(BtSketch *sk, Datum d);

/* The bt_sketch datum of a sketch, in CurrentMemoryContext. */
extern bytea *bt_sketch_to_varlena(const BtSketch *sk);

#endif							/* BT_PERCENTILE_H */
