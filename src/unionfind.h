/*-------------------------------------------------------------------------
 *
 * unionfind.h
 *	  Union-find over the indexes 0..n-1 of an int array of parents, where
 *	  the smaller index always becomes the root: groups come out the same
 *	  whatever order their members were joined in (the matcher's ambiguous
 *	  groups, the picture's revision clouds).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_UNIONFIND_H
#define BUILDTRACE_UNIONFIND_H

/* The root of i's group, halving the path on the way. */
static inline int
bt_uf_root(int *parent, int i)
{
	while (parent[i] != i)
	{
		parent[i] = parent[parent[i]];
		i = parent[i];
	}
	return i;
}

static inline void
bt_uf_join(int *parent, int i, int j)
{
	int			ri = bt_uf_root(parent, i);
	int			rj = bt_uf_root(parent, j);

	if (ri < rj)
		parent[rj] = ri;
	else if (rj < ri)
		parent[ri] = rj;
}

#endif							/* BUILDTRACE_UNIONFIND_H */
