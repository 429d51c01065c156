/*-------------------------------------------------------------------------
 *
 * buildtrace.c
 *	  Module entry point: magic block and initialisation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "catalog_epoch.h"
#include "guc.h"
#include "pipeline.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	bt_define_gucs();
	bt_catalog_epoch_init();
	bt_pipeline_init();
}

/*
 * buildtrace.setting(name) — current_setting() that first makes sure the
 * module is loaded, so the buildtrace.* parameters exist with their real
 * defaults even in a session that has not called any C function yet.
 */
PG_FUNCTION_INFO_V1(bt_setting);
Datum
bt_setting(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_TEXT_P(cstring_to_text(GetConfigOptionByName(name, NULL, false)));
}
