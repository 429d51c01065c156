/*-------------------------------------------------------------------------
 *
 * order_stat.c
 *	  Ranks l <= u (1-based) with P(X_(l) <= xi_p <= X_(u)) >= conf.
 *
 * With B ~ Binomial(n, p) the number of sample values below the true
 * p-quantile xi_p, X_(l) <= xi_p  <=>  B >= l and X_(u) >= xi_p  <=>  B < u,
 * so the interval covers xi_p with probability P(l <= B <= u - 1).  We take
 * equal tails: l is the largest rank with P(B <= l - 1) <= (1 - conf) / 2, u
 * the smallest with P(B <= u - 1) >= 1 - (1 - conf) / 2.  (n = 10000,
 * p = 0.99, conf = 0.95 gives 9880 .. 9920.)
 *
 * The binomial CDF is summed exactly over the terms within 12 standard
 * deviations (+ 10) of the mean (outside, the mass is below 1e-30), computed
 * from the ratios of neighbouring terms.  When that window has more than
 * BT_EXACT_TERMS terms (n p (1-p) above about 7e7) the normal approximation
 * l = floor(np - z sd), u = ceil(np + z sd) is used instead.
 *
 * A side that no rank in 1..n can attain at this confidence (small n, extreme
 * p) is reported as 0: the caller shows no bound there.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/float.h"

#include "order_stat.h"

#define BT_EXACT_TERMS 200000

void
bt_check_confidence(double conf)
{
	if (!(conf > 0.0 && conf < 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("confidence must be greater than 0 and less than 1"),
				 errdetail("The confidence given was %s.", float8out_internal(conf))));
}

/* Upper standard normal quantile: z with P(Z > z) = tail, by bisection. */
static double
bt_normal_upper_quantile(double tail)
{
	double		lo = 0.0,
				hi = 40.0;

	for (int i = 0; i < 100; i++)
	{
		double		mid = (lo + hi) / 2.0;

		if (0.5 * erfc(mid / M_SQRT2) > tail)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2.0;
}

/* ln(P(B = j + 1) / P(B = j)) for B ~ Binomial(n, p) */
static inline double
bt_log_pmf_step(uint64 n, double p, int64 j)
{
	return log((double) (n - (uint64) j)) - log((double) j + 1.0) + log(p) - log1p(-p);
}

/*
 * ln P(B = j) for j = wlo..whi, less their largest, built term by term from
 * the ratios of neighbours: lgamma(n + 1) would lose the terms in its
 * rounding once n passes about 1e12.  The window holds all but 1e-30 of the
 * mass, so exp(term) / (sum of exp(terms)) is the probability.
 */
static double *
bt_window_log_terms(uint64 n, double p, int64 wlo, int64 whi)
{
	int64		k = whi - wlo + 1;
	double	   *logw = palloc(k * sizeof(double));
	double		top = 0.0;

	logw[0] = 0.0;
	for (int64 i = 1; i < k; i++)
	{
		CHECK_FOR_INTERRUPTS();
		logw[i] = logw[i - 1] + bt_log_pmf_step(n, p, wlo + i - 1);
		top = Max(top, logw[i]);
	}
	for (int64 i = 0; i < k; i++)
		logw[i] -= top;
	return logw;
}

void
bt_quantile_rank_ci(uint64 n, double p, double conf, int64 *lower, int64 *upper)
{
	double		tail = (1.0 - conf) / 2.0;
	double		dn = (double) n;
	double		mean = dn * p;
	double		sd = sqrt(dn * p * (1.0 - p));
	double		wlo,
				whi;

	Assert(n > 0);
	if (p <= 0.0 || p >= 1.0)
	{
		/* xi_0 and xi_1 are the sample extremes themselves */
		*lower = *upper = (p <= 0.0) ? 1 : (int64) n;
		return;
	}
	wlo = Max(0.0, floor(mean - 12.0 * sd - 10.0));
	whi = Min(dn, ceil(mean + 12.0 * sd + 10.0));

	if (whi - wlo > BT_EXACT_TERMS)
	{
		double		z = bt_normal_upper_quantile(tail);
		double		l = floor(mean - z * sd),
					u = ceil(mean + z * sd);

		*lower = (l >= 1.0) ? (int64) l : 0;
		*upper = (u <= dn) ? (int64) u : 0;
		return;
	}
	else
	{
		double	   *logw = bt_window_log_terms(n, p, (int64) wlo, (int64) whi);
		double		total = 0.0,
					cdf = 0.0;
		int64		j;

		for (j = (int64) wlo; j <= (int64) whi; j++)
			total += exp(logw[j - (int64) wlo]);
		/* below the window the CDF is < 1e-30, so l >= wlo + 1 if wlo > 0 */
		*lower = (wlo >= 1.0) ? (int64) wlo : 0;
		*upper = 0;
		for (j = (int64) wlo; j <= (int64) whi && j <= (int64) n - 1; j++)
		{
			CHECK_FOR_INTERRUPTS();
			cdf += exp(logw[j - (int64) wlo]) / total;
			if (cdf <= tail)
				*lower = j + 1;
			if (cdf >= 1.0 - tail)
			{
				*upper = j + 1;
				break;
			}
		}
		pfree(logw);
		/* above the window the CDF is 1 within 1e-30 */
		if (*upper == 0 && j > (int64) whi && whi + 1.0 <= dn)
			*upper = (int64) whi + 1;
	}
}
