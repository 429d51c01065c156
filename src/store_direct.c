/*-------------------------------------------------------------------------
 *
 * store_direct.c
 *	  Stores the result of a statement that inserted one pair without the
 *	  executor: the changes row, the drawing's state and its hour's rollup
 *	  are written as heap tuples with their index entries.
 *
 * A one-pair INSERT is what an ingestion service sends, and there every
 * statement the store step runs costs about as much as the INSERT itself:
 * starting an executor, reading back each CHECK constraint's expression,
 * the foreign key's check (test/bench/insert_bench.sh).  Written here, the
 * three rows cost a fraction of that.
 *
 * Only the common case is stored here, and whether it is one is settled
 * before anything is written; otherwise bt_store_one_directly returns false
 * and _pairs_store_one() stores the result, every rule in SQL.  The common
 * case: a processed pair (its result is a diff) that retries no pair, of a
 * drawing that has its state row, of the rows' tenant, and its hour's
 * rollup row; no change spike; and the tables as the extension made them
 * and owned by _pairs_store_one's definer, whose rights the SQL writes
 * with: heap tables, the columns it knows with their types, its primary
 * keys, its number of CHECK constraints, no triggers but foreign keys' (and
 * the pipeline's own on pairs), no forced row-level security.  What is
 * checked of the tables is kept for the session until the catalogs move
 * (catalog_epoch.c); their owner is checked on every statement.
 *
 * What is written is what the SQL writes.  What the executor would check
 * holds by construction: the counts are not negative, the hour is
 * truncated, total is the sum the generated column defines; so the tables'
 * columns (with their nullability and defaults) and CHECKs must be the
 * extension's, and they may have no rules and no foreign keys but the
 * changes row's.  That one holds because its pair is the statement's own
 * row, which nothing in the statement removed: no trigger of the owner's
 * on pairs, and no row of pairs deleted in the transaction (a trigger of
 * another table in the query could).  The rows are locked as the SQL
 * locks them (the drawing's state FOR UPDATE, then the rollup row), from a
 * snapshot taken as a new statement's would be, with the same
 * serialization failures under REPEATABLE READ.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/int.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog_epoch.h"
#include "handover.h"
#include "percentile.h"
#include "rollup.h"
#include "spike.h"
#include "store_direct.h"
#include "text_equal.h"

/* The type of a column of the schema's bt_sketch type, whose OID varies. */
#define SKETCH_TYPE InvalidOid

/*
 * A column the direct store writes or reads: its name and type, whether it
 * is NOT NULL, its default or generation expression as PostgreSQL deparses
 * it (NULL: none), and whether a CHECK keeps it at or above 0.  What the SQL
 * store leaves to a default or checks, the direct store writes or holds by
 * construction, so any of these changed takes the SQL store.
 */
typedef struct ColumnSpec
{
	const char *name;
	Oid			type;
	bool		notnull;
	const char *def;
	bool		counted;
} ColumnSpec;

#define DEF_NOW "now()"
#define DEF_ZERO "0"
#define DEF_TENANT "COALESCE(current_setting('buildtrace.tenant'::text, true), ''::text)"
#define GEN_TOTAL "GENERATED ((((((added + removed) + moved) + resized) + retyped) + modified) + rotated)"

enum
{
	CH_PAIR_ID, CH_DRAWING_ID, CH_JOB_ID, CH_DIFF, CH_SUMMARY, CH_ADDED,
	CH_REMOVED, CH_MOVED, CH_RESIZED, CH_RETYPED, CH_MODIFIED, CH_UNCHANGED,
	CH_PROCESSING_US, CH_COMPUTED_AT, CH_ROTATED, CH_REIDENTIFIED, CH_SHIFTED,
	CH_TOTAL, CH_TENANT, CH_NCOLS
};
static const ColumnSpec changes_columns[CH_NCOLS] = {
	{"pair_id", INT8OID, true, NULL, false},
	{"drawing_id", TEXTOID, true, NULL, false},
	{"job_id", TEXTOID, false, NULL, false},
	{"diff", JSONBOID, true, NULL, false},
	{"summary", TEXTOID, true, NULL, false},
	{"added", INT4OID, true, NULL, true},
	{"removed", INT4OID, true, NULL, true},
	{"moved", INT4OID, true, NULL, true},
	{"resized", INT4OID, true, NULL, true},
	{"retyped", INT4OID, true, NULL, true},
	{"modified", INT4OID, true, NULL, true},
	{"unchanged", INT4OID, true, NULL, true},
	{"processing_us", INT8OID, true, NULL, true},
	{"computed_at", TIMESTAMPTZOID, true, DEF_NOW, false},
	{"rotated", INT4OID, true, DEF_ZERO, true},
	{"reidentified", INT4OID, true, DEF_ZERO, true},
	{"shifted", INT4OID, true, DEF_ZERO, true},
	{"total", INT4OID, false, GEN_TOTAL, false},
	{"tenant", TEXTOID, true, DEF_TENANT, false}
};

enum
{
	ST_DRAWING_ID, ST_LAST_PAIR_ID, ST_LAST_TOTAL, ST_LAST_UPLOADED_AT,
	ST_UPDATED_AT, ST_TENANT, ST_NCOLS
};
static const ColumnSpec state_columns[ST_NCOLS] = {
	{"drawing_id", TEXTOID, true, NULL, false},
	{"last_pair_id", INT8OID, false, NULL, false},
	{"last_total", INT4OID, false, NULL, false},
	{"last_uploaded_at", TIMESTAMPTZOID, false, NULL, false},
	{"updated_at", TIMESTAMPTZOID, true, DEF_NOW, false},
	{"tenant", TEXTOID, true, DEF_TENANT, false}
};

/* The rollup's counts follow RU_ADDED in the order of ROLLUP_NCOUNTS. */
enum
{
	RU_HOUR, RU_DRAWING_ID, RU_PAIRS, RU_FAILED, RU_ADDED, RU_REMOVED,
	RU_MOVED, RU_RESIZED, RU_RETYPED, RU_MODIFIED, RU_UNCHANGED, RU_ROTATED,
	RU_REIDENTIFIED, RU_PROCESSING_MS, RU_REPORTED_LATENCY_MS, RU_TENANT,
	RU_NCOLS
};
static const ColumnSpec rollup_columns[RU_NCOLS] = {
	{"hour", TIMESTAMPTZOID, true, NULL, false},
	{"drawing_id", TEXTOID, true, NULL, false},
	{"pairs", INT8OID, true, DEF_ZERO, true},
	{"failed", INT8OID, true, DEF_ZERO, true},
	{"added", INT8OID, true, DEF_ZERO, true},
	{"removed", INT8OID, true, DEF_ZERO, true},
	{"moved", INT8OID, true, DEF_ZERO, true},
	{"resized", INT8OID, true, DEF_ZERO, true},
	{"retyped", INT8OID, true, DEF_ZERO, true},
	{"modified", INT8OID, true, DEF_ZERO, true},
	{"unchanged", INT8OID, true, DEF_ZERO, true},
	{"rotated", INT8OID, true, DEF_ZERO, true},
	{"reidentified", INT8OID, true, DEF_ZERO, true},
	{"processing_ms", SKETCH_TYPE, false, NULL, false},
	{"reported_latency_ms", SKETCH_TYPE, false, NULL, false},
	{"tenant", TEXTOID, true, DEF_TENANT, false}
};

/*
 * The three tables: their primary keys, the CHECK beyond the counted
 * columns' that the extension gives them (as deparsed, or NULL), and
 * whether the only foreign key they hold is the one to pairs.
 */
typedef struct TargetSpec
{
	const char *name;
	const ColumnSpec *columns;
	int			ncols;
	int			key[2];			/* indexes into columns */
	int			nkey;
	const char *other_check;
	bool		refers_to_pairs;
} TargetSpec;

enum
{
	T_CHANGES, T_STATE, T_ROLLUPS, NTARGETS
};
static const TargetSpec target_specs[NTARGETS] = {
	{"changes", changes_columns, CH_NCOLS, {CH_PAIR_ID}, 1, NULL, true},
	{"drawing_state", state_columns, ST_NCOLS, {ST_DRAWING_ID}, 1, NULL, false},
	{"hourly_rollups", rollup_columns, RU_NCOLS, {RU_HOUR, RU_DRAWING_ID}, 2,
	"(hour = date_trunc('hour'::text, hour, 'UTC'::text))", false}
};

/*
 * One table as last checked: its OID if it is as the extension made it
 * (InvalidOid if not), where its columns are, and the equality functions
 * of its primary key's columns.
 */
typedef struct KnownTable
{
	Oid			relid;
	AttrNumber	attnum[CH_NCOLS];	/* the widest of the three */
	RegProcedure key_eq[2];
} KnownTable;

/*
 * The tables the direct store writes, and whether pairs has only the known
 * triggers, with the catalog epoch they were checked at (catalog_epoch.c):
 * checked on every statement they would cost an empty pair's INSERT 2.5 %
 * of its instructions.
 */
typedef struct KnownTables
{
	uint64		epoch;			/* 0 until checked */
	Oid			pairs;
	bool		pairs_known;
	KnownTable	tables[NTARGETS];
} KnownTables;

/* One table the direct store writes, opened, and where its columns are. */
typedef struct Target
{
	Relation	rel;
	const AttrNumber *attnum;
	const RegProcedure *key_eq;
} Target;

typedef enum LockResult
{
	ROW_LOCKED,
	ROW_ABSENT
} LockResult;

/* Whether constraint conoid is a foreign key to relid. */
static bool
refers_to(Oid conoid, Oid relid)
{
	HeapTuple	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
	bool		refers;

	if (!HeapTupleIsValid(tup))
		return false;
	refers = OidIsValid(relid) && ((Form_pg_constraint) GETSTRUCT(tup))->confrelid == relid;
	ReleaseSysCache(tup);
	return refers;
}

/*
 * Whether every trigger on rel is a foreign key's or, with pipeline_own,
 * the pipeline's own on pairs (a function of rel's schema named _pairs_*):
 * a trigger of the owner's on pairs could remove the pair the changes row
 * refers to, one on the written tables would not fire.  Of the foreign
 * keys rel holds (whose checks fire on its inserts), a written table may
 * hold one to fk_target only, which holds by construction; on pairs, whose
 * row the executor inserts, any.
 */
static bool
known_triggers_only(Relation rel, bool pipeline_own, Oid fk_target)
{
	TriggerDesc *td = rel->trigdesc;

	for (int i = 0; td != NULL && i < td->numtriggers; i++)
	{
		Oid			fn = td->triggers[i].tgfoid;
		int			ri = RI_FKey_trigger_type(fn);
		char	   *name;

		if (ri == RI_TRIGGER_PK ||
			(ri == RI_TRIGGER_FK &&
			 (pipeline_own || refers_to(td->triggers[i].tgconstraint, fk_target))))
			continue;
		if (ri != RI_TRIGGER_NONE)
			return false;
		if (!pipeline_own || get_func_namespace(fn) != RelationGetNamespace(rel) ||
			(name = get_func_name(fn)) == NULL ||
			(strcmp(name, "_pairs_before_insert") != 0 &&
			 strcmp(name, "_pairs_after_insert_row") != 0 &&
			 strcmp(name, "_pairs_after_statement") != 0))
			return false;
	}
	return true;
}

/*
 * Whether rel's primary key is a btree index on exactly the columns key;
 * if so, the equality functions of its columns go into key_eq.
 */
static bool
primary_key_is(Relation rel, const AttrNumber *key, int nkey, RegProcedure *key_eq)
{
	Oid			indexid = RelationGetPrimaryKeyIndex(rel);
	Relation	index;
	bool		same;

	if (!OidIsValid(indexid))
		return false;
	index = index_open(indexid, RowExclusiveLock);
	same = index->rd_rel->relam == BTREE_AM_OID &&
		IndexRelationGetNumberOfKeyAttributes(index) == nkey;
	for (int i = 0; same && i < nkey; i++)
	{
		Oid			type = index->rd_opcintype[i];
		Oid			eq = get_opfamily_member(index->rd_opfamily[i], type, type,
											 BTEqualStrategyNumber);

		key_eq[i] = get_opcode(eq);
		same = index->rd_index->indkey.values[i] == key[i] && RegProcedureIsValid(key_eq[i]);
	}
	index_close(index, NoLock);
	return same;
}

/*
 * The default or generation expression of column att of rel as PostgreSQL
 * deparses it ("GENERATED " before a generation expression), or NULL.
 */
static char *
default_of(Relation rel, Form_pg_attribute att, List *context)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;

	for (int i = 0; att->atthasdef && constr != NULL && i < constr->num_defval; i++)
	{
		if (constr->defval[i].adnum == att->attnum)
			return psprintf("%s%s", att->attgenerated ? "GENERATED " : "",
							deparse_expression(stringToNode(constr->defval[i].adbin),
											   context, false, false));
	}
	return NULL;
}

/* Whether column att is as spec has it: its type, nullability and default. */
static bool
column_is(Relation rel, Form_pg_attribute att, const ColumnSpec *spec, Oid sketch_type,
		  List *context)
{
	const char *def = default_of(rel, att, context);

	return att->atttypid == (spec->type == SKETCH_TYPE ? sketch_type : spec->type) &&
		att->attnotnull == spec->notnull &&
		(def == NULL ? spec->def == NULL :
		 spec->def != NULL && strcmp(def, spec->def) == 0);
}

/*
 * Whether rel has exactly spec's columns, as spec has them; if so, their
 * numbers go into attnum.
 */
static bool
columns_are(Relation rel, const TargetSpec *spec, AttrNumber *attnum, List *context)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			sketch_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
											  CStringGetDatum("bt_sketch"),
											  ObjectIdGetDatum(RelationGetNamespace(rel)));
	int			found = 0;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		int			k;

		if (att->attisdropped)
			continue;
		for (k = 0; k < spec->ncols && strcmp(NameStr(att->attname), spec->columns[k].name) != 0; k++)
			;
		if (k == spec->ncols || !column_is(rel, att, &spec->columns[k], sketch_type, context))
			return false;
		attnum[k] = att->attnum;
		found++;
	}
	return found == spec->ncols;
}

/*
 * Whether rel's CHECK constraints are spec's: one keeping each counted
 * column at or above 0, and spec's other one.  The counts the direct store
 * writes hold them by construction; a CHECK of another kind only the SQL
 * store evaluates.
 */
static bool
checks_are(Relation rel, const TargetSpec *spec, List *context)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	int			nchecks = constr == NULL ? 0 : constr->num_check;
	int			expected = spec->other_check != NULL;

	for (int k = 0; k < spec->ncols; k++)
		expected += spec->columns[k].counted;
	if (nchecks != expected)
		return false;
	for (int i = 0; i < nchecks; i++)
	{
		char	   *text = deparse_expression(stringToNode(constr->check[i].ccbin),
											  context, false, false);
		bool		known = spec->other_check != NULL && strcmp(text, spec->other_check) == 0;

		for (int k = 0; !known && k < spec->ncols; k++)
			known = spec->columns[k].counted &&
				strcmp(text, psprintf("(%s >= 0)", spec->columns[k].name)) == 0;
		if (!known)
			return false;
	}
	return true;
}

/*
 * Checks spec's table of the extension's schema into *known: whether it is
 * as the extension made it (see the file's comment), but for its owner,
 * which is checked on every statement.  The table is locked as the store
 * locks it, and stays locked.
 */
static void
check_target(Oid schema, Oid pairs, const TargetSpec *spec, KnownTable *known)
{
	Oid			relid = get_relname_relid(spec->name, schema);
	Relation	rel;
	List	   *context;
	AttrNumber	key_attnums[2];
	bool		as_made;

	known->relid = InvalidOid;
	if (!OidIsValid(relid))
		return;
	rel = table_open(relid, RowExclusiveLock);
	context = deparse_context_for(RelationGetRelationName(rel), relid);
	as_made = rel->rd_rel->relkind == RELKIND_RELATION &&
		rel->rd_rel->relam == HEAP_TABLE_AM_OID &&
		!rel->rd_rel->relforcerowsecurity &&
		(rel->rd_rules == NULL || rel->rd_rules->numLocks == 0) &&
		columns_are(rel, spec, known->attnum, context) &&
		known_triggers_only(rel, false, spec->refers_to_pairs ? pairs : InvalidOid) &&
		checks_are(rel, spec, context);
	for (int i = 0; as_made && i < spec->nkey; i++)
		key_attnums[i] = known->attnum[spec->key[i]];
	if (as_made && primary_key_is(rel, key_attnums, spec->nkey, known->key_eq))
		known->relid = relid;
	table_close(rel, NoLock);
}

/*
 * The tables as checked at the current catalog epoch, checked again if the
 * epoch moved.  The epoch is taken after the check, whose locks may have
 * brought news of other relations.
 */
static const KnownTables *
known_tables(Relation pairs)
{
	static KnownTables known;

	if (known.epoch == bt_catalog_epoch() && known.pairs == RelationGetRelid(pairs))
		return &known;
	known.epoch = 0;			/* until checked, in case of an error */
	known.pairs = RelationGetRelid(pairs);
	known.pairs_known = known_triggers_only(pairs, true, InvalidOid);
	for (int i = 0; i < NTARGETS; i++)
		check_target(RelationGetNamespace(pairs), known.pairs, &target_specs[i],
					 &known.tables[i]);
	known.epoch = bt_catalog_epoch();
	return &known;
}

static void
close_targets(Target *targets, int opened)
{
	while (opened > 0)
		relation_close(targets[--opened].rel, NoLock);
}

/*
 * Opens the known tables into targets if each is as the extension made it
 * and owned by owner, whose rights the SQL store functions write with;
 * false, and closed, if not.
 */
static bool
open_targets(const KnownTables *known, Oid owner, Target *targets)
{
	int			opened;

	for (opened = 0; opened < NTARGETS; opened++)
	{
		const KnownTable *table = &known->tables[opened];
		Relation	rel;

		/* a table dropped meanwhile: the SQL store says so */
		if (!OidIsValid(table->relid) ||
			(rel = try_relation_open(table->relid, RowExclusiveLock)) == NULL)
			break;
		if (rel->rd_rel->relowner != owner)
		{
			relation_close(rel, NoLock);
			break;
		}
		targets[opened].rel = rel;
		targets[opened].attnum = table->attnum;
		targets[opened].key_eq = table->key_eq;
	}
	if (opened == NTARGETS)
		return true;
	close_targets(targets, opened);
	return false;
}

/*
 * Whether rows of pairs may have been deleted in this transaction, as its
 * statistics count them (or, where they count nothing, whether that cannot
 * be told): a trigger of another table in the statement's query can delete
 * the pair just inserted, and its changes row's foreign key, which the
 * direct store does not check, would then refer to nothing.  Counts not yet
 * reported from earlier transactions of the session only send a statement
 * to the SQL store.
 */
static bool
pairs_lost_rows(Relation pairs)
{
	PgStat_TableStatus *stats = pairs->pgstat_info;

	if (stats == NULL || stats->t_counts.t_tuples_deleted > 0)
		return true;
	for (PgStat_TableXactStatus *x = stats->trans; x != NULL; x = x->upper)
	{
		if (x->tuples_deleted > 0)
			return true;
	}
	return false;
}

/*
 * Finds t's row whose key (the primary key's columns) is keys and locks it
 * in mode into slot, following it to its latest version under READ
 * COMMITTED as the executor's row locks do.
 */
static LockResult
lock_row(Target *t, const Datum *keys, int nkeys, LockTupleMode mode, TupleTableSlot *slot)
{
	Relation	index = index_open(RelationGetPrimaryKeyIndex(t->rel), RowExclusiveLock);
	ScanKeyData scankeys[2];
	IndexScanDesc scan;
	TM_FailureData tmfd;
	TM_Result	result;
	bool		found;

	Assert(nkeys <= (int) lengthof(scankeys) && nkeys == IndexRelationGetNumberOfKeyAttributes(index));
	for (int i = 0; i < nkeys; i++)
		ScanKeyEntryInitialize(&scankeys[i], 0, i + 1, BTEqualStrategyNumber, InvalidOid,
							   index->rd_indcollation[i], t->key_eq[i], keys[i]);
	scan = index_beginscan(t->rel, index, GetActiveSnapshot(), nkeys, 0);
	index_rescan(scan, scankeys, nkeys, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	index_close(index, NoLock);
	if (!found)
		return ROW_ABSENT;
	result = table_tuple_lock(t->rel, &slot->tts_tid, GetActiveSnapshot(), slot,
							  GetCurrentCommandId(false), mode, LockWaitBlock,
							  IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
							  &tmfd);
	if (result == TM_Ok)
		return ROW_LOCKED;
	if (IsolationUsesXactSnapshot() && (result == TM_Updated || result == TM_Deleted))
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to concurrent %s",
						result == TM_Updated ? "update" : "delete")));
	if (result == TM_Invisible)
		elog(ERROR, "attempted to lock invisible tuple");
	/* deleted meanwhile, or changed by this command: the SQL decides */
	return ROW_ABSENT;
}

/* Whether the locked row in slot still has column attnum equal to value. */
static bool
row_has(TupleTableSlot *slot, AttrNumber attnum, Datum value, bool is_text)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, attnum, &isnull);

	if (isnull)
		return false;
	return is_text ? bt_text_equal(d, value) : DatumGetTimestampTz(d) == DatumGetTimestampTz(value);
}

/*
 * Writes values as a new row of t (old NULL) or as the new version of the
 * row at old, which this transaction has locked, with its index entries.
 */
static void
write_row(Target *t, Datum *values, bool *nulls, ItemPointer old)
{
	TupleDesc	desc = RelationGetDescr(t->rel);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	bool		update_indexes = true;

	ExecStoreHeapTuple(heap_form_tuple(desc, values, nulls), slot, false);
	if (old == NULL)
		simple_table_tuple_insert(t->rel, slot);
	else
		simple_table_tuple_update(t->rel, old, slot, GetActiveSnapshot(), &update_indexes);
	if (update_indexes && t->rel->rd_rel->relhasindex)
	{
		EState	   *estate = CreateExecutorState();
		ResultRelInfo *rri = makeNode(ResultRelInfo);

		InitResultRelInfo(rri, t->rel, 1, NULL, 0);
		ExecOpenIndices(rri, false);
		/* no deferrable constraint: it would have a trigger of its own */
		if (ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL) != NIL)
			elog(ERROR, "unexpected deferred uniqueness check");
		ExecCloseIndices(rri);
		FreeExecutorState(estate);
	}
	ExecDropSingleTupleTableSlot(slot);
}

/* A row of t as values and nulls arrays, every column NULL. */
static void
empty_row(Target *t, Datum **values, bool **nulls)
{
	int			natts = RelationGetDescr(t->rel)->natts;

	*values = palloc0(sizeof(Datum) * natts);
	*nulls = palloc(sizeof(bool) * natts);
	memset(*nulls, true, sizeof(bool) * natts);
}

/* The locked row in slot as values and nulls arrays to change. */
static void
row_of(TupleTableSlot *slot, Datum **values, bool **nulls)
{
	int			natts = slot->tts_tupleDescriptor->natts;

	slot_getallattrs(slot);
	*values = palloc(sizeof(Datum) * natts);
	*nulls = palloc(sizeof(bool) * natts);
	memcpy(*values, slot->tts_values, sizeof(Datum) * natts);
	memcpy(*nulls, slot->tts_isnull, sizeof(bool) * natts);
}

#define SET_COLUMN(t, values, nulls, col, value) \
	((values)[(t)->attnum[col] - 1] = (value), (nulls)[(t)->attnum[col] - 1] = false)

/* The changes row of the result ho, as _pairs_store_one inserts it. */
static void
insert_changes(Target *t, const Datum *ho, const bool *honull, Datum summary,
			   int32 total, Datum tenant, TimestampTz now)
{
	static const int counts[][2] = {
		{CH_ADDED, HO_ADDED}, {CH_REMOVED, HO_REMOVED}, {CH_MOVED, HO_MOVED},
		{CH_RESIZED, HO_RESIZED}, {CH_RETYPED, HO_RETYPED},
		{CH_MODIFIED, HO_MODIFIED}, {CH_UNCHANGED, HO_UNCHANGED},
		{CH_ROTATED, HO_ROTATED}, {CH_REIDENTIFIED, HO_REIDENTIFIED},
		{CH_SHIFTED, HO_SHIFTED}
	};
	Datum	   *values;
	bool	   *nulls;

	empty_row(t, &values, &nulls);
	SET_COLUMN(t, values, nulls, CH_PAIR_ID, ho[HO_PAIR_ID]);
	SET_COLUMN(t, values, nulls, CH_DRAWING_ID, ho[HO_DRAWING_ID]);
	if (!honull[HO_JOB_ID])
		SET_COLUMN(t, values, nulls, CH_JOB_ID, ho[HO_JOB_ID]);
	SET_COLUMN(t, values, nulls, CH_DIFF, ho[HO_RESULT]);
	SET_COLUMN(t, values, nulls, CH_SUMMARY, summary);
	for (int i = 0; i < (int) lengthof(counts); i++)
		SET_COLUMN(t, values, nulls, counts[i][0], ho[counts[i][1]]);
	SET_COLUMN(t, values, nulls, CH_PROCESSING_US, ho[HO_PROCESSING_US]);
	SET_COLUMN(t, values, nulls, CH_COMPUTED_AT, TimestampTzGetDatum(now));
	SET_COLUMN(t, values, nulls, CH_TOTAL, Int32GetDatum(total));
	SET_COLUMN(t, values, nulls, CH_TENANT, tenant);
	write_row(t, values, nulls, NULL);
}

/* The drawing's state after the pair, as _pairs_store_one updates it. */
static void
update_state(Target *t, TupleTableSlot *locked, Datum pair_id, int32 total, TimestampTz now)
{
	Datum	   *values;
	bool	   *nulls;

	row_of(locked, &values, &nulls);
	SET_COLUMN(t, values, nulls, ST_LAST_PAIR_ID, pair_id);
	SET_COLUMN(t, values, nulls, ST_LAST_TOTAL, Int32GetDatum(total));
	SET_COLUMN(t, values, nulls, ST_UPDATED_AT, TimestampTzGetDatum(now));
	write_row(t, values, nulls, &locked->tts_tid);
}

/* A rollup count column plus n, as _add_rollups adds (bigint overflow). */
static Datum
count_plus(TupleTableSlot *locked, Target *t, int col, int64 n)
{
	bool		isnull;
	int64		sum;

	sum = DatumGetInt64(slot_getattr(locked, t->attnum[col], &isnull));
	if (isnull || pg_add_s64_overflow(sum, n, &sum))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("bigint out of range")));
	return Int64GetDatum(sum);
}

/* A rollup sketch column merged with sk, as bt_sketch_add merges them. */
static void
sketch_plus(TupleTableSlot *locked, Target *t, int col, const BtSketch *sk,
			Datum *values, bool *nulls)
{
	bool		isnull;
	Datum		stored = slot_getattr(locked, t->attnum[col], &isnull);
	BtSketch	merged;

	if (sk->count == 0)
		return;
	if (isnull)
	{
		SET_COLUMN(t, values, nulls, col, PointerGetDatum(bt_sketch_to_varlena(sk)));
		return;
	}
	bt_sketch_from_datum(&merged, stored);
	bt_sketch_merge(&merged, sk);
	SET_COLUMN(t, values, nulls, col, PointerGetDatum(bt_sketch_to_varlena(&merged)));
}

/*
 * The hour's rollup row with the pair added, as _add_rollups adds the
 * _rollup aggregate's totals of it.
 */
static void
update_rollup(Target *t, TupleTableSlot *locked, const Datum *ho, const bool *honull)
{
	static const int counts[ROLLUP_NCOUNTS] = {
		HO_ADDED, HO_REMOVED, HO_MOVED, HO_RESIZED, HO_RETYPED, HO_MODIFIED,
		HO_UNCHANGED, HO_ROTATED, HO_REIDENTIFIED
	};
	static const int columns[ROLLUP_NCOUNTS] = {
		RU_ADDED, RU_REMOVED, RU_MOVED, RU_RESIZED, RU_RETYPED, RU_MODIFIED,
		RU_UNCHANGED, RU_ROTATED, RU_REIDENTIFIED
	};
	RollupPair	p = {.ok = true};
	RollupState totals;
	Datum	   *values;
	bool	   *nulls;

	for (int k = 0; k < ROLLUP_NCOUNTS; k++)
	{
		p.count_null[k] = honull[counts[k]];
		p.counts[k] = p.count_null[k] ? 0 : DatumGetInt32(ho[counts[k]]);
	}
	p.has_processing = !honull[HO_PROCESSING_US];
	p.processing_ms = p.has_processing ? DatumGetInt64(ho[HO_PROCESSING_US]) / 1000.0 : 0;
	p.has_latency = !honull[HO_LATENCY_MS];
	p.latency_ms = p.has_latency ? DatumGetFloat8(ho[HO_LATENCY_MS]) : 0;
	bt_rollup_state_init(&totals, CurrentMemoryContext);
	bt_rollup_add(&totals, &p);

	row_of(locked, &values, &nulls);
	SET_COLUMN(t, values, nulls, RU_PAIRS, count_plus(locked, t, RU_PAIRS, totals.pairs));
	for (int k = 0; k < ROLLUP_NCOUNTS; k++)
		SET_COLUMN(t, values, nulls, columns[k], count_plus(locked, t, columns[k], totals.counts[k]));
	sketch_plus(locked, t, RU_PROCESSING_MS, &totals.processing_ms, values, nulls);
	sketch_plus(locked, t, RU_REPORTED_LATENCY_MS, &totals.latency_ms, values, nulls);
	write_row(t, values, nulls, &locked->tts_tid);
}

/* The result's summary text, or NULL if it has none. */
static text *
result_summary(Datum result)
{
	Jsonb	   *jb = DatumGetJsonbP(result);
	JsonbValue	v;

	if (!JB_ROOT_IS_OBJECT(jb) ||
		getKeyJsonValueFromContainer(&jb->root, "summary", strlen("summary"), &v) == NULL ||
		v.type != jbvString)
		return NULL;
	return cstring_to_text_with_len(v.val.string.val, v.val.string.len);
}

/*
 * The changes' total of a result, as the generated column sums the kinds
 * that count; -1 past the column's range or if a count is missing.
 */
static int64
result_total(const Datum *ho, const bool *honull)
{
	int64		total = 0;

	for (int col = HO_ADDED; col <= HO_SHIFTED; col++)
	{
		if (honull[col])
			return -1;
		if (col != HO_UNCHANGED && col != HO_REIDENTIFIED && col != HO_SHIFTED)
			total += DatumGetInt32(ho[col]);
	}
	return total > PG_INT32_MAX ? -1 : total;
}

/* The UTC hour of ts, as date_trunc('hour', ts, 'UTC'). */
static TimestampTz
hour_of(TimestampTz ts)
{
	TimestampTz rem = ts % USECS_PER_HOUR;

	return ts - (rem < 0 ? rem + USECS_PER_HOUR : rem);
}

/*
 * The result ho of the statement's one pair stored, if it is the common
 * case, in the three open targets; false, with nothing written, if not.
 */
static bool
store_common_case(Target *targets, const Datum *ho, const bool *honull, Datum tenant,
				  TupleTableSlot *state_row, TupleTableSlot *rollup_row)
{
	Target	   *state = &targets[T_STATE];
	Target	   *rollups = &targets[T_ROLLUPS];
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	Datum		rollup_key[2] = {TimestampTzGetDatum(hour_of(now)), ho[HO_DRAWING_ID]};
	text	   *summary = result_summary(ho[HO_RESULT]);
	int64		total = result_total(ho, honull);
	bool		isnull;
	Datum		previous;

	if (summary == NULL || total < 0)
		return false;
	/* FOR UPDATE, as _lock_drawing */
	if (lock_row(state, &ho[HO_DRAWING_ID], 1, LockTupleExclusive, state_row) != ROW_LOCKED ||
		!row_has(state_row, state->attnum[ST_DRAWING_ID], ho[HO_DRAWING_ID], true) ||
		!row_has(state_row, state->attnum[ST_TENANT], tenant, true))
		return false;
	previous = slot_getattr(state_row, state->attnum[ST_LAST_TOTAL], &isnull);
	if (!isnull && bt_spike_level(DatumGetInt32(previous), (int32) total) != NULL)
		return false;
	/* as ON CONFLICT DO UPDATE locks a row whose key it keeps */
	if (lock_row(rollups, rollup_key, 2, LockTupleNoKeyExclusive, rollup_row) != ROW_LOCKED ||
		!row_has(rollup_row, rollups->attnum[RU_HOUR], rollup_key[0], false) ||
		!row_has(rollup_row, rollups->attnum[RU_DRAWING_ID], rollup_key[1], true))
		return false;

	/* the executor's refusal to change a published table without a key */
	CheckCmdReplicaIdentity(targets[T_CHANGES].rel, CMD_INSERT);
	CheckCmdReplicaIdentity(state->rel, CMD_UPDATE);
	CheckCmdReplicaIdentity(rollups->rel, CMD_UPDATE);
	insert_changes(&targets[T_CHANGES], ho, honull, PointerGetDatum(summary), (int32) total,
				   tenant, now);
	update_state(state, state_row, ho[HO_PAIR_ID], (int32) total, now);
	update_rollup(rollups, rollup_row, ho, honull);
	return true;
}

/* store_common_case as a new statement of the transaction would run it. */
static bool
store_as_statement(Target *targets, const Datum *ho, const bool *honull, Datum tenant)
{
	TupleTableSlot *state_row = table_slot_create(targets[T_STATE].rel, NULL);
	TupleTableSlot *rollup_row = table_slot_create(targets[T_ROLLUPS].rel, NULL);
	bool		stored;

	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
	stored = store_common_case(targets, ho, honull, tenant, state_row, rollup_row);
	PopActiveSnapshot();
	ExecDropSingleTupleTableSlot(state_row);
	ExecDropSingleTupleTableSlot(rollup_row);
	return stored;
}

/* Whether fn is SECURITY DEFINER, and its owner. */
static bool
definer_of(Oid fn, Oid *owner)
{
	HeapTuple	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	bool		definer;

	if (!HeapTupleIsValid(tuple))
		return false;
	definer = ((Form_pg_proc) GETSTRUCT(tuple))->prosecdef;
	*owner = ((Form_pg_proc) GETSTRUCT(tuple))->proowner;
	ReleaseSysCache(tuple);
	return definer;
}

/*
 * Stores the statement's one result if it is the common case.  If the
 * catalogs moved while the tables were being locked (another session's
 * change to one of them, committed just before), they are checked once
 * more, and the SQL stores the result if they moved again.
 */
bool
bt_store_one_directly(void *pairs_trigger, Oid store_fn)
{
	Relation	pairs = ((TriggerData *) pairs_trigger)->tg_relation;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "buildtrace direct store",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext caller = MemoryContextSwitchTo(cxt);
	Datum		ho[HO_NCOLS];
	bool		honull[HO_NCOLS];
	text	   *tenant;
	Oid			owner;
	Target		targets[NTARGETS];
	bool		stored = false;

	bt_handover_peek_one(ho, honull, &tenant);
	if (tenant != NULL && DatumGetBool(ho[HO_OK]) && honull[HO_RETRY_OF] &&
		!pairs_lost_rows(pairs) && definer_of(store_fn, &owner))
	{
		for (int attempt = 0; attempt < 2; attempt++)
		{
			const KnownTables *known = known_tables(pairs);

			if (!known->pairs_known || !open_targets(known, owner, targets))
				break;
			if (known->epoch == bt_catalog_epoch())
			{
				stored = store_as_statement(targets, ho, honull, PointerGetDatum(tenant));
				close_targets(targets, NTARGETS);
				break;
			}
			close_targets(targets, NTARGETS);
		}
	}
	MemoryContextSwitchTo(caller);
	MemoryContextDelete(cxt);
	return stored;
}
