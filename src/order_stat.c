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
 * with lgamma.  When that window has more than BT_EXACT_TERMS terms (n p (1-p)
 * above about 7e7) the normal approximation l = floor(np - z sd),
 * u = ceil(np + z sd) is used instead.
 *
 * A side that no rank in 1..n can attain at this confidence (small n, extreme
 * p) is reported as 0: the caller shows no bound there.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "order_stat.h"

#define BT_EXACT_TERMS 200000

void
bt_check_confidence(double conf)
{
	if (!(conf > 0.0 && conf < 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("confidence must be greater than 0 and less than 1"),
				 errdetail("The confidence given was %g.", conf)));
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
		double		lgn = lgamma(dn + 1.0),
					lp = log(p),
					lq = log1p(-p),
					cdf = 0.0;
		int64		j;

		/* below the window the CDF is < 1e-30, so l >= wlo + 1 if wlo > 0 */
		*lower = (wlo >= 1.0) ? (int64) wlo : 0;
		*upper = 0;
		for (j = (int64) wlo; j <= (int64) whi && j <= (int64) n - 1; j++)
		{
			CHECK_FOR_INTERRUPTS();
			cdf += exp(lgn - lgamma(j + 1.0) - lgamma(dn - j + 1.0) + j * lp + (dn - j) * lq);
			if (cdf <= tail)
				*lower = j + 1;
			if (cdf >= 1.0 - tail)
			{
				*upper = j + 1;
				break;
			}
		}
		/* above the window the CDF is 1 within 1e-30 */
		if (*upper == 0 && j > (int64) whi && whi + 1.0 <= dn)
			*upper = (int64) whi + 1;
	}
}
