/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  Definition of buildtrace's configuration parameters.
 *
 * SQL code reads these with buildtrace.setting('buildtrace.…'), which loads
 * the module first so that they exist (see src/sql/00_base.sql).
 *
 * Every one but buildtrace.tenant shapes what the pipeline stores
 * (tolerances, the spike rule, what becomes of invalid pairs, when a
 * pending pair is stale), so those are PGC_SUSET: a writer cannot change
 * how its own pairs are judged.  buildtrace.keep_freed_memory is PGC_SUSET
 * too, as it spends the server's memory, and buildtrace.store_directly, as
 * it chooses how the owner's tables are written.  A superuser sets them per
 * database or role, or grants SET on one (GRANT SET ON PARAMETER).
 * bt_diff's tolerance arguments stay free.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "freed_memory.h"
#include "guc.h"

double		bt_move_tolerance = 0.1;
double		bt_size_tolerance = 0.01;
int			bt_on_invalid = BT_ON_INVALID_FLAG;
int			bt_processing = BT_PROCESSING_INLINE;
bool		bt_store_directly = true;
int			bt_max_attempts = 5;
double		bt_spike_factor = 10.0;
int			bt_spike_min_changes = 5;
int			bt_keep_pairs = 0;
int			bt_keep_versions = 0;
int			bt_keep_dead_letters = 0;
int			bt_keep_rollups = 0;
double		bt_health_p99_ms = 1000.0;
double		bt_health_failure_rate = 0.2;
int			bt_pending_max_age = 900;
bool		bt_match_geometry = true;
double		bt_match_distance = 1.0;
double		bt_rotation_tolerance = 0.5;
double		bt_shift_min_share = 0.5;
char	   *bt_units = NULL;
static char *bt_label_keys = NULL;	/* read through bt_label_key_list */
const BtLabelKeys *bt_label_key_list = NULL;
static char *bt_tenant = NULL;	/* read in SQL only */
int			bt_summary_max_sentences = 8;
static int	bt_keep_freed_memory = 0;	/* applied by its assign hook */

static const struct config_enum_entry processing_options[] = {
	{"inline", BT_PROCESSING_INLINE, false},
	{"deferred", BT_PROCESSING_DEFERRED, false},
	{NULL, 0, false}
};

static const struct config_enum_entry on_invalid_options[] = {
	{"flag", BT_ON_INVALID_FLAG, false},
	{"reject", BT_ON_INVALID_REJECT, false},
	{NULL, 0, false}
};

static inline bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Split buildtrace.label_keys once, when it is set, instead of for every
 * object named: "name, label" and "name , label" name the same keys, and
 * "name,,label" has none between the commas.  The block is the setting's
 * extra, malloc'd as the GUC machinery frees it.
 */
static bool
label_keys_check(char **newval, void **extra, GucSource source)
{
	const char *value = *newval ? *newval : "";
	size_t		textlen = strlen(value);
	int			most = 1;
	BtLabelKeys *list;
	char	   *text;

	for (const char *c = value; *c; c++)
		most += *c == ',';
	list = malloc(offsetof(BtLabelKeys, keys) + sizeof(BtLabelKey) * most + textlen + 1);
	if (list == NULL)
	{
		GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
		return false;
	}
	text = (char *) &list->keys[most];

	memcpy(text, value, textlen + 1);
	list->nkeys = 0;
	for (char *p = text; p != NULL;)
	{
		char	   *end = strchr(p, ',');
		int			len = end ? (int) (end - p) : (int) strlen(p);

		while (len > 0 && is_blank(*p))
		{
			p++;
			len--;
		}
		while (len > 0 && is_blank(p[len - 1]))
			len--;
		if (len > 0)
		{
			list->keys[list->nkeys].s = p;
			list->keys[list->nkeys++].len = len;
		}
		p = end ? end + 1 : NULL;
	}
	*extra = list;
	return true;
}

static void
label_keys_assign(const char *newval, void *extra)
{
	bt_label_key_list = extra;
}

/* How bt_diff matches objects, what it counts as a change, and its summary. */
static void
define_diff_gucs(void)
{
	DefineCustomRealVariable("buildtrace.move_tolerance",
							 "Distance an object may shift before it counts as moved.",
							 "A move of at most this distance (in drawing units) is not reported.",
							 &bt_move_tolerance,
							 0.1, 0.0, BT_TOLERANCE_MAX,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomRealVariable("buildtrace.size_tolerance",
							 "Change in width or height an object may have before it counts as resized.",
							 "A size change of at most this amount (in drawing units) is not reported.",
							 &bt_size_tolerance,
							 0.01, 0.0, BT_TOLERANCE_MAX,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomRealVariable("buildtrace.rotation_tolerance",
							 "Change of rotation, in degrees, an object may have before it counts as rotated.",
							 NULL,
							 &bt_rotation_tolerance,
							 0.5, 0.0, 180.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomBoolVariable("buildtrace.store_directly",
							 "Store a one-pair statement's result without the executor when it is the common case.",
							 "Off, every result is stored by the SQL store functions; what is stored is the same.",
							 &bt_store_directly,
							 true,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomBoolVariable("buildtrace.match_geometry",
							 "Pair objects whose id changed by content and geometry.",
							 "Objects left over on both sides after matching by id are paired when identical apart from the id, in the same place, or each other's nearest neighbour of the same type.",
							 &bt_match_geometry,
							 true,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomRealVariable("buildtrace.match_distance",
							 "Farthest two objects of one type may be apart to be paired as nearest neighbours.",
							 "In drawing units; 1 pairs a door moved half a metre in a drawing in metres.",
							 &bt_match_distance,
							 1.0, 0.0, 1e15,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomRealVariable("buildtrace.shift_min_share",
							 "Share of the matched objects that must move by one vector for a whole-drawing shift.",
							 "At least three objects must, whatever the share.",
							 &bt_shift_min_share,
							 0.5, 0.0, 1.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("buildtrace.units",
							   "The word the summary puts after distances.",
							   "For example \"m\" or \"ft\"; the default, \"units\", reads \"1 unit\" in the singular.",
							   &bt_units,
							   "units",
							   PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("buildtrace.label_keys",
							   "Keys whose value names an object in summaries and pictures, first to last.",
							   "A comma-separated list; a key whose value is neither a string with visible text nor a number is passed over, and an object no key names is named by its id.",
							   &bt_label_keys,
							   "name,label,tag",
							   PGC_SUSET, 0,
							   label_keys_check, label_keys_assign, NULL);

	DefineCustomIntVariable("buildtrace.summary_max_sentences",
							"Sentences a summary may have before it is shortened to a headline and the largest groups.",
							NULL,
							&bt_summary_max_sentences,
							8, 3, 1000,
							PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("buildtrace.keep_freed_memory",
							"Freed memory a backend keeps for its next statements instead of returning it to the operating system.",
							"0 leaves the C library's own rule, under which a diff takes a page fault on every page it writes again, dear on some virtual machines; else at least 64MB (glibc only).",
							&bt_keep_freed_memory,
							0, 0, 1024 * 1024,
							PGC_SUSET, GUC_UNIT_KB,
							bt_keep_freed_memory_check, bt_keep_freed_memory_assign, NULL);
}

/* How the pipeline takes pairs in, and which of them it flags. */
static void
define_pipeline_gucs(void)
{
	/*
	 * The one setting a session chooses: which of its tenants it acts for.
	 * Nothing trusts the value as such; the row-level security policies check
	 * it against the role's membership (buildtrace.current_tenant()).
	 */
	DefineCustomStringVariable("buildtrace.tenant",
							   "The tenant whose drawings this session reads and writes.",
							   "A role that is a member of buildtrace_tenant; empty for the default tenant of single-tenant use.",
							   &bt_tenant,
							   "",
							   PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomEnumVariable("buildtrace.processing",
							 "When an inserted pair is diffed.",
							 "\"inline\" diffs it in the inserting statement; \"deferred\" stores it pending for buildtrace.work().",
							 &bt_processing,
							 BT_PROCESSING_INLINE, processing_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomEnumVariable("buildtrace.on_invalid",
							 "What the pipeline does with a pair whose versions are invalid.",
							 "\"flag\" keeps the row as failed and records an anomaly; \"reject\" raises the error.",
							 &bt_on_invalid,
							 BT_ON_INVALID_FLAG, on_invalid_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("buildtrace.max_attempts",
							"Attempts buildtrace.work() makes at a deferred pair before it fails it.",
							"A pair whose processing failed for a passing reason (a lock timeout, a serialization failure, a worker that died) is retried with backoff until then.",
							&bt_max_attempts,
							5, 1, 1000,
							PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomRealVariable("buildtrace.spike_factor",
							 "Ratio of changes to the previous pair that counts as a change spike.",
							 NULL,
							 &bt_spike_factor,
							 10.0, 1.0, 1e15,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("buildtrace.spike_min_changes",
							"Smallest baseline change count for which spikes are detected.",
							"Pairs following a pair with fewer changes than this never count as a spike.",
							&bt_spike_min_changes,
							5, 0, INT_MAX,
							PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("buildtrace.pending_max_age",
							"Age after which a pair still pending is flagged by check_uploads().",
							NULL,
							&bt_pending_max_age,
							900, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
}

/* How long data is kept, and when health() calls the service degraded. */
static void
define_upkeep_gucs(void)
{
	DefineCustomIntVariable("buildtrace.keep_pairs",
							"How long processed pairs, their change sets and anomalies are kept.",
							"purge() removes older ones; 0 keeps them forever.",
							&bt_keep_pairs,
							0, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);

	DefineCustomIntVariable("buildtrace.keep_versions",
							"How long uploaded versions are kept (the latest of each drawing always is).",
							"purge() removes older ones; 0 keeps them forever.",
							&bt_keep_versions,
							0, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);

	DefineCustomIntVariable("buildtrace.keep_dead_letters",
							"How long a dead letter that no retry has fixed is kept.",
							"purge() removes older ones with their failed retries; 0 keeps them until retried or deleted.",
							&bt_keep_dead_letters,
							0, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);

	DefineCustomIntVariable("buildtrace.keep_rollups",
							"How long hourly rollups are kept once their hour's pairs are purged.",
							"purge() removes the rollups of older hours before its horizon; 0 keeps them forever.",
							&bt_keep_rollups,
							0, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);

	DefineCustomRealVariable("buildtrace.health_p99_ms",
							 "Processing latency P99 of the last hour above which health() is degraded.",
							 "0 turns the check off.",
							 &bt_health_p99_ms,
							 1000.0, 0.0, 1e15,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomRealVariable("buildtrace.health_failure_rate",
							 "Share of failed pairs in the last hour above which health() is degraded.",
							 "Judged once the hour has at least 20 pairs; 1 turns the check off.",
							 &bt_health_failure_rate,
							 0.2, 0.0, 1.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);
}

void
bt_define_gucs(void)
{
	define_diff_gucs();
	define_pipeline_gucs();
	define_upkeep_gucs();
	MarkGUCPrefixReserved("buildtrace");
}
