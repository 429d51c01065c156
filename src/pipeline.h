/*-------------------------------------------------------------------------
 *
 * pipeline.h
 *	  The pairs trigger's per-row work (see pipeline.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_PIPELINE_H
#define BUILDTRACE_PIPELINE_H

/* Registers the transaction callbacks that drop abandoned results. */
extern void bt_pipeline_init(void);

#endif							/* BUILDTRACE_PIPELINE_H */
