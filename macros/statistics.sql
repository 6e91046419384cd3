{#
  Statistics in plain SQL: DuckDB has no erf, erfc or normal CDF.

  erfc(x): the complementary error function by the Chebyshev fit `erfcc` of Numerical Recipes
  in C (Press et al., 2nd ed., section 6.2), fractional error below 1.2e-7 everywhere. (The
  Abramowitz-Stegun 7.1.26 form is not used: its relative error in the far tail is about 1%.)
  The other macros are exact identities on top of it.
#}

{% macro erfc(x) -%}
    {%- set z -%} abs({{ x }}) {%- endset -%}
    {%- set t -%} (1.0 / (1.0 + 0.5 * {{ z }})) {%- endset -%}
    {%- set tail -%}
        ({{ t }} * exp(-{{ z }} * {{ z }} - 1.26551223 + {{ t }} * (1.00002368 + {{ t }} * (0.37409196
        + {{ t }} * (0.09678418 + {{ t }} * (-0.18628806 + {{ t }} * (0.27886807 + {{ t }} * (-1.13520398
        + {{ t }} * (1.48851587 + {{ t }} * (-0.82215223 + {{ t }} * 0.17087277))))))))))
    {%- endset -%}
    (case when ({{ x }}) >= 0 then {{ tail }} else 2.0 - {{ tail }} end)
{%- endmacro %}

{# Two-sided p-value of a standard normal z score: erfc(|z| / sqrt(2)). #}
{% macro p_value_two_sided(z) -%}
    {{ erfc('abs(' ~ z ~ ') / sqrt(2.0)') }}
{%- endmacro %}

{# Upper-tail p-value of a chi-square statistic with 1 degree of freedom: erfc(sqrt(x / 2)). #}
{% macro chi_square_p_df1(x) -%}
    {{ erfc('sqrt((' ~ x ~ ') / 2.0)') }}
{%- endmacro %}

{# Upper-tail p-value of a chi-square statistic with 2 degrees of freedom: exp(-x / 2). #}
{% macro chi_square_p_df2(x) -%}
    exp(-({{ x }}) / 2.0)
{%- endmacro %}

{#
  A/B test statistics (origin 004 step 3) over `groups`, a relation or CTE with one row per
  group: (ab_group, users, applications). Returns, per group: apply_rate, uplift_vs_control
  (difference of apply rates, a fraction: 0.05 = 5 points), and for each treatment against
  `control`: the pooled two-proportion z, its two-sided p-value and the Wald 95% CI of the
  uplift; and on every row the Pearson chi-square of the whole groups x applied table with its
  degrees of freedom and p-value (df 1 and 2 exactly; NULL beyond).
#}
{% macro ab_test_statistics(groups, control='Control') -%}
with stats_groups as (
    select
        ab_group,
        users,
        applications,
        users - applications as non_applications,
        applications / users as apply_rate
    from {{ groups }}
),

stats_control as (
    select users as n0, applications as x0, apply_rate as p0
    from stats_groups
    where ab_group = '{{ control }}'
),

stats_totals as (
    select
        sum(users) as n,
        sum(applications) as x,
        count(*) - 1 as df
    from stats_groups
),

stats_chi_square as (
    -- Pearson's statistic over the 2 x k table: for each group, applied and not applied cells.
    -- Summed in group order, so the DOUBLE result is the same bits on every run.
    select sum(
        power(g.applications - g.users * t.x / t.n, 2) / (g.users * t.x / t.n)
        + power(g.non_applications - g.users * (t.n - t.x) / t.n, 2) / (g.users * (t.n - t.x) / t.n)
        order by g.ab_group
    ) as chi_square
    from stats_groups as g
    cross join stats_totals as t
),

stats_tests as (
    select
        g.*,
        g.apply_rate - c.p0 as uplift_vs_control,
        case when g.ab_group <> '{{ control }}' then
            (g.apply_rate - c.p0) / sqrt(
                ((g.applications + c.x0) / (g.users + c.n0))
                * (1 - (g.applications + c.x0) / (g.users + c.n0))
                * (1.0 / g.users + 1.0 / c.n0)
            )
        end as z_score,
        case when g.ab_group <> '{{ control }}' then
            1.959963984540054 * sqrt(g.apply_rate * (1 - g.apply_rate) / g.users + c.p0 * (1 - c.p0) / c.n0)
        end as ci_half_width
    from stats_groups as g
    cross join stats_control as c
)

select
    s.ab_group,
    s.users,
    s.applications,
    s.non_applications,
    s.apply_rate,
    s.uplift_vs_control,
    s.z_score,
    {{ p_value_two_sided('s.z_score') }} as p_value,
    s.uplift_vs_control - s.ci_half_width as uplift_ci95_low,
    s.uplift_vs_control + s.ci_half_width as uplift_ci95_high,
    x.chi_square,
    t.df as chi_square_df,
    case t.df
        when 1 then {{ chi_square_p_df1('x.chi_square') }}
        when 2 then {{ chi_square_p_df2('x.chi_square') }}
    end as chi_square_p_value
from stats_tests as s
cross join stats_chi_square as x
cross join stats_totals as t
{%- endmacro %}
