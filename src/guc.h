/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  buildtrace's configuration parameters (buildtrace.*), defined in one
 *	  place so every module reads the same variables.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_GUC_H
#define BUILDTRACE_GUC_H

/* What the pipeline does with a pair whose versions are invalid. */
typedef enum BtOnInvalid
{
	BT_ON_INVALID_FLAG,			/* keep the row as failed, with an anomaly */
	BT_ON_INVALID_REJECT		/* raise the validation error */
} BtOnInvalid;

/* When an inserted pair is diffed. */
typedef enum BtProcessing
{
	BT_PROCESSING_INLINE,		/* in the inserting statement */
	BT_PROCESSING_DEFERRED		/* later, by buildtrace.work() */
} BtProcessing;

/* The largest move or size tolerance, as a setting or a bt_diff argument. */
#define BT_TOLERANCE_MAX 1e15

extern double bt_move_tolerance;
extern double bt_size_tolerance;
extern int	bt_on_invalid;
extern int	bt_processing;
extern bool bt_store_directly;
extern int	bt_max_attempts;
extern double bt_spike_factor;
extern int	bt_spike_min_changes;
extern int	bt_pending_max_age;
extern int	bt_keep_pairs;
extern int	bt_keep_versions;
extern int	bt_keep_dead_letters;
extern int	bt_keep_rollups;
extern double bt_health_p99_ms;
extern double bt_health_failure_rate;
extern bool bt_match_geometry;
extern double bt_match_distance;
extern double bt_rotation_tolerance;
extern double bt_shift_min_share;
extern char *bt_units;

/*
 * buildtrace.label_keys, split once when it is set: its keys in order,
 * spaces and tabs around each trimmed, empty ones left out.  Each key
 * points into the block, not NUL-terminated.
 */
typedef struct BtLabelKey
{
	const char *s;
	int			len;
} BtLabelKey;

typedef struct BtLabelKeys
{
	int			nkeys;
	BtLabelKey	keys[FLEXIBLE_ARRAY_MEMBER];
} BtLabelKeys;

extern const BtLabelKeys *bt_label_key_list;
extern int	bt_summary_max_sentences;

extern void bt_define_gucs(void);

#endif							/* BUILDTRACE_GUC_H */
