/*-------------------------------------------------------------------------
 *
 * order_stat.h
 *	  Distribution-free confidence interval for a quantile from order
 *	  statistics of a finite sample.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BT_ORDER_STAT_H
#define BT_ORDER_STAT_H

extern void bt_check_confidence(double conf);
extern void bt_quantile_rank_ci(uint64 n, double p, double conf,
								int64 *lower, int64 *upper);

#endif							/* BT_ORDER_STAT_H */
